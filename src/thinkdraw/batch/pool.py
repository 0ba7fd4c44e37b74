"""Run a task over many items in worker processes, each loading its models once.

A *task* is a picklable object with ``setup()`` (called once in each worker: load the engine there) and
``__call__(item) -> result`` (picklable). ``run_local`` hands the items out one at a time from a shared queue
(a slow prompt never holds up the others) and gives each result to ``on_result`` in the calling process, as
it comes: the caller alone writes files and the journal, so two workers never write the same file.

Threads: each worker sets torch to ``threads`` intra-op threads (``$THINKDRAW_THREADS`` too, which the
models' own ``set_threads`` keeps to). The number is fixed per worker and does not depend on how many
workers there are, because a CPU matmul's last bits depend on its thread count: with the same ``threads``
an image is bit-identical whatever the worker count or order. The default, 1, also keeps N workers on N
cores from oversubscribing them (measured on the shared 2-core machine at load ~1: one warm process drew
1.9 reflect images/s with one thread and 1.4/s with two).

A worker that dies (killed, out of memory) stops the run with ``PoolError``: what was finished is already
recorded, so the same command resumes. Workers exit on their own when the parent dies (even ``kill -9``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol


class PoolError(RuntimeError):
    """A worker failed or died; the run stopped (it can be resumed)."""


class Task(Protocol):
    def setup(self) -> None: ...

    def __call__(self, item: Any) -> Any: ...


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (and ``$THINKDRAW_THREADS``); restore both after."""
    import torch

    old_n, old_env = torch.get_num_threads(), os.environ.get("THINKDRAW_THREADS")
    os.environ["THINKDRAW_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old_n)
        if old_env is None:
            os.environ.pop("THINKDRAW_THREADS", None)
        else:
            os.environ["THINKDRAW_THREADS"] = old_env


def run_local(task: Task, items: list, on_result: Callable[[Any, Any], None], workers: int = 1,
              threads: int = 1) -> None:
    """``on_result(item, task(item))`` for every item, in completion order. ``workers == 1`` runs in this
    process (no start-up cost; the torch thread count is restored afterwards)."""
    if workers < 1 or threads < 1:
        raise ValueError("workers and threads must be >= 1")
    if not items:
        return
    if workers == 1:
        with torch_threads(threads):
            task.setup()
            for it in items:
                on_result(it, task(it))
        return
    ctx = mp.get_context("spawn")  # never fork a process that holds threads and torch
    jobs, results = ctx.Queue(), ctx.Queue()
    for k, it in enumerate(items):
        jobs.put((k, it))
    n = min(workers, len(items))
    for _ in range(n):
        jobs.put(None)
    procs = [ctx.Process(target=_worker_main, args=(w, task, threads, jobs, results, os.getpid()), daemon=True,
                         name=f"thinkdraw-batch-{w}") for w in range(n)]
    for p in procs:
        p.start()
    left = len(items)
    try:
        while left:
            try:
                msg = results.get(timeout=0.5)
            except queue_mod.Empty:
                dead = [p for p in procs if not p.is_alive() and p.exitcode != 0]
                if dead:
                    time.sleep(0.2)
                    if results.empty():  # nothing it sent is still on its way
                        raise PoolError(f"worker {dead[0].name} stopped (exit code {dead[0].exitcode}); "
                                        f"what finished is recorded: run the same command to resume") from None
                continue
            kind, k, data = msg
            if kind == "fail":
                raise PoolError(f"a worker could not start: {data}" if k < 0 else
                                f"a worker failed on item {k + 1}: {data}; what finished is recorded")
            on_result(items[k], data)
            left -= 1
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5)
        jobs.close()
        results.close()


def _exit_with_parent(parent: int) -> None:
    """A daemon thread: leave at once when the parent is gone (it was killed, maybe with -9)."""
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="thinkdraw-parent-watch").start()


def _worker_main(index: int, task: Task, threads: int, jobs, results, parent: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the workers
    _exit_with_parent(parent)
    os.environ["THINKDRAW_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        task.setup()
    except Exception as e:  # noqa: BLE001 - the parent says it in one line
        results.put(("fail", -1, f"{type(e).__name__}: {_one_line(e)}"))
        return
    while True:
        msg = jobs.get()
        if msg is None:
            return
        k, item = msg
        try:
            out = task(item)
        except Exception as e:  # noqa: BLE001 - a task's own errors are its to record; this one stops the run
            results.put(("fail", k, f"{type(e).__name__}: {_one_line(e)}"))
            return
        results.put(("done", k, out))


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
