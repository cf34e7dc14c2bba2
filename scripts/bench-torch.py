#!/usr/bin/env python3
"""PyTorch's figures for scripts/bench, on the same machine and threads (skipped when torch is missing).
Prints lines in the same form as dream-bench: NAME  VALUE UNIT."""
import os, resource, subprocess, sys, time

def report(name, value, unit):
    print(f"{name:<44}{value:10.2f} {unit}", flush=True)

def best(fn, reps=5):
    fn()
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); t = min(t, time.perf_counter() - t0)
    return t

def conv_operands(n, c, size):
    """A benchmark convolution's operands, as dream-bench's: x, 3x3 kernels scaled to keep outputs near unit size, a bias."""
    import torch
    return torch.randn(n, c, size, size), torch.randn(c, c, 3, 3) * 0.05, torch.randn(c)

def attention_memory(n):
    """Peak RSS growth of one attention call, measured in a fresh process."""
    code = f"""
import resource, torch, torch.nn.functional as F
torch.manual_seed(0)
q, k, v = (torch.randn(1, 8, {n}, 40) for _ in range(3))
F.scaled_dot_product_attention(q[:, :, :64], k[:, :, :64], v[:, :, :64])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.no_grad():
    F.scaled_dot_product_attention(q, k, v)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1e3)
"""
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)

def main():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("pytorch: not importable, skipped")
        return
    which = set(sys.argv[1:]) or {"gemm", "conv", "attention"}
    torch.manual_seed(0)
    print(f"pytorch {torch.__version__}, threads: {torch.get_num_threads()}")
    with torch.no_grad():
        if "gemm" in which:
            a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
            report("matmul 1024^3 (pytorch)", 2 * 1024**3 / best(lambda: a @ b, 10) / 1e9, "GFLOP/s")
    if "conv" in which:
        for label, n, c in [("8x128x32x32 3x3", 8, 128), ("2x320x32x32 3x3", 2, 320)]:
            x, w, bias = conv_operands(n, c, 32)
            flops = 2 * n * c * 32 * 32 * c * 9
            with torch.no_grad():
                tf = best(lambda: F.conv2d(x, w, bias, padding=1))
            report(f"conv2d {label} forward", flops / tf / 1e9, "GFLOP/s")
            report(f"conv2d {label} forward time", tf * 1e3, "ms")
            xp, wp, bp = (t.clone().requires_grad_() for t in (x, w, bias))
            g = torch.randn(n, c, 32, 32)
            def backward():
                y = F.conv2d(xp, wp, bp, padding=1)
                torch.autograd.grad(y, (xp, wp, bp), g)
            tb = best(backward) - tf
            report(f"conv2d {label} backward time", tb * 1e3, "ms")
            report(f"conv2d {label} backward / forward", tb / tf, "x")
        # Stable Diffusion 1.5's 3x3 convolutions at 512x512, forward (as dream-bench's).
        for n, c, size in [(2, 320, 64), (2, 640, 32), (2, 1280, 16), (2, 1280, 8), (1, 1280, 16)]:
            x, w, bias = conv_operands(n, c, size)
            with torch.no_grad():
                t = best(lambda: F.conv2d(x, w, bias, padding=1))
            report(f"conv2d {n}x{c}x{size}x{size} 3x3 forward time", t * 1e3, "ms")
        # The input gradient alone (frozen weights, as when learning prompts), as dream-bench's.
        for n, c, size in [(16, 128, 8), (16, 64, 16), (2, 320, 64), (2, 640, 32)]:
            x, w, _ = conv_operands(n, c, size)
            x.requires_grad_(); g = torch.randn(n, c, size, size)
            def input_gradient():
                torch.autograd.grad(F.conv2d(x, w, padding=1), x, g)
            with torch.no_grad():
                tf = best(lambda: F.conv2d(x, w, padding=1))
            report(f"conv2d {n}x{c}x{size}x{size} 3x3 input gradient", (best(input_gradient) - tf) * 1e3, "ms")
    if "attention" in which:
        for n in [1024, 4096]:
            q, k, v = (torch.randn(1, 8, n, 40) for _ in range(3))
            with torch.no_grad():
                t = best(lambda: F.scaled_dot_product_attention(q, k, v), 3)
            report(f"attention {n} tokens 8x40 forward", t * 1e3, "ms")
            # PyTorch's allocator is not ours to instrument: this is the growth of the process's peak RSS,
            # which stays 0 when the call fits in memory the process had already touched.
            report(f"attention {n} tokens peak RSS growth", attention_memory(n), "MB")

main()
