"""Train the image tokenizer (the autoencoder in models/autoencoder.py).

    thinkdraw train tokenizer --out runs/tokenizer [--steps 4000] [--resume] [--export]

Data: world scenes streamed from the sampler (train split), random 64x64 crops (half of them around
planned text, so the decoder learns to use the glyph raster); loss L1 on pixels, plus a small L2 on the
latents to keep them tame. Checkpoints every ``ckpt_every`` steps (resume with --resume), the JSON log
and the loss curve are written in ``out``; --export writes fp16 safetensors to the package's weights
folder with the log and curve next to them.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from thinkdraw.models.autoencoder import AEConfig, AutoEncoder
from thinkdraw.train.common import (
    add_config_args,
    config_from_args,
    cosine_lr,
    finish_run,
    open_run,
    save_checkpoint,
)
from thinkdraw.train.data import to_unit, world_item


@dataclass
class TokConfig:
    out: str = "runs/tokenizer"
    steps: int = 4000
    batch: int = 32
    crop: int = 64
    crops_per_image: int = 3
    lr: float = 2e-3
    latent_l2: float = 1e-4
    text_frac: float = 0.35
    seed: int = 0
    threads: int = 2
    log_every: int = 25
    ckpt_every: int = 250
    eval_images: int = 48


def _crops(item, n: int, crop: int, rng: random.Random) -> list[tuple[np.ndarray, np.ndarray]]:
    img, glyph = to_unit(item.image), item.glyph.transpose(2, 0, 1)
    H, W = item.image.shape[:2]
    ys, xs = np.nonzero(item.glyph[..., 0] > 0.5)
    out = []
    for k in range(n):
        if len(ys) and k == 0:  # one crop around the text
            j = rng.randrange(len(ys))
            y = min(max(0, ys[j] - rng.randrange(crop)), H - crop)
            x = min(max(0, xs[j] - rng.randrange(crop)), W - crop)
        else:
            y, x = rng.randrange(H - crop + 1), rng.randrange(W - crop + 1)
        out.append((img[:, y:y + crop, x:x + crop], glyph[:, y:y + crop, x:x + crop]))
    return out


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between images in [-1, 1]."""
    mse = F.mse_loss((a.clamp(-1, 1) + 1) / 2, (b + 1) / 2).item()
    return 10 * np.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def evaluate(model: AutoEncoder, n: int, seed: int = 1234) -> dict:
    """Reconstruction PSNR on held-out world images at 256x256 (with and without the glyph raster)."""
    model.eval()
    rng = random.Random(seed)
    vals, vals_nog, text_vals = [], [], []
    for _ in range(n):
        it = world_item(rng, split="heldout", text_frac=0.3)
        x = torch.from_numpy(to_unit(it.image))[None]
        g = torch.from_numpy(it.glyph.transpose(2, 0, 1).copy())[None]
        z = model.encoder(x)
        y = model.decoder(z, g)
        vals.append(psnr(y, x))
        vals_nog.append(psnr(model.decoder(z, None), x))
        if it.plan.texts:
            text_vals.append(vals[-1])
    model.train()
    return {"psnr": float(np.mean(vals)), "psnr_no_glyph": float(np.mean(vals_nog)),
            "psnr_text_images": float(np.mean(text_vals)) if text_vals else None, "n": n}


def train(cfg: TokConfig, resume: bool = False, export: bool | str | None = None, log=print) -> Path:
    torch.manual_seed(cfg.seed)
    model = AutoEncoder(AEConfig())
    out, opt, ckpt, step, runlog = open_run(cfg, model, resume, log)
    rng = random.Random(f"tok/{cfg.seed}/{step}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"tokenizer: {n_params / 1e6:.2f}M params, {cfg.steps} steps of {cfg.batch} crops {cfg.crop}px")
    t0, seen = time.perf_counter(), 0
    model.train()
    while step < cfg.steps:
        crops: list = []
        while len(crops) < cfg.batch:
            crops += _crops(world_item(rng, text_frac=cfg.text_frac), cfg.crops_per_image, cfg.crop, rng)
        crops = crops[: cfg.batch]
        x = torch.from_numpy(np.stack([c[0] for c in crops]))
        g = torch.from_numpy(np.stack([c[1] for c in crops]))
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, cfg.steps, cfg.lr)
        y, z = model(x, g)
        rec = F.l1_loss(y, x)
        text_w = g[:, :1]
        text = (F.l1_loss(y, x, reduction="none") * text_w).sum() / (3 * text_w.sum() + 1.0)
        loss = rec + 0.5 * text + cfg.latent_l2 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += len(crops)
        if step % cfg.log_every == 0 or step == cfg.steps:
            el = time.perf_counter() - t0
            runlog.add(step=step, loss=loss.item(), l1=rec.item(), text_l1=text.item(), lr=opt.param_groups[0]["lr"],
                       elapsed_s=round(el, 1), crops_per_s=round(seen / el, 2))
            log(f"step {step}/{cfg.steps} loss {loss.item():.4f} l1 {rec.item():.4f} text {text.item():.4f} "
                f"({seen / el:.1f} crops/s)")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_checkpoint(ckpt, model, opt, step, {})
            runlog.write()
    # latent scale: unit variance for the generator
    with torch.no_grad():
        rng_s = random.Random(99)
        zs = [model.encoder(torch.from_numpy(to_unit(world_item(rng_s).image))[None]) for _ in range(32)]
        model.config.scale = float(1.0 / torch.cat(zs).std())
    figures = evaluate(model, cfg.eval_images)
    log(f"held-out reconstruction: PSNR {figures['psnr']:.2f} dB (without glyph raster {figures['psnr_no_glyph']:.2f} dB)")
    return finish_run(runlog, model, out, "tokenizer", export,
                      {"heldout": figures, "latent_scale": model.config.scale, "params": n_params,
                       "wall_s": round(time.perf_counter() - t0, 1)}, extra={"figures": figures})


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, TokConfig)


def main(a: argparse.Namespace) -> Path:
    return train(config_from_args(TokConfig, a), resume=a.resume, export=a.export)
