"""`thinkdraw eval`: a GenEval-style suite over the built-in world.

Prompts come from the world sampler's held-out split (held-out templates and category/colour
combinations), an equal share per category:

    single_object, two_object, counting, colors, position, color_attr, text, negation

Every chosen mode draws every prompt (same seed per prompt); ``sketch`` is the oracle (the world
renderer drawing the plan exactly). Each image is judged against the reference plan (the rules
planner's plan for the prompt, what think mode draws from) by ``eval.fidelity.score_image``: the world's
own machinery and Tesseract, no learned model, so it is independent of the critic that reflection uses
inside the loop. A prompt counts as correct when every one of its facts passes (GenEval's rule), identity
included (is what stands in each planned box that kind of thing? eval/identity.py); a category's score is the
share of its prompts that are correct; ``overall`` is the mean over categories. The class-agnostic verdict
(every fact but identity: a blob of the right colour in place passes) is reported beside it as
``overall_agnostic``, the headline before the identity judge met its validation bars (docs/eval.md).

Outputs in ``out``: ``results.jsonl`` (one line per prompt and mode, appended and fsynced as it goes: a
crashed, interrupted or killed run resumes where it stopped; ``--workers N`` draws in N processes), ``report.json``, ``report.md`` (table) and ``report.png``
(bar chart per category x mode, with the median latency of each mode).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from thinkdraw.engine import MODES

EVAL_CATEGORIES = ("single_object", "two_object", "counting", "colors", "position", "color_attr", "text",
                   "negation")
EVAL_MODES = (*MODES, "sketch")  # the engine's modes and the sketch oracle


def check_modes(modes: tuple[str, ...]) -> None:
    bad = [m for m in modes if m not in EVAL_MODES]
    if not modes or bad:
        raise ValueError(f"unknown modes {list(bad) or modes}; choose from {', '.join(EVAL_MODES)}")


class EvalItem(BaseModel):
    index: int
    category: str
    prompt: str
    seed: int


class EvalResult(BaseModel):
    """One prompt drawn in one mode, judged."""

    index: int
    mode: str
    category: str
    prompt: str
    correct: bool  # every fact passes, identity included (the headline verdict)
    correct_agnostic: bool | None = None  # every fact but identity passes (the class-agnostic verdict)
    facts: list[dict] = Field(default_factory=list)  # {kind, target, passed, detail}
    seconds: float
    rounds: int = 0
    timings: dict[str, float] = Field(default_factory=dict)  # the engine's per-stage seconds

    @model_validator(mode="before")
    @classmethod
    def _from_before_identity_was_headline(cls, data):
        """A results.jsonl line written before identity became the headline: its ``correct`` was the
        class-agnostic verdict and ``correct_identity`` the one with identity; read it in today's terms."""
        if isinstance(data, dict) and "correct_identity" in data and "correct_agnostic" not in data:
            data = dict(data)
            ident = data.pop("correct_identity")
            data["correct_agnostic"] = data.get("correct")
            if ident is not None:
                data["correct"] = ident
        return data


class ModeReport(BaseModel):
    overall: float  # mean over categories of the share of prompts correct, identity facts included
    by_category: dict[str, float]
    overall_agnostic: float | None = None  # the same, not counting identity facts (a blob in place passes)
    by_category_agnostic: dict[str, float] = Field(default_factory=dict)
    facts: float  # share of all facts that pass, identity facts included
    facts_by_kind: dict[str, float]
    median_latency_s: float
    mean_latency_s: float
    n: int
    redraw_rounds: int = 0  # reflect: refine rounds run over all prompts
    mean_check_s: float = 0.0  # reflect: the critic's first look, per prompt
    mean_redraw_round_s: float = 0.0  # reflect: one refine round (masked redraw + check), on average


class EvalReport(BaseModel):
    n_prompts: int
    seed: int
    modes: dict[str, ModeReport]
    scorer: str = ("eval.fidelity.score_image: world machinery + Tesseract, no learned model; identity facts "
                   "(silhouette, colour layout and sharpness against the world's own drawers, eval/identity.py) "
                   "counted in every verdict but the class-agnostic one")


def eval_items(n: int, seed: int = 0, categories: tuple[str, ...] = EVAL_CATEGORIES) -> list[EvalItem]:
    """``n`` held-out prompts, split as evenly as possible over ``categories`` (fixed by ``seed``)."""
    from thinkdraw.world.sampler import sample_spec

    if n < 1:
        raise ValueError("the eval needs at least one prompt")
    bad = [c for c in categories if c not in EVAL_CATEGORIES]
    if bad:
        raise ValueError(f"unknown eval categories {bad}; choose from {', '.join(EVAL_CATEGORIES)}")
    items: list[EvalItem] = []
    for k, cat in enumerate(categories):
        rng = random.Random(f"thinkdraw-eval/{seed}/{cat}")
        share = n // len(categories) + (1 if k < n % len(categories) else 0)
        for _ in range(share):
            items.append(EvalItem(index=len(items), category=cat, prompt=sample_spec(rng, "heldout", task=cat)[0],
                                  seed=seed * 100003 + len(items)))
    return items


def _load_done(log: Path, items: list[EvalItem]) -> dict[tuple[int, str], EvalResult]:
    """Results of an earlier run in ``log`` that belong to these prompts (a line cut by a crash is removed
    from the file, so the next line is never glued onto it)."""
    from thinkdraw.batch.journal import Journal

    done: dict[tuple[int, str], EvalResult] = {}
    for line in Journal(log).load():
        try:
            r = EvalResult.model_validate_json(line)
        except ValueError:
            continue
        if r.index < len(items) and items[r.index].prompt == r.prompt:
            done[(r.index, r.mode)] = r
    return done


def previous_results(out: str | Path, n: int, seed: int, categories: tuple[str, ...] = EVAL_CATEGORIES) -> int:
    """How many results of an earlier run in ``out`` a run with these settings would reuse."""
    return len(_load_done(Path(out) / "results.jsonl", eval_items(n, seed, categories)))


WARMUP_PROMPT = "two red apples to the left of a blue cup and a sign that says OPEN"


class EvalTask:
    """One (prompt, mode) drawn and judged, in a batch worker (``thinkdraw.batch.pool``) or a Ray actor.
    Each mode is warmed up ``warmup`` times in each worker before its first timed image."""

    def __init__(self, engine=None, weights: str | None = None, warmup: int = 2, save_images: int = 0,
                 out: str | None = None, backends=None) -> None:
        self.engine, self.weights, self.warmup, self.backends = engine, weights, warmup, backends
        self.save_images, self.out = save_images, out
        self.warm: set[str] = set()

    def setup(self) -> None:
        pass  # the engine is built on the first engine mode: a sketch-only eval never loads a model

    def __call__(self, job: tuple[EvalItem, str]) -> EvalResult:
        from thinkdraw.eval.fidelity import score_image
        from thinkdraw.think import plan_prompt
        from thinkdraw.world.render import render_scene

        it, mode = job
        if mode != "sketch" and mode not in self.warm:
            if self.engine is None:
                from thinkdraw.engine import Engine

                self.engine = (Engine(weights=self.weights) if self.backends is None else
                               Engine.from_settings(self.backends, weights=self.weights))
            for w in range(self.warmup):
                self.engine.generate(WARMUP_PROMPT, seed=w, mode=mode)
            self.warm.add(mode)
        _, plan = plan_prompt(it.prompt, seed=it.seed)  # the reference plan
        t = time.perf_counter()
        rounds, timings = 0, {}
        if mode == "sketch":
            img = render_scene(plan, seed=it.seed).image
        else:
            res = self.engine.generate(it.prompt, seed=it.seed, mode=mode)
            img, rounds, timings = res.image, len(res.rounds), res.timings
        secs = time.perf_counter() - t
        fid = score_image(img, plan, identity=True)
        if self.save_images and it.index < self.save_images and self.out:
            from thinkdraw.plan.pngmeta import write_image

            write_image(img, Path(self.out) / "images" / f"{mode}-{it.index:03d}.png", plan, prompt=it.prompt,
                        seed=it.seed, mode=mode)
        return EvalResult(index=it.index, mode=mode, category=it.category, prompt=it.prompt,
                          correct=bool(fid.all_passed),
                          correct_agnostic=all(x.passed for x in fid.facts if x.kind != "identity"),
                          seconds=secs, rounds=rounds,
                          timings={k: round(v, 5) for k, v in timings.items()},
                          facts=[{"kind": x.kind, "target": x.target, "passed": bool(x.passed), "detail": x.detail}
                                 for x in fid.facts])


def run_eval(out: str | Path, modes: tuple[str, ...] = ("direct", "think", "reflect", "sketch"), n: int = 300,
             seed: int = 0, engine=None, progress: Callable[[str, int, int], None] | None = None,
             categories: tuple[str, ...] = EVAL_CATEGORIES, save_images: int = 0,
             weights: str | None = None, warmup: int = 2, workers: int = 1, threads: int = 1,
             ray: dict | None = None, backends=None) -> EvalReport:
    """Run the suite; returns the report and writes results.jsonl, report.json/.md/.png into ``out``.

    Each mode is run ``warmup`` times on a fixed prompt before its first timed image (not scored, not
    timed): the first call of a process pays for lazy loading and allocator warm-up (measured: one image
    of ~1 s among 300 of ~0.17 s moved a mean by 6x).

    The batch machinery runs it (``thinkdraw.batch``): ``workers`` processes (or Ray actors with ``ray``,
    see ``thinkdraw.batch.ray_backend.run_ray``), each with its own engine and ``threads`` torch threads; a
    result line is on disk (flushed, fsynced) as soon as its image is judged, so a killed run resumes
    where it stopped. The report is the same for any worker count: every image depends on its prompt, seed
    and mode only (and ``threads``), and the report is summarised in prompt order.

    ``backends``: resolved settings (``thinkdraw.config.resolve``: the CLI's --planner, --renderer, --critic,
    --model, ...) each worker builds its engine from (``Engine.from_settings``); default: the rules planner,
    the builtin renderer and critic. Their names are kept in ``out/backends.json``: results drawn with other
    backends are never reused (ValueError; start over with another ``out`` or without results.jsonl)."""
    from thinkdraw.batch.journal import Journal
    from thinkdraw.eval.fidelity import require_tesseract

    check_modes(modes)
    items = eval_items(n, seed, categories)
    if "text" in categories:
        require_tesseract()  # the judge reads text with Tesseract: say so now, not after an hour
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if save_images:
        (out / "images").mkdir(exist_ok=True)
    log = out / "results.jsonl"
    _check_backends(out, backends, log)
    done = _load_done(log, items)
    todo = [(it, mode) for mode in modes for it in items if (it.index, mode) not in done]
    counts = {m: sum(1 for it in items if (it.index, m) in done) for m in modes}
    if progress is not None:
        for m in modes:
            if counts[m]:
                progress(m, counts[m], len(items))
    task = EvalTask(engine=engine, weights=weights, warmup=warmup, save_images=save_images, out=str(out),
                    backends=backends)
    with Journal(log) as journal:
        def commit(job: tuple[EvalItem, str], r: EvalResult) -> None:
            journal.append(r.model_dump_json())
            done[(r.index, r.mode)] = r
            counts[r.mode] += 1
            if progress is not None:
                progress(r.mode, counts[r.mode], len(items))

        if ray is not None:
            from thinkdraw.batch.ray_backend import run_ray

            run_ray(task, todo, commit, threads=threads, **ray)
        else:
            from thinkdraw.batch.pool import run_local

            run_local(task, todo, commit, workers=workers, threads=threads)
    report = summarise([done[(it.index, m)] for m in modes for it in items], n, seed, modes, categories)
    write_report(report, out, categories)
    return report


def backend_names(backends) -> dict:
    """What an eval's images were drawn with (no endpoint, no key): planner, renderer, critic, model names."""
    if backends is None:
        return {"planner": "rules", "renderer": "builtin", "critic": "builtin"}
    d = {"planner": backends.planner, "renderer": backends.renderer, "critic": backends.critic}
    if backends.planner == "llm":
        d["llm_model"] = backends.llm.model
    if backends.critic == "vlm":
        d["vlm_model"] = backends.vlm.model
    if backends.renderer == "diffusers":
        d["model"] = str(backends.diffusers.get("model"))
    return d


def _check_backends(out: Path, backends, log: Path) -> None:
    f = out / "backends.json"
    want = backend_names(backends)
    old = None
    if f.is_file():
        try:
            old = json.loads(f.read_text())
        except ValueError:
            old = None
    elif log.is_file():
        old = backend_names(None)  # a folder from before backends.json: the defaults drew it
    if old is not None and old != want and log.is_file() and log.stat().st_size:
        diff = ", ".join(f"{k} {old.get(k)!r} -> {want.get(k)!r}" for k in sorted(set(old) | set(want))
                         if old.get(k) != want.get(k))
        raise ValueError(f"{out} holds eval results drawn with other backends ({diff}); pass --fresh to start "
                         f"over, or use another --out")
    tmp = f.with_name(".backends.json.tmp")
    tmp.write_text(json.dumps(want, indent=2) + "\n")
    tmp.replace(f)


def summarise(results: list[EvalResult], n: int, seed: int, modes, categories) -> EvalReport:
    reports = {}
    for mode in modes:
        rs = [r for r in results if r.mode == mode]
        by_cat = {c: [r.correct for r in rs if r.category == c] for c in categories}
        by_cat_score = {c: sum(v) / len(v) for c, v in by_cat.items() if v}
        by_cat_ag = {c: [r.correct_agnostic for r in rs if r.category == c and r.correct_agnostic is not None]
                     for c in categories}
        by_cat_ag_score = {c: sum(v) / len(v) for c, v in by_cat_ag.items() if v}
        facts = [x for r in rs for x in r.facts]
        kinds = sorted({x["kind"] for x in facts})
        secs = [r.seconds for r in rs]
        refine = [v for r in rs for k, v in r.timings.items() if k.startswith("refine_")]
        checks = [r.timings["reflect"] for r in rs if "reflect" in r.timings]
        reports[mode] = ModeReport(
            overall=sum(by_cat_score.values()) / max(1, len(by_cat_score)), by_category=by_cat_score,
            overall_agnostic=(sum(by_cat_ag_score.values()) / len(by_cat_ag_score)) if by_cat_ag_score else None,
            by_category_agnostic=by_cat_ag_score,
            facts=sum(x["passed"] for x in facts) / max(1, len(facts)),
            facts_by_kind={k: sum(x["passed"] for x in facts if x["kind"] == k) /
                           sum(1 for x in facts if x["kind"] == k) for k in kinds},
            median_latency_s=statistics.median(secs) if secs else 0.0,
            mean_latency_s=statistics.fmean(secs) if secs else 0.0, n=len(rs), redraw_rounds=len(refine),
            mean_check_s=statistics.fmean(checks) if checks else 0.0,
            mean_redraw_round_s=statistics.fmean(refine) if refine else 0.0)
    return EvalReport(n_prompts=n, seed=seed, modes=reports)


def markdown(report: EvalReport, categories=EVAL_CATEGORIES) -> str:
    modes = list(report.modes)
    lines = [f"thinkdraw eval: {report.n_prompts} held-out prompts, seed {report.seed}; scorer: {report.scorer}", "",
             "Rows per category and **overall**: prompts fully right, every fact passing, identity included (is "
             "each planned thing recognisably its kind? docs/eval.md). **class-agnostic**: the same prompts not "
             "counting identity (a blob of the right colour in place passes), the headline before issue 11.",
             "",
             "| category | " + " | ".join(modes) + " |", "|---|" + "---:|" * len(modes)]
    for c in categories:
        lines.append(f"| {c} | " + " | ".join(_cell(report.modes[m].by_category.get(c)) for m in modes) + " |")
    lines.append("| **overall** | " + " | ".join(f"**{report.modes[m].overall:.3f}**" for m in modes) + " |")
    lines.append("| class-agnostic | " + " | ".join(_cell(report.modes[m].overall_agnostic) for m in modes) + " |")
    lines.append("| facts | " + " | ".join(f"{report.modes[m].facts:.3f}" for m in modes) + " |")
    lines.append("| identity facts | " + " | ".join(_cell(report.modes[m].facts_by_kind.get("identity"))
                                                    for m in modes) + " |")
    lines.append("| median latency | " + " | ".join(f"{1000 * report.modes[m].median_latency_s:.0f} ms"
                                                    for m in modes) + " |")
    lines.append("| mean latency | " + " | ".join(f"{1000 * report.modes[m].mean_latency_s:.0f} ms"
                                                  for m in modes) + " |")
    if "reflect" in report.modes and "think" in report.modes:
        r, t = report.modes["reflect"], report.modes["think"]
        lines += ["", f"reflect cost: critic check {1000 * r.mean_check_s:.0f} ms per image; "
                      f"{r.redraw_rounds} redraw rounds over {r.n} prompts, {1000 * r.mean_redraw_round_s:.0f} ms each "
                      f"({r.mean_redraw_round_s / max(t.median_latency_s, 1e-9):.0%} of think's median latency); "
                      f"reflect's latency over think's: median {_rel(r.median_latency_s, t.median_latency_s)}, "
                      f"mean {_rel(r.mean_latency_s, t.mean_latency_s)}"]
    if any(c not in report.modes[m].by_category for m in modes for c in categories):
        lines += ["", "- : no prompt of that category in this run (raise --n to cover every category)"]
    return "\n".join(lines) + "\n"


def _cell(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _rel(a: float, b: float) -> str:
    return f"{a / b - 1:+.0%}" if b > 0 else "n/a"


COLORS = {"direct": (150, 150, 150), "think": (66, 133, 244), "reflect": (219, 68, 55),
          "interleaved": (244, 180, 0), "sketch": (15, 157, 88)}


def chart_frame(W: int, H: int, left: int, top: int, bottom: int):
    """A white PIL canvas with the 0..1 grid of a bar chart: (image, draw, font, plot height)."""
    from PIL import Image, ImageDraw

    from thinkdraw.world.font import load_font

    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = load_font(12)
    ph = H - top - bottom
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + ph * (1 - v)
        d.line([(left, y), (W - 10, y)], fill=(225, 225, 225))
        d.text((8, y - 7), f"{v:.2f}", fill="black", font=font)
    return img, d, font, ph


def bar_chart(report: EvalReport, path: Path, categories=EVAL_CATEGORIES) -> None:
    """Grouped bars per category x mode (PIL only), legend with each mode's median latency."""
    modes = list(report.modes)
    cats = [*categories, "overall"]
    W, H, left, top, bottom = 120 + 110 * len(cats), 420, 50, 60, 70
    img, d, font, ph = chart_frame(W, H, left, top, bottom)
    gw = (W - left - 10) / len(cats)
    bw = gw * 0.8 / max(1, len(modes))
    for i, c in enumerate(cats):
        x = left + i * gw + gw * 0.1
        for j, m in enumerate(modes):
            v = report.modes[m].overall if c == "overall" else report.modes[m].by_category.get(c, 0.0)
            d.rectangle([x + j * bw, top + ph * (1 - v), x + (j + 1) * bw - 2, top + ph],
                        fill=COLORS.get(m, (100, 100, 100)))
        d.text((left + i * gw + 4, top + ph + 6), c.replace("_", " "), fill="black", font=font)
    lx = left
    for m in modes:
        d.rectangle([lx, 20, lx + 14, 34], fill=COLORS.get(m, (100, 100, 100)))
        label = f"{m} ({1000 * report.modes[m].median_latency_s:.0f} ms)"
        d.text((lx + 20, 20), label, fill="black", font=font)
        lx += 40 + int(d.textlength(label, font=font))
    d.text((left, H - 28), f"share of prompts fully correct (identity included), {report.n_prompts} held-out prompts; "
                           f"median latency per image in the legend", fill=(80, 80, 80), font=font)
    img.save(path)


def write_report(report: EvalReport, out: Path, categories=EVAL_CATEGORIES) -> None:
    (out / "report.json").write_text(report.model_dump_json(indent=2))
    (out / "report.md").write_text(markdown(report, categories))
    bar_chart(report, out / "report.png", categories)
