"""The same batch on Ray: Ray Data ``map_batches`` over an actor pool, one engine per actor (the ``ray`` extra).

    pip install -e ".[ray]"
    thinkdraw batch prompts.txt --out out --ray                 # a local Ray on this machine
    thinkdraw batch prompts.txt --out out --ray=auto            # the cluster this node belongs to (ray start)
    thinkdraw batch prompts.txt --out out --ray=ray://head:10001 --ray-actors 8 --num-gpus 1

The items still to do become a ``ray.data`` dataset of (index, pickled item); ``map_batches`` runs them through
an actor pool of ``actors`` actors (``num_cpus`` / ``num_gpus`` each), each holding one task (one Engine,
loaded once in its constructor) with the same fixed torch thread count as a local worker, so an image is
bit-identical to the local run's on the same kind of CPU. Actors only compute: each returns the record and the
PNG's bytes, and the driver writes the PNG and the journal line exactly as a local run does, so the output
folder is the same, resumable the same way, and needs no shared file system on the cluster.

Ray is imported here only, and only when ``--ray`` is asked for: the core install and tests never need it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any


class RayMissing(ImportError):
    pass


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is what the batch runs on
    except ImportError as e:
        raise RayMissing(f"--ray needs the ray extra: pip install -e \".[ray]\" (or pip install \"ray[data]\") "
                         f"({e})") from e
    return ray


class _Actor:
    """One per Ray actor: the task (its engine loaded once), run on batches of pickled items."""

    def __init__(self, task_bytes: bytes, threads: int) -> None:
        os.environ["THINKDRAW_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)
        self.task = pickle.loads(task_bytes)  # allowed: our own task, sent by our driver (not weights)
        self.task.setup()

    def __call__(self, batch: dict) -> dict:
        keys, results = [], []
        for k, raw in zip(batch["k"], batch["item"], strict=True):
            keys.append(int(k))
            results.append(pickle.dumps(self.task(pickle.loads(bytes(raw)))))  # allowed: records between our driver and actors
        return {"k": keys, "result": results}


def run_ray(task, items: list, on_result: Callable[[Any, Any], None], address: str | None = None,
            actors: int = 2, num_cpus: float = 1.0, num_gpus: float = 0.0, threads: int = 1,
            batch_size: int = 1, init_kwargs: dict | None = None) -> None:
    """``on_result(item, task(item))`` for every item, computed on Ray actors, in completion order.

    ``address``: None starts a local Ray (sized to this machine); "auto" or "ray://host:port" joins a
    cluster. A Ray already initialised in this process is used as it is."""
    if not items:
        return
    if actors < 1 or num_cpus < 0 or num_gpus < 0 or batch_size < 1:
        raise ValueError("--ray-actors must be >= 1, --num-cpus and --num-gpus >= 0")
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        if address:
            kw["address"] = address
        else:  # a local Ray: small object store, no dashboard (a laptop or CI runner)
            kw.update(object_store_memory=256 * 2**20)
        kw.update(init_kwargs or {})
        ray.init(**kw)
        started = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.verbose_progress = False
        ds = ray.data.from_items([{"k": k, "item": pickle.dumps(it)} for k, it in enumerate(items)],
                                 override_num_blocks=max(1, min(len(items), 4 * actors)))
        ds = ds.map_batches(_Actor, fn_constructor_kwargs={"task_bytes": pickle.dumps(task), "threads": threads},
                            batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=actors),
                            num_cpus=num_cpus, num_gpus=num_gpus or None, batch_format="numpy")
        for row in ds.iter_rows():
            on_result(items[int(row["k"])], pickle.loads(bytes(row["result"])))  # allowed: our actors' records
    finally:
        if started:
            ray.shutdown()
