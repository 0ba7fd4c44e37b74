"""Sharded world datasets for training: write (resumable, parallel) and read back.

Layout of a dataset folder::

    manifest.json          n, split, seed, size, shard_size, shard list, category/colour ids, versions
    shard-00000.npz        image uint8 [N,H,W,3], instance uint16 [N,H,W], category uint8 [N,H,W],
                           text uint8 [N,H,W] (1 on glyph pixels), index int64 [N]
    shard-00000.jsonl      one line per sample: {"index", "prompt", "plan" (ScenePlan JSON), "meta"}

Shard ``k`` holds samples ``k*shard_size .. min(n, (k+1)*shard_size) - 1`` of the deterministic stream
``(split, seed)`` (see :mod:`thinkdraw.world.sampler`), so a dataset is reproducible and any shard can be
rebuilt alone. A shard is written to temporary files and renamed into place (the ``.jsonl`` first, the
``.npz`` last): a crash loses at most the shards in progress, and a rerun skips the complete ones.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import thinkdraw
from thinkdraw.plan.schema import SCHEMA_VERSION, ScenePlan
from thinkdraw.world.vocab import COLOR_NAMES

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
Progress = Callable[[int, int], None]
"""``progress(done_samples, total_samples)``, called after each shard."""


def shard_name(k: int) -> str:
    return f"shard-{k:05d}"


def _shard_plan(n: int, shard_size: int) -> list[dict[str, Any]]:
    return [{"name": shard_name(k), "start": start, "n": min(shard_size, n - start)}
            for k, start in enumerate(range(0, n, shard_size))]


def _manifest(n: int, split: str, seed: int, size: int, shard_size: int) -> dict[str, Any]:
    from thinkdraw.world.render import CATEGORY_IDS

    return {
        "format": FORMAT_VERSION,
        "thinkdraw_version": thinkdraw.__version__,
        "schema_version": SCHEMA_VERSION,
        "n": n,
        "split": split,
        "seed": seed,
        "size": size,
        "shard_size": shard_size,
        "shards": _shard_plan(n, shard_size),
        "arrays": {
            "image": "uint8 [N,H,W,3] RGB",
            "instance": "uint16 [N,H,W]: 0 background, i+1 = plan.entities[i]",
            "category": "uint8 [N,H,W]: category ids below, 0 background",
            "text": "uint8 [N,H,W]: 1 on text glyph pixels",
            "index": "int64 [N]: sample index in the (split, seed) stream",
        },
        "category_ids": dict(CATEGORY_IDS),
        "color_ids": {c: i for i, c in enumerate(COLOR_NAMES)},
        "complete": False,
    }


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def shard_complete(out_dir: Path, name: str) -> bool:
    return (out_dir / f"{name}.npz").is_file() and (out_dir / f"{name}.jsonl").is_file()


def write_shard(out_dir: str | Path, name: str, start: int, count: int, split: str, seed: int, size: int) -> int:
    """Render samples ``start .. start+count-1`` and write them as shard ``name``; returns ``count``."""
    from thinkdraw.world.sampler import sample

    out = Path(out_dir)
    images = np.zeros((count, size, size, 3), np.uint8)
    instance = np.zeros((count, size, size), np.uint16)
    category = np.zeros((count, size, size), np.uint8)
    text = np.zeros((count, size, size), np.uint8)
    index = np.arange(start, start + count, dtype=np.int64)
    lines: list[str] = []
    for i, s in enumerate(sample(count, split=split, seed=seed, size=size, start=start)):
        images[i] = np.asarray(s.image.convert("RGB"), dtype=np.uint8)
        instance[i] = s.instance
        category[i] = s.category
        text[i] = s.text_mask
        lines.append(json.dumps({"index": start + i, "prompt": s.prompt,
                                 "plan": s.plan.model_dump(mode="json"), "meta": s.meta}))
    tag = f"tmp-{os.getpid()}"
    tmp_jsonl = out / f".{name}.jsonl.{tag}"
    tmp_npz = out / f".{name}.npz.{tag}"
    tmp_jsonl.write_text("\n".join(lines) + "\n")
    with open(tmp_npz, "wb") as f:
        np.savez_compressed(f, image=images, instance=instance, category=category, text=text, index=index)
    os.replace(tmp_jsonl, out / f"{name}.jsonl")
    os.replace(tmp_npz, out / f"{name}.npz")  # last: its presence marks the shard complete
    return count


def _write_shard_args(args: tuple) -> int:
    return write_shard(*args)


def write_dataset(
    out_dir: str | Path,
    n: int,
    split: str = "train",
    seed: int = 0,
    size: int = 256,
    shard_size: int = 256,
    workers: int = 1,
    progress: Progress | None = None,
) -> Path:
    """Write ``n`` world samples of ``(split, seed)`` as shards under ``out_dir``; resumes a partial run.

    Raises ValueError when ``out_dir`` holds a dataset written with other parameters.
    """
    if n < 1 or shard_size < 1 or workers < 1:
        raise ValueError("n, shard_size and workers must be >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(n, split, seed, size, shard_size)
    mpath = out / MANIFEST
    if mpath.exists():
        old = json.loads(mpath.read_text())
        keys = ("n", "split", "seed", "size", "shard_size")
        if any(old.get(k) != manifest[k] for k in keys):
            have = {k: old.get(k) for k in keys}
            raise ValueError(f"{out} holds a dataset with other parameters {have}; use another folder")
    for stale in out.glob(".shard-*.tmp-*"):
        stale.unlink(missing_ok=True)
    _write_json_atomic(mpath, manifest)

    shards = manifest["shards"]
    todo = [(str(out), s["name"], s["start"], s["n"], split, seed, size)
            for s in shards if not shard_complete(out, s["name"])]
    done = n - sum(t[3] for t in todo)
    if progress:
        progress(done, n)
    if workers == 1 or len(todo) <= 1:
        for args in todo:
            done += write_shard(*args)
            if progress:
                progress(done, n)
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(workers, len(todo))) as pool:
            for count in pool.imap_unordered(_write_shard_args, todo):
                done += count
                if progress:
                    progress(done, n)
    manifest["complete"] = all(shard_complete(out, s["name"]) for s in shards)
    _write_json_atomic(mpath, manifest)
    return out


def read_dataset(path: str | Path, plans: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the samples of a dataset in order: index, prompt, plan (ScenePlan, or dict when
    ``plans=False``), meta, image [H,W,3] uint8, instance uint16, category uint8, text uint8.

    Shards that are not complete are skipped.
    """
    root = Path(path)
    manifest = json.loads((root / MANIFEST).read_text())
    for s in manifest["shards"]:
        name = s["name"]
        if not shard_complete(root, name):
            continue
        with np.load(root / f"{name}.npz") as z:
            arrays = {k: z[k] for k in ("image", "instance", "category", "text")}
        with open(root / f"{name}.jsonl") as f:
            records = [json.loads(line) for line in f if line.strip()]
        for i, rec in enumerate(records):
            yield {
                "index": rec["index"],
                "prompt": rec["prompt"],
                "plan": ScenePlan.model_validate(rec["plan"]) if plans else rec["plan"],
                "meta": rec["meta"],
                "image": arrays["image"][i],
                "instance": arrays["instance"][i],
                "category": arrays["category"][i],
                "text": arrays["text"][i],
            }
