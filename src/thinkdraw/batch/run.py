"""``thinkdraw batch``: many prompts -> one PNG per prompt (carrying its plan) and one ``results.jsonl`` line each.

    from thinkdraw.batch import read_prompts, run_batch
    summary = run_batch(read_prompts("prompts.txt"), "out/", workers=2)

What a folder holds: ``NNNNN.png`` per prompt (or ``NAME.png`` when a JSONL line names it), ``results.jsonl``
(one ``BatchRecord`` per prompt: prompt, seed, mode, path, the last critique's scores, timings) and
``batch.json`` (the settings the images were drawn with).

Resumable: a record is appended (flush + fsync) only after its PNG was written atomically, so killed at any
point (``kill -9`` included) the folder holds whole PNGs and whole lines; the same command drops a torn last
line, skips every prompt recorded whose PNG exists, and draws the rest. A prompt the engine refuses (bad
input, e.g. a planning error) is recorded with its ``error`` and not retried.

Deterministic: a prompt's image depends on its prompt, seed and mode (and the settings in ``batch.json`` and
the threads per worker), never on the worker count or the order prompts finish in.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from thinkdraw.batch.journal import Journal
from thinkdraw.engine import DEFAULT_MODE, MODES, check_mode

RESULTS = "results.jsonl"
SETTINGS = "batch.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class BatchError(ValueError):
    """Bad input to a batch (the prompts file, the output folder, settings that clash with an earlier run)."""


class BatchItem(BaseModel):
    index: int  # 0-based, the prompt's place among the file's prompts
    prompt: str
    seed: int = 0
    mode: str = DEFAULT_MODE
    name: str  # the image's file name in the output folder

    def key(self) -> tuple:
        return (self.prompt, self.seed, self.mode, self.name)


class BatchSettings(BaseModel):
    """What the images of one output folder are drawn with; a resumed run must use the same."""

    renderer: str = "builtin"
    rounds: int = 2
    bands: int = 3
    weights: str | None = None
    size: int | None = None
    planner: str = "rules"
    critic: str = "builtin"
    model: str | None = None  # the diffusers renderer's model

    @classmethod
    def of(cls, backends, **kw) -> BatchSettings:
        """The names of the backends resolved settings (``thinkdraw.config.resolve``) draw with, and ``kw``. The
        endpoints (URLs, API keys) are not recorded: a folder's ``batch.json`` never holds a key."""
        model = backends.diffusers.get("model") if backends.renderer == "diffusers" else None
        return cls(renderer=backends.renderer, planner=backends.planner, critic=backends.critic,
                   model=str(model) if model is not None else None, **kw)

    def backends(self):
        """Settings for these names from the environment and the config file (their endpoints, [diffusers])."""
        from thinkdraw.config import resolve

        return resolve(planner=self.planner, renderer=self.renderer, critic=self.critic, model=self.model)


class BatchRecord(BaseModel):
    index: int
    prompt: str
    seed: int
    mode: str
    path: str | None = None  # the image, relative to the output folder (None: the prompt failed)
    renderer: str = ""
    score: float | None = None  # the last critique's (reflect: the kept round's; think/direct: none)
    evidence: float | None = None
    checks: list[dict] = Field(default_factory=list)  # {kind, target, passed} of the last critique
    reflection: str = ""
    rounds: int = 0
    kept: int | None = None
    timings: dict[str, float] = Field(default_factory=dict)  # the engine's seconds per stage, and "total"
    seconds: float = 0.0  # in the worker, encoding the PNG included
    error: str | None = None

    def key(self) -> tuple:
        return (self.prompt, self.seed, self.mode)


def read_prompts(path: str | Path, seed: int = 0, mode: str = DEFAULT_MODE) -> list[BatchItem]:
    """Prompts from a ``.txt`` file (one a line; blank lines and ``#`` lines skipped) or a ``.jsonl`` file
    (one a line: a JSON string, or an object with ``prompt`` and optionally ``seed``, ``mode``, ``name``).
    ``seed`` and ``mode``: for every prompt that does not give its own."""
    src = Path(path)
    check_mode(mode)
    if src.suffix.lower() not in (".txt", ".jsonl"):
        raise BatchError(f"cannot read prompts from {str(src)!r}: use a .txt file (one prompt a line) or a "
                         f".jsonl file (one {{\"prompt\": ...}} a line)")
    if not src.is_file():
        raise BatchError(f"cannot read prompts from {str(src)!r}: no such file")
    try:
        lines = src.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BatchError(f"cannot read prompts from {str(src)!r}: {e}") from e
    items: list[BatchItem] = []
    names: dict[str, int] = {}
    for no, line in enumerate(lines, 1):
        if not line.strip() or (src.suffix.lower() == ".txt" and line.lstrip().startswith("#")):
            continue
        p, s, m, name = line.strip(), seed, mode, None
        if src.suffix.lower() == ".jsonl":
            try:
                obj = json.loads(line)
            except ValueError:
                raise BatchError(f"{src}:{no}: not JSON (each line is a JSON string or an object with "
                                 f"\"prompt\")") from None
            if isinstance(obj, dict):
                unknown = set(obj) - {"prompt", "seed", "mode", "name"}
                if unknown:
                    raise BatchError(f"{src}:{no}: unknown field(s) {', '.join(sorted(unknown))}; a line may "
                                     f"give prompt, seed, mode and name")
                p, s, m, name = obj.get("prompt"), obj.get("seed", seed), obj.get("mode", mode), obj.get("name")
            else:
                p = obj
            if not isinstance(p, str) or not p.strip():
                raise BatchError(f"{src}:{no}: no prompt (give a non-empty \"prompt\" string)")
            if not isinstance(s, int) or isinstance(s, bool):
                raise BatchError(f"{src}:{no}: seed must be a whole number, not {s!r}")
            if m not in MODES:
                raise BatchError(f"{src}:{no}: unknown mode {m!r}; choose one of {', '.join(MODES)}")
            if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
                raise BatchError(f"{src}:{no}: name {name!r} must be letters, digits, '.', '_' or '-' "
                                 f"(at most 100, no folders)")
        k = len(items)
        name = f"{name}.png" if name else f"{k:05d}.png"
        if name in names:
            raise BatchError(f"{src}:{no}: the image name {name} is taken by prompt {names[name] + 1}")
        names[name] = k
        items.append(BatchItem(index=k, prompt=p, seed=s, mode=m, name=name))
    if not items:
        raise BatchError(f"{src} holds no prompts" + (" (blank lines and '#' comments are skipped)"
                                                      if src.suffix.lower() == ".txt" else ""))
    return items


class GenerateTask:
    """What a worker does with one BatchItem: generate, encode the PNG (with its plan), make the record.
    Picklable; ``setup`` builds the engine in the worker (``Engine.from_settings``: ``backends``, the resolved
    settings, else the settings' names with the environment and config file), or uses ``engine`` given."""

    def __init__(self, settings: BatchSettings, engine=None, backends=None) -> None:
        self.settings, self.engine, self.backends = settings, engine, backends

    def setup(self) -> None:
        if self.engine is None:
            from thinkdraw.engine import Engine

            s = self.settings
            self.engine = Engine.from_settings(self.backends if self.backends is not None else s.backends(),
                                               max_rounds=s.rounds, bands=s.bands, weights=s.weights)

    def __call__(self, it: BatchItem) -> tuple[BatchRecord, bytes | None]:
        from thinkdraw.plan.pngmeta import encode_image

        t = time.perf_counter()
        try:
            r = self.engine.generate(it.prompt, seed=it.seed, mode=it.mode, size=self.settings.size)
        except ValueError as e:  # the prompt's own fault (a PlanningError is one): recorded, not retried
            return BatchRecord(index=it.index, prompt=it.prompt, seed=it.seed, mode=it.mode,
                               renderer=self.settings.renderer, error=_one_line(e),
                               seconds=time.perf_counter() - t), None
        data = encode_image(r.image, "PNG", r.plan, **r.metadata())[0]
        last = r.kept_round or (r.rounds[-1] if r.rounds else None)
        crit = last.critique if last is not None else None
        rec = BatchRecord(index=it.index, prompt=it.prompt, seed=it.seed, mode=it.mode, path=it.name,
                          renderer=r.renderer, score=crit.score if crit else None,
                          evidence=crit.evidence if crit else None,
                          checks=[{"kind": c.kind, "target": c.target, "passed": bool(c.passed)} for c in crit.checks]
                          if crit else [], reflection=crit.reflection if crit else "", rounds=len(r.rounds),
                          kept=r.kept, timings={k: round(v, 5) for k, v in r.timings.items()},
                          seconds=round(time.perf_counter() - t, 5))
        return rec, data


class BatchSummary(BaseModel):
    out: str
    total: int
    drawn: int  # this run
    reused: int  # finished by an earlier run
    failed: int  # recorded with an error (this run or earlier)
    seconds: float  # this run's wall time, start-up included
    images_per_s: float  # drawn / seconds


def load_records(out: str | Path) -> dict[int, BatchRecord]:
    """The last record per prompt index in ``out/results.jsonl`` (a torn last line is cut off)."""
    done: dict[int, BatchRecord] = {}
    for line in Journal(Path(out) / RESULTS).load():
        try:
            r = BatchRecord.model_validate_json(line)
        except ValueError:
            continue
        done[r.index] = r
    return done


def _check_folder(out: Path, items: list[BatchItem], settings: BatchSettings) -> dict[int, BatchRecord]:
    if out.exists() and not out.is_dir():
        raise BatchError(f"--out {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    sfile = out / SETTINGS
    if sfile.is_file():
        try:
            old = BatchSettings.model_validate_json(sfile.read_text())
        except ValueError:
            raise BatchError(f"{sfile} is not a batch settings file; use another --out") from None
        if old != settings:
            diff = ", ".join(f"{k} {getattr(old, k)!r} -> {getattr(settings, k)!r}" for k in BatchSettings.model_fields
                             if getattr(old, k) != getattr(settings, k))
            raise BatchError(f"{out} holds a batch drawn with other settings ({diff}); use the same settings to "
                             f"resume it, or another --out")
    else:
        tmp = sfile.with_name(f".{SETTINGS}.tmp")
        tmp.write_text(settings.model_dump_json(indent=2) + "\n")
        tmp.replace(sfile)
    names = {it.name for it in items}
    for tmp in out.glob(".*.tmp"):  # a temporary (.NAME.XXXX.tmp) left by a run killed while writing NAME
        if tmp.name[1:-4].rsplit(".", 1)[0] in names:
            tmp.unlink(missing_ok=True)
    done = load_records(out)
    for it in items:
        r = done.get(it.index)
        if r is not None and (r.key() != (it.prompt, it.seed, it.mode) or (r.path not in (None, it.name))):
            raise BatchError(f"{out / RESULTS} holds prompt {it.index + 1} as {r.prompt!r} (seed {r.seed}, mode "
                             f"{r.mode}), not {it.prompt!r} (seed {it.seed}, mode {it.mode}): these prompts are not "
                             f"that batch's; use another --out")
    return done


def finished(out: Path, r: BatchRecord | None) -> bool:
    return r is not None and (r.error is not None or (r.path is not None and (out / r.path).is_file()))


def run_batch(items: list[BatchItem], out: str | Path, settings: BatchSettings | None = None, workers: int = 1,
              threads: int = 1, engine=None, progress: Callable[[int, int], None] | None = None,
              ray: dict[str, Any] | None = None, backends=None) -> BatchSummary:
    """Draw every item not yet finished in ``out``; returns what was done. ``engine``: a ready Engine (the
    Python API, tests); it is pickled to each worker. ``backends``: resolved settings
    (``thinkdraw.config.resolve``, the CLI's flags) each worker builds its engine from; their names must be
    ``settings``' (``BatchSettings.of``). ``ray``: run on Ray instead of local processes (the
    keyword arguments of ``thinkdraw.batch.ray_backend.run_ray``: address, actors, num_cpus, num_gpus)."""
    from thinkdraw.plan.pngmeta import write_bytes

    t0 = time.perf_counter()
    out = Path(out)
    settings = settings or BatchSettings()
    done = _check_folder(out, items, settings)
    todo = [it for it in items if not finished(out, done.get(it.index))]
    reused = len(items) - len(todo)
    count = {"done": reused, "drawn": 0}
    if progress is not None:
        progress(reused, len(items))
    task = GenerateTask(settings, engine, backends)

    with Journal(out / RESULTS) as journal:
        def commit(it: BatchItem, result: tuple[BatchRecord, bytes | None]) -> None:
            rec, data = result
            if data is not None:
                write_bytes(out / it.name, data, overwrite=True, fsync=True)  # whole, then recorded
            journal.append(rec.model_dump_json())
            done[it.index] = rec
            count["done"] += 1
            count["drawn"] += data is not None
            if progress is not None:
                progress(count["done"], len(items))

        if ray is not None:
            from thinkdraw.batch.ray_backend import run_ray

            run_ray(task, todo, commit, threads=threads, **ray)
        else:
            from thinkdraw.batch.pool import run_local

            run_local(task, todo, commit, workers=workers, threads=threads)
    secs = time.perf_counter() - t0
    failed = sum(1 for it in items if done.get(it.index) is not None and done[it.index].error is not None)
    return BatchSummary(out=str(out), total=len(items), drawn=count["drawn"], reused=reused, failed=failed,
                        seconds=round(secs, 3), images_per_s=round(count["drawn"] / secs, 4) if secs > 0 else 0.0)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
