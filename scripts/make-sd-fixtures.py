#!/usr/bin/env python3
"""Reference data for the Stable Diffusion layer, from transformers/diffusers on CPU.

Now: the real CLIP vocabulary (open_clip's packaged BPE file converted to vocab.json + merges.txt, stored once
in Tests/Fixtures/clip/) and the token ids transformers' CLIPTokenizer gives for 200+ varied prompts, with
SD 1.x padding (pad = <|endoftext|>) and SD 2.x padding (pad = "!", id 0).
Needs: pip install transformers open_clip_torch. Run: python3 scripts/make-sd-fixtures.py
"""
import gzip, json, os, random

import open_clip
from transformers import CLIPTokenizer

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
clip_dir = os.path.join(root, "Tests", "Fixtures", "clip")
os.makedirs(clip_dir, exist_ok=True)

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
with open(os.path.join(clip_dir, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False, separators=(",", ":"))
with open(os.path.join(clip_dir, "merges.txt"), "w", encoding="utf-8") as f:
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
# Whole-pipeline references: DDIM, Euler and DPM++ 2M at 8 steps, "normal" (the scheduler config's own
# spacing) and Karras sigmas where diffusers offers them, from given starting latents, guidance 7.5.
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, StableDiffusionPipeline

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
                              ("dpmpp_2m_karras", DPMSolverMultistepScheduler, True)]:
        extra = {"use_karras_sigmas": True} if karras else {}
        if cls is DPMSolverMultistepScheduler:
            extra.update(algorithm_type="dpmsolver++", solver_order=2)
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
