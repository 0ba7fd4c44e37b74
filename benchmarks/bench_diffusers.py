"""Seconds per image of the diffusers renderer on a random-initialised pipeline (no download, no weights).

    python benchmarks/bench_diffusers.py                      # tiny random model, 128x128, 10 steps, CPU
    python benchmarks/bench_diffusers.py --sd15 --size 512    # an SD-1.5-sized random UNet/VAE/CLIP (for a GPU)

Rows: diffusers' own StableDiffusionPipeline.__call__ (the plain pipeline), the renderer's direct mode (the
prompt alone, the same work in our loop), think mode (region-grounded: the plan's boxes with their own
prompts, then the whole prompt for the last 20% of steps, text stamped) and a masked refine (think, a
quarter of the canvas redrawn, the rest re-imposed and composited). The grounding overhead is think / direct.
A random model draws noise; only the time is meaningful. Needs the diffusers extra.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def build(folder: Path, sd15: bool) -> Path:
    """A random StableDiffusionPipeline folder: SD 1.5's shapes (``sd15``) or a tiny one with the same structure."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789,.'\"":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    if sd15:  # the shapes of runwayml/stable-diffusion-v1-5 (UNet 860M, VAE 84M, CLIP ViT-L/14 text 123M)
        text = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                              bos_token_id=0, eos_token_id=1, pad_token_id=1)
        unet = UNet2DConditionModel(sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
                                    cross_attention_dim=768, attention_head_dim=8,
                                    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            sample_size=512, scaling_factor=0.18215)
    else:
        text = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                              pad_token_id=1)
        unet = UNet2DConditionModel(sample_size=32, block_out_channels=(32, 64), layers_per_block=1,
                                    cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
                                    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
        vae = AutoencoderKL(block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=4, norm_num_groups=4,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet.eval(), vae=vae.eval(), text_encoder=CLIPTextModel(text).eval(),
                                   tokenizer=tok, scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder / "pipe")
    return folder / "pipe"


def timed(fn, n: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds of ``n`` runs after a warm-up (on a shared machine the
    CPU seconds, and ratios of them, hold up where wall time does not)."""
    fn()  # warm-up, not timed
    walls, cpus = [], []
    for _ in range(n):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sd15", action="store_true", help="SD-1.5-sized random networks (meant for a GPU)")
    ap.add_argument("--size", type=int, default=128, help="square canvas in pixels")
    ap.add_argument("--steps", type=int, default=10, help="sampling steps")
    ap.add_argument("--n", type=int, default=3, help="timed runs per row (median), after one warm-up")
    ap.add_argument("--device", default=None, help="cuda / mps / cpu (default: the best there is)")
    ap.add_argument("--prompt", default="two red apples left of a blue cup on a table")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)

    from thinkdraw.draw.diffusers_renderer import DiffusersRenderer
    from thinkdraw.think.base import get_planner

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folder = build(Path(tmp), a.sd15)
        r = DiffusersRenderer(model=str(folder), steps=a.steps, device=a.device)
        load_s = time.perf_counter() - t0
    _, plan = get_planner("rules").plan(a.prompt, seed=0)
    plan.canvas.width = plan.canvas.height = a.size
    mask = np.zeros((a.size, a.size), bool)
    mask[: a.size // 2, : a.size // 2] = True
    init = r.draw(plan, seed=0).image
    pipe = r.pipe
    rows = {
        "pipeline": lambda: pipe(plan.prompt, num_inference_steps=a.steps, height=a.size, width=a.size,
                                 guidance_scale=r.guidance, generator=torch.Generator("cpu").manual_seed(0)),
        "direct": lambda: r.draw(plan, seed=0, mode="direct"),
        "grounded": lambda: r.draw(plan, seed=0),
        "masked_refine": lambda: r.draw(plan, seed=1, mask=mask, init=init),
    }
    got = {k: timed(f, a.n) for k, f in rows.items()}
    secs = {k: v[0] for k, v in got.items()}
    cpu = {k: v[1] for k, v in got.items()}
    out = {"model": "sd15-random" if a.sd15 else "tiny-random", "device": str(r.device),
           "dtype": str(r.dtype).split(".")[-1], "size": a.size, "steps": a.steps, "boxes": len(plan.entities),
           "threads": torch.get_num_threads(), "build_and_load_s": round(load_s, 2),
           "seconds_per_image": {k: round(v, 4) for k, v in secs.items()},
           "cpu_seconds_per_image": {k: round(v, 4) for k, v in cpu.items()},
           "grounding_overhead": round(secs["grounded"] / secs["direct"], 3),
           "grounding_overhead_cpu": round(cpu["grounded"] / cpu["direct"], 3),
           "masked_refine_vs_direct": round(secs["masked_refine"] / secs["direct"], 3),
           "direct_vs_pipeline": round(secs["direct"] / secs["pipeline"], 3)}
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['model']} on {out['device']} ({out['dtype']}), {a.size}x{a.size}, {a.steps} steps, "
              f"{out['boxes']} boxes, median of {a.n}:")
        for k, v in secs.items():
            print(f"  {k:<14} {v:8.3f} s/image wall, {cpu[k]:8.3f} s CPU")
        print(f"  grounding overhead (grounded / direct): {out['grounding_overhead']:.2f}x wall, "
              f"{out['grounding_overhead_cpu']:.2f}x CPU; masked refine / direct: "
              f"{out['masked_refine_vs_direct']:.2f}x; our direct loop / diffusers' pipeline: "
              f"{out['direct_vs_pipeline']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
