"""Train the plan-conditioned generator (models/generator.py) on latents of the trained tokenizer.

    thinkdraw train generator --out runs/generator [--samples 16000] [--steps 2500] [--resume] [--export]

1. Data: ``samples`` world scenes (train split, a share of them with text) are rendered, encoded once
   with the tokenizer's encoder and cached with their conditioning in OUT/data.safetensors (the cache
   is reused on resume).
2. Training: rectified-flow loss; the plan is dropped for 10% of samples and the prompt for 10%
   (independently), so one set of weights serves think mode, direct mode and guidance. An EMA of the
   weights is what gets exported.
Checkpoints every ``ckpt_every`` steps; log, loss curve and a sample grid are written in OUT.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thinkdraw.models.condition import MAX_TOKENS, Cond, plan_maps, prompt_tokens, scene_ids
from thinkdraw.models.generator import GenConfig, Generator, flow_loss
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
from thinkdraw.train.data import to_unit, world_item


@dataclass
class GenTrainConfig:
    out: str = "runs/generator"
    tokenizer: str = ""  # tokenizer weights; default: the bundled ones
    samples: int = 16000
    steps: int = 2500
    batch: int = 32
    lr: float = 1e-3
    p_drop_plan: float = 0.1
    p_drop_prompt: float = 0.1
    ema: float = 0.999
    text_frac: float = 0.15
    seed: int = 0
    threads: int = 2
    log_every: int = 25
    ckpt_every: int = 250


def build_cache(cfg: GenTrainConfig, path: Path, log=print) -> dict[str, torch.Tensor]:
    """Render, encode and store the training set once (resumable: finished chunks are kept)."""
    from safetensors.torch import load_file, save_file

    from thinkdraw.models.bundled import load_tokenizer

    if path.is_file():
        return load_file(str(path))
    tok = load_tokenizer(cfg.tokenizer or None)
    grid = 32
    chunks: list[dict[str, torch.Tensor]] = []
    t0 = time.perf_counter()
    chunk_dir = path.with_suffix(".parts")
    chunk_dir.mkdir(exist_ok=True)
    n_chunk = 512
    for c in range((cfg.samples + n_chunk - 1) // n_chunk):
        part = chunk_dir / f"part-{c:04d}.safetensors"
        crng = random.Random(f"gen-data/{cfg.seed}/{c}")
        if part.is_file():
            chunks.append(load_file(str(part)))
            continue
        n = min(n_chunk, cfg.samples - c * n_chunk)
        lat, cat, col, edge, gl, scene, toks = [], [], [], [], [], [], []
        items = [world_item(crng, text_frac=cfg.text_frac) for _ in range(n)]
        with torch.inference_mode():
            for k in range(0, n, 32):
                x = torch.from_numpy(np.stack([to_unit(it.image) for it in items[k:k + 32]]))
                lat.append(tok.encode(x).half())
        for it in items:
            m = plan_maps(it.plan, grid, it.glyph)
            cat.append(m["cat"])
            col.append(m["color"])
            edge.append(m["edge"])
            gl.append(m["glyph"])
            scene.append(scene_ids(it.plan))
            ids = prompt_tokens(it.prompt)
            toks.append(ids + [0] * (MAX_TOKENS - len(ids)))
        d = {"latent": torch.cat(lat).contiguous(), "cat": torch.from_numpy(np.stack(cat)).to(torch.uint8),
             "color": torch.from_numpy(np.stack(col)).to(torch.uint8),
             "edge": torch.from_numpy(np.stack(edge)).to(torch.uint8), "glyph": torch.from_numpy(np.stack(gl)).half(),
             "scene": torch.tensor(scene, dtype=torch.uint8), "tokens": torch.tensor(toks, dtype=torch.int32)}
        save_file(d, str(part))
        chunks.append(d)
        log(f"data: {min((c + 1) * n_chunk, cfg.samples)}/{cfg.samples} encoded ({time.perf_counter() - t0:.0f} s)")
    data = {k: torch.cat([c[k] for c in chunks]).contiguous() for k in chunks[0]}
    save_file(data, str(path))
    shutil.rmtree(chunk_dir)
    return data


def batch_cond(data: dict[str, torch.Tensor], idx: torch.Tensor, drop_plan: torch.Tensor, drop_prompt: torch.Tensor
               ) -> Cond:
    keep = (~drop_plan).long()
    cat = data["cat"][idx].long() * keep[:, None, None]
    color = data["color"][idx].long() * keep[:, None, None]
    edge = data["edge"][idx].float()[:, None] * keep[:, None, None, None]
    glyph = data["glyph"][idx].float()[:, None] * keep[:, None, None, None]
    scene = data["scene"][idx].long() * keep[:, None]
    tokens = data["tokens"][idx].long() * (~drop_prompt).long()[:, None]
    return Cond(cat, color, edge, glyph, scene, tokens, keep.float())


def train(cfg: GenTrainConfig, resume: bool = False, export: bool | str | None = None, log=print) -> Path:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = build_cache(cfg, out / "data.safetensors", log)
    N = data["latent"].shape[0]
    model = Generator(GenConfig(latent=data["latent"].shape[1]))
    ema = EMA(model, cfg.ema)
    out, opt, ckpt, step, runlog = open_run(cfg, model, resume, log, weight_decay=0.01, samples=N)
    if step:
        ema.load(out)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"generator: {n_params / 1e6:.2f}M params, {N} cached samples, {cfg.steps} steps of {cfg.batch}")
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + step)
    t0, seen = time.perf_counter(), 0
    model.train()
    while step < cfg.steps:
        idx = torch.randint(0, N, (cfg.batch,), generator=gen)
        drop_plan = torch.rand(cfg.batch, generator=gen) < cfg.p_drop_plan
        drop_prompt = torch.rand(cfg.batch, generator=gen) < cfg.p_drop_prompt
        cond = batch_cond(data, idx, drop_plan, drop_prompt)
        x0 = data["latent"][idx].float()
        for pg in opt.param_groups:
            pg["lr"] = cosine_lr(step, cfg.steps, cfg.lr, warmup=200)
        loss = flow_loss(model, x0, cond, gen)
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
    from thinkdraw.models.bundled import model_file
    from thinkdraw.models.weights import file_sha256

    # the tokenizer whose latents it learned: a weights folder refuses to pair it with any other
    tok_sha = file_sha256(model_file("tokenizer", cfg.tokenizer or None))
    return finish_run(runlog, ema.model, out, "generator", export,
                      {"params": n_params, "samples": N, "wall_s": round(time.perf_counter() - t0, 1)},
                      extra={"tokenizer_sha256": tok_sha})


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, GenTrainConfig)


def main(a: argparse.Namespace) -> Path:
    return train(config_from_args(GenTrainConfig, a), resume=a.resume, export=a.export)
