"""Train the critic's segmenter (models/segmenter.py): per-pixel world category and named colour.

    thinkdraw train critic --out runs/critic [--steps 1500] [--resume] [--export]

Data: world scenes streamed from the sampler (train split) with their exact masks; the colour target
of a pixel is its entity's colour (text pixels: the text's colour). Augmentation makes the critic
robust to generated images: blur, noise, slight colour jitter; and, for ``hue_frac`` of the images, a
random global hue rotation, so that categories are recognised by shape and not by their usual colours
(the colour loss is skipped on those images, whose colour names no longer hold). Loss: cross-entropy on
both maps.
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
from PIL import Image, ImageFilter

from thinkdraw.models.segmenter import SegConfig, Segmenter
from thinkdraw.train.common import (
    add_config_args,
    config_from_args,
    cosine_lr,
    finish_run,
    open_run,
    save_checkpoint,
)
from thinkdraw.world.layout import solve_layout
from thinkdraw.world.render import render_scene
from thinkdraw.world.sampler import sample_spec
from thinkdraw.world.vocab import CATEGORIES, COLOR_NAMES, COLORS

PALETTE01 = np.array([COLORS[n] for n in COLOR_NAMES], np.float32) / 255.0


@dataclass
class CriticConfig:
    out: str = "runs/critic"
    steps: int = 1500
    batch: int = 16
    lr: float = 2e-3
    text_frac: float = 0.2
    hue_frac: float = 0.4
    seed: int = 0
    threads: int = 2
    log_every: int = 25
    ckpt_every: int = 250


def color_target(plan, instance: np.ndarray, text_mask: np.ndarray, text_colors: np.ndarray | None) -> np.ndarray:
    lut = np.zeros(len(plan.entities) + 1, np.int64)
    for i, e in enumerate(plan.entities):
        c = e.attributes.color or (CATEGORIES[e.category].default_color if e.category in CATEGORIES else None) or "gray"
        lut[i + 1] = COLOR_NAMES.index(c) + 1 if c in COLOR_NAMES else 0
    out = lut[instance]
    if text_colors is not None:
        out[text_mask] = text_colors[text_mask]
    return out


def critic_item(rng: random.Random, split: str = "train", text_frac: float = 0.2, augment: bool = True,
                hue_frac: float = 0.0):
    task = "text" if rng.random() < text_frac else None
    for _ in range(4):
        prompt, plan, _ = sample_spec(rng, split, task=task)
        res = solve_layout(plan, seed=rng.getrandbits(31))
        if not res.unsatisfied:
            break
    plan = res.plan
    sc = render_scene(plan, seed=rng.getrandbits(31))
    tcol = None
    if plan.texts:
        from thinkdraw.world.render import render_glyphs

        g = render_glyphs(plan)
        rgb = g[..., 1:] / np.maximum(g[..., :1], 1e-6)  # un-premultiplied glyph colour
        tcol = np.argmin(((rgb[..., None, :] - PALETTE01[None, None]) ** 2).sum(-1), axis=-1) + 1
    col = color_target(plan, sc.instance.astype(np.int64), sc.text_mask, tcol)
    if augment:
        img, hue = augment_image(sc.image, rng, hue_frac)
        if hue:
            col = np.full_like(col, -100)  # colour names no longer hold
    else:
        img = np.asarray(sc.image, np.float32)
    x = img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    cat = sc.category.astype(np.int64)
    return x.astype(np.float32), cat, col


def augment_image(img: Image.Image, rng: random.Random, hue_frac: float) -> tuple[np.ndarray, bool]:
    """Make a world render look less clean: (HxWx3 float in 0..255, whether its hue was rotated).

    A global hue rotation for ``hue_frac`` of the images (colour names then no longer hold), Gaussian blur
    for 70%, brightness/contrast jitter and pixel noise for all."""
    hue = rng.random() < hue_frac
    if hue:
        h, sat, v = img.convert("HSV").split()
        shift = rng.randint(30, 225)
        h = h.point(lambda p: (p + shift) % 256)
        img = Image.merge("HSV", (h, sat, v)).convert("RGB")
    if rng.random() < 0.7:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6)))
    x = np.asarray(img, np.float32)
    x = x * rng.uniform(0.9, 1.1) + rng.uniform(-12, 12)
    x = x + np.random.default_rng(rng.getrandbits(31)).normal(0, rng.uniform(0, 8), x.shape)
    return np.clip(x, 0, 255), hue



def _down(t: np.ndarray, f: int) -> np.ndarray:
    return t[f // 2::f, f // 2::f]


def train(cfg: CriticConfig, resume: bool = False, export: bool | str | None = None, log=print) -> Path:
    torch.manual_seed(cfg.seed)
    model = Segmenter(SegConfig())
    out, opt, ckpt, step, runlog = open_run(cfg, model, resume, log)
    rng = random.Random(f"critic/{cfg.seed}/{step}")
    f = 256 // model.config.size
    t0, seen = time.perf_counter(), 0
    model.train()
    while step < cfg.steps:
        items = [critic_item(rng, text_frac=cfg.text_frac, hue_frac=cfg.hue_frac) for _ in range(cfg.batch)]
        x = torch.from_numpy(np.stack([i[0] for i in items]))
        cat = torch.from_numpy(np.stack([_down(i[1], f) for i in items]))
        col = torch.from_numpy(np.stack([_down(i[2], f) for i in items]))
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, cfg.steps, cfg.lr)
        lc, lo = model(x)
        loss_c = F.cross_entropy(lc, cat)
        loss_o = F.cross_entropy(lo, col, ignore_index=-100) if (col >= 0).any() else lo.sum() * 0.0
        loss = loss_c + loss_o
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += cfg.batch
        if step % cfg.log_every == 0 or step == cfg.steps:
            el = time.perf_counter() - t0
            with torch.no_grad():
                acc_c = (lc.argmax(1) == cat)[cat > 0].float().mean().item()
                acc_o = (lo.argmax(1) == col)[col > 0].float().mean().item() if (col > 0).any() else float("nan")
            runlog.add(step=step, loss=loss.item(), cat_loss=loss_c.item(), color_loss=loss_o.item(),
                       fg_cat_acc=acc_c, fg_color_acc=acc_o, lr=opt.param_groups[0]["lr"], elapsed_s=round(el, 1))
            log(f"step {step}/{cfg.steps} loss {loss.item():.4f} fg-cat {acc_c:.3f} fg-color {acc_o:.3f} "
                f"({seen / el:.1f} img/s)")
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_checkpoint(ckpt, model, opt, step, {})
            runlog.write()
    return finish_run(runlog, model, out, "critic", export,
                      {"params": sum(p.numel() for p in model.parameters()), "wall_s": round(time.perf_counter() - t0, 1)})


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, CriticConfig)


def main(a: argparse.Namespace) -> Path:
    return train(config_from_args(CriticConfig, a), resume=a.resume, export=a.export)
