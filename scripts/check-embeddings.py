#!/usr/bin/env python3
"""Checks that `save_embeddings` writes textual-inversion embeddings diffusers loads as dream means them.

dream learns a Textual Inversion embedding and a 3-prompt distribution (with a suffix) on the tiny SD 1.x test
pipeline and writes them with save_embeddings, with its own encodings (the TI's condition; the distribution's
μ and σ). diffusers then loads the files with load_textual_inversion, encodes "<ti>" and "<dd-k> on a dark
background", and the script prints the largest differences (expected: float rounding, ~1e-6).
Needs: pip install torch diffusers transformers. Run from the repository root after building dream in release:
python3 scripts/check-embeddings.py
"""
import os, subprocess, sys, tempfile

import torch
from diffusers import StableDiffusionPipeline
from safetensors.torch import load_file

fixture = "Tests/Fixtures/sd/sd1"
out = tempfile.mkdtemp(prefix="dream-embeddings-")
dream = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], capture_output=True, text=True, check=True).stdout.strip() + "/dream"
subprocess.run([dream, "--quiet", "-c", f'''
let m = model("{fixture}")
let refs = world.render(n: 4, seed: 0, resolution: 32)
let T = textual_inversion(m, refs, tokens: 2, steps: 3, lr: 0.05, seed: 2)
save_embeddings(T, "{out}", name: "ti")
let D = learn(m, refs, prompts: 3, tokens: 2, steps: 3, lr: 0.05, seed: 1, suffix: "on a dark background")
save_embeddings(D, "{out}", name: "dd")
save("{out}/encodings.safetensors", ["ti": T.mean, "dd_mean": D.mean, "dd_std": D.std])
'''], check=True)

pipe = StableDiffusionPipeline.from_pretrained(fixture, variant="fp16", torch_dtype=torch.float32, safety_checker=None)


def encode(text):
    text = pipe.maybe_convert_prompt(text, pipe.tokenizer)  # a multi-vector token becomes its M tokens
    ids = pipe.tokenizer(text, padding="max_length", max_length=pipe.tokenizer.model_max_length, return_tensors="pt").input_ids
    with torch.no_grad():
        return pipe.text_encoder(ids)[0][0]


ref = load_file(f"{out}/encodings.safetensors")
pipe.load_textual_inversion(f"{out}/ti.safetensors")
worst = {"TI condition": (encode("<ti>") - ref["ti"]).abs().max().item()}
for k in range(3):
    pipe.load_textual_inversion(f"{out}/dd-{k}.safetensors")
H = torch.stack([encode(f"<dd-{k}> on a dark background") for k in range(3)])
worst["distribution mean"] = (H.mean(0) - ref["dd_mean"]).abs().max().item()
worst["distribution std (unbiased)"] = (H.std(0) - ref["dd_std"]).abs().max().item()
for k, v in worst.items():
    print(f"{k}: largest difference {v:.2e}")
sys.exit(0 if max(worst.values()) < 1e-4 else 1)
