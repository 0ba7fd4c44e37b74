"""Train the critic's text reader (models/reader.py): the single line of text in a planned text box.

    thinkdraw train reader --out runs/reader [--scenes 40000] [--builtin-scenes 0] [--steps 1000]
                           [--resume] [--export]

Data: world scenes from the sampler (task "text", train split) whose text blocks get random strings (words
like the templates', numbers, random letters, digits and symbols, 1-20 characters, varied case) and random
colours; the layout solver fits each string in its carrier (sign, banner, poster) and the world's renderer
draws it with the bundled font. Optionally (``--builtin-scenes N``) the bundled generator draws N more plans
(its decoder is glyph-conditioned, so the text is crisp but a little softer than the world's; at 0.25-2 s a
drawing on 2 cores this is off by default, and the augmentations below stand in for it). Each text
block is cropped exactly as the critic crops it (its box plus 3 px), with a small random jitter of the box
edges, and augmented like the generator's output: slight blur, downscale softening, JPEG, colour shifts and
noise. Crops are made once into OUT/data-*.npz chunks (as fixed-size strips; a crash keeps finished chunks)
and trained on with CTC. Validation: crops of held-out scenes (world renders and builtin renders, no
augmentation), exact-match and character error rate in the log after every checkpoint.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from thinkdraw.models.reader import TextReader, crop_text, strips_to_input, to_strip
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
from thinkdraw.world.templates import TEXT_SECOND_WORDS, TEXT_WORDS
from thinkdraw.world.vocab import COLOR_NAMES

SYMBOLS = "%&#!?'-:.,/+@$()"
UPPER, LOWER, DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
PRINTABLE = "".join(chr(c) for c in range(33, 127))


@dataclass
class ReaderTrainConfig:
    out: str = "runs/reader"
    scenes: int = 40000
    builtin_scenes: int = 0  # scenes drawn by the bundled generator (0.25-2 s each on 2 cores: off by default)
    val_scenes: int = 600
    val_builtin_scenes: int = 0
    chunk: int = 5000
    builtin_share: float = 0.2  # share of each batch from the builtin renderer's crops (with builtin_scenes)
    steps: int = 1000
    batch: int = 64
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2
    log_every: int = 50
    ckpt_every: int = 300


def random_text(g: np.random.Generator) -> str:
    """A string to draw: template words and numbers, random letters/digits/symbols, 1-20 characters."""
    def pick(s: str, n: int) -> str:
        return "".join(s[i] for i in g.integers(0, len(s), n))

    r = g.random()
    if r < 0.3:  # like the templates: WORD, WORD 12, WORD WORD, 1234
        words = [str(g.choice(TEXT_WORDS))]
        k = g.random()
        if k < 0.3:
            words.append(str(g.integers(0, 100 if g.random() < 0.7 else 100000)))
        elif k < 0.55:
            words.append(str(g.choice(TEXT_SECOND_WORDS + TEXT_WORDS)))
        elif k < 0.65:
            words = [str(g.integers(0, 100000))]
        s = " ".join(words)
    elif r < 0.5:  # random capitals and digits
        s = pick(UPPER + (DIGITS if g.random() < 0.5 else ""), int(g.integers(1, 13)))
    elif r < 0.65:  # lower-case or title-case pseudo-words
        s = " ".join(pick(LOWER, int(g.integers(1, 9))) for _ in range(int(g.integers(1, 4))))
        if g.random() < 0.5:
            s = s.title()
    elif r < 0.85:  # words and numbers with symbols: SALE 50%, A&B, #1, WHY?, IT'S, 12:30, $20, (OPEN)
        parts = []
        for _ in range(int(g.integers(1, 4))):
            w = str(g.choice(TEXT_WORDS)) if g.random() < 0.5 else pick(UPPER + LOWER + DIGITS, int(g.integers(1, 6)))
            k = g.random()
            sym = SYMBOLS[int(g.integers(0, len(SYMBOLS)))]
            if k < 0.3:
                w = w + sym
            elif k < 0.5:
                w = sym + w
            elif k < 0.7:
                w = w[: len(w) // 2] + sym + w[len(w) // 2:]
            elif k < 0.8:
                w = "(" + w + ")"
            parts.append(w)
        s = " ".join(parts)
    else:  # anything printable
        n = int(g.integers(1, 21))
        s = "".join(" " if g.random() < 0.12 else PRINTABLE[int(g.integers(0, len(PRINTABLE)))] for _ in range(n))
    if g.random() < 0.1:
        s = s.lower()
    s = " ".join(s.split())[:20].strip()  # single spaces, none at the ends
    return s or pick(UPPER + DIGITS, 1)


def text_plan(rng: random.Random, g: np.random.Generator, split: str):
    """A placed text-task plan whose text blocks carry random strings and colours."""
    for _ in range(6):
        _, plan, _ = sample_spec(rng, split, task="text")
        plan = plan.model_copy(deep=True)
        for t in plan.texts:
            t.content = random_text(g)
            if g.random() < 0.4:
                t.color = str(COLOR_NAMES[int(g.integers(0, len(COLOR_NAMES)))])
        res = solve_layout(plan, seed=int(g.integers(0, 2**31)))
        if not res.unsatisfied and all(t.box is not None for t in res.plan.texts):
            return res.plan
    return res.plan


def augment_crop(im: Image.Image, g: np.random.Generator) -> Image.Image:
    """Make a crop look like the generator's output: blur, softening, JPEG, colour shifts, noise."""
    if g.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(float(g.uniform(0.2, 1.0))))
    if g.random() < 0.3:
        f = float(g.uniform(0.5, 0.85))
        w, h = im.size
        im = im.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
    if g.random() < 0.3:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(g.integers(25, 86)))
        im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    x = np.asarray(im, np.float32)
    if g.random() < 0.6:
        x = x * g.uniform(0.85, 1.15, 3) + g.uniform(-15, 15, 3)
    x = x + g.normal(0, g.uniform(0, 6), x.shape)
    return Image.fromarray(np.clip(x, 0, 255).round().astype(np.uint8))


def jitter_box(box, W: int, H: int, g: np.random.Generator, px: int = 2):
    """The box with each edge moved by up to ``px`` pixels (half of the time)."""
    if g.random() < 0.5:
        return box
    d = g.integers(-px, px + 1, 4)
    x0, y0 = box[0] + d[0] / W, box[1] + d[1] / H
    x1, y1 = max(x0 + 4 / W, box[2] + d[2] / W), max(y0 + 4 / H, box[3] + d[3] / H)
    return (x0, y0, x1, y1)


def scene_crops(rng: random.Random, g: np.random.Generator, split: str, cfg_reader, renderer=None,
                augmented: bool = True) -> list[tuple[np.ndarray, str]]:
    """(strip, string) for each text block of one scene, drawn by the world (or by ``renderer``)."""
    plan = text_plan(rng, g, split)
    seed = int(g.integers(0, 2**31))
    image = render_scene(plan, seed=seed).image if renderer is None else renderer.draw(plan, seed=seed).image
    W, H = image.size
    out = []
    for t in plan.texts:
        if t.box is None:
            continue
        crop = crop_text(image, jitter_box(t.box, W, H, g) if augmented else t.box)
        if augmented:
            crop = augment_crop(crop.convert("RGB"), g)
        out.append((to_strip(crop, cfg_reader), t.content))
    return out


def build_data(cfg: ReaderTrainConfig, rc, split: str, n: int, tag: str, renderer=None, augmented: bool = True,
               log=print) -> tuple[np.ndarray, np.ndarray]:
    """Strips of ``n`` scenes, made in chunks saved as OUT/data-TAG-K.npz (finished chunks are reused)."""
    out = Path(cfg.out)
    xs, ys = [], []
    for k in range((n + cfg.chunk - 1) // cfg.chunk):
        path = out / f"data-{tag}-{k}.npz"
        if not path.is_file():
            t0 = time.perf_counter()
            rng = random.Random(f"reader/{tag}/{cfg.seed}/{k}")
            g = np.random.default_rng([cfg.seed, k, sum(map(ord, tag))])
            items = [it for _ in range(min(cfg.chunk, n - k * cfg.chunk))
                     for it in scene_crops(rng, g, split, rc, renderer, augmented)]
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez_compressed(tmp, x=np.stack([i[0] for i in items]), y=np.array([i[1] for i in items]))
            tmp.replace(path)
            log(f"data {tag} chunk {k}: {len(items)} crops ({time.perf_counter() - t0:.0f} s)")
        d = np.load(path)
        xs.append(d["x"])
        ys.append(d["y"])
    return np.concatenate(xs), np.concatenate(ys)


def _edits(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@torch.no_grad()
def evaluate(model: TextReader, x: np.ndarray, y: np.ndarray, prefix: str) -> dict:
    from thinkdraw.models.reader import decode

    was = model.training
    model.eval()
    reads = []
    for i in range(0, len(x), 256):
        ids = model(strips_to_input(x[i:i + 256])).argmax(-1)
        reads += [decode(r.tolist(), model.config.charset) for r in ids]
    model.train(was)
    exact = float(np.mean([r == t for r, t in zip(reads, y, strict=True)]))
    cer = sum(_edits(r, str(t)) for r, t in zip(reads, y, strict=True)) / max(1, sum(len(str(t)) for t in y))
    return {f"{prefix}_exact": exact, f"{prefix}_cer": cer}


def train(cfg: ReaderTrainConfig, resume: bool = False, export: bool | str | None = None, log=print,
          config=None) -> Path:
    """Make the data, train, write OUT/reader.safetensors (``export``: see train/common.finish_run);
    ``config``: a ReaderConfig (default: the bundled model's)."""
    torch.manual_seed(cfg.seed)
    model = TextReader(config)
    rc = model.config
    out, opt, ckpt, step, runlog = open_run(cfg, model, resume, log, weight_decay=1e-4)
    x, y = build_data(cfg, rc, "train", cfg.scenes, "train", log=log)
    vx, vy = build_data(cfg, rc, "heldout", cfg.val_scenes, "val", augmented=False, log=log)
    bx = by = bvx = bvy = None
    if cfg.builtin_scenes > 0:
        from thinkdraw.draw.builtin import BuiltinRenderer

        renderer = BuiltinRenderer()
        torch.set_num_threads(cfg.threads)
        bx, by = build_data(cfg, rc, "train", cfg.builtin_scenes, "builtin", renderer, log=log)
        bvx, bvy = build_data(cfg, rc, "heldout", cfg.val_builtin_scenes, "val-builtin", renderer, augmented=False,
                              log=log)
        del renderer
    log(f"{len(x)} world crops, {0 if bx is None else len(bx)} builtin crops; {len(vx)} validation crops")
    gen = np.random.default_rng([cfg.seed, 1000 + step])

    def validate() -> dict:
        rec = evaluate(model, vx, vy, "val")
        if bvx is not None:
            rec.update(evaluate(model, bvx, bvy, "val_builtin"))
        return rec

    t0, seen = time.perf_counter(), 0
    model.train()
    while step < cfg.steps:
        nb = int(round(cfg.batch * cfg.builtin_share)) if bx is not None else 0
        i = gen.integers(0, len(x), cfg.batch - nb)
        xb, yb = x[i], list(y[i])
        if nb:
            j = gen.integers(0, len(bx), nb)
            xb, yb = np.concatenate([xb, bx[j]]), yb + list(by[j])
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, cfg.steps, cfg.lr)
        loss = model.loss(strips_to_input(xb), [str(s) for s in yb])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        seen += len(yb)
        if step % cfg.log_every == 0 or step == cfg.steps:
            el = time.perf_counter() - t0
            rec = dict(step=step, loss=loss.item(), lr=opt.param_groups[0]["lr"], elapsed_s=round(el, 1))
            if step % cfg.ckpt_every == 0 or step == cfg.steps:
                rec.update(validate())
            runlog.add(**rec)
            log(f"step {step}/{cfg.steps} loss {loss.item():.4f} ({seen / el:.0f} crops/s)"
                + "".join(f" {k} {v:.4f}" for k, v in rec.items() if k.startswith("val")))
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_checkpoint(ckpt, model, opt, step, {})
            runlog.write()
    model.eval()
    final_val = validate()
    return finish_run(runlog, model, out, "reader", export,
                      {"params": sum(p.numel() for p in model.parameters()), "train_crops": int(len(x)),
                       "builtin_crops": 0 if bx is None else int(len(bx)), "val_crops": int(len(vx)), **final_val,
                       "wall_s": round(time.perf_counter() - t0, 1)})


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, ReaderTrainConfig)


def main(a: argparse.Namespace) -> Path:
    return train(config_from_args(ReaderTrainConfig, a), resume=a.resume, export=a.export)
