"""Progress on long work: a one-line bar with rate and ETA on a terminal, silence in pipes and CI.

    bar = Progress("eval think")
    for k in range(n):
        ...
        bar(k + 1, n)

A plain printer of our own rather than tqdm or rich: it is all the CLI needs (done/total, rate, elapsed, ETA,
one line redrawn in place), and the core install stays at five dependencies. ``enabled`` defaults to
"stderr is a terminal and $CI is not set", so logs, pipes and CI runs get no carriage-return noise.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    h, m = divmod(s, 3600)
    m, s = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def interactive(stream: TextIO | None = None) -> bool:
    """Whether progress bars should be drawn on ``stream`` (default stderr)."""
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


class Progress:
    """``progress(done, total)``: redraws ``label [#####     ] done/total 42% 3.1/s 0:12 ETA 0:30``."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool | None = None,
                 width: int = 30, min_interval: float = 0.1) -> None:
        self.label, self.width, self.min_interval = label, width, min_interval
        self.stream = stream or sys.stderr
        self.enabled = interactive(self.stream) if enabled is None else enabled
        self.start = time.perf_counter()
        self._first: tuple[float, int] | None = None  # (time, done) of the first call: the rate excludes set-up
        self._last = 0.0

    def line(self, done: int, total: int) -> str:
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, done)
        t0, d0 = self._first
        frac = min(1.0, done / total) if total else 1.0
        bar = "#" * int(frac * self.width)
        rate = (done - d0) / (now - t0) if now > t0 and done > d0 else None
        eta = f" ETA {_clock((total - done) / rate)}" if rate and done < total else ""
        speed = f" {rate:.1f}/s" if rate else ""
        return (f"{self.label} [{bar:<{self.width}}] {done}/{total} {frac:4.0%}{speed} "
                f"{_clock(now - self.start)}{eta}")

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < total and now - self._last < self.min_interval and self._first is not None:
            return
        self._last = now
        self.stream.write("\r\033[K" + self.line(done, total))
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
