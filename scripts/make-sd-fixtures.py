#!/usr/bin/env python3
"""Reference data for the Stable Diffusion layer, from transformers/diffusers on CPU.

Now: the real CLIP vocabulary (open_clip's packaged BPE file converted to vocab.json + merges.txt, stored once
in Tests/Fixtures/clip/) and the token ids transformers' CLIPTokenizer gives for 200+ varied prompts, with
SD 1.x padding (pad = <|endoftext|>) and SD 2.x padding (pad = "!", id 0).
Needs: pip install torch diffusers transformers open_clip_torch scipy (scipy for LMS). Run: python3 scripts/make-sd-fixtures.py
"""
import gzip, json, os, random

import open_clip
from transformers import CLIPTokenizer

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
clip_dir = os.path.join(root, "Tests", "Fixtures", "clip")
os.makedirs(clip_dir, exist_ok=True)
# The vocabulary ships with dream (single-file checkpoints carry no tokenizer): Sources/DreamAssets/clip,
# linked from the fixture folder.
assets_clip = os.path.join(root, "Sources", "DreamAssets", "clip")
os.makedirs(assets_clip, exist_ok=True)
for name in ["vocab.json", "merges.txt"]:
    link = os.path.join(clip_dir, name)
    if not os.path.islink(link):
        if os.path.exists(link): os.remove(link)
        os.symlink(os.path.join("..", "..", "..", "Sources", "DreamAssets", "clip", name), link)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))

# open_clip's BPE file -> vocab.json / merges.txt, exactly as CLIP's SimpleTokenizer builds its vocabulary.
bpe_path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
vocab = list(bytes_to_unicode().values())
vocab = vocab + [v + "</w>" for v in vocab]
vocab += ["".join(m) for m in merges]
vocab += ["<|startoftext|>", "<|endoftext|>"]
with open(os.path.join(assets_clip, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False, separators=(",", ":"))
with open(os.path.join(assets_clip, "merges.txt"), "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")

prompts = [
    "a photo of a cat", "A Photo Of A CAT", "", " ", "   leading and trailing   ", "tabs\tand\nnewlines\r\nhere",
    "a red cone on a dark background, seen from above", "don't won't I'm you're they've we'll he'd it's",
    "DON'T SHOUT'S", "numbers 1234567890 and 3.14159 and 1e-3", "$100 + 50% = ???", "email@example.com",
    "hello!!! what?! ... ---", "snake_case and camelCase and kebab-case", "C++ & C# <html> </div>",
    "café naïve résumé", "Ünïcödé ßtraße", "日本語のテキスト", "中文 提示词", "한국어 문장", "Привет мир",
    "Ελληνικά ΣΊΣΥΦΟΣ", "emoji 🐱🚀✨ here", "🐱🐱🐱", "arabic مرحبا", "hebrew שלום", "thai สวัสดี",
    "mixed日本語and English", "zero\u200bwidth", "non\u00a0breaking space", "combining e\u0301 accent",
    "fullwidth ＡＢＣ１２３", "math ∑∫√∞ ≤ ≥", "quotes “curly” ‘single’", "dash – em — ellipsis …",
    "<|startoftext|> special", "text <|endoftext|> inside", "repeated " + "word " * 40,
    "a" * 100, "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" + " y" * 80, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 " * 5,
    "'s 't 're", "''''", "a'b'c", "it''s", "O'Neil's dog", "rock'n'roll", "ÀÉÎÕÜ", "İstanbul", "ǅungla",
]
rng = random.Random(0)
words = ("a photo of the cat dog red blue green large small metal matte striped solid sphere cube cylinder cone "
         "torus sunset gray dark background seen from above side painting watercolor style at night in the "
         "snow highly detailed 4k trending artstation octane render portrait landscape").split()
punct = [",", ".", "!", "?", ";", ":", "-", "(", ")", "'", "\"", "&", "#", "…", "/"]
while len(prompts) < 240:
    n = rng.randint(1, 30)
    parts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.75:
            w = rng.choice(words)
            parts.append(w.upper() if rng.random() < 0.1 else w.capitalize() if rng.random() < 0.1 else w)
        elif r < 0.9:
            parts.append(rng.choice(punct))
        else:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 6))))
    sep = rng.choice([" ", " ", " ", "  ", "", "\t"])
    prompts.append(sep.join(parts))

tok1 = CLIPTokenizer(vocab=os.path.join(clip_dir, "vocab.json"), merges=os.path.join(clip_dir, "merges.txt"))
out = {"prompts": prompts, "sd1": [], "sd2": [], "sd1_pad": "<|endoftext|>", "sd2_pad": "!"}
tok1 = CLIPTokenizer.from_pretrained if False else tok1
for p in prompts:
    out["sd1"].append(tok1(p, padding="max_length", max_length=77, truncation=True)["input_ids"])
tok2 = CLIPTokenizer(vocab=os.path.join(clip_dir, "vocab.json"), merges=os.path.join(clip_dir, "merges.txt"), pad_token="!")
for p in prompts:
    out["sd2"].append(tok2(p, padding="max_length", max_length=77, truncation=True)["input_ids"])
with open(os.path.join(clip_dir, "tokenizer-cases.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
print(f"wrote {clip_dir}: {len(vocab)} tokens, {len(merges)} merges, {len(prompts)} prompts")

# ---------------------------------------------------------------------------------------------------------
# Tiny random-weight pipelines of both families, saved in the diffusers layout (fp16 weights, the variant a
# user's download would have), with fp32 reference outputs computed from exactly those (fp16-rounded) weights.
import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

torch.manual_seed(0)
torch.set_grad_enabled(False)

def round_to_half(model):
    for p in model.parameters():
        p.data = p.data.half().float()
    return model

def families():
    # SD 1.x: quick-GELU text encoder, conv projections, epsilon prediction.
    yield "sd1", dict(
        text=dict(hidden_act="quick_gelu", num_hidden_layers=2, projection_dim=8),
        unet=dict(attention_head_dim=2, use_linear_projection=False, upcast_attention=False),
        scheduler=dict(prediction_type="epsilon", beta_schedule="scaled_linear", timestep_spacing="leading", steps_offset=1),
        pad="<|endoftext|>")
    # SD 2.x: GELU text encoder (the converted checkpoints already end at the penultimate layer), linear
    # projections, per-block head counts, upcast attention, v-prediction.
    yield "sd2", dict(
        text=dict(hidden_act="gelu", num_hidden_layers=2, projection_dim=8),
        unet=dict(attention_head_dim=[2, 4], use_linear_projection=True, upcast_attention=True),
        scheduler=dict(prediction_type="v_prediction", beta_schedule="scaled_linear", timestep_spacing="leading", steps_offset=1),
        pad="!")

def write_safetensors(path, tensors, metadata=None, dtype="<f2"):
    header, blobs, off = {}, [], 0
    code = {"<f2": "F16", "<f4": "F32"}[dtype]
    for name in sorted(tensors):
        a = np.array(tensors[name], dtype=dtype, order="C")
        b = a.tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    if metadata: header["__metadata__"] = metadata
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little")); f.write(h)
        for b in blobs: f.write(b)

def save_component(model, folder, name, config):
    d = os.path.join(folder, name)
    os.makedirs(d, exist_ok=True)
    config = {k: v for k, v in config.items() if k != "_use_default_values"}   # set order varies run to run
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)
    sd = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    fname = "model.fp16.safetensors" if name == "text_encoder" else "diffusion_pytorch_model.fp16.safetensors"
    write_safetensors(os.path.join(d, fname), sd)

models_dir = os.path.join(root, "Tests", "Fixtures", "sd")
for fam, spec in families():
    folder = os.path.join(models_dir, fam)
    os.makedirs(folder, exist_ok=True)
    refs = {}
    text_cfg = CLIPTextConfig(vocab_size=49408, hidden_size=8, intermediate_size=16, num_attention_heads=2,
                              max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
                              pad_token_id=1 if fam == "sd1" else 0, **spec["text"])
    text = round_to_half(CLIPTextModel(text_cfg).eval())
    unet = round_to_half(UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8, norm_num_groups=4, **spec["unet"]).eval())
    vae = round_to_half(AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16),
                                      down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                                      layers_per_block=1, norm_num_groups=4, sample_size=16).eval())
    # Give the layers' norms and biases non-trivial values (fresh models have ones and zeros there).
    for m in (text, unet, vae):
        for n, p in m.named_parameters():
            if "norm" in n or n.endswith(".bias"):
                p.data = (p.data + 0.1 * torch.randn_like(p)).half().float()
    save_component(text, folder, "text_encoder", text_cfg.to_dict())
    save_component(unet, folder, "unet", dict(unet.config))
    save_component(vae, folder, "vae", dict(vae.config))
    os.makedirs(os.path.join(folder, "tokenizer"), exist_ok=True)
    with open(os.path.join(folder, "tokenizer", "tokenizer_config.json"), "w") as f:
        json.dump({"pad_token": spec["pad"], "model_max_length": 77, "bos_token": "<|startoftext|>",
                   "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f, indent=1)
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(dict(_class_name="DDIMScheduler", num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                       clip_sample=False, set_alpha_to_one=False, **spec["scheduler"]), f, indent=1)
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump({"_class_name": "StableDiffusionPipeline", "text_encoder": ["transformers", "CLIPTextModel"],
                   "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
                   "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "DDIMScheduler"]}, f, indent=1)

    # References: text encoder on tokenised prompts, UNet at several t, VAE decode and encode.
    tok = CLIPTokenizer(vocab=os.path.join(clip_dir, "vocab.json"), merges=os.path.join(clip_dir, "merges.txt"), pad_token=spec["pad"])
    ids = torch.tensor([tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"]
                        for p in ["a red cone on a dark background", "", "hello!!! world"]])
    refs["text/ids"] = ids.numpy().astype(np.float32)
    refs["text/out"] = text(ids).last_hidden_state.numpy()
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(2, 4, 8, 8, generator=g)
    cond = torch.randn(2, 77, 8, generator=g)
    refs["unet/latents"], refs["unet/cond"] = latents.numpy(), cond.numpy()
    for t in [1, 250, 999]:
        refs[f"unet/out_t{t}"] = unet(latents, torch.tensor([t, t]), encoder_hidden_states=cond).sample.numpy()
    z = torch.randn(1, 4, 4, 4, generator=g)
    refs["vae/z"] = z.numpy()
    refs["vae/decoded"] = vae.decode(z).sample.numpy()
    img = torch.rand(1, 3, 16, 16, generator=g) * 2 - 1
    refs["vae/image"] = img.numpy()
    refs["vae/encoded_mean"] = vae.encode(img).latent_dist.mean.numpy()
    write_safetensors(os.path.join(folder, "references.safetensors"), refs, dtype="<f4")
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(folder) for f in fs)
    print(f"wrote {folder}: {size} bytes")

# ---------------------------------------------------------------------------------------------------------
# Whole-pipeline references: DDIM, Euler, DPM++ 2M, LMS and UniPC (B(h) of both kinds) at 8 steps, "normal" (the scheduler config's own
# spacing) and Karras sigmas where diffusers offers them, from given starting latents, guidance 7.5.
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, LMSDiscreteScheduler, StableDiffusionPipeline,
                       UniPCMultistepScheduler)

def load_family(fam):
    folder = os.path.join(models_dir, fam)
    text = CLIPTextModel.from_pretrained(os.path.join(folder, "text_encoder"), variant="fp16").float().eval()
    unet = UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet"), variant="fp16").float().eval()
    vae = AutoencoderKL.from_pretrained(os.path.join(folder, "vae"), variant="fp16").float().eval()
    pad = json.load(open(os.path.join(folder, "tokenizer", "tokenizer_config.json")))["pad_token"]
    tok = CLIPTokenizer(vocab=os.path.join(clip_dir, "vocab.json"), merges=os.path.join(clip_dir, "merges.txt"), pad_token=pad,
                        model_max_length=77)
    sched_cfg = json.load(open(os.path.join(folder, "scheduler", "scheduler_config.json")))
    return folder, text, unet, vae, tok, sched_cfg

for fam in ["sd1", "sd2"]:
    folder, text, unet, vae, tok, sched_cfg = load_family(fam)
    refs = {}
    g = torch.Generator().manual_seed(7)
    start = torch.randn(1, 4, 8, 8, generator=g)
    refs["start"] = start.numpy()
    for name, cls, karras in [("ddim", DDIMScheduler, False), ("euler", EulerDiscreteScheduler, False),
                              ("euler_karras", EulerDiscreteScheduler, True), ("dpmpp_2m", DPMSolverMultistepScheduler, False),
                              ("dpmpp_2m_karras", DPMSolverMultistepScheduler, True), ("lms", LMSDiscreteScheduler, False),
                              ("lms_karras", LMSDiscreteScheduler, True), ("uni_pc", UniPCMultistepScheduler, False),
                              ("uni_pc_karras", UniPCMultistepScheduler, True), ("uni_pc_bh2", UniPCMultistepScheduler, False)]:
        extra = {"use_karras_sigmas": True} if karras else {}
        if cls is DPMSolverMultistepScheduler:
            extra.update(algorithm_type="dpmsolver++", solver_order=2)
        if cls is UniPCMultistepScheduler:
            extra.update(solver_type="bh2" if name.endswith("bh2") else "bh1", solver_order=2)
        sched = cls.from_config(sched_cfg, **extra)
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        img = pipe("a red cone on a dark background", num_inference_steps=8, guidance_scale=7.5,
                   latents=start.clone(), output_type="pt").images
        refs[f"image_{name}"] = img.numpy()
        refs[f"timesteps_{name}"] = sched.timesteps.float().numpy()
        if name == "euler":   # the unconditional branch from a negative prompt instead of ""
            img = pipe("a red cone on a dark background", num_inference_steps=8, guidance_scale=7.5, latents=start.clone(),
                       negative_prompt="blurry, gray", output_type="pt").images
            refs["image_euler_negative"] = img.numpy()
    write_safetensors(os.path.join(folder, "pipeline-references.safetensors"), refs, dtype="<f4")
    print(f"wrote pipeline references for {fam}")

# ---------------------------------------------------------------------------------------------------------
# Single-file original (LDM) checkpoints of the same two pipelines: Tests/Fixtures/sd/{sd1,sd2}.safetensors.
# Keys are mapped diffusers → LDM here, then loaded back by diffusers' own single-file loader
# (from_single_file with the folder as config), whose weights must equal the folder's exactly. SD 2.x's
# OpenCLIP text model has one more residual block than the diffusers model uses (SD 2.x conditions on the
# penultimate layer), with fused q/k/v projections.
from diffusers.loaders import single_file_utils as sfu

def unet_to_ldm(sd, cfg):
    L = cfg["layers_per_block"]
    out = {}
    def resnet(src, dst):
        for k, v in sd.items():
            if k.startswith(src + "."):
                rest = k[len(src) + 1:]
                for a, b in [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
                             ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]:
                    if rest.startswith(a + "."): rest = b + rest[len(a):]
                out[dst + "." + rest] = v
    def copy(src, dst):
        for k, v in sd.items():
            if k.startswith(src + "."): out[dst + k[len(src):]] = v
    for d, l in sfu.DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"].items():
        out[l] = sd[d]
    levels = len(cfg["block_out_channels"])
    i = 1
    for b in range(levels):
        for j in range(L):
            resnet(f"down_blocks.{b}.resnets.{j}", f"input_blocks.{i}.0")
            copy(f"down_blocks.{b}.attentions.{j}", f"input_blocks.{i}.1")
            i += 1
        if b < levels - 1:
            copy(f"down_blocks.{b}.downsamplers.0.conv", f"input_blocks.{i}.0.op")
            i += 1
    resnet("mid_block.resnets.0", "middle_block.0"); copy("mid_block.attentions.0", "middle_block.1"); resnet("mid_block.resnets.1", "middle_block.2")
    i = 0
    for b in range(levels):
        for j in range(L + 1):
            resnet(f"up_blocks.{b}.resnets.{j}", f"output_blocks.{i}.0")
            has_attn = any(k.startswith(f"up_blocks.{b}.attentions.{j}.") for k in sd)
            copy(f"up_blocks.{b}.attentions.{j}", f"output_blocks.{i}.1")
            if j == L and b < levels - 1:
                copy(f"up_blocks.{b}.upsamplers.0.conv", f"output_blocks.{i}.{2 if has_attn else 1}.conv")
            i += 1
    return {"model.diffusion_model." + k: v for k, v in out.items()}

def vae_to_ldm(sd, cfg):
    out = {}
    levels = len(cfg["block_out_channels"])
    for d, l in sfu.DIFFUSERS_TO_LDM_MAPPING["vae"].items():
        out[l] = sd[d]
    def res(src, dst):
        for k, v in sd.items():
            if k.startswith(src + "."):
                out[dst + k[len(src):].replace("conv_shortcut", "nin_shortcut")] = v
    def attn(src, dst):
        for k, v in sd.items():
            if k.startswith(src + "."):
                rest = k[len(src) + 1:]
                for a, b in [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]:
                    if rest.startswith(a + "."): rest = b + rest[len(a):]
                out[dst + "." + rest] = v[:, :, None, None] if v.ndim == 2 else v   # 1×1 convolutions in LDM
    for i in range(levels):
        res(f"encoder.down_blocks.{i}.resnets", f"encoder.down.{i}.block")
        if f"encoder.down_blocks.{i}.downsamplers.0.conv.weight" in sd:
            out[f"encoder.down.{i}.downsample.conv.weight"] = sd[f"encoder.down_blocks.{i}.downsamplers.0.conv.weight"]
            out[f"encoder.down.{i}.downsample.conv.bias"] = sd[f"encoder.down_blocks.{i}.downsamplers.0.conv.bias"]
        res(f"decoder.up_blocks.{i}.resnets", f"decoder.up.{levels - 1 - i}.block")
        if f"decoder.up_blocks.{i}.upsamplers.0.conv.weight" in sd:
            out[f"decoder.up.{levels - 1 - i}.upsample.conv.weight"] = sd[f"decoder.up_blocks.{i}.upsamplers.0.conv.weight"]
            out[f"decoder.up.{levels - 1 - i}.upsample.conv.bias"] = sd[f"decoder.up_blocks.{i}.upsamplers.0.conv.bias"]
    for part in ["encoder", "decoder"]:
        res(f"{part}.mid_block.resnets.0", f"{part}.mid.block_1"); res(f"{part}.mid_block.resnets.1", f"{part}.mid.block_2")
        attn(f"{part}.mid_block.attentions.0", f"{part}.mid.attn_1")
    return {"first_stage_model." + k: v for k, v in out.items()}

def with_text_model(sd):   # transformers 5 saves CLIPTextModel without the "text_model." prefix; LDM files have it
    return {(k if k.startswith("text_model.") else "text_model." + k): v for k, v in sd.items() if not k.endswith("position_ids")}

def clip_to_ldm(sd):
    return {"cond_stage_model.transformer." + k: v for k, v in with_text_model(sd).items()}

def open_clip_to_ldm(sd, layers, hidden, g):
    sd = with_text_model(sd)
    out = {"token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
           "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
           "ln_final.weight": sd["text_model.final_layer_norm.weight"], "ln_final.bias": sd["text_model.final_layer_norm.bias"],
           "text_projection": torch.randn(hidden, hidden, generator=g).half().float()}
    for i in range(layers + 1):
        src = f"text_model.encoder.layers.{min(i, layers - 1)}."
        def t(name):   # the extra last block: random weights (SD 2.x never uses it)
            v = sd[src + name]
            return v if i < layers else (v + 0.1 * torch.randn(v.shape, generator=g)).half().float()
        p = f"transformer.resblocks.{i}."
        out[p + "attn.in_proj_weight"] = torch.cat([t("self_attn.q_proj.weight"), t("self_attn.k_proj.weight"), t("self_attn.v_proj.weight")])
        out[p + "attn.in_proj_bias"] = torch.cat([t("self_attn.q_proj.bias"), t("self_attn.k_proj.bias"), t("self_attn.v_proj.bias")])
        for a, b in [("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")]:
            out[p + b + ".weight"] = t(a + ".weight"); out[p + b + ".bias"] = t(a + ".bias")
    return {"cond_stage_model.model." + k: v for k, v in out.items()}

for fam in ["sd1", "sd2"]:
    folder, text, unet, vae, tok, sched_cfg = load_family(fam)
    g = torch.Generator().manual_seed(11)
    ldm = {}
    ldm.update(unet_to_ldm(unet.state_dict(), unet.config))
    ldm.update(vae_to_ldm(vae.state_dict(), vae.config))
    if fam == "sd1":
        ldm.update(clip_to_ldm(text.state_dict()))
    else:
        ldm.update(open_clip_to_ldm(text.state_dict(), text.config.num_hidden_layers, text.config.hidden_size, g))
    path = os.path.join(models_dir, f"{fam}.safetensors")
    write_safetensors(path, {k: v.numpy() for k, v in ldm.items()})
    # Validation by diffusers' own converters (what from_single_file runs): every weight must come back equal.
    back_unet = sfu.convert_ldm_unet_checkpoint(ldm, dict(unet.config))
    back_vae = sfu.convert_ldm_vae_checkpoint(ldm, dict(vae.config))
    if fam == "sd1":
        back_text = sfu.convert_ldm_clip_checkpoint(ldm)
    else:
        # diffusers drops OpenCLIP's last block by name for the real 24-block model; here the tiny model's
        # last block is left out the same way before converting.
        last = f"cond_stage_model.model.transformer.resblocks.{text.config.num_hidden_layers}."
        back_text = sfu.convert_open_clip_checkpoint(text, {k: v for k, v in ldm.items() if not k.startswith(last)})
    for name, model, back in [("unet", unet, back_unet), ("vae", vae, back_vae), ("text", text, back_text)]:
        want = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
        if name == "text":
            want = with_text_model(want)
            back = with_text_model({k: v for k, v in back.items() if not k.startswith("text_projection")})
        got = back
        assert set(got) == set(want), (fam, name, sorted(set(got) ^ set(want))[:5])
        for k in want:
            assert torch.equal(got[k].reshape(want[k].shape), want[k]), (fam, name, k)
    try:
        pipe = StableDiffusionPipeline.from_single_file(path, config=folder, local_files_only=True, safety_checker=None)
        same = all(torch.equal(getattr(pipe, c).state_dict()[k].float(), v)
                   for c, m in [("unet", unet), ("vae", vae), ("text_encoder", text)] for k, v in m.state_dict().items() if not k.endswith("position_ids"))
        print(f"{fam}: from_single_file loads text encoder, UNet and VAE {'identically' if same else 'DIFFERENTLY'}")
        assert same
    except Exception as e:   # from_single_file may insist on the Hub for its config lookup; the converters above suffice
        print(f"{fam}: from_single_file not usable offline here ({type(e).__name__}: {str(e)[:120]}); converters checked")
    print(f"wrote {path}: {os.path.getsize(path)} bytes, validated by diffusers' converters")
