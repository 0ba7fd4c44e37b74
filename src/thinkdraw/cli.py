"""The ``thinkdraw`` command line.

    thinkdraw plan PROMPT [--json] [--seed N]           reasoning + plan summary (or JSON)
    thinkdraw plan --batch FILE [-o OUT]                one prompt per line -> one JSON object per line
    thinkdraw generate PROMPT -o out.png [--mode M]     think, draw, reflect (default); the PNG carries its plan
    thinkdraw eval [--n 300] [--modes ...] [--out DIR]  GenEval-style suite: JSON, Markdown table, bar chart
    thinkdraw inspect out.png [--json]                  print what a thinkdraw PNG carries
    thinkdraw world sample --n N --out DIR              write a sharded dataset of the built-in world
    thinkdraw schema                                    the ScenePlan JSON schema

Bad input gets one clear line on stderr and exit code 2, never a traceback.
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
    """A progress printer on stderr when it is a terminal; silent otherwise."""
    tty = sys.stderr.isatty()
    start = time.perf_counter()

    def cb(done: int, total: int) -> None:
        if not tty:
            return
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        rate = done / max(time.perf_counter() - start, 1e-9)
        sys.stderr.write(f"\r{label} [{bar:<30}] {done}/{total} ({rate:.1f}/s)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return cb


def _plan_json(prompt: str, seed: int) -> dict:
    from thinkdraw.plan.schema import PlanOutput
    from thinkdraw.think import get_planner

    reasoning, plan = get_planner("rules").plan(prompt, seed=seed)
    return PlanOutput(prompt=prompt, reasoning=reasoning.steps, plan=plan).model_dump(mode="json")


def cmd_plan(a: argparse.Namespace) -> int:
    from thinkdraw.think import PlanningError, get_planner

    if a.batch:
        src = Path(a.batch)
        if not src.is_file():
            raise CLIError(f"cannot read batch file {src}: no such file")
        try:
            prompts = src.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise CLIError(f"cannot read batch file {src}: {e}") from e
        prompts = [p for p in prompts if p.strip()]
        out = open(a.output, "w", encoding="utf-8") if a.output else sys.stdout
        cb = _progress("planning")
        errors = 0
        try:
            for k, p in enumerate(prompts):
                try:
                    obj = _plan_json(p, a.seed)
                except PlanningError as e:
                    obj = {"prompt": p, "error": str(e)}
                    errors += 1
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
                if (k + 1) % 50 == 0 or k + 1 == len(prompts):
                    cb(k + 1, len(prompts))
        finally:
            if out is not sys.stdout:
                out.close()
        if errors:
            print(f"thinkdraw: {errors} of {len(prompts)} prompts could not be planned (see their 'error')",
                  file=sys.stderr)
        return 0
    if a.prompt is None:
        raise CLIError("plan needs a PROMPT (or --batch FILE)")
    try:
        reasoning, plan = get_planner("rules").plan(a.prompt, seed=a.seed)
    except PlanningError as e:
        raise CLIError(str(e)) from e
    if a.json:
        from thinkdraw.plan.schema import PlanOutput

        print(PlanOutput(prompt=a.prompt, reasoning=reasoning.steps, plan=plan).model_dump_json(indent=2))
        return 0
    print(reasoning.render())
    print()
    print(_summary(plan))
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


def cmd_generate(a: argparse.Namespace) -> int:
    from thinkdraw.draw.base import UnknownBackendError, get_renderer
    from thinkdraw.models.weights import WeightsError
    from thinkdraw.plan.pngmeta import save_png
    from thinkdraw.plan.schema import Reasoning, ScenePlan
    from thinkdraw.think import PlanningError, get_planner

    if not a.prompt or not a.prompt.strip():
        raise CLIError("generate needs a non-empty PROMPT")
    try:
        renderer = get_renderer(a.renderer)
    except (UnknownBackendError, WeightsError) as e:
        raise CLIError(str(e)) from e
    t0 = time.perf_counter()
    if a.mode != "direct":
        try:
            reasoning, plan = get_planner("rules").plan(a.prompt, seed=a.seed)
        except PlanningError as e:
            raise CLIError(str(e)) from e
    else:
        reasoning, plan = Reasoning(), ScenePlan(prompt=" ".join(a.prompt.split()))
    if a.size:
        if renderer.name != "sketch":
            raise CLIError(f"--size is for the sketch renderer; {renderer.name} draws {plan.canvas.width} px")
        plan.canvas.width = plan.canvas.height = a.size
    t1 = time.perf_counter()
    from thinkdraw.engine import Engine

    try:
        result = Engine(renderer=renderer, max_rounds=a.rounds, bands=a.bands).render(
            plan, reasoning, seed=a.seed, mode=a.mode, progress=_progress(f"drawing ({renderer.name}, {a.mode})"))
    except WeightsError as e:
        raise CLIError(str(e)) from e
    if not a.quiet:
        for k, r in enumerate(result.rounds):
            label = r.label or f"round {k}"
            print(f"{label}: score {r.critique.score:.2f}: {r.critique.reflection}", file=sys.stderr)
    t2 = time.perf_counter()
    out = save_png(result.image, a.output, plan, seed=a.seed, renderer=renderer.name, mode=a.mode,
                   reasoning=[s.model_dump() for s in reasoning.steps], thinkdraw=__version__,
                   timings={k: round(v, 4) for k, v in result.timings.items()},
                   rounds=[{"label": r.label, "score": r.critique.score, "reflection": r.critique.reflection,
                            "prompt": r.prompt} for r in result.rounds])
    if not a.quiet:
        for w in plan.warnings:
            print(f"warning: {w}", file=sys.stderr)
        print(f"wrote {out} ({result.image.width}x{result.image.height}, renderer {renderer.name}, mode {a.mode}, "
              f"plan {1000 * (t1 - t0):.0f} ms, draw {1000 * (t2 - t1):.0f} ms)")
        if a.verbose:
            print(reasoning.render())
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    if a.model == "tokenizer":
        from thinkdraw.train import tokenizer as mod
    elif a.model == "critic":
        from thinkdraw.train import critic as mod
    elif a.model == "verifier":
        from thinkdraw.train import verifier as mod
    elif a.model == "reader":
        from thinkdraw.train import reader as mod
    else:
        from thinkdraw.train import generator as mod
    p = argparse.ArgumentParser(prog=f"thinkdraw train {a.model}")
    mod.add_args(p)
    path = mod.main(p.parse_args(a.rest))
    print(f"wrote {path}")
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    from thinkdraw.plan.pngmeta import read_png_meta

    try:
        meta = read_png_meta(a.image)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from e
    plan = meta.pop("plan")
    if a.json:
        print(json.dumps({**meta, "plan": plan.model_dump(mode="json")}, indent=2, ensure_ascii=False))
        return 0
    print(f"prompt:   {meta.get('prompt')}")
    for k in ("seed", "renderer", "mode", "thinkdraw"):
        if k in meta:
            print(f"{k + ':':<9} {meta[k]}")
    print(_summary(plan))
    return 0


def cmd_world_sample(a: argparse.Namespace) -> int:
    from thinkdraw.world.dataset import write_dataset

    if a.n <= 0:
        raise CLIError("--n must be a positive number of samples")
    t0 = time.perf_counter()
    path = write_dataset(a.out, a.n, split=a.split, seed=a.seed, size=a.size, shard_size=a.shard_size,
                         workers=a.workers, progress=_progress("sampling"))
    print(f"wrote {a.n} {a.split} samples to {path} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from thinkdraw.eval.suite import EVAL_CATEGORIES, markdown, run_eval
    from thinkdraw.models.weights import WeightsError

    modes = tuple(m.strip() for m in a.modes.split(",") if m.strip())
    cats = tuple(c.strip() for c in a.categories.split(",")) if a.categories else EVAL_CATEGORIES
    if a.n < 1:
        raise CLIError("--n must be at least 1")
    out = Path(a.out)
    if a.fresh and (out / "results.jsonl").is_file():
        (out / "results.jsonl").unlink()
    bars = {}

    def progress(mode: str, done: int, total: int) -> None:
        bars.setdefault(mode, _progress(f"eval {mode:>11}"))(done, total)

    try:
        report = run_eval(out, modes=modes, n=a.n, seed=a.seed, progress=progress, categories=cats,
                          save_images=a.save_images)
    except WeightsError as e:
        raise CLIError(str(e)) from e
    print(markdown(report, cats))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
    return 0


def cmd_schema(a: argparse.Namespace) -> int:
    from thinkdraw.plan.schema import ScenePlan

    print(json.dumps(ScenePlan.model_json_schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="thinkdraw", description="Reasoning-first image generation: think, plan, draw.")
    p.add_argument("--version", action="version", version=f"thinkdraw {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("plan", help="think: print the reasoning and the scene plan for a prompt")
    sp.add_argument("prompt", nargs="?")
    sp.add_argument("--json", action="store_true", help="print {prompt, reasoning, plan} as JSON")
    sp.add_argument("--batch", metavar="FILE", help="one prompt per line; writes one JSON object per line")
    sp.add_argument("-o", "--output", help="with --batch: write JSON lines here instead of stdout")
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_plan)

    sg = sub.add_parser("generate", help="think, then draw: write a PNG that carries its plan")
    sg.add_argument("prompt")
    sg.add_argument("-o", "--output", default="out.png")
    sg.add_argument("--renderer", default="builtin",
                    help="renderer backend: builtin (the bundled model, default) or sketch (exact plan raster)")
    sg.add_argument("--mode", choices=["direct", "think", "reflect", "interleaved"], default="reflect",
                    help="reflect (default): think, draw, let the critic check the image against the plan and "
                         "redraw only the failed regions; think: plan, then draw once; direct: draw from the "
                         "prompt alone; interleaved: draw band by band with a sub-prompt before and a critic "
                         "score after each band")
    sg.add_argument("--rounds", type=int, default=2, help="reflect: at most this many redraw rounds (default 2)")
    sg.add_argument("--bands", type=int, default=3, help="interleaved: number of horizontal bands (default 3)")
    sg.add_argument("-v", "--verbose", action="store_true", help="print the reasoning, reflections included")
    sg.add_argument("--seed", type=int, default=0)
    sg.add_argument("--size", type=int, default=None, help="square canvas size in pixels (default 256)")
    sg.add_argument("-q", "--quiet", action="store_true")
    sg.set_defaults(func=cmd_generate)

    si = sub.add_parser("inspect", help="print the plan, prompt and seed a thinkdraw PNG carries")
    si.add_argument("image")
    si.add_argument("--json", action="store_true")
    si.set_defaults(func=cmd_inspect)

    sw = sub.add_parser("world", help="the built-in world")
    wsub = sw.add_subparsers(dest="world_cmd", required=True)
    ws = wsub.add_parser("sample", help="write a sharded dataset of (prompt, plan, image, masks)")
    ws.add_argument("--n", type=int, required=True)
    ws.add_argument("--out", required=True)
    ws.add_argument("--split", choices=["train", "heldout"], default="train")
    ws.add_argument("--seed", type=int, default=0)
    ws.add_argument("--size", type=int, default=256)
    ws.add_argument("--shard-size", type=int, default=256)
    ws.add_argument("--workers", type=int, default=1)
    ws.set_defaults(func=cmd_world_sample)

    st = sub.add_parser("train", help="train a bundled model: tokenizer, then generator (see docs/models.md)",
                        add_help=False)
    st.add_argument("model", choices=["tokenizer", "generator", "critic", "verifier", "reader"])
    st.add_argument("rest", nargs=argparse.REMAINDER)
    st.set_defaults(func=cmd_train)

    se = sub.add_parser("eval", help="GenEval-style suite over held-out world prompts: JSON, Markdown, bar chart")
    se.add_argument("--out", default="eval-out", help="folder for results.jsonl, report.json/.md/.png")
    se.add_argument("--n", type=int, default=300, help="prompts, split evenly over the categories (default 300)")
    se.add_argument("--modes", default="direct,think,reflect,sketch",
                    help="comma-separated: direct, think, reflect, interleaved, sketch (the oracle)")
    se.add_argument("--categories", default=None, help="comma-separated subset of the categories (default all)")
    se.add_argument("--seed", type=int, default=0)
    se.add_argument("--save-images", type=int, default=0, metavar="K", help="keep the first K images per mode")
    se.add_argument("--fresh", action="store_true", help="ignore results.jsonl from an earlier run in --out")
    se.set_defaults(func=cmd_eval)

    sc = sub.add_parser("schema", help="print the ScenePlan JSON schema")
    sc.set_defaults(func=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return a.func(a)
    except CLIError as e:
        print(f"thinkdraw: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as e:
        print(f"thinkdraw: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thinkdraw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
