"""Worker processes and their bounded queues (no FastAPI here: this module is what a worker imports).

Each worker is a process with its own ``Engine`` (models loaded once, when it starts) and its own queue of at
most ``queue`` waiting jobs. ``Pool.submit`` puts a job on the least busy worker or raises ``Busy`` (the
server answers 429 with Retry-After). Generation runs in the workers, never on the event loop; their events
(reasoning steps, partial images, progress, the result) come back on one queue that a thread hands to the
job's asyncio queue.

An accepted job is never lost: when a worker dies or a job overruns ``job_timeout``, the job it was running
fails with an error its client receives, the worker is restarted, and the jobs still waiting for it are put
on the new one.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import multiprocessing as mp
import queue as queue_mod
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any


class Busy(Exception):
    """Every worker's queue is full."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"every worker is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class JobFailed(Exception):
    """A job ended in an error (``status``, ``type``, ``code``, ``param``: OpenAI's error fields)."""

    def __init__(self, status: int, message: str, type: str = "server_error", code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def as_dict(self) -> dict:
        return {"status": self.status, "message": self.message, "type": self.type, "code": self.code,
                "param": self.param}


@dataclass
class Job:
    id: int
    kind: str
    payload: dict
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    worker: int = -1
    started: float | None = None
    accepted: float = field(default_factory=time.monotonic)
    done: bool = False
    files: list = field(default_factory=list)  # uploads this job reads: removed when it ends, however it ends

    async def stream(self):
        """Yield (name, data) events until the job ends: ("result", dict) last, or raise JobFailed."""
        while True:
            name, data = await self.events.get()
            if name == "error":
                raise JobFailed(**data)
            yield name, data
            if name == "result":
                return

    async def result(self) -> dict:
        async for name, data in self.stream():
            if name == "result":
                return data
        raise JobFailed(500, "the job ended without a result")


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: mp.Process | None = None
        self.jobs: queue_mod.Queue | None = None  # the mp.Queue of this incarnation
        self.waiting: deque[Job] = deque()  # accepted, not started (kept to re-queue after a crash)
        self.running: Job | None = None
        self.ready = False
        self.restarts = 0


class Pool:
    def __init__(self, config, worker_config: dict) -> None:
        self.config = config
        self.worker_config = worker_config
        self.ctx = mp.get_context("spawn")  # never fork a process that holds threads and torch
        self.events = self.ctx.Queue()
        self.workers = [_Worker(i) for i in range(config.workers)]
        self.jobs: dict[int, Job] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.durations: deque[float] = deque(maxlen=50)
        self.stopping = False
        self.threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        for w in self.workers:
            self._spawn(w)
        for target in (self._read_events, self._watch):
            t = threading.Thread(target=target, daemon=True, name=f"thinkdraw-{target.__name__}")
            t.start()
            self.threads.append(t)

    def _spawn(self, w: _Worker) -> None:
        w.jobs = self.ctx.Queue()
        w.ready = False
        w.process = self.ctx.Process(target=worker_main, args=(w.index, w.restarts, self.worker_config, w.jobs, self.events),
                                     daemon=True, name=f"thinkdraw-worker-{w.index}")
        w.process.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        for w in self.workers:
            try:
                w.jobs.put(None)
            except Exception:  # noqa: BLE001 - a queue of a dead worker
                pass
        end = time.monotonic() + timeout
        for w in self.workers:
            if w.process is not None:
                w.process.join(max(0.1, end - time.monotonic()))
                if w.process.is_alive():
                    w.process.kill()
                    w.process.join(1)
        with self.lock:
            for job in list(self.jobs.values()):
                self._finish(job, "error", JobFailed(503, "the server is shutting down; the job did not finish",
                                                     code="shutting_down").as_dict())
        self.events.put(None)

    # --- submitting ----------------------------------------------------------------------------------------
    def pending(self, w: _Worker) -> int:
        return len(w.waiting) + (w.running is not None)

    def retry_after(self) -> int:
        mean = sum(self.durations) / len(self.durations) if self.durations else 1.0
        waiting = sum(len(w.waiting) for w in self.workers)
        return max(1, min(120, math.ceil(mean * (waiting + 1) / len(self.workers))))

    def submit(self, kind: str, payload: dict, files: list | None = None) -> Job:
        """Accept a job on the least busy worker (raises Busy when every queue is full)."""
        loop = asyncio.get_running_loop()
        with self.lock:
            if self.stopping:
                raise JobFailed(503, "the server is shutting down", code="shutting_down")
            w = min(self.workers, key=lambda w: (self.pending(w), not w.ready, w.index))
            if self.pending(w) >= 1 + self.config.queue:
                raise Busy(self.retry_after())
            job = Job(id=next(self.ids), kind=kind, payload=payload, loop=loop, worker=w.index, files=list(files or []))
            self.jobs[job.id] = job
            w.waiting.append(job)
            w.jobs.put((job.id, kind, payload))
        return job

    def status(self) -> dict:
        with self.lock:
            return {"workers": [{"index": w.index, "ready": w.ready, "running": w.running is not None,
                                 "waiting": len(w.waiting), "restarts": w.restarts,
                                 "pid": w.process.pid if w.process else None} for w in self.workers],
                    "queue_per_worker": self.config.queue}

    # --- events ------------------------------------------------------------------------------------------
    def _finish(self, job: Job, name: str, data: Any) -> None:
        """Called with the lock held: the job's last event."""
        if job.done:
            return
        job.done = True
        self.jobs.pop(job.id, None)
        for f in job.files:
            try:
                f.unlink()
            except OSError:
                pass
        w = self.workers[job.worker]
        if w.running is job:
            w.running = None
            if job.started is not None and name == "result":
                self.durations.append(time.monotonic() - job.started)
        try:
            w.waiting.remove(job)
        except ValueError:
            pass
        job.loop.call_soon_threadsafe(job.events.put_nowait, (name, data))

    def _read_events(self) -> None:
        while True:
            try:
                msg = self.events.get()
            except (EOFError, OSError):
                return
            if msg is None:
                return
            index, incarnation, job_id, name, data = msg
            with self.lock:
                w = self.workers[index]
                if incarnation != w.restarts:
                    continue  # from a worker that was replaced
                if name == "ready":
                    w.ready = True
                    continue
                job = self.jobs.get(job_id)
                if job is None:
                    continue
                if name == "start":
                    job.started = time.monotonic()
                    try:
                        w.waiting.remove(job)
                    except ValueError:
                        pass
                    w.running = job
                elif name in ("result", "error"):
                    self._finish(job, name, data)
                else:
                    job.loop.call_soon_threadsafe(job.events.put_nowait, (name, data))

    def _watch(self) -> None:
        """Restart dead workers and workers whose job overran; fail that job, re-queue the waiting ones."""
        while not self.stopping:
            time.sleep(0.25)
            for w in self.workers:
                p = w.process
                overran = (w.running is not None and w.running.started is not None
                           and time.monotonic() - w.running.started > self.config.job_timeout)
                if p is None or (p.is_alive() and not overran) or self.stopping:
                    continue
                if overran:
                    p.kill()
                p.join(1)
                time.sleep(0.3)  # let the reader hand over what the worker sent before it died
                with self.lock:
                    if self.stopping:
                        return
                    job = w.running
                    w.running = None
                    if job is not None:
                        err = (JobFailed(504, f"the job ran over the server's limit of {self.config.job_timeout:g} s",
                                         code="timeout") if overran else
                               JobFailed(500, f"the worker running this job stopped (exit code {p.exitcode}); "
                                              f"the job did not finish", code="worker_failed"))
                        self._finish(job, "error", err.as_dict())
                    w.restarts += 1
                    print(f"thinkdraw serve: worker {w.index} {'overran a job' if overran else 'stopped'} "
                          f"(exit code {p.exitcode}); restarting it", file=sys.stderr, flush=True)
                    self._spawn(w)
                    for job in w.waiting:  # accepted jobs are never lost: the new worker takes them
                        w.jobs.put((job.id, job.kind, job.payload))


# --- inside a worker process ------------------------------------------------------------------------------
def worker_main(index: int, incarnation: int, config: dict, jobs, events) -> None:
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    parent = os.getppid()

    def leave_with_parent() -> None:  # a server killed outright (kill -9, a Ray replica killed): no orphan
        while True:                   # left waiting on its queue forever
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=leave_with_parent, daemon=True, name="thinkdraw-parent-watch").start()

    def send(job_id: int | None, name: str, data: Any = None) -> None:
        events.put((index, incarnation, job_id, name, data))

    try:
        import torch

        share = config.get("threads") or max(1, (os.cpu_count() or 1) // config.get("workers", 1))
        os.environ["THINKDRAW_THREADS"] = str(share)  # the models' own set_threads() keeps to this share
        torch.set_num_threads(share)
    except Exception:  # noqa: BLE001 - torch is a core dependency; a failure here only costs speed
        pass
    from thinkdraw.serve.runner import Runner

    runner = Runner(config)
    if config.get("preload", True):
        try:
            runner.preload()
        except Exception as e:  # noqa: BLE001 - the jobs that need the model will say what is missing
            print(f"thinkdraw serve: worker {index}: could not preload {config.get('renderer')}: {e}",
                  file=sys.stderr, flush=True)
    send(None, "ready")
    while True:
        item = jobs.get()
        if item is None:
            return
        job_id, kind, payload = item
        send(job_id, "start")
        try:
            # events (reasoning, partial images, progress) only for a client that streams: no PNG encoded for nobody
            emit = (lambda name, data, _j=job_id: send(_j, name, data)) if payload.get("events") else None
            result = runner.run(kind, payload, emit)
            send(job_id, "result", result)
        except Exception as e:  # noqa: BLE001 - every failure goes back as an error, never a traceback
            failed = classify(e)
            if failed.status >= 500:
                print(f"thinkdraw serve: worker {index}: job {job_id} ({kind}) failed:\n{traceback.format_exc()}",
                      file=sys.stderr, flush=True)
            send(job_id, "error", failed.as_dict())


def one_line(e: BaseException, limit: int = 400) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else type(e).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def classify(e: BaseException) -> JobFailed:
    """An exception -> the error its client gets (bad input 400, missing models 503, anything else 500)."""
    from thinkdraw.errors import BackendError, MissingToolError, ToolTimeoutError
    from thinkdraw.models.weights import WeightsError

    if isinstance(e, JobFailed):
        return e
    if isinstance(e, (WeightsError, MissingToolError, FileNotFoundError)):
        return JobFailed(503, f"a model or tool this request needs is not available: {one_line(e)}",
                         code="model_unavailable")
    if isinstance(e, ToolTimeoutError):
        return JobFailed(504, one_line(e), code="timeout")
    if isinstance(e, BackendError):  # an LLM / VLM server behind the planner or critic failed twice
        return JobFailed(502, one_line(e), code="backend_failed")
    if isinstance(e, ValueError):
        return JobFailed(400, one_line(e), type="invalid_request_error")
    return JobFailed(500, f"internal error ({type(e).__name__}); the server's log has the details",
                     code="internal_error")
