"""The ``thinkdraw`` command line.

    thinkdraw plan PROMPT [--json] [-o FILE] [--seed N]   reasoning + plan summary (or JSON)
    thinkdraw plan --batch FILE [-o OUT]                  one prompt per line -> one JSON object per line
    thinkdraw generate PROMPT [-o out.png] [--mode M]     think, draw, reflect (default); the image carries its plan
    thinkdraw eval [--n 300] [--modes ...] [--out DIR]    GenEval-style suite: JSON, Markdown table, bar chart
    thinkdraw batch PROMPTS.txt --out DIR [--workers N]   one PNG + one results.jsonl line per prompt; resumable
    thinkdraw inspect out.png [--json]                    what an image written by thinkdraw carries
    thinkdraw edit IN.png "make the car blue" [-o OUT]    edit by instruction; only the edit's regions are redrawn
    thinkdraw edit A.png B.png "the boat from image 1 ..."  combine several images (also: thinkdraw compose)
    thinkdraw describe IMAGE [--json]                     a scene plan recovered from the pixels alone
    thinkdraw session new|edit|undo|redo|branch|show|list|export   a conversation kept as a tree of turns
    thinkdraw chat [--session ID]                         the same as a conversation, line by line
    thinkdraw world sample --n N --out DIR                a sharded dataset of the built-in world
    thinkdraw world vocab [--json]                        the kinds of thing, colours and backgrounds it draws
    thinkdraw train MODEL [options]                       retrain a bundled model (thinkdraw train --help)
    thinkdraw schema                                      the ScenePlan JSON schema
    thinkdraw serve [--host H] [--port P] [--workers N]   HTTP: OpenAI Images API, native API, web page
    thinkdraw doctor [--json]                             backends installed and reachable, devices, folders

Every front end goes through ``thinkdraw.Engine``. Bad input gets one clear line on stderr and exit code 2,
an internal error one line and exit code 1: never a traceback. Output files are never overwritten without
--force.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from thinkdraw import __version__


class CLIError(Exception):
    pass


def _progress(label: str):
    """A progress bar with rate and ETA on stderr when it is a terminal; silent in pipes and CI."""
    from thinkdraw.progress import Progress

    return Progress(label)


def _plan_output(prompt: str, seed: int, planner=None):
    from thinkdraw.plan.schema import PlanOutput
    from thinkdraw.think import get_planner

    reasoning, plan = (planner or get_planner("rules")).plan(prompt, seed=seed)
    return PlanOutput(prompt=prompt, reasoning=reasoning.steps, plan=plan), reasoning


def _open_output(path: str, force: bool, what: str):
    """A text file to write ``what`` into, refusing folders, non-regular files and (without --force) existing
    files; "-" is standard output. Written through a temporary, renamed into place on success."""
    if path == "-":
        return None
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"cannot write {what} to {path!r}: it is a folder")
    if p.exists() and not p.is_file():
        raise CLIError(f"cannot write {what} to {path!r}: it is not a regular file")
    if p.exists() and not force:
        raise CLIError(f"{path!r} exists; pass --force to overwrite it, or name another file")
    return p


def _write_text(p: Path | None, text: str) -> None:
    import os
    import tempfile

    if p is None:
        sys.stdout.write(text)
        return
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    except OSError as e:
        raise CLIError(f"cannot write {str(p)!r}: {e.strerror or e}") from e


def _settings(a: argparse.Namespace, renderer: str | None = None):
    """The one place every command resolves its backends: the flags ``_backend_args`` added (planner, fallback,
    critic, renderer, model, LLM / VLM endpoint, config file) over the environment over the config file
    (``thinkdraw.config.resolve``). ``renderer``: used when no --renderer was given (a session's own)."""
    from thinkdraw.config import resolve

    g = lambda k: getattr(a, k, None)  # noqa: E731 - a command without the flag: not given
    return resolve(g("config"), planner=g("planner"), fallback=g("fallback"), renderer=g("renderer") or renderer,
                   critic=g("critic"), llm_url=g("llm_url"), llm_model=g("llm_model"), llm_api_key=g("llm_api_key"),
                   vlm_model=g("vlm_model"), model=g("model"))


def _engine(a: argparse.Namespace, settings=None, **kw):
    """The Engine the command's backend flags name (``Engine.from_settings``), with its --weights."""
    from thinkdraw.engine import Engine

    return Engine.from_settings(settings if settings is not None else _settings(a), weights=getattr(a, "weights", None),
                                **kw)


def _backends(a: argparse.Namespace):
    """The resolved settings and their planner (``plan``, which builds no Engine)."""
    from thinkdraw.think.base import planner_from_settings

    s = _settings(a)
    return s, planner_from_settings(s)


def cmd_plan(a: argparse.Namespace) -> int:
    from thinkdraw.errors import BackendError
    from thinkdraw.think import PlanningError

    planner = _backends(a)[1]
    if a.batch:
        if a.prompt is not None:
            raise CLIError("give either a PROMPT or --batch FILE, not both")
        src = Path(a.batch)
        if not src.is_file():
            raise CLIError(f"cannot read batch file {src}: no such file")
        try:
            lines = src.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise CLIError(f"cannot read batch file {src}: {e}") from e
        # blank lines and lines starting with '#' are comments
        prompts = [p for p in lines if p.strip() and not p.lstrip().startswith("#")]
        if not prompts:
            raise CLIError(f"batch file {src} holds no prompts (blank lines and '#' comments are skipped)")
        dst = _open_output(a.output, a.force, "the plans") if a.output else None
        cb = _progress("planning")
        errors = 0
        rows = []
        for k, p in enumerate(prompts):
            try:
                obj = _plan_output(p, a.seed, planner)[0].model_dump(mode="json")
            except (PlanningError, BackendError) as e:
                obj = {"prompt": p, "error": str(e)}
                errors += 1
            rows.append(json.dumps(obj, ensure_ascii=False) + "\n")
            if dst is None:
                sys.stdout.write(rows.pop())
            cb(k + 1, len(prompts))
        if dst is not None:
            _write_text(dst, "".join(rows))
            print(f"wrote {len(prompts)} plans to {dst}", file=sys.stderr)
        if errors:
            print(f"thinkdraw: {errors} of {len(prompts)} prompts could not be planned (see their 'error')",
                  file=sys.stderr)
        return 0
    if a.prompt is None:
        raise CLIError("plan needs a PROMPT (or --batch FILE)")
    dst = _open_output(a.output, a.force, "the plan") if a.output else None
    try:
        out, reasoning = _plan_output(a.prompt, a.seed, planner)
    except PlanningError as e:
        raise CLIError(str(e)) from e
    as_json = a.json or (dst is not None and dst.suffix.lower() == ".json")
    text = out.model_dump_json(indent=2) + "\n" if as_json else f"{reasoning.render()}\n\n{_summary(out.plan)}\n"
    _write_text(dst, text)
    if dst is not None:
        print(f"wrote {'JSON ' if as_json else ''}plan to {dst}", file=sys.stderr)
    return 0


def _summary(plan) -> str:
    from thinkdraw.plan.schema import to_got

    lines = [f"plan v{plan.version}: {plan.canvas.width}x{plan.canvas.height}, background {plan.background.kind} "
             f"({plan.background.time}), style {plan.style}, light from {plan.lighting.direction}"]
    for e in plan.entities:
        attrs = ", ".join(f"{k}={v}" for k, v in e.attributes.model_dump().items() if v and k != "default_color")
        box = list(to_got(e.box)) if e.box else None
        lines.append(f"  {e.id:<16} {e.noun:<14} cat={e.category or '-':<9} {attrs:<22} box={box} on={e.supported_by}")
    for r in plan.relations:
        lines.append(f"  relation: {r.subject} {r.predicate} {r.object}" + (f" and {r.object2}" if r.object2 else ""))
    for t in plan.texts:
        lines.append(f"  text: {t.content!r} on={t.on} box={list(to_got(t.box)) if t.box else None}")
    if plan.negatives:
        lines.append(f"  absent: {', '.join(plan.negatives)}")
    for w in plan.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def _round_line(label: str, crit) -> str:
    """``draw: score 0.80 (8 of 10 checks passed): ...``; a placeholder is never counted as a success."""
    failed = sum(not c.passed for c in crit.checks)
    n = len(crit.checks)
    unchecked = len(getattr(crit, "unchecked", []) or [])
    if not n:
        return f"{label}: no score (nothing the critic can check): {crit.reflection}"
    extra = f"; {unchecked} placeholder(s) not checked" if unchecked else ""
    return f"{label}: score {crit.score:.2f} ({n - failed} of {n} checks passed{extra}): {crit.reflection}"


def cmd_generate(a: argparse.Namespace) -> int:
    from thinkdraw.draw.base import UnknownBackendError
    from thinkdraw.models.weights import WeightsError
    from thinkdraw.plan.pngmeta import ImageFileError, check_target, free_name, image_format
    from thinkdraw.think import PlanningError

    if not a.prompt or not a.prompt.strip():
        raise CLIError("generate needs a non-empty PROMPT")
    # the target is checked before any work: a refused name costs nothing
    if a.output == "-":
        target, overwrite = "-", True
    elif a.output is None:
        target, overwrite = str(free_name(DEFAULT_OUTPUT)), False  # never overwrite an unnamed output
    else:
        target, overwrite = a.output, a.force
        image_format(target)
        check_target(Path(target), overwrite)
    try:
        engine = _engine(a, max_rounds=a.rounds, bands=a.bands)
        result = engine.generate(a.prompt, seed=a.seed, mode=a.mode, size=a.size,
                                 progress=_progress(f"drawing ({engine.renderer.name}, {a.mode})"))
    except (UnknownBackendError, WeightsError, PlanningError) as e:
        raise CLIError(str(e)) from e
    msg = sys.stderr
    if not a.quiet:
        for r in result.rounds:
            print(_round_line(r.label, r.critique), file=msg)
        if result.kept_round is not None and len(result.rounds) > 1:
            k = result.kept_round
            print(f"kept: {k.label} (score {k.critique.score:.2f})", file=msg)
    for _ in range(100):  # an unnamed output that another run took meanwhile gets the next free name
        try:
            written = result.save(target, overwrite=overwrite)
            break
        except ImageFileError:
            if a.output is not None:
                raise
            target = str(free_name(DEFAULT_OUTPUT))
    if not a.quiet:
        for w in result.plan.warnings:
            print(f"warning: {w}", file=msg)
        t = result.timings
        print(f"wrote {written} ({result.image.width}x{result.image.height}, renderer {result.renderer}, mode "
              f"{result.mode}, plan {1000 * t.get('plan', 0):.0f} ms, draw {1000 * (t['total'] - t.get('plan', 0)):.0f}"
              f" ms)", file=msg if written == "-" else sys.stdout)
        if a.verbose:
            print(result.reasoning.render(), file=msg if written == "-" else sys.stdout)
    return 0


TRAINABLE = {
    "tokenizer": "the autoencoder (256x256 <-> 32x32x8 latents, glyph-conditioned decoder)",
    "generator": "the plan-conditioned rectified-flow generator (needs the tokenizer it encodes with)",
    "critic": "the critic's segmenter (where things are)",
    "verifier": "the critic's box verifier (what a planned box holds)",
    "reader": "the critic's text reader (a line of text in a known box)",
    "things": "the thing generator (one planned thing per crop, with its matte: what the builtin renderer draws)",
}


def cmd_train(a: argparse.Namespace) -> int:
    import importlib

    if a.model is None or a.train_help:
        lines = ["usage: thinkdraw train MODEL [options]   (thinkdraw train MODEL --help for its options)", "",
                 "models:"] + [f"  {k:<10} {v}" for k, v in TRAINABLE.items()]
        lines += ["", "Each run writes checkpoints, train_log.json and loss_curve.png into --out and resumes with",
                  "--resume; --export copies the weights into the user weights folder (see docs/models.md)."]
        print("\n".join(lines))
        return 0
    if a.model not in TRAINABLE:
        raise CLIError(f"unknown model {a.model!r}; choose one of {', '.join(TRAINABLE)}")
    try:
        mod = importlib.import_module(f"thinkdraw.train.{a.model}")
    except ModuleNotFoundError as e:
        raise CLIError(f"the {a.model} training script is not available: {e}") from e
    p = argparse.ArgumentParser(prog=f"thinkdraw train {a.model}", description=(mod.__doc__ or "").strip(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mod.add_args(p)
    path = mod.main(p.parse_args(a.rest))
    print(f"wrote {path}")
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from thinkdraw.plan.pngmeta import read_image_meta

    meta = read_image_meta(a.image)
    plan = meta.pop("plan")
    if a.json:
        print(json.dumps({**meta, "plan": plan.model_dump(mode="json")}, indent=2, ensure_ascii=False))
        return 0
    print(f"prompt:   {meta.get('prompt')}")
    for k in ("seed", "renderer", "mode", "thinkdraw"):
        if k in meta:
            print(f"{k + ':':<9} {meta[k]}")
    print(_summary(plan))
    rounds = meta.get("rounds") or []
    if rounds:
        print("rounds:")
        for k, r in enumerate(rounds):
            mark = "  <- kept" if meta.get("kept") == k else ""
            print(f"  {r.get('label') or k}: score {r.get('score', 0):.2f}: {r.get('reflection', '')}{mark}")
    if meta.get("timings"):
        print("timings:  " + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in meta["timings"].items()))
    if meta.get("reasoning"):
        print(f"reasoning: {len(meta['reasoning'])} steps (thinkdraw inspect --json shows them)")
    if meta.get("trimmed"):
        print(f"note: left out of the file to fit its format: {', '.join(meta['trimmed'])}")
    return 0


def cmd_world_sample(a: argparse.Namespace) -> int:
    from thinkdraw.world.dataset import write_dataset

    t0 = time.perf_counter()
    path = write_dataset(a.out, a.n, split=a.split, seed=a.seed, size=a.size, shard_size=a.shard_size,
                         workers=a.workers, progress=_progress("sampling"))
    print(f"wrote {a.n} {a.split} samples to {path} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_world_vocab(a: argparse.Namespace) -> int:
    from thinkdraw.world import vocab as v

    cats = list(v.CATEGORIES.values())
    data = {"categories": {c.name: {"kind": c.kind, "habitat": c.habitat, "synonyms": list(c.synonyms),
                                    "carries_text": c.carries_text, "default_color": c.default_color}
                           for c in cats},
            "colors": list(v.COLOR_NAMES), "color_synonyms": v.COLOR_SYNONYMS, "sizes": list(v.SIZES),
            "backgrounds": list(v.BACKGROUND_KINDS), "times": list(v.TIMES), "styles": list(v.STYLES),
            "max_count": v.MAX_COUNT}
    if a.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"The built-in world draws {len(cats)} kinds of thing:")
    for kind in ("shape", "thing"):
        names = [c.name + (f" ({', '.join(c.synonyms)})" if c.synonyms else "") for c in cats if c.kind == kind]
        print(f"  {kind}s: {', '.join(names)}")
    print(f"  carry text: {', '.join(c.name for c in cats if c.carries_text)}")
    print(f"colours ({len(v.COLOR_NAMES)}): {', '.join(v.COLOR_NAMES)}")
    print(f"sizes: {', '.join(v.SIZES)}; counts up to {v.MAX_COUNT}")
    print(f"backgrounds: {', '.join(v.BACKGROUND_KINDS)}; times of day: {', '.join(v.TIMES)}")
    print("Anything else is planned as an open-vocabulary thing and drawn as a placeholder, with a warning.")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from thinkdraw.eval.suite import EVAL_CATEGORIES, check_modes, markdown, previous_results, run_eval
    from thinkdraw.models.weights import WeightsError

    modes = tuple(m.strip() for m in a.modes.split(",") if m.strip())
    check_modes(modes)
    cats = tuple(c.strip() for c in a.categories.split(",") if c.strip()) if a.categories else EVAL_CATEGORIES
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {a.out!r} exists and is not a folder")
    log = out / "results.jsonl"
    if a.fresh and log.is_file():
        log.unlink()
    elif log.is_file():
        n_old = previous_results(out, a.n, a.seed, cats)
        if n_old:
            print(f"note: reusing {n_old} results from an earlier run in {log} (same prompts and seed); "
                  f"pass --fresh to start over", file=sys.stderr)
    bars = {}

    def progress(mode: str, done: int, total: int) -> None:
        bars.setdefault(mode, _progress(f"eval {mode:>11}"))(done, total)

    from thinkdraw.batch import PoolError
    from thinkdraw.batch.ray_backend import RayMissing

    ray = None if a.ray is None else {"address": a.ray or None, "actors": a.ray_actors or a.workers,
                                      "num_cpus": a.num_cpus, "num_gpus": a.num_gpus}
    try:
        report = run_eval(out, modes=modes, n=a.n, seed=a.seed, progress=progress, categories=cats,
                          save_images=a.save_images, weights=a.weights, workers=a.workers, threads=a.threads, ray=ray,
                          backends=_settings(a))
    except WeightsError as e:
        raise CLIError(str(e)) from e
    except (PoolError, RayMissing) as e:
        raise CLIError(_one_line(e)) from e
    print(markdown(report, cats))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
    return 0


def cmd_eval_edit(a: argparse.Namespace) -> int:
    from thinkdraw.eval.edits import markdown, run_eval_edit

    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {a.out!r} exists and is not a folder")
    if a.fresh and (out / "results.jsonl").is_file():
        (out / "results.jsonl").unlink()
    bar = _progress("eval-edit")
    try:
        report = run_eval_edit(out, n=a.n, turns=a.turns, seed=a.seed, mode=a.mode, renderer=a.renderer,
                               progress=bar)
    except (ValueError, RuntimeError, OSError) as e:
        raise CLIError(_one_line(e)) from e
    print(markdown(report))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
    return 0


def cmd_batch(a: argparse.Namespace) -> int:
    from thinkdraw.batch import BatchSettings, PoolError, read_prompts, run_batch
    from thinkdraw.batch.ray_backend import RayMissing

    items = read_prompts(a.prompts, seed=a.seed, mode=a.mode)
    backends = _settings(a)
    settings = BatchSettings.of(backends, rounds=a.rounds, bands=a.bands, weights=a.weights, size=a.size)
    ray = None if a.ray is None else {"address": a.ray or None, "actors": a.ray_actors or a.workers,
                                      "num_cpus": a.num_cpus, "num_gpus": a.num_gpus}
    try:
        s = run_batch(items, a.out, settings, workers=a.workers, threads=a.threads, ray=ray,
                      progress=_progress(f"batch ({a.mode})"), backends=backends)
    except (PoolError, RayMissing) as e:
        raise CLIError(_one_line(e)) from e
    failed = f", {s.failed} failed (see their 'error')" if s.failed else ""
    print(f"{s.drawn} drawn, {s.reused} already done{failed}, of {s.total} "
          f"prompts in {s.seconds:.1f} s ({s.images_per_s:.2f} images/s); results in {Path(a.out) / 'results.jsonl'}")
    return 0


def cmd_edit(a: argparse.Namespace) -> int:
    from thinkdraw.draw.base import UnknownBackendError
    from thinkdraw.models.weights import WeightsError
    from thinkdraw.plan.pngmeta import check_target, free_name, image_format

    if len(a.inputs) < 2:
        raise CLIError(f"{a.cmd} needs IMAGE [IMAGE ...] and an INSTRUCTION")
    images, instruction = a.inputs[:-1], a.inputs[-1]
    if a.cmd == "compose" and len(images) < 2:
        raise CLIError("compose needs at least two images and an INSTRUCTION (thinkdraw edit takes one)")
    if not instruction or not instruction.strip():
        raise CLIError(f"{a.cmd} needs a non-empty INSTRUCTION")
    for im in images:
        if not Path(im).is_file():
            raise CLIError(f"cannot read {im!r}: no such file" + (" (the INSTRUCTION comes last)" if
                                                                 len(images) > 1 and im == images[-1] else ""))
    first = images[0]
    if a.output == "-":
        target, overwrite = "-", True
    elif a.output is None:
        suffix = "-edit.png" if len(images) == 1 else "-compose.png"
        target, overwrite = str(free_name(Path(first).with_name(Path(first).stem + suffix))), False
    else:
        target, overwrite = a.output, a.force
        image_format(target)
        check_target(Path(target), overwrite)
    try:
        engine = _engine(a, max_rounds=a.rounds)
        result = engine.edit(images[0] if len(images) == 1 else list(images), instruction, seed=a.seed, mode=a.mode,
                             progress=_progress(f"editing ({engine.renderer.name}, {a.mode})"))
    except (UnknownBackendError, WeightsError) as e:
        raise CLIError(str(e)) from e
    msg = sys.stderr
    unchanged = images[0] if len(images) == 1 else "no image was written"
    if not result.ok:
        if a.verbose:
            print(result.reasoning.render(), file=msg)
        raise CLIError(f"not edited ({result.kind.replace('_', ' ')}): {result.message}; "
                       + (f"{unchanged} is unchanged" if len(images) == 1 else unchanged))
    if not a.quiet:
        for r in result.rounds:
            print(_round_line(r.label, r.critique), file=msg)
    written = result.save(target, overwrite=overwrite)
    if not a.quiet:
        changed = int(result.changed.sum()) if result.changed is not None else 0
        total = result.image.width * result.image.height
        ops = "; ".join(f"{o.op} {o.target or ''}".strip() for o in result.edit.operations) if result.edit else ""
        base = getattr(result, "base", None)
        kept = (f"; image {base + 1} kept as the base" if base is not None else
                "; drawn anew, no source's pixels kept") if len(images) > 1 else ""
        print(f"wrote {written} ({ops or 'nothing to change'}; redrew at most {changed} of {total} px, "
              f"{100 * changed / total:.1f}%{kept}; {1000 * result.timings['total']:.0f} ms"
              + ("; described from its pixels first" if result.described else "") + ")",
              file=msg if written == "-" else sys.stdout)
        if a.verbose:
            print(result.reasoning.render(), file=msg if written == "-" else sys.stdout)
    return 0


def _store(a: argparse.Namespace):
    from thinkdraw.session import SessionStore

    try:
        return SessionStore(a.data_dir)
    except OSError as e:
        raise CLIError(f"cannot open the session store in {a.data_dir or 'the data folder'}: {e.strerror or e}") from e


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _turn_line(t, head: int | None = None, kids: int = 0) -> str:
    changed = t.extra.get("changed_px")
    what = {"generate": "generate", "edit": "edit", "import": "image", "compose": "compose"}.get(t.kind, t.kind)
    return (f"{'*' if t.id == head else ' '} turn {t.id:<3} {what:<8} {t.text!r}"
            + (f" (from turn {t.parent})" if t.parent is not None else "")
            + (f"; redrew {changed} px" if changed is not None else "")
            + (f"; {kids} branches from here" if kids > 1 else "") + f"  [{t.image_hash[:12]}]")


def _print_turn(out, a: argparse.Namespace, store) -> None:
    t = out.turn
    s = t.session
    print(f"session {s} turn {t.id}" + (f" (from turn {t.parent})" if t.parent is not None else "")
          + f": {t.plan.prompt}")
    if getattr(a, "verbose", False):
        print(out.result.reasoning.render() if out.result is not None else t.reasoning.render())
    print(f"image: {t.image_path}")


def _session_engine(a: argparse.Namespace, renderer: str | None):
    """A session's engine: --renderer, else the session's own renderer (``renderer``; None for a new session:
    the environment's and config file's, else builtin); the other backends as every command resolves them."""
    return _engine(a, _settings(a, renderer=renderer), max_rounds=getattr(a, "rounds", 2))


def cmd_session(a: argparse.Namespace) -> int:
    from thinkdraw.draw.base import UnknownBackendError
    from thinkdraw.models.weights import WeightsError
    from thinkdraw.session import Session, SessionError
    from thinkdraw.think import PlanningError

    store = _store(a)
    try:
        if a.session_cmd == "list":
            infos = store.sessions()
            if a.json:
                print(json.dumps([i.__dict__ for i in infos], indent=2, ensure_ascii=False))
                return 0
            if not infos:
                print(f"no sessions in {store.root} (thinkdraw session new PROMPT starts one)")
            for i in infos:
                print(f"{i.id}  {i.name or '-':<12} {i.turns:>3} turn(s), head {i.head}, {i.renderer}, "
                      f"updated {_when(i.updated)}: {i.first!r}")
            return 0
        if a.session_cmd == "new":
            if (a.prompt is None) == (a.image is None):
                raise CLIError("session new needs a PROMPT or --from IMAGE (one of them)")
            if a.image is not None and not Path(a.image).is_file():
                raise CLIError(f"cannot read {a.image!r}: no such file")
            eng = _session_engine(a, None)
            s = Session.create(store, prompt=a.prompt, image=a.image, engine=eng, name=a.name, seed=a.seed,
                               mode=a.mode, renderer=eng.renderer.name)
            from thinkdraw.session import TurnOutcome

            _print_turn(TurnOutcome(ok=True, turn=s.head), a, store)
            return 0
        s = Session.open(a.session, store)
        if a.session_cmd in ("edit", "branch"):
            s._engine = _session_engine(a, s.renderer)
            if a.session_cmd == "branch":
                s.branch(a.turn)
                if a.instruction is None:
                    print(f"session {s.id}: head at turn {a.turn}; the next edit starts a branch from it")
                    return 0
            mode = a.mode or s.mode
            out = s.edit(a.instruction, seed=a.seed, mode=mode)
            if not out.ok:
                if a.verbose:
                    print(out.result.reasoning.render(), file=sys.stderr)
                raise CLIError(f"not edited ({out.kind.replace('_', ' ')}): {out.message}; the session stays at "
                               f"turn {out.turn.id}")
            _print_turn(out, a, store)
            return 0
        if a.session_cmd in ("undo", "redo"):
            t = s.undo() if a.session_cmd == "undo" else s.redo()
            print(f"session {s.id}: head at turn {t.id}: {t.plan.prompt}")
            print(f"image: {t.image_path}")
            return 0
        if a.session_cmd == "show":
            head = store.head(s.id)
            turns = s.turns() if a.tree else s.history()
            if a.json:
                print(json.dumps({"id": s.id, "name": s.name, "head": head, "turns": [
                    {"turn": t.id, "parent": t.parent, "kind": t.kind, "text": t.text, "image": t.image_hash,
                     "path": str(t.image_path), "plan": t.plan.model_dump(mode="json"), "mode": t.mode,
                     "seed": t.seed, "renderer": t.renderer, "timings": t.timings, "edit": t.edit,
                     "reasoning": [x.model_dump() for x in t.reasoning.steps], "created": t.created}
                    for t in turns]}, indent=2, ensure_ascii=False))
                return 0
            print(f"session {s.id}" + (f" ({s.name})" if s.name else "") + f", renderer {s.renderer}; "
                  + ("every turn:" if a.tree else "the path from the first turn to the head:"))
            for t in turns:
                print(_turn_line(t, head, len(s.children(t.id))))
                if a.verbose:
                    for line in t.reasoning.render().splitlines():
                        print("      " + line)
            h = s.head
            print(f"head: turn {h.id}: {h.plan.prompt}")
            print(f"image: {h.image_path}")
            return 0
        if a.session_cmd == "export":
            from thinkdraw.plan.pngmeta import image_format

            image_format(a.output) if a.output != "-" else None
            written = s.export(a.turn, a.output, overwrite=a.force)
            if written != "-":
                print(f"wrote {written} (session {s.id} turn {a.turn or store.head(s.id)})")
            return 0
        raise CLIError(f"unknown session command {a.session_cmd!r}")
    except SessionError as e:
        raise CLIError(str(e)) from e
    except (UnknownBackendError, WeightsError, PlanningError) as e:
        raise CLIError(str(e)) from e
    finally:
        store.close()


CHAT_HELP = """Each line is an edit of the current image ("make the car blue"), or a new image when it reads as a
description ("a red boat on the sea"). Commands:
  /new PROMPT        a new image (a turn after the current one)
  /undo  /redo       back to the previous turn / forward again
  /back N            N turns back along the path
  /branch N          go to turn N: the next edit branches from it
  /compose N M ... INSTRUCTION   combine turns N, M, ... ("/compose 1 2 the boat from image 1 on image 2")
  /show  /tree       the path to the current turn / every turn
  /plan              the current plan
  /save PATH         write the current image (it carries its plan)
  /session           the session's id (thinkdraw chat --session ID goes on with it)
  /help  /quit"""


def cmd_chat(a: argparse.Namespace) -> int:
    import shlex

    from thinkdraw.session import Session, SessionError
    from thinkdraw.think import PlanningError

    store = _store(a)
    eng = None
    s = None
    if a.session:
        try:
            s = Session.open(a.session, store)
        except SessionError as e:
            raise CLIError(str(e)) from e
    interactive = sys.stdin.isatty()

    def engine(renderer: str | None):
        nonlocal eng
        if eng is None:
            eng = _engine(a, _settings(a, renderer=renderer), max_rounds=a.rounds)
        return eng

    def say(text: str = "") -> None:
        print(text, flush=True)

    def report(out) -> None:
        r = out.result
        steps = r.reasoning.steps if r is not None else out.turn.reasoning.steps
        for st in steps:
            say(f"  [{st.stage}] {st.text}")
        if not out.ok:
            say(f"not done ({out.kind.replace('_', ' ')}): {out.message}; still at turn {out.turn.id}")
            return
        t = out.turn
        say(f"turn {t.id}" + (f" (from turn {t.parent})" if t.parent is not None else "") + f": {t.plan.prompt}")
        say(f"image: {t.image_path}")

    def new_image(prompt: str):
        nonlocal s
        if s is None:
            e = engine(None)
            s = Session.create(store, prompt=prompt, engine=e, mode=a.mode, renderer=e.renderer.name, seed=a.seed)
            say(f"session {s.id}")
            from thinkdraw.session import TurnOutcome

            return TurnOutcome(ok=True, turn=s.head)
        s._engine = engine(s.renderer)
        return s.generate(prompt, seed=a.seed)

    if interactive:
        say(f"thinkdraw chat: session {s.id if s else '(new)'}, store {store.root}. /help for commands, /quit to end.")
    while True:
        try:
            line = input("thinkdraw> " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            say()
            break
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("/"):
                cmd, _, arg = line[1:].partition(" ")
                cmd, arg = cmd.lower(), arg.strip()
                if cmd in ("quit", "exit", "q"):
                    break
                if cmd == "help":
                    say(CHAT_HELP)
                    continue
                if cmd == "new":
                    if not arg:
                        say("/new needs a PROMPT")
                        continue
                    report(new_image(arg))
                    continue
                if s is None:
                    say("nothing yet: describe an image to start (or /help)")
                    continue
                if cmd in ("undo", "redo", "back", "branch", "goto"):
                    if cmd == "undo":
                        t = s.undo()
                    elif cmd == "redo":
                        t = s.redo()
                    elif cmd == "back":
                        t = s.back(int(arg or 1))
                    else:
                        if not arg.isdigit():
                            say(f"/{cmd} needs a turn number (see /tree)")
                            continue
                        t = s.branch(int(arg))
                    say(f"at turn {t.id}: {t.plan.prompt}" + ("; the next edit branches from here"
                                                               if s.children(t.id) else ""))
                    say(f"image: {t.image_path}")
                elif cmd in ("show", "tree"):
                    head = s.head.id
                    for t in (s.turns() if cmd == "tree" else s.history()):
                        say(_turn_line(t, head, len(s.children(t.id))))
                elif cmd == "plan":
                    say(_summary(s.head.plan))
                elif cmd == "save":
                    if not arg:
                        say("/save needs a PATH")
                        continue
                    path = shlex.split(arg)[0]
                    from thinkdraw.plan.pngmeta import image_format

                    image_format(path)
                    say(f"wrote {s.export(None, path, overwrite=False)}")
                elif cmd == "session":
                    say(f"session {s.id} in {store.root}")
                elif cmd == "compose":
                    words = arg.split()
                    nums = []
                    while words and words[0].isdigit():
                        nums.append(int(words.pop(0)))
                    if len(nums) < 2 or not words:
                        say("/compose needs two or more turn numbers, then the instruction")
                        continue
                    s._engine = engine(s.renderer)
                    report(s.compose(nums, " ".join(words)))
                else:
                    say(f"unknown command /{cmd} (/help lists them)")
                continue
            if s is None:
                report(new_image(line))
                continue
            s._engine = engine(s.renderer)
            out = s.edit(line, mode=a.mode if a.mode in ("think", "reflect") else None)
            if not out.ok and out.kind == "not_understood" and not _looks_like_edit(line):
                report(new_image(line))  # not an edit: a description of a new image
                continue
            report(out)
        except (SessionError, PlanningError, ValueError) as e:
            say(f"error: {_one_line(e)}")
    store.close()
    return 0


def _looks_like_edit(line: str) -> bool:
    from thinkdraw.edit.instruct import VERBS

    w = line.split()[0].lower() if line.split() else ""
    return w in VERBS and w not in ("one", "no", "only", "just", "there", "i", "another")


def cmd_describe(a: argparse.Namespace) -> int:
    from PIL import Image

    from thinkdraw.engine import Engine

    if not Path(a.image).is_file():
        raise CLIError(f"cannot read {a.image!r}: no such file")
    try:
        with Image.open(a.image) as im:
            image = im.convert("RGB")
    except (OSError, SyntaxError, ValueError) as e:
        raise CLIError(f"{a.image} is not a readable image: {_one_line(e)}") from e
    d = Engine(renderer="sketch").describe(image)
    if a.json:
        print(json.dumps({"reasoning": [s.model_dump() for s in d.reasoning.steps],
                          "plan": d.plan.model_dump(mode="json")}, indent=2, ensure_ascii=False))
        return 0
    print(d.reasoning.render())
    print()
    print(_summary(d.plan))
    return 0


def cmd_schema(a: argparse.Namespace) -> int:
    from thinkdraw.plan.schema import ScenePlan

    print(json.dumps(ScenePlan.model_json_schema(), indent=2))
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    import os

    from thinkdraw.serve.config import ServeConfig, check_bind, default_data_dir

    key = a.api_key or os.environ.get("THINKDRAW_API_KEY") or None
    check_bind(a.host, key)  # refuses (one line, exit 2) before anything is imported or loaded
    if not 0 < a.max_upload_mb <= 4096 or a.job_timeout <= 0:
        raise CLIError("--max-upload-mb must be in (0, 4096] and --job-timeout above 0")
    if a.ray is None and any(v is not None for v in (a.replicas, a.min_replicas, a.max_replicas, a.num_cpus)):
        raise CLIError("--replicas, --min-replicas, --max-replicas and --num-cpus place Ray Serve replicas: "
                       "give them with --ray")
    backends = _settings(a)
    config = ServeConfig(host=a.host, port=a.port, workers=a.workers, api_key=key, backends=backends,
                         data_dir=Path(a.data) if a.data else default_data_dir(), renderer=backends.renderer, mode=a.mode,
                         rounds=a.rounds, weights=a.weights, queue=a.queue, max_upload_mb=a.max_upload_mb,
                         max_pixels=a.max_pixels, job_timeout=a.job_timeout,
                         files_ttl=a.files_ttl)
    if a.ray is not None:
        return _serve_ray(a, config, key)
    try:
        import uvicorn

        from thinkdraw.serve import create_app

        app = create_app(config)
    except ImportError as e:
        raise CLIError(str(e) if "serve extra" in str(e) else
                       f"thinkdraw serve needs the serve extra: pip install -e \".[serve]\" ({e})") from e
    server = uvicorn.Server(uvicorn.Config(app, host=a.host, port=a.port, log_level=a.log_level, lifespan="on",
                                           timeout_graceful_shutdown=10))
    import socket

    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # IPPROTO_TCP: asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((a.host, a.port))
    except OSError as e:
        raise CLIError(f"cannot listen on {a.host}:{a.port}: {e.strerror or e}") from e
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"thinkdraw serve: http://{shown}:{port}/ (API at /v1, docs at /docs; {a.workers} worker(s), renderer "
          f"{config.renderer}, data {config.data_dir}{', API key required' if key else ''})", flush=True)
    server.run(sockets=[sock])
    return 0


def _serve_ray(a: argparse.Namespace, config, key: str | None) -> int:
    """thinkdraw serve --ray: the same app as Ray Serve replicas (serve/ray_serve.py; docs/scale.md)."""
    import signal
    import socket
    import time

    from pydantic import ValidationError

    from thinkdraw.serve.ray_serve import RayMissing, RayOptions, RayServer, import_serve

    try:
        opts = RayOptions(address=a.ray or None, replicas=a.replicas, min_replicas=a.min_replicas,
                          max_replicas=a.max_replicas, num_cpus=a.num_cpus if a.num_cpus is not None else 1.0)
    except ValidationError as e:
        err = e.errors()[0]
        flag = "".join(f"--{x}".replace("_", "-") + ": " for x in err.get("loc", ())[:1])
        raise CLIError(flag + err["msg"].removeprefix("Value error, ")) from None
    try:
        import_serve()
        import fastapi  # noqa: F401 - the replicas build the app of the serve extra
    except ImportError as e:
        raise CLIError(str(e) if isinstance(e, RayMissing) else
                       f"thinkdraw serve needs the serve extra: pip install -e \".[serve]\" ({e})") from None
    if config.port == 0:  # Ray Serve's proxy needs a number: take a free one
        with socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET) as s:
            s.bind((a.host, 0))
            config.port = s.getsockname()[1]
    server = RayServer(config, opts)

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)  # stop as Ctrl-C does: the replicas and a local Ray go too
    try:
        server.start()
        shown = f"[{a.host}]" if ":" in a.host else a.host
        print(f"thinkdraw serve: http://{shown}:{config.port}/ (API at /v1, docs at /docs; {opts.describe()}, "
              f"{a.workers} worker(s) each, renderer {a.renderer}, data {config.data_dir}"
              f"{', API key required' if key else ''})", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except Exception as e:  # noqa: BLE001 - Ray's failures (no cluster at ADDRESS, a port taken): one line
        raise CLIError(f"Ray Serve: {(str(e).strip().splitlines() or [type(e).__name__])[0]}") from None
    finally:
        server.stop()
    return 0


DEFAULT_OUTPUT = "out.png"


def _int_in(lo: int, hi: int | None = None):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{v} is out of range: give {lo}" + (f" to {hi}" if hi else " or more"))
        return v

    return parse


def _scale_options(q: argparse.ArgumentParser) -> None:
    """--workers, --threads and --ray for the commands that run many images (batch, eval; docs/scale.md)."""
    q.add_argument("--workers", type=_int_in(1, 256), default=1, help="worker processes, each loading the models once")
    q.add_argument("--threads", type=_int_in(1, 256), default=1,
                   help="torch threads per worker (an image's bits depend on it, never on --workers)")
    q.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray (pip install -e \".[ray]\"): no ADDRESS starts a local Ray; 'auto' or "
                        "ray://HOST:PORT joins a cluster (write it as --ray=ADDRESS)")
    q.add_argument("--ray-actors", type=_int_in(1, 100000), default=None, metavar="N",
                   help="Ray: actors, one engine each (none given: as many as --workers)")
    q.add_argument("--num-cpus", type=float, default=1.0, help="Ray: CPUs per actor")
    q.add_argument("--num-gpus", type=float, default=0.0, help="Ray: GPUs per actor")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``thinkdraw: error: ...``) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"thinkdraw: error: {self.prog}: {message} (see {self.prog} --help)\n")


RENDERER_HELP = ("renderer backend: builtin (the bundled models, a thing per box; default unless the environment or "
                 "config names another), sketch (exact plan raster), scene (the former whole-scene generator, to "
                 "compare) or diffusers (a Stable Diffusion checkpoint: --model)")
MODEL_HELP = ("diffusers renderer: a local diffusers pipeline folder (SD 1.x/2.x, SDXL, GLIGEN; default "
              "$THINKDRAW_DIFFUSERS_MODEL, else the config's [diffusers] model); never downloaded (docs/diffusers.md)")


def _backend_args(q, critic: bool = False, renderer: bool = False, renderer_help: str = RENDERER_HELP) -> None:
    """The flags that choose the planner, critic and renderer (with its --model) and reach an LLM / VLM server
    (docs/backends.md); every command that builds an Engine takes them all, resolved by ``_settings``."""
    q.add_argument("--config", metavar="FILE", default=None,
                   help="TOML config file (default: $THINKDRAW_CONFIG, else ~/.config/thinkdraw/config.toml)")
    q.add_argument("--planner", choices=("rules", "llm"), default=None, help="planner (default: the config's, "
                   "else rules); llm: an OpenAI-compatible chat server")
    q.add_argument("--fallback", choices=("rules", "none"), default=None,
                   help="when the LLM planner fails: plan with the rules planner (said in the reasoning)")
    q.add_argument("--llm-url", metavar="URL", default=None, help="OpenAI-compatible API base, e.g. "
                   "http://localhost:11434/v1 (default: $THINKDRAW_LLM_URL, else the config's)")
    q.add_argument("--llm-model", metavar="NAME", default=None, help="model name (default: $THINKDRAW_LLM_MODEL)")
    q.add_argument("--llm-api-key", metavar="KEY", default=None, help="API key (default: $THINKDRAW_LLM_API_KEY)")
    if critic:
        q.add_argument("--critic", default=None, help="critic backend: builtin (default) or vlm (a vision model on "
                       "the LLM's server, or the config's [vlm])")
        q.add_argument("--vlm-model", metavar="NAME", default=None, help="the vlm critic's model (default: "
                       "$THINKDRAW_VLM_MODEL, [vlm] model, else the LLM's)")
    if renderer:
        q.add_argument("--renderer", default=None, help=renderer_help)
        q.add_argument("--model", metavar="DIR", default=None, help=MODEL_HELP)


def cmd_doctor(a: argparse.Namespace) -> int:
    from thinkdraw.doctor import doctor

    return doctor(a, _settings(a))


def build_parser() -> argparse.ArgumentParser:
    from thinkdraw.engine import DEFAULT_MODE, MAX_SIZE, MIN_SIZE, MODES

    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = _Parser(prog="thinkdraw", description="Reasoning-first image generation: think, plan, draw, reflect.")
    p.add_argument("--version", action="version", version=f"thinkdraw {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    weights_help = ("a weights folder (from thinkdraw train ... --export) for the models it holds; the others "
                    "are the bundled ones (default: $THINKDRAW_WEIGHTS, else the bundled weights)")

    sp = sub.add_parser("plan", help="think: print the reasoning and the scene plan for a prompt", formatter_class=fmt)
    sp.add_argument("prompt", nargs="?", help="what to draw")
    sp.add_argument("--json", action="store_true", help="print {prompt, reasoning, plan} as JSON")
    sp.add_argument("--batch", metavar="FILE", help="one prompt per line ('#' lines are comments); writes one JSON "
                                                    "object per line")
    sp.add_argument("-o", "--output", metavar="FILE", help="write there instead of stdout (JSON for --batch, "
                                                           "--json or a .json name)")
    sp.add_argument("--force", action="store_true", help="overwrite an existing --output")
    sp.add_argument("--seed", type=int, default=0, help="seed of the layout's random choices")
    _backend_args(sp)
    sp.set_defaults(func=cmd_plan)

    sg = sub.add_parser("generate", help="think, then draw: write an image that carries its plan", formatter_class=fmt)
    sg.add_argument("prompt", help="what to draw")
    sg.add_argument("-o", "--output", default=None, metavar="FILE",
                    help=f"image to write: .png, .jpg or .webp, the plan in its metadata; '-' writes PNG to "
                         f"stdout (default: {DEFAULT_OUTPUT}, or {Path(DEFAULT_OUTPUT).stem}-1.png, ... when taken: "
                         f"never overwritten)")
    sg.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    sg.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                    help="reflect: think, draw, let the critic check the image against the plan and "
                         "redraw only the failed regions; think: plan, then draw once; direct: draw from the "
                         "prompt alone; interleaved: draw band by band with a sub-prompt before and a critic "
                         "score after each band")
    sg.add_argument("--rounds", type=_int_in(0, 8), default=2, help="reflect: at most this many redraw rounds")
    sg.add_argument("--bands", type=_int_in(1, 8), default=3, help="interleaved: number of horizontal bands")
    sg.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
    sg.add_argument("-v", "--verbose", action="store_true", help="print the reasoning, reflections included")
    sg.add_argument("--seed", type=int, default=0, help="seed of every random draw (same seed, same image)")
    sg.add_argument("--size", type=_int_in(MIN_SIZE, MAX_SIZE), default=None,
                    help="square canvas in pixels, sketch and diffusers renderers (builtin draws 256 px; diffusers "
                         "defaults to its model's size)")
    sg.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    _backend_args(sg, critic=True, renderer=True)
    sg.set_defaults(func=cmd_generate)

    sdo = sub.add_parser("doctor", help="which backends are installed and reachable, the devices torch sees, where "
                                        "weights, sessions and the config are")
    sdo.add_argument("--json", action="store_true", help="the same as JSON")
    sdo.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each server")
    _backend_args(sdo, critic=True, renderer=True)
    sdo.set_defaults(func=cmd_doctor)

    si = sub.add_parser("inspect", help="print the plan, prompt, seed, rounds and timings an image carries")
    si.add_argument("image", help="a PNG, JPEG or WebP written by thinkdraw")
    si.add_argument("--json", action="store_true", help="everything it carries, as JSON")
    si.set_defaults(func=cmd_inspect)

    sw = sub.add_parser("world", help="the built-in world: its vocabulary, datasets of it")
    wsub = sw.add_subparsers(dest="world_cmd", required=True, parser_class=_Parser)
    ws = wsub.add_parser("sample", help="write a sharded dataset of (prompt, plan, image, masks)", formatter_class=fmt)
    ws.add_argument("--n", type=_int_in(1), required=True, help="number of samples")
    ws.add_argument("--out", required=True, metavar="DIR", help="dataset folder (a rerun resumes it)")
    ws.add_argument("--split", choices=["train", "heldout"], default="train",
                    help="template and combination split: train, or heldout for evaluation")
    ws.add_argument("--seed", type=int, default=0, help="seed of the sampler")
    ws.add_argument("--size", type=_int_in(MIN_SIZE, MAX_SIZE), default=256, help="image size in pixels")
    ws.add_argument("--shard-size", type=_int_in(1), default=256, help="samples per shard file")
    ws.add_argument("--workers", type=_int_in(1, 64), default=1, help="worker processes")
    ws.set_defaults(func=cmd_world_sample)
    wv = wsub.add_parser("vocab", help="list the kinds of thing, colours, sizes and backgrounds it draws")
    wv.add_argument("--json", action="store_true")
    wv.set_defaults(func=cmd_world_vocab)

    st = sub.add_parser("train", help="train a model: " + ", ".join(TRAINABLE) + " (see docs/models.md)",
                        add_help=False)
    st.add_argument("-h", "--help", action="store_true", dest="train_help", help="list the models")
    st.add_argument("model", nargs="?", help="one of " + ", ".join(TRAINABLE))
    st.add_argument("rest", nargs=argparse.REMAINDER)
    st.set_defaults(func=cmd_train)

    se = sub.add_parser("eval", help="GenEval-style suite over held-out world prompts: JSON, Markdown, bar chart",
                        formatter_class=fmt)
    se.add_argument("--out", default="eval-out", metavar="DIR", help="folder for results.jsonl, report.json/.md/.png")
    se.add_argument("--n", type=_int_in(1), default=300, help="prompts, split evenly over the categories")
    se.add_argument("--modes", default="direct,think,reflect,sketch",
                    help="comma-separated: direct, think, reflect, interleaved, sketch (the oracle)")
    se.add_argument("--categories", default=None, help="comma-separated subset of the categories (default all)")
    se.add_argument("--seed", type=int, default=0, help="which held-out prompts")
    se.add_argument("--save-images", type=_int_in(0), default=0, metavar="K", help="keep the first K images per mode")
    se.add_argument("--fresh", action="store_true", help="ignore results.jsonl from an earlier run in --out")
    se.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
    _backend_args(se, critic=True, renderer=True)
    _scale_options(se)
    se.set_defaults(func=cmd_eval)

    sx = sub.add_parser("eval-edit", help="edit benchmark: multi-turn edits of held-out world scenes, judged against "
                                          "the benchmark's own expected plans: JSON, Markdown, bar chart",
                        formatter_class=fmt)
    sx.add_argument("--out", default="eval-edit-out", metavar="DIR",
                    help="folder for results.jsonl, report.json/.md/.png (a rerun resumes)")
    sx.add_argument("--n", type=_int_in(1), default=30, help="held-out scenes (one instruction sequence each)")
    sx.add_argument("--turns", type=_int_in(1, 11), default=3, help="edits per sequence")
    sx.add_argument("--seed", type=int, default=0, help="which scenes and instructions")
    sx.add_argument("--mode", choices=("think", "reflect"), default="reflect", help="edit mode")
    sx.add_argument("--renderer", choices=("builtin", "sketch", "scene"), default="builtin", help="renderer that draws")
    sx.add_argument("--fresh", action="store_true", help="ignore results.jsonl from an earlier run in --out")
    sx.set_defaults(func=cmd_eval_edit)

    sb = sub.add_parser("batch", help="many prompts: one PNG (carrying its plan) and one results.jsonl line per "
                                      "prompt; killed and rerun, it resumes (docs/cli.md, docs/scale.md)",
                        formatter_class=fmt)
    sb.add_argument("prompts", metavar="PROMPTS", help="a .txt file (one prompt a line, '#' comments) or .jsonl "
                                                       "(one {\"prompt\", \"seed\", \"mode\", \"name\"} a line)")
    sb.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs, results.jsonl and batch.json")
    sb.add_argument("--mode", choices=MODES, default=DEFAULT_MODE, help="mode of a prompt that names none")
    sb.add_argument("--seed", type=int, default=0, help="seed of a prompt that names none")
    sb.add_argument("--rounds", type=_int_in(0, 8), default=2, help="reflect: at most this many redraw rounds")
    sb.add_argument("--bands", type=_int_in(1, 8), default=3, help="interleaved: number of horizontal bands")
    sb.add_argument("--size", type=_int_in(MIN_SIZE, MAX_SIZE), default=None, help="square canvas, sketch renderer")
    sb.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
    _backend_args(sb, critic=True, renderer=True)
    _scale_options(sb)
    sb.set_defaults(func=cmd_batch)

    edit_parsers = []
    for name, helptext in (("edit", "edit an image by instruction (several images: combine them); only what "
                                    "changes is redrawn"),
                           ("compose", "combine several images by instruction (the same as edit with several "
                                       "images)")):
        sd = sub.add_parser(name, help=helptext, formatter_class=fmt)
        sd.add_argument("inputs", nargs="+", metavar="IMAGE... INSTRUCTION",
                        help="one image (a PNG, JPEG or WebP; one without a plan is described from its pixels first) "
                             "or several to combine, then what to do, e.g. 'make the car blue and remove the cloud' "
                             "or 'the boat from image 1 on the sea of image 2'")
        edit_parsers.append(sd)
    for sd in edit_parsers:
        sd.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="image to write ('-': PNG to stdout; default IMAGE-edit.png (IMAGE-compose.png for "
                             "several), never overwritten)")
        sd.add_argument("--force", action="store_true", help="overwrite an existing --output file")
        sd.add_argument("--mode", choices=("think", "reflect"), default=DEFAULT_MODE,
                        help="reflect: after the edit the critic checks the new plan and failures are redrawn, only "
                             "inside the edit's regions; think: draw the edit once")
        sd.add_argument("--rounds", type=_int_in(0, 8), default=2, help="reflect: at most this many redraw rounds")
        sd.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
        sd.add_argument("--seed", type=int, default=None, help="seed of the redraw (default: the image's own seed)")
        sd.add_argument("-v", "--verbose", action="store_true", help="print the reasoning: locate, edit, final state")
        sd.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
        _backend_args(sd, critic=True, renderer=True)
        sd.set_defaults(func=cmd_edit)

    ss = sub.add_parser("session", help="a conversation that survives: a tree of turns (new, edit, undo, redo, "
                                        "branch, show, list, export)")
    ssub = ss.add_subparsers(dest="session_cmd", required=True, parser_class=_Parser)
    data_help = ("the session store (default: $THINKDRAW_DATA, else the per-user data folder, e.g. "
                 "~/.local/share/thinkdraw)")

    def common(q, engine: bool = True):
        q.add_argument("--data-dir", metavar="DIR", default=None, help=data_help)
        if engine:
            _backend_args(q, critic=True, renderer=True, renderer_help="renderer backend (default: the session's; a "
                          "new session: the environment's or config's, else builtin)")
            q.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
            q.add_argument("--rounds", type=_int_in(0, 8), default=2, help="reflect: at most this many redraw rounds")
            q.add_argument("-v", "--verbose", action="store_true", help="print the turn's reasoning")
        q.set_defaults(func=cmd_session)

    q = ssub.add_parser("new", help="start a session from a prompt (or --from an image)", formatter_class=fmt)
    q.add_argument("prompt", nargs="?", help="what to draw first")
    q.add_argument("--from", dest="image", metavar="IMAGE", default=None, help="start from this image instead")
    q.add_argument("--name", default=None, help="a name to open the session by")
    q.add_argument("--mode", choices=MODES, default=DEFAULT_MODE, help="the session's mode for its turns")
    q.add_argument("--seed", type=int, default=0, help="seed of the first image")
    common(q)
    q = ssub.add_parser("edit", help="edit the session's current image (a new turn after the head)", formatter_class=fmt)
    q.add_argument("session", help="session id, id prefix or name")
    q.add_argument("instruction", help="what to change")
    q.add_argument("--mode", choices=("think", "reflect"), default=None, help="default: the session's mode")
    q.add_argument("--seed", type=int, default=None, help="seed of the redraw (default: the turn's own)")
    common(q)
    q = ssub.add_parser("branch", help="go back to any turn; the next edit (or INSTRUCTION) branches from it",
                        formatter_class=fmt)
    q.add_argument("session", help="session id, id prefix or name")
    q.add_argument("turn", type=_int_in(1), help="the turn to branch from")
    q.add_argument("instruction", nargs="?", default=None, help="an edit to make from it at once")
    q.add_argument("--mode", choices=("think", "reflect"), default=None, help="default: the session's mode")
    q.add_argument("--seed", type=int, default=None, help="seed of the redraw (default: the turn's own)")
    common(q)
    for name, h in (("undo", "move the head back to its parent turn (nothing is deleted)"),
                    ("redo", "move the head forward to its latest child turn")):
        q = ssub.add_parser(name, help=h)
        q.add_argument("session", help="session id, id prefix or name")
        common(q, engine=False)
    q = ssub.add_parser("show", help="the path from the first turn to the head (--tree: every turn)")
    q.add_argument("session", help="session id, id prefix or name")
    q.add_argument("--tree", action="store_true", help="every turn of every branch")
    q.add_argument("--json", action="store_true", help="as JSON, plans and reasoning included")
    q.add_argument("-v", "--verbose", action="store_true", help="each turn's reasoning")
    common(q, engine=False)
    q = ssub.add_parser("list", help="the sessions in the store, latest first")
    q.add_argument("--json", action="store_true")
    common(q, engine=False)
    q = ssub.add_parser("export", help="write a turn's image carrying its plan (editable with thinkdraw edit)")
    q.add_argument("session", help="session id, id prefix or name")
    q.add_argument("turn", nargs="?", type=_int_in(1), default=None, help="default: the head")
    q.add_argument("-o", "--output", required=True, metavar="FILE", help="image to write (.png/.jpg/.webp; '-': stdout)")
    q.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    common(q, engine=False)

    sh = sub.add_parser("chat", help="edit by conversation: each line a new image or an edit of the current one; "
                                     "/undo, /back N, /branch N, /show, /save PATH, /plan, /quit", formatter_class=fmt)
    sh.add_argument("--session", default=None, help="go on with this session (id, id prefix or name)")
    sh.add_argument("--data-dir", metavar="DIR", default=None, help=data_help)
    sh.add_argument("--mode", choices=MODES, default=DEFAULT_MODE, help="mode of new images and edits")
    _backend_args(sh, critic=True, renderer=True, renderer_help="renderer backend (default: the session's; a new "
                  "session: the environment's or config's, else builtin)")
    sh.add_argument("--rounds", type=_int_in(0, 8), default=2, help="reflect: at most this many redraw rounds")
    sh.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
    sh.add_argument("--seed", type=int, default=0, help="seed of new images")
    sh.set_defaults(func=cmd_chat)

    sx = sub.add_parser("describe", help="recover a scene plan from an image's pixels alone")
    sx.add_argument("image", help="any PNG, JPEG or WebP")
    sx.add_argument("--json", action="store_true", help="print {reasoning, plan} as JSON")
    sx.set_defaults(func=cmd_describe)

    sc = sub.add_parser("schema", help="print the ScenePlan JSON schema")
    sc.set_defaults(func=cmd_schema)

    sv = sub.add_parser("serve", help="HTTP server: the OpenAI Images API, the native API and a web page "
                                      "(needs pip install -e \".[serve]\"; docs/serve.md)", formatter_class=fmt)
    sv.add_argument("--host", default="127.0.0.1", help="address to bind; anything but loopback needs --api-key")
    sv.add_argument("--port", type=_int_in(0, 65535), default=8000, help="port (0: any free one, printed)")
    sv.add_argument("--workers", type=_int_in(1, 64), default=1, help="worker processes, each with its own models")
    sv.add_argument("--api-key", default=None, metavar="KEY",
                    help="clients must send 'Authorization: Bearer KEY' (default: $THINKDRAW_API_KEY)")
    sv.add_argument("--data", default=None, metavar="DIR",
                    help="where the server writes: sessions (the same store as thinkdraw session), files/ (served "
                         "images), uploads/ (in flight); default $THINKDRAW_DATA, else the user data folder")
    _backend_args(sv, critic=True, renderer=True, renderer_help="what model 'thinkdraw' draws with (default: the "
                  "environment's or config's, else builtin; thinkdraw-builtin and thinkdraw-sketch are always there)")
    sv.add_argument("--mode", choices=MODES, default=DEFAULT_MODE, help="mode of a request that names none")
    sv.add_argument("--rounds", type=_int_in(0, 8), default=2, help="reflect: at most this many redraw rounds")
    sv.add_argument("--weights", metavar="DIR", default=None, help=weights_help)
    sv.add_argument("--queue", type=_int_in(0, 1000), default=8,
                    help="jobs waiting per worker; beyond that a request gets 429 with Retry-After")
    sv.add_argument("--max-upload-mb", type=float, default=16.0, help="a larger request body gets 413")
    sv.add_argument("--max-pixels", type=_int_in(1), default=4096 * 4096,
                    help="an uploaded image with more pixels is refused (decompression bombs)")
    sv.add_argument("--job-timeout", type=float, default=600.0,
                    help="seconds a job may run; then its client gets 504 and the worker restarts")
    sv.add_argument("--files-ttl", type=float, default=3600.0,
                    help="seconds an image written for a response_format=url answer is kept")
    sv.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    sv.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                    help="serve as Ray Serve replicas (pip install -e \".[serve,ray]\"): no ADDRESS starts a local "
                         "Ray; 'auto' or ray://HOST:PORT joins a cluster (write it as --ray=ADDRESS); docs/scale.md")
    sv.add_argument("--replicas", type=_int_in(1, 10000), default=None, metavar="N",
                    help="Ray: a fixed number of replicas (default 1), each with --workers worker processes")
    sv.add_argument("--min-replicas", type=_int_in(0, 10000), default=None, metavar="N",
                    help="Ray: autoscale from N replicas (default 1) ...")
    sv.add_argument("--max-replicas", type=_int_in(1, 10000), default=None, metavar="N",
                    help="... up to N (default --min-replicas), on the requests in flight per replica")
    sv.add_argument("--num-cpus", type=float, default=None, metavar="C",
                    help="Ray: CPUs per replica (default 1); its workers share them as torch threads")
    sv.set_defaults(func=cmd_serve)
    return p


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the CLI. Errors are one line on stderr (exit 2 for bad input, 1 for an internal error), never a
    traceback (THINKDRAW_DEBUG=1 shows it for an internal error)."""
    import os

    from thinkdraw.errors import BackendError, MissingToolError, ToolTimeoutError
    from thinkdraw.plan.pngmeta import ImageFileError

    parser = build_parser()
    try:
        a = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed as one line
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    try:
        return a.func(a)
    except (CLIError, ImageFileError, MissingToolError, ToolTimeoutError, BackendError, ValueError) as e:
        print(f"thinkdraw: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thinkdraw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"thinkdraw: error: {e.strerror or _one_line(e)}{where}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the promise is one line, never a traceback
        if os.environ.get("THINKDRAW_DEBUG"):
            raise
        print(f"thinkdraw: internal error: {type(e).__name__}: {_one_line(e)} (set THINKDRAW_DEBUG=1 to see "
              f"the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
