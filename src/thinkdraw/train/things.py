"""Train the thing generator (models/things.py): one world thing per crop, with its matte.

    thinkdraw train things --out runs/things [--crops 48000] [--steps 4000] [--resume] [--export]

1. Data: ``crops`` single things, each a random category, colour (its natural colours or any named one)
   and box (the category's typical width and aspect at a random size, as the layout solver places them on
   a 256 px canvas), drawn by the world's own drawer exactly as render_scene draws it (4x supersampled,
   premultiplied colour and coverage), then stretched to ``size`` x ``size``. Made once into
   OUT/data.npz (reused on resume).
   Each crop's drawer choices (facing, wing, stripes, roof colour...) come from one of ``variants`` seeded
   variant indices, which is a condition (models/things.py says why).
2. Training: rectified-flow loss, the matte weighted double; category, colour and variant dropped together
   for 10% of samples (classifier-free guidance); an EMA of the weights is what gets exported.
Checkpoints every ``ckpt_every`` steps (resume with --resume); the log, the loss curve and a sample grid
(every category in four colours, OUT/samples.png) are written in OUT.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thinkdraw.models.things import N_THINGS, THING_NAMES, ThingConfig, ThingNet, thing_loss, thing_scalars
from thinkdraw.train.common import (
    EMA,
    add_config_args,
    config_from_args,
    cosine_lr,
    finish_run,
    log_step,
    open_run,
    optimizer_step,
    save_checkpoint,
)
from thinkdraw.world.vocab import CATEGORIES, COLORS, SIZES

CANVAS = 256  # the canvas the renderer draws on


@dataclass
class ThingTrainConfig:
    out: str = "runs/things"
    size: int = 32
    ch: str = "32,64,96"
    crops: int = 48000
    steps: int = 4000
    batch: int = 64
    lr: float = 2e-3
    p_drop: float = 0.1
    variants: int = 8  # drawing variants per category (models/things.py); 0: none
    ema: float = 0.999
    seed: int = 0
    threads: int = 2
    log_every: int = 25
    ckpt_every: int = 250


def variant_rng(variant: int) -> np.random.Generator:
    """The drawer's own random choices for drawing variant ``variant`` (facing, wing, stripes, roof...)."""
    return np.random.default_rng([int(variant), 7919])


def thing_crop(category: str, rgb: tuple[int, int, int], bw: float, bh: float, size: int,
               rng: np.random.Generator, variant: int | None = None) -> np.ndarray:
    """The world's drawing of one thing in a ``bw`` x ``bh`` px box, stretched to (4, size, size) uint8:
    premultiplied RGB and coverage. ``variant``: the drawer's choices come from ``variant_rng(variant)``
    (and the brightness jitter, which some choices depend on: a house's roof contrasts with its walls);
    the placement still from ``rng``; None: from ``rng`` too."""
    from thinkdraw.world.render import DRAWERS, Pen, jitter

    ss = 4
    ox, oy = rng.uniform(0, 1), rng.uniform(0, 1)
    w, h = int(np.ceil(ox + bw)), int(np.ceil(oy + bh))
    pen = Pen(w * ss, h * ss, lw=min(2.0, max(0.7, 0.022 * min(bw, bh))) * ss)
    dr = rng if variant is None else variant_rng(variant)
    DRAWERS[category](pen, (ox * ss, oy * ss, (ox + bw) * ss, (oy + bh) * ss), jitter(rgb, dr), dr)
    rgbi, cov = pen.rgb.reduce(ss), pen.cov.reduce(ss)
    # crop to the box itself (the drawer fills it) and stretch to a square
    x0, y0, x1, y1 = int(round(ox)), int(round(oy)), max(1, int(round(ox + bw))), max(1, int(round(oy + bh)))
    out = [np.asarray(im.crop((x0, y0, x1, y1)).resize((size, size), Image.Resampling.BILINEAR
                                                        if max(x1 - x0, y1 - y0) < size else Image.Resampling.BOX))
           for im in (rgbi, cov)]
    return np.concatenate([out[0].transpose(2, 0, 1), out[1][None]], axis=0)


def random_thing(rng: np.random.Generator) -> tuple[str, tuple[int, int, int], float, float]:
    """A category, its colour and a box in px, as the planner and layout solver would make them."""
    name = THING_NAMES[int(rng.integers(N_THINGS))]
    cat = CATEGORIES[name]
    if rng.random() < 0.6 and cat.natural_colors:
        cname = cat.natural_colors[int(rng.integers(len(cat.natural_colors)))]
    elif rng.random() < 0.3 and cat.default_color:
        cname = cat.default_color
    else:
        cname = list(COLORS)[int(rng.integers(len(COLORS)))]
    scale = list(SIZES.values())[int(rng.integers(len(SIZES)))] * rng.uniform(0.45, 1.4)
    bw = float(np.clip(CANVAS * cat.width * scale, 8, 220))
    bh = float(np.clip(bw * cat.aspect * rng.uniform(0.8, 1.25), 8, 230))
    return name, COLORS[cname], bw, bh


def build_data(cfg: ThingTrainConfig, path: Path, log=print) -> dict[str, np.ndarray]:
    if path.is_file():
        with np.load(path) as z:
            d = {k: z[k] for k in z.files}
        if len(d["x"]) == cfg.crops and d["x"].shape[-1] == cfg.size and \
                int(d.get("variants", np.array(0))) == cfg.variants:
            log(f"reusing {path} ({cfg.crops} crops)")
            return d
    rng = np.random.default_rng([cfg.seed, 11])
    xs = np.zeros((cfg.crops, 4, cfg.size, cfg.size), np.uint8)
    cats, rgbs, dims = np.zeros(cfg.crops, np.int64), np.zeros((cfg.crops, 3), np.float32), np.zeros((cfg.crops, 2), np.float32)
    var = np.zeros(cfg.crops, np.int64)
    t0 = time.perf_counter()
    for i in range(cfg.crops):
        name, rgb, bw, bh = random_thing(rng)
        v = int(rng.integers(cfg.variants)) if cfg.variants else None
        xs[i] = thing_crop(name, rgb, bw, bh, cfg.size, rng, v)
        cats[i], rgbs[i], dims[i], var[i] = THING_NAMES.index(name), rgb, (bw, bh), v or 0
        if (i + 1) % 5000 == 0:
            log(f"data: {i + 1}/{cfg.crops} crops ({(i + 1) / (time.perf_counter() - t0):.0f}/s)")
    d = {"x": xs, "cat": cats, "rgb": rgbs, "dims": dims, "var": var, "variants": np.array(cfg.variants)}
    tmp = path.with_name("data.tmp.npz")
    np.savez(tmp, **d)
    tmp.replace(path)
    return d


def to_model(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x).float() / 127.5 - 1.0


def sample_grid(model: ThingNet, path: Path, steps: int = 8, guidance: float = 2.0) -> None:
    """Every category in red, blue, green, yellow (seeded; variants 0..3 when the model has them), 2x
    upscaled: the figure beside the weights."""
    from thinkdraw.draw.things import sample_things

    cols = ["red", "blue", "green", "yellow"]
    items = []
    for name in THING_NAMES:
        cat = CATEGORIES[name]
        for c in cols:
            bw = CANVAS * cat.width
            items.append((name, COLORS[c], bw, bw * cat.aspect))
    nv = model.config.n_variants
    variants = [k % 4 % nv for k in range(len(items))] if nv else None
    rgba = sample_things(model, items, seed=0, steps=steps, guidance=guidance, variants=variants)
    S = model.config.size * 2
    sheet = Image.new("RGB", (len(cols) * (S + 4), len(THING_NAMES) * (S + 4)), (236, 236, 236))
    for k, a in enumerate(rgba):
        im = Image.fromarray(a).resize((S, S), Image.Resampling.BILINEAR)
        sheet.paste(im.convert("RGB"), ((k % 4) * (S + 4), (k // 4) * (S + 4)), im.getchannel("A"))
    sheet.save(path)


def train(cfg: ThingTrainConfig, resume: bool = False, export: bool | str | None = None, log=print) -> Path:
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = build_data(cfg, out / "data.npz", log)
    N = len(data["x"])
    x_all = torch.from_numpy(data["x"])
    cat_all, rgb_all = torch.from_numpy(data["cat"]), torch.from_numpy(data["rgb"])
    dims = torch.from_numpy(data["dims"])
    scal_all = thing_scalars(rgb_all, dims[:, 1] / dims[:, 0], dims.min(1).values)
    var_all = torch.from_numpy(data["var"]) if cfg.variants else None
    model = ThingNet(ThingConfig(size=cfg.size, ch=tuple(int(c) for c in cfg.ch.split(",")), n_variants=cfg.variants))
    ema = EMA(model, cfg.ema)
    out, opt, ckpt, step, runlog = open_run(cfg, model, resume, log, weight_decay=0.01, crops=N)
    if step:
        ema.load(out)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"things: {n_params / 1e6:.2f}M params, {N} crops, {cfg.steps} steps of {cfg.batch}")
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + step)
    t0, seen = time.perf_counter(), 0
    model.train()
    while step < cfg.steps:
        idx = torch.randint(0, N, (cfg.batch,), generator=gen)
        drop = torch.rand(cfg.batch, generator=gen) < cfg.p_drop
        cat = torch.where(drop, torch.full_like(cat_all[idx], N_THINGS), cat_all[idx])
        scal = scal_all[idx].clone()
        scal[drop, :3] = 0.0  # the colour goes with the category; aspect and size stay (they are the box)
        scal[drop, 5] = 0.0
        var = None if var_all is None else torch.where(drop, torch.full_like(var_all[idx], cfg.variants), var_all[idx])
        x0 = to_model(x_all[idx])
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, cfg.steps, cfg.lr, warmup=200)
        loss = thing_loss(model, x0, model.embed(cat, scal, var), gen)
        optimizer_step(model, opt, loss)
        ema.update(model, step)
        step += 1
        seen += cfg.batch
        if step % cfg.log_every == 0 or step == cfg.steps:
            log_step(runlog, log, step, cfg.steps, loss, opt, seen, t0)
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_checkpoint(ckpt, model, opt, step, {})
            ema.save(out)
            runlog.write()
            sample_grid(ema.model, out / "samples.png")
            model.train()
    return finish_run(runlog, ema.model, out, "things", export,
                      {"params": n_params, "crops": N, "wall_s": round(time.perf_counter() - t0, 1)})


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, ThingTrainConfig)


def main(a: argparse.Namespace) -> Path:
    return train(config_from_args(ThingTrainConfig, a), resume=a.resume, export=a.export)
