"""An append-only JSONL journal that survives ``kill -9``: whole lines only, each on disk before it counts.

    j = Journal(out / "results.jsonl")
    for raw in j.load():          # the lines of earlier runs (a torn last line is cut off the file first)
        ...
    j.append(record.model_dump_json())   # one line, flushed and fsynced before append returns

A process killed while writing a line leaves at most a torn last line (no newline): ``load`` truncates the
file back to its last newline, so the next ``append`` never glues a new record onto a fragment. A line that
is not valid for its reader is the reader's to skip.
"""

from __future__ import annotations

import os
from pathlib import Path


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f = None

    def load(self) -> list[str]:
        """The complete lines already in the file (none if there is no file); a torn last line is removed."""
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a line cut by a crash: drop it from the file itself
            with self.path.open("r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
            data = data[:end]
        return [line for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]

    def append(self, line: str) -> None:
        """Append one line (no newline inside) and make it durable: flush, then fsync."""
        if "\n" in line:
            raise ValueError("a journal line cannot hold a newline")
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = self.path.open("ab")
        self._f.write(line.encode("utf-8") + b"\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
