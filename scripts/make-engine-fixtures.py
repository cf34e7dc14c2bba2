#!/usr/bin/env python3
"""Reference values for the engine's ops, computed with PyTorch on CPU (pip install torch).

Writes Tests/Fixtures/engine.safetensors: for every case its inputs, PyTorch's output, and PyTorch's
gradients of sum(output * r) for a fixed random r. The case parameters go in the metadata, so the
Swift tests read them from here rather than repeating them. Run: python3 scripts/make-engine-fixtures.py
"""
import json, math, os, struct, sys
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)   # references in double, stored as float32
rs = np.random.RandomState(1234)
tensors, meta = {}, {}

def arr(*shape, lo=None, scale=1.0):
    a = rs.randn(*shape) * scale
    if lo is not None:
        a = np.abs(a) + lo
    return a

def case(name, fn, inputs, params=None, grads=True):
    ts = [torch.tensor(a, requires_grad=grads) for a in inputs]
    out = fn(*ts)
    for i, a in enumerate(inputs):
        tensors[f"{name}/in{i}"] = a
    tensors[f"{name}/out"] = out.detach().numpy()
    if grads:
        r = torch.tensor(rs.randn(*out.shape))
        tensors[f"{name}/r"] = r.numpy()
        gs = torch.autograd.grad((out * r).sum(), ts, allow_unused=True)
        for i, g in enumerate(gs):
            tensors[f"{name}/grad{i}"] = np.zeros_like(inputs[i]) if g is None else g.numpy()
    meta[name] = json.dumps(params or {})

# Elementwise with broadcasting.
case("add", lambda a, b: a + b, [arr(2, 3, 4), arr(3, 1)])
case("sub", lambda a, b: a - b, [arr(4, 1, 5), arr(3, 5)])
case("mul", lambda a, b: a * b, [arr(2, 3, 4), arr(4)])
case("div", lambda a, b: a / b, [arr(2, 3, 4), arr(2, 1, 4, lo=0.5)])
case("pow", lambda a, b: a ** b, [arr(3, 4, lo=0.3), arr(4, scale=0.7)])
case("bias4d", lambda a, b: a + b, [arr(2, 5, 3, 3), arr(1, 5, 1, 1)])
for n, f in [("neg", lambda x: -x), ("exp", torch.exp), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
             ("silu", F.silu), ("gelu", F.gelu), ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
             ("quick_gelu", lambda x: x * torch.sigmoid(1.702 * x)), ("abs", torch.abs)]:
    case(n, f, [arr(3, 37, scale=2.0)])
case("log", torch.log, [arr(3, 37, lo=0.1)])
case("sqrt", torch.sqrt, [arr(3, 37, lo=0.1)])
case("clamp", lambda x: torch.clamp(x, -0.5, 0.7), [arr(4, 9)], {"min": -0.5, "max": 0.7})

# Reductions.
case("sum_all", lambda x: x.sum(), [arr(3, 4, 5)])
case("sum_axis1", lambda x: x.sum(1), [arr(3, 4, 5)], {"axis": 1})
case("mean_axis2_keep", lambda x: x.mean(2, keepdim=True), [arr(3, 4, 5)], {"axis": 2, "keep": True})
case("var_axis0", lambda x: x.var(0), [arr(6, 4)], {"axis": 0})
case("std_all", lambda x: x.std(), [arr(5, 7)])
case("max_axis1", lambda x: x.max(1).values, [arr(3, 6, 2)], {"axis": 1})
case("min_all", lambda x: x.min(), [arr(4, 5)])
case("softmax_last", lambda x: torch.softmax(x, -1), [arr(3, 5, 7)], {"axis": -1})
case("softmax_mid", lambda x: torch.softmax(x, 1), [arr(3, 5, 7)], {"axis": 1})

# Shapes.
case("permute", lambda x: x.permute(2, 0, 3, 1), [arr(2, 3, 4, 5)], {"axes": [2, 0, 3, 1]})
case("transpose", lambda x: x.transpose(-1, -2), [arr(2, 3, 4)])
case("slice", lambda x: x[:, 1:5:2], [arr(3, 7, 2)], {"axis": 1, "start": 1, "end": 5, "step": 2})
case("select", lambda x: x[:, -2], [arr(3, 4, 5)], {"axis": 1, "index": -2})
case("cat", lambda a, b: torch.cat([a, b], 1), [arr(2, 3, 4), arr(2, 5, 4)], {"axis": 1})
case("stack", lambda a, b: torch.stack([a, b], -1), [arr(2, 3), arr(2, 3)], {"axis": -1})
case("expand", lambda x: x.expand(3, 4, 5), [arr(4, 1)], {"shape": [3, 4, 5]})

# Linear algebra.
case("matmul2d", lambda a, b: a @ b, [arr(5, 7), arr(7, 3)])
case("matmul_batched_2d", lambda a, b: a @ b, [arr(2, 3, 4, 5), arr(5, 6)])
case("matmul_batched", lambda a, b: a @ b, [arr(2, 3, 4), arr(2, 4, 5)])
case("matmul_broadcast", lambda a, b: a @ b, [arr(2, 1, 3, 4), arr(3, 4, 2)])
case("matmul_vec", lambda a, b: a @ b, [arr(3, 4), arr(4)])
case("linear", lambda x, w, b: F.linear(x, w, b), [arr(2, 3, 8), arr(5, 8), arr(5)])
case("linear_nobias", lambda x, w: F.linear(x, w), [arr(4, 8), arr(6, 8)])

# Convolution and resampling.
for name, shape, wshape, stride, pad in [("conv_s1p1", (2, 3, 9, 9), (4, 3, 3, 3), 1, 1),
                                          ("conv_s2p1", (2, 3, 9, 8), (4, 3, 3, 3), 2, 1),
                                          ("conv_1x1", (2, 6, 5, 5), (4, 6, 1, 1), 1, 0),
                                          ("conv_s2p0", (1, 2, 8, 8), (3, 2, 3, 3), 2, 0),
                                          ("conv_k5p2", (1, 2, 7, 6), (3, 2, 5, 5), 1, 2)]:
    case(name, lambda x, w, b, s=stride, p=pad: F.conv2d(x, w, b, stride=s, padding=p),
         [arr(*shape), arr(*wshape, scale=0.3), arr(wshape[0])], {"stride": stride, "padding": pad})
case("upsample", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), [arr(1, 2, 3, 4)])
case("pad", lambda x: F.pad(x, (0, 1, 2, 1)), [arr(1, 2, 3, 4)], {"left": 0, "right": 1, "top": 2, "bottom": 1})

# Normalisation.
case("group_norm", lambda x, w, b: F.group_norm(x, 4, w, b, eps=1e-5), [arr(2, 8, 5, 5) * 3 + 1, arr(8), arr(8)],
     {"groups": 4, "eps": 1e-5})
case("group_norm_plain", lambda x: F.group_norm(x, 2, eps=1e-6), [arr(2, 4, 3)], {"groups": 2, "eps": 1e-6})
case("layer_norm", lambda x, w, b: F.layer_norm(x, (16,), w, b, eps=1e-5), [arr(3, 7, 16) * 2 - 1, arr(16), arr(16)],
     {"eps": 1e-5})

# Attention: heads split from the last dim, scaled dot-product, heads merged back.
def mha(q, k, v, heads, causal=False):
    b, nq, d = q.shape
    nk, dv = k.shape[1], v.shape[2]
    qh = q.reshape(b, nq, heads, d // heads).transpose(1, 2)
    kh = k.reshape(b, nk, heads, d // heads).transpose(1, 2)
    vh = v.reshape(b, nk, heads, dv // heads).transpose(1, 2)
    o = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal)
    return o.transpose(1, 2).reshape(b, nq, dv)
case("attention", lambda q, k, v: mha(q, k, v, 4), [arr(2, 10, 16), arr(2, 12, 16), arr(2, 12, 24)], {"heads": 4})
case("attention_causal", lambda q, k, v: mha(q, k, v, 2, True), [arr(2, 7, 8), arr(2, 7, 8), arr(2, 7, 8)],
     {"heads": 2, "causal": True})

# Embeddings.
ids = [3, 0, 3, 5, 1, 3]
case("embedding", lambda t: F.embedding(torch.tensor(ids).reshape(2, 3), t), [arr(6, 4)], {"ids": ids, "shape": [2, 3]})
def timestep_embedding(t, dim, flip, shift, max_period=10000):
    # diffusers.models.embeddings.get_timestep_embedding, in float32 as diffusers runs it.
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32) / (half - shift)
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], -1)
    if flip:
        emb = torch.cat([emb[:, half:], emb[:, :half]], -1)
    return emb
ts = [0.0, 1.0, 37.0, 500.0, 999.0]
tensors["timestep/out"] = timestep_embedding(torch.tensor(ts), 32, True, 0).double().numpy()
meta["timestep"] = json.dumps({"t": ts, "dim": 32, "flip": True, "shift": 0})

# AdamW (torch's) over three steps with given gradients, then clipping.
p0 = arr(4, 5); gs = [arr(4, 5) for _ in range(3)]
p = torch.tensor(p0, dtype=torch.float32, requires_grad=True)
opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
tensors["adamw/p0"] = p0
for i, g in enumerate(gs):
    p.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
    tensors[f"adamw/g{i}"] = g
    tensors[f"adamw/p{i + 1}"] = p.detach().double().numpy()
meta["adamw"] = json.dumps({"lr": 1e-2, "weight_decay": 0.01, "steps": 3})
ga, gb = torch.tensor(arr(3, 4)), torch.tensor(arr(5))
tensors["clip/in0"], tensors["clip/in1"] = ga.numpy().copy(), gb.numpy().copy()
total = torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(ga), torch.nn.Parameter(gb)], 1.0)
ga2, gb2 = torch.tensor(tensors["clip/in0"]), torch.tensor(tensors["clip/in1"])
pa, pb = torch.nn.Parameter(torch.zeros_like(ga2)), torch.nn.Parameter(torch.zeros_like(gb2))
pa.grad, pb.grad = ga2.clone(), gb2.clone()
norm = torch.nn.utils.clip_grad_norm_([pa, pb], 1.0)
tensors["clip/out0"], tensors["clip/out1"] = pa.grad.numpy(), pb.grad.numpy()
tensors["clip/norm"] = np.array(float(norm))
meta["clip"] = json.dumps({"max_norm": 1.0})

def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.array(tensors[name], dtype="<f4", order="C")   # keeps 0-d arrays 0-d
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)
    os.replace(path + ".tmp", path)

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "Fixtures", "engine.safetensors")
write_safetensors(out, tensors, meta)
print(f"wrote {out}: {len(tensors)} tensors, {os.path.getsize(out)} bytes, torch {torch.__version__}")
