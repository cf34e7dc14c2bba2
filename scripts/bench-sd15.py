#!/usr/bin/env python3
"""The full-size SD 1.5 UNet with random weights, for scripts/bench (never committed).

  bench-sd15.py make DIR    writes DIR/unet/{config.json, diffusion_pytorch_model.fp16.safetensors}
  bench-sd15.py time DIR    prints PyTorch's time for one UNet call at batch 2, 32x32 and 64x64 latents
Needs pip-installed torch and diffusers; prints nothing useful without them.
"""
import json, os, sys, time

def main():
    import torch
    from diffusers import UNet2DConditionModel
    torch.set_grad_enabled(False)
    cmd, folder = sys.argv[1], sys.argv[2]
    if cmd == "make":
        torch.manual_seed(0)
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).half()   # SD 1.5 (860M parameters)
        unet.save_pretrained(os.path.join(folder, "unet"), variant="fp16", safe_serialization=True)
        print(f"wrote {folder}/unet")
        return
    unet = UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet"), variant="fp16").float().eval()
    for size in [32, 64]:
        x = torch.randn(2, 4, size, size); c = torch.randn(2, 77, 768); t = torch.tensor([500, 500])
        unet(x, t, c)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter(); unet(x, t, c); best = min(best, time.perf_counter() - t0)
        print(f"{'unet sd15 batch 2 ' + str(size) + 'x' + str(size):<44}{best * 1e3:10.2f} ms", flush=True)
    # The UNet forward and the gradient back to the conditioning (weights frozen), batch 1 at 64x64, as dream-bench's.
    unet.requires_grad_(False)
    x = torch.randn(1, 4, 64, 64); r = torch.randn(1, 4, 64, 64); t = torch.tensor([500])
    c = torch.randn(1, 77, 768, requires_grad=True)
    with torch.enable_grad():
        def step():
            torch.autograd.grad((unet(x, t, c).sample * r).sum(), c)
        step()
        t0 = time.perf_counter(); step(); elapsed = time.perf_counter() - t0
    print(f"{'unet sd15 learning step 64x64':<44}{elapsed * 1e3:10.2f} ms", flush=True)

main()
