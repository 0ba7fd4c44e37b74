"""The loop: Engine(planner, renderer).generate(prompt) -> think, then draw; timings per stage.

    from thinkdraw import Engine
    r = Engine().generate("two red apples left of a blue cup", seed=0, mode="think")
    r.image.save("out.png"); print(r.reasoning.render()); print(r.timings)

Modes:
  ``direct``       draw from the prompt alone (no plan): the baseline
  ``think``        plan, then draw from the plan
  ``reflect``      (default) think, then the critic checks the image against the plan; the failed checks'
                   regions become a mask and only they are redrawn (everything else kept bit for bit),
                   then the critic checks again; at most ``max_rounds`` rounds, stopping early when every
                   check passes or when a round did not raise the score (IRG: more rounds than help
                   degrade); the best-scoring round wins; every round is kept with its critique
  ``interleaved``  thinking while generating (TwiG): the canvas is drawn band by band (``bands``, top to
                   bottom); before each band a local sub-prompt is written from the plan, after it the
                   critic scores that band's facts; a band under ``band_threshold`` is redrawn once
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from thinkdraw.draw.base import Renderer, get_renderer, refine_steps_of
from thinkdraw.pixels import boxes_mask
from thinkdraw.plan.schema import Critique, EditPlan, Reasoning, ScenePlan
from thinkdraw.reflect.base import Critic, get_critic
from thinkdraw.reflect.refine import critique_to_edit, describe
from thinkdraw.think.base import Planner, get_planner

MODES = ("direct", "think", "reflect", "interleaved")
DEFAULT_MODE = "reflect"
MIN_SIZE, MAX_SIZE = 32, 2048  # canvas sizes a renderer that draws any size is asked for


@dataclass
class Round:
    image: Image.Image
    critique: Critique
    seconds: float
    label: str = ""  # "draw", "refine 1", "band 1/3", "band 1/3 redraw"...
    prompt: str = ""  # interleaved: the band's sub-prompt
    edit: EditPlan | None = None  # reflect: the EditPlan (operations + mask) this round carried out


@dataclass
class GenerateResult:
    prompt: str
    image: Image.Image
    plan: ScenePlan
    reasoning: Reasoning
    mode: str
    seed: int
    renderer: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, and "total"
    rounds: list[Round] = field(default_factory=list)  # reflect: round 0 is the first drawing; interleaved: bands

    kept: int | None = None  # reflect: the index in ``rounds`` of the round whose image was kept

    @property
    def kept_round(self) -> Round | None:
        """The round whose image is the result (reflect), or None."""
        return self.rounds[self.kept] if self.kept is not None and self.rounds else None

    def metadata(self) -> dict:
        """What the image file carries beside its plan: prompt, seed, backend, reasoning, rounds, timings."""
        from thinkdraw import __version__

        meta = {"seed": self.seed, "renderer": self.renderer, "mode": self.mode, "thinkdraw": __version__,
                "reasoning": [s.model_dump() for s in self.reasoning.steps],
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                # a hash of the pixels: an edit tells an untouched image from one another program changed
                "pixels": _pixel_hash(self.image)}
        if self.rounds:
            meta["rounds"] = [{"label": r.label, "score": r.critique.score, "reflection": r.critique.reflection,
                               "prompt": r.prompt} for r in self.rounds]
        if self.kept is not None:
            meta["kept"] = self.kept
        return meta

    def save(self, path: str, overwrite: bool = True) -> str:
        """Write the image with its plan and metadata (PNG, JPEG or WebP by suffix; ``"-"``: PNG to stdout).
        ``overwrite=False`` refuses an existing file. Returns the path written."""
        from thinkdraw.plan.pngmeta import write_image

        return write_image(self.image, path, self.plan, overwrite=overwrite, **self.metadata())[0]


@dataclass
class EditResult(GenerateResult):
    """What ``Engine.edit`` returns: generate's shape (image, plan after the edit, reasoning, rounds, timings)
    plus the edit plan (operations and mask). ``ok`` False: the instruction was refused (``message`` says
    why, ``kind`` is not_found / ambiguous / not_understood / impossible) and ``image`` is the input."""

    edit: EditPlan | None = None
    ok: bool = True
    message: str = ""
    kind: str = ""
    source_plan: ScenePlan | None = None
    described: bool = False  # the source plan was recovered from the pixels (thinkdraw describe)
    focus: list[str] = field(default_factory=list)  # what "it"/"them" mean in the next instruction
    changed: np.ndarray | None = None  # HxW bool: the pixels the edit was allowed to redraw
    source_hash: str = ""

    def metadata(self) -> dict:
        meta = super().metadata()
        meta["instruction"] = self.prompt
        meta["focus"] = self.focus
        meta["parent"] = self.source_hash
        if self.edit is not None:
            meta["edit"] = {"operations": [o.model_dump(mode="json") for o in self.edit.operations],
                            "mask": [list(b) for b in self.edit.mask]}
        return meta


@dataclass
class ComposeResult(EditResult):
    """What ``Engine.edit`` returns for several images (``Engine.compose``): an EditResult plus which image was
    kept whole as the base (``base``, 0-based; None: drawn anew, no source's pixels kept), where the background
    came from, and which source each taken thing came from (``taken``: new id -> (image, id there))."""

    base: int | None = None
    background_from: int | None = None
    taken: dict = field(default_factory=dict)
    source_hashes: list[str] = field(default_factory=list)

    def metadata(self) -> dict:
        meta = super().metadata()
        meta["sources"] = self.source_hashes
        meta["base"] = self.base
        meta["taken"] = {k: [i + 1, s] for k, (i, s) in self.taken.items()}
        return meta


@dataclass
class DescribeResult:
    plan: ScenePlan
    reasoning: Reasoning
    seconds: float = 0.0


def _pixel_hash(image: Image.Image) -> str:
    from thinkdraw.edit.source import pixel_hash

    return pixel_hash(image)

class Engine:
    def __init__(self, planner: str | Planner = "rules", renderer: str | Renderer = "builtin",
                 critic: str | Critic = "builtin", max_rounds: int = 2, bands: int = 3, band_threshold: float = 0.99,
                 refine_steps: int | None = None, weights: str | None = None, edit_parser=None) -> None:
        """``refine_steps``: sampling steps of a reflect round's redraw; None (default): what the renderer says it
        needs (``Renderer.refine_steps``: 4 for builtin, 10 for diffusers; a renderer that says none draws its
        default steps). ``weights``: a weights folder for the models it holds (else ``$THINKDRAW_WEIGHTS``, else the bundled
        ones; see models/weights.py). ``edit_parser``: reads edit instructions, ``(instruction, plan) ->
        intents`` (default: the rules; an LLM: ``thinkdraw.edit.llm_instruct.LLMInstructionParser``)."""
        self.edit_parser = edit_parser
        if max_rounds < 0 or bands < 1:
            raise ValueError("max_rounds must be >= 0 and bands >= 1")
        self.weights = weights
        self.planner = get_planner(planner) if isinstance(planner, str) else planner
        self.renderer = get_renderer(renderer, weights=weights) if isinstance(renderer, str) else renderer
        self._critic: Critic | None = None if isinstance(critic, str) else critic
        self._critic_name = critic if isinstance(critic, str) else getattr(critic, "name", type(critic).__name__)
        self.max_rounds = max_rounds
        self.bands, self.band_threshold = bands, band_threshold
        if refine_steps is not None and (not isinstance(refine_steps, int) or refine_steps < 1):
            raise ValueError(f"refine_steps must be a whole number >= 1 or None, not {refine_steps!r}")
        self.refine_steps = refine_steps

    def refine_step_count(self) -> int | None:
        """The steps a refine round asks the renderer in use for: ``refine_steps`` given to the Engine, else the
        renderer's own ``refine_steps`` (None: its default steps)."""
        return self.refine_steps if self.refine_steps is not None else refine_steps_of(self.renderer)

    @classmethod
    def from_settings(cls, settings=None, renderer: str | Renderer | None = None, **kw) -> Engine:
        """The engine that resolved settings name (``thinkdraw.config.resolve``: flags over environment over the
        config file; default: the environment and the file): their planner (llm: with its endpoint and
        fallback), renderer (diffusers: with the ``[diffusers]`` table and its model) and critic (vlm: with
        its endpoint). Every front end builds its engine here (generate, edit, session, chat, batch, eval,
        serve). ``renderer``: another renderer name (built with the same settings) or object; ``kw``: the
        Engine's other arguments (max_rounds, bands, weights, ...)."""
        from thinkdraw.reflect.base import critic_from_settings
        from thinkdraw.think.base import planner_from_settings

        if settings is None:
            from thinkdraw.config import resolve

            settings = resolve()
        from thinkdraw.draw.base import renderer_from_settings

        if renderer is None or isinstance(renderer, str):
            renderer = renderer_from_settings(settings, renderer, weights=kw.get("weights"))
        return cls(planner=planner_from_settings(settings), renderer=renderer, critic=critic_from_settings(settings),
                   **kw)

    @property
    def critic(self) -> Critic:
        """The critic, built on first use (think and direct modes never load it)."""
        if self._critic is None:
            self._critic = get_critic(self._critic_name, weights=self.weights)
        return self._critic

    def generate(self, prompt: str, seed: int = 0, mode: str = DEFAULT_MODE,
                 progress: Callable[[int, int], None] | None = None, size: int | None = None) -> GenerateResult:
        """Think (unless ``mode="direct"``), draw, and in reflect mode check and redraw what failed.
        ``size``: a square canvas in pixels, for renderers that draw any size (the builtin one draws 256)."""
        check_mode(mode)
        if not prompt or not prompt.strip():
            raise ValueError("empty prompt: say what to draw")
        t0 = time.perf_counter()
        if mode != "direct":
            reasoning, plan = self.planner.plan(prompt, seed=seed)
        else:
            reasoning, plan = Reasoning(), ScenePlan(prompt=" ".join(prompt.split()))
        size = size if size is not None else getattr(self.renderer, "default_size", None)  # diffusers: the model's
        if size is not None:
            self._set_size(plan, size)
        r = self.render(plan, reasoning, seed=seed, mode=mode, progress=progress)
        r.prompt = prompt
        r.timings = {"plan": time.perf_counter() - t0 - r.timings["total"], **r.timings}
        r.timings["total"] = time.perf_counter() - t0
        return r

    def render(self, plan: ScenePlan, reasoning: Reasoning, seed: int = 0, mode: str = DEFAULT_MODE,
               progress: Callable[[int, int], None] | None = None) -> GenerateResult:
        """Draw a plan that is already made (any mode but direct), e.g. one edited by hand."""
        check_mode(mode)
        t1 = time.perf_counter()
        timings: dict[str, float] = {}
        kept = None
        if mode == "interleaved":
            image, rounds = self._interleaved(plan, reasoning, seed, timings, progress)
        else:
            out = self.renderer.draw(plan, seed=seed, progress=progress,
                                     mode="direct" if mode == "direct" else "think")
            timings["draw"] = time.perf_counter() - t1
            image, rounds = out.image, []
        if mode == "reflect":
            image, rounds, kept = self._reflect(plan, reasoning, image, seed, timings)
        timings["total"] = time.perf_counter() - t1
        return GenerateResult(prompt=plan.prompt, image=image, plan=plan, reasoning=reasoning, mode=mode, seed=seed,
                              renderer=self.renderer.name, timings=timings, rounds=rounds, kept=kept)

    def _set_size(self, plan: ScenePlan, size: int) -> None:
        sizes = getattr(self.renderer, "sizes", None)  # the canvas sizes a renderer draws (None: any)
        if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"size must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, not {size!r}")
        if sizes is not None and size not in sizes:
            raise ValueError(f"the {self.renderer.name} renderer draws {', '.join(map(str, sizes))} px canvases, "
                             f"not {size}; the sketch renderer draws any size")
        plan.canvas.width = plan.canvas.height = size

    def _draw_region(self, plan: ScenePlan, reasoning: Reasoning, seed: int, mode: str, region: np.ndarray | None,
                     init: Image.Image | None, timings: dict[str, float], progress=None):
        """Draw ``plan`` (only inside ``region`` of ``init`` when both are given, else the whole canvas), time
        it, and in reflect mode check it and redraw only inside that region: (image, region, rounds, kept)."""
        t = time.perf_counter()
        if region is None or init is None:
            region = np.ones((plan.canvas.height, plan.canvas.width), bool)
            img = self.renderer.draw(plan, seed=seed, progress=progress).image
        else:
            img = self.renderer.draw(plan, seed=seed, mask=region, init=init, progress=progress).image
        timings["draw"] = time.perf_counter() - t
        rounds: list[Round] = []
        kept = None
        if mode == "reflect":
            img, rounds, kept = self._reflect(plan, reasoning, img, seed, timings, region=region)
        return img, region, rounds, kept

    def _reflect(self, plan: ScenePlan, reasoning: Reasoning, image: Image.Image, seed: int,
                 timings: dict[str, float], region: np.ndarray | None = None) -> tuple[Image.Image, list[Round], int]:
        """Check, redraw only the failed regions, check again; keep the best round (image, rounds, its index).
        After an edit (``region``: the pixels the edit may change) failures are redrawn only where they meet
        the region: reflection never "fixes" what the user did not ask about."""
        t = time.perf_counter()
        crit = self.critic.check(image, plan)
        rounds = [Round(image, crit, time.perf_counter() - t, label="draw" if region is None else "edit")]
        timings["reflect"] = rounds[0].seconds
        reasoning.add("reflect", f"{'Round 0' if region is None else 'After the edit'}: score {crit.score:.2f}. "
                                 f"{crit.reflection}")
        for k in range(1, self.max_rounds + 1):
            if all(c.passed for c in crit.checks) or not crit.failed_regions:
                break
            if k > 1 and _merit(crit) <= _merit(rounds[-2].critique):
                reasoning.add("reflect", f"Round {k - 1} did not raise the score; stopping.")
                break
            edit = critique_to_edit(crit, plan)
            mask = regions_mask(edit.mask, plan.canvas.width, plan.canvas.height)
            if region is not None:
                mask &= region
                if not mask.any():
                    reasoning.add("reflect", "What the critic doubts lies outside the edit's regions: left alone.")
                    break
            t = time.perf_counter()
            redo = self.renderer.draw(edit.result or plan, seed=seed + 1000 * k, mask=mask, init=image,
                                      steps=self.refine_step_count())
            image = redo.image
            crit = self.critic.check(image, plan)
            rounds.append(Round(image, crit, time.perf_counter() - t, label=f"refine {k}", edit=edit))
            timings[f"refine_{k}"] = rounds[-1].seconds
            where = f"in {len(edit.mask)} region(s)" if region is None else "inside the edit's regions"
            reasoning.add("reflect", f"Round {k}: {describe(edit)}; redrew {int(mask.sum())} px {where}; "
                                     f"score {crit.score:.2f}. {crit.reflection}")
        best = max(range(len(rounds)), key=lambda i: (*_merit(rounds[i].critique), -i))
        if len(rounds) > 1:
            reasoning.add("reflect", f"Kept round {best} (score {rounds[best].critique.score:.2f}).")
        return rounds[best].image, rounds, best

    def _interleaved(self, plan: ScenePlan, reasoning: Reasoning, seed: int, timings: dict[str, float],
                     progress) -> tuple[Image.Image, list[Round]]:
        """TwiG: draw band by band, a sub-prompt before each band, a critic score after it, one redraw."""
        W, H = plan.canvas.width, plan.canvas.height
        n = self.bands
        # band edges on the renderer's 32 px window grid, so no band boundary cuts a latent cell
        edges = [min(H, 32 * round(H * i / n / 32)) for i in range(n + 1)]
        band_of = {e.id: min(n - 1, int(((e.box[1] + e.box[3]) / 2) * n)) for e in plan.entities if e.box}
        image: Image.Image | None = None
        rounds: list[Round] = []
        for b in range(n):
            t = time.perf_counter()
            ids = {i for i, k in band_of.items() if k == b}
            sub = band_plan(plan, {i for i, k in band_of.items() if k <= b}, set(range(b + 1)), n)
            mine = band_plan(plan, ids, {b}, n)
            about = {e.id for e in mine.entities} | {e.group for e in mine.entities if e.group} | \
                {x.id for x in mine.texts}
            # The first band draws the whole canvas (its things and the background everywhere); each later
            # band adds its own things: their boxes (whole, even where they reach into another band), never
            # the things earlier bands drew. A band with nothing of its own keeps the background it has.
            own = [e.box for e in plan.entities if e.id in ids] + [t.box for t in mine.texts if t.box]
            mask = regions_mask(own, W, H) if own else np.zeros((H, W), bool)
            earlier = [e.box for e in plan.entities if band_of.get(e.id, n) < b]
            if earlier:
                mask &= ~regions_mask(earlier, W, H)
            where = "top middle bottom".split()[b] if n == 3 else f"{b + 1} of {n}"
            reasoning.add("interleave", f"Band {b + 1}/{n} ({where}, rows {edges[b]}-{edges[b + 1]}): "
                                        f"draw {mine.prompt}.")
            best: tuple[float, Image.Image, object] | None = None
            for attempt in range(2):
                s = seed + 7919 * b + 104729 * attempt
                if image is None:
                    img = self.renderer.draw(sub, seed=s, progress=progress).image
                elif not mask.any():
                    img = image
                else:
                    img = self.renderer.draw(sub, seed=s, mask=mask, init=image).image
                crit = self.critic.check(img, sub)
                facts = [c for c in crit.checks if c.target in about or any(w in about for w in c.target.split())]
                crit = crit.model_copy(update={"score": sum(c.passed for c in facts) / len(facts) if facts else 1.0})
                label = f"band {b + 1}/{n}" + (" redraw" if attempt else "")
                rounds.append(Round(img, crit, time.perf_counter() - t, label=label, prompt=mine.prompt))
                timings[f"band_{b + 1}" + ("_redraw" if attempt else "")] = time.perf_counter() - t
                t = time.perf_counter()
                if best is None or crit.score > best[0]:
                    best = (crit.score, img, crit)
                reasoning.add("interleave", f"Band {b + 1}/{n}{' redraw' if attempt else ''}: score "
                                            f"{crit.score:.2f}. {crit.reflection}")
                if crit.score >= self.band_threshold or (image is not None and not mask.any()):
                    break
            image = best[1]
        return image, rounds

    # --- editing (issue 12): edit an image by instruction, describe an image from its pixels ---------------
    def describe(self, image) -> DescribeResult:
        """Pixels -> ScenePlan with the critic's networks and text reader (``thinkdraw.edit.describe``)."""
        from thinkdraw.edit.describe import describe_image

        t0 = time.perf_counter()
        plan, reasoning = describe_image(image, self._describer())
        return DescribeResult(plan=plan, reasoning=reasoning, seconds=time.perf_counter() - t0)

    def _describer(self):
        """The critic's networks for describe: the engine's critic when it is the builtin one, else one of its own."""
        c = self._critic
        if c is not None and hasattr(c, "segment") and hasattr(c, "verify"):
            return c
        if getattr(self, "_describe_critic", None) is None:
            from thinkdraw.edit.describe import load_describer

            self._describe_critic = load_describer(self.weights)
        return self._describe_critic

    def edit(self, image, instruction: str, seed: int | None = None, mode: str = DEFAULT_MODE,
             plan: ScenePlan | None = None, focus: list[str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> EditResult:
        """Edit an image (a path, or a PIL image with ``plan``) by instruction: locate, plan the edit, draw only
        its regions (token surgery: every pixel outside them is kept bit for bit), and in reflect mode check
        the new plan and redraw failures only inside the edit's regions. An image without a (still valid)
        plan is described first. ``seed``: default the source image's seed. A refused instruction (names
        nothing in the image, or is ambiguous) returns ``ok=False``, the answer in ``message`` and the image
        as it was. See docs/edit.md."""
        from thinkdraw.edit.apply import plan_edit
        from thinkdraw.edit.source import load_source, pixel_hash, plan_matches

        if isinstance(image, (list, tuple)):  # several images: combine them (issue 12, part 4)
            if len(image) == 1:
                image = image[0]
            else:
                return self.compose(list(image), instruction, seed=seed, mode=mode, progress=progress)
        if mode not in ("think", "reflect"):
            raise ValueError(f"edit modes are think and reflect, not {mode!r}")
        if not instruction or not instruction.strip():
            raise ValueError("empty instruction: say what to change")
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        src = load_source(image, plan)
        seed = int(src.meta.get("seed", 0)) if seed is None else seed
        reasoning = Reasoning()
        ok, why = plan_matches(src, self._stale_check_critic(src))
        timings["locate_source"] = time.perf_counter() - t0
        described = not ok
        if ok:
            base = src.plan
            reasoning.add("locate", f"Starting from the plan the image carries: {why}.")
        else:
            t = time.perf_counter()
            d = self.describe(src.image)
            timings["describe"] = time.perf_counter() - t
            base = d.plan
            reasoning.add("describe", f"Described the image from its pixels: {why}.")
            reasoning.steps += d.reasoning.steps
        if focus is None:
            focus = list(src.meta.get("focus") or [])
        t = time.perf_counter()
        out = plan_edit(base, instruction, focus=focus, seed=seed, parser=self.edit_parser)
        timings["plan"] = time.perf_counter() - t
        reasoning.steps += out.reasoning.steps
        W, H = base.canvas.width, base.canvas.height
        common = dict(prompt=instruction, reasoning=reasoning, seed=seed, renderer=self.renderer.name,
                      source_plan=base, described=described, source_hash=pixel_hash(src.image))
        if not out.ok or not out.edit.operations:
            timings["total"] = time.perf_counter() - t0
            return EditResult(image=src.image.copy(), plan=base, mode=mode, timings=timings, edit=out.edit,
                              ok=out.ok, message=out.message, kind=out.kind, focus=out.focus,
                              changed=np.zeros((H, W), bool), **common)
        edit = out.edit
        new = edit.result
        sizes = getattr(self.renderer, "sizes", None)
        if sizes is not None and (W not in sizes or H != W):
            raise ValueError(f"the {self.renderer.name} renderer draws {', '.join(map(str, sizes))} px canvases; "
                             f"this image is {W}x{H} (the sketch renderer edits any size)")
        if out.global_edit:
            img, region, rounds, kept = self._draw_region(new, reasoning, seed, mode, None, None, timings, progress)
        else:
            img, region, rounds, kept = self._draw_region(new, reasoning, seed, mode, regions_mask(edit.mask, W, H),
                                                          src.image, timings, progress)
        timings["total"] = time.perf_counter() - t0
        return EditResult(image=img, plan=new, mode=mode, timings=timings, rounds=rounds, kept=kept, edit=edit,
                          ok=True, focus=out.focus, changed=region, **common)

    def _stale_check_critic(self, src):
        """The critic that checks a carried plan against pixels the stored hash cannot vouch for (None when the
        hash matches, there is no plan, or the critic cannot load: the carried plan is then trusted, said so)."""
        from thinkdraw.edit.source import pixel_hash

        if src.plan is None or (src.meta.get("pixels") and src.meta.get("pixels") == pixel_hash(src.image)):
            return None
        try:
            return self.critic
        except Exception:  # noqa: BLE001 - a critic that cannot load: the carried plan is trusted, said so
            return None

    def _source_plan(self, src, reasoning: Reasoning, label: str = "") -> tuple[ScenePlan, bool]:
        """The plan an edit starts from: the carried one while it still describes the pixels, else described
        (the same rule as ``edit``). Returns (plan, described)."""
        from thinkdraw.edit.source import plan_matches

        ok, why = plan_matches(src, self._stale_check_critic(src))
        if ok:
            reasoning.add("locate", f"{label}Starting from the plan the image carries: {why}.")
            return src.plan, False
        d = self.describe(src.image)
        reasoning.add("describe", f"{label}Described the image from its pixels: {why}.")
        reasoning.steps += d.reasoning.steps
        return d.plan, True

    def compose(self, images: list, instruction: str, seed: int | None = None, mode: str = DEFAULT_MODE,
                progress: Callable[[int, int], None] | None = None) -> ComposeResult:
        """Combine several images by instruction ("the boat from image 1 on the sea of image 2"): their plans
        are composed (``thinkdraw.edit.compose``), what is taken is laid out on the new background, and one
        image is drawn. When one source is kept whole as the base, only the taken things' regions are drawn
        and every other pixel is that source's; otherwise the picture is drawn anew (no source's pixels
        kept). The reasoning says what came from where. Refused: ``ok`` False and nothing drawn."""
        from pathlib import Path

        from thinkdraw.edit.compose import plan_compose
        from thinkdraw.edit.source import load_source, pixel_hash

        if mode not in ("think", "reflect"):
            raise ValueError(f"edit modes are think and reflect, not {mode!r}")
        if not instruction or not instruction.strip():
            raise ValueError("empty instruction: say what to combine")
        if len(images) < 2:
            raise ValueError("compose needs at least two images")
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        srcs = [load_source(im) for im in images]
        reasoning = Reasoning()
        plans, described = [], []
        for k, src in enumerate(srcs):
            p, d = self._source_plan(src, reasoning, label=f"Image {k + 1}: ")
            plans.append(p)
            described.append(d)
        timings["locate_source"] = time.perf_counter() - t0
        names = [Path(s.path).name if s.path else f"image {k + 1}" for k, s in enumerate(srcs)]
        t = time.perf_counter()
        out = plan_compose(plans, instruction, seed=0 if seed is None else seed, names=names)
        timings["plan"] = time.perf_counter() - t
        reasoning.steps += out.reasoning.steps
        b = out.base if out.base is not None else out.background_from or 0
        seed = int(srcs[b].meta.get("seed", 0) or 0) if seed is None else seed
        hashes = [pixel_hash(s.image) for s in srcs]
        common = dict(prompt=instruction, reasoning=reasoning, seed=seed, renderer=self.renderer.name,
                      described=any(described), source_hash=hashes[b], source_hashes=hashes)
        if not out.ok:
            W, H = srcs[0].image.size
            timings["total"] = time.perf_counter() - t0
            return ComposeResult(image=srcs[0].image.copy(), plan=plans[0], mode=mode, timings=timings, edit=None,
                                 ok=False, message=out.message, kind=out.kind, changed=np.zeros((H, W), bool),
                                 source_plan=plans[0], **common)
        edit = out.edit
        new = edit.result
        W, H = new.canvas.width, new.canvas.height
        sizes = getattr(self.renderer, "sizes", None)
        if sizes is not None and (W not in sizes or H != W):
            raise ValueError(f"the {self.renderer.name} renderer draws {', '.join(map(str, sizes))} px canvases; "
                             f"this picture is {W}x{H} (the sketch renderer draws any size)")
        if out.base is not None and srcs[out.base].image.size == (W, H):
            img, region, rounds, kept = self._draw_region(new, reasoning, seed, mode, regions_mask(edit.mask, W, H),
                                                          srcs[out.base].image, timings, progress)
        else:
            img, region, rounds, kept = self._draw_region(new, reasoning, seed, mode, None, None, timings, progress)
        timings["total"] = time.perf_counter() - t0
        return ComposeResult(image=img, plan=new, mode=mode, timings=timings, rounds=rounds, kept=kept, edit=edit,
                             ok=True, focus=out.focus, changed=region, source_plan=plans[b],
                             base=out.base if not region.all() else None, background_from=out.background_from,
                             taken=out.taken, **common)


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def _merit(c: Critique) -> tuple[float, float]:
    """How good a round is: its score, then (for rounds with the same score) the critic's graded evidence."""
    return (c.score, c.evidence if c.evidence is not None else c.score)


def band_plan(plan: ScenePlan, ids: set[str], bands_in: set[int], bands: int) -> ScenePlan:
    """The part of ``plan`` with only the entities ``ids`` (their texts, relations among them, and the
    free-standing texts whose box lies in ``bands_in``), with a sub-prompt describing it."""
    d = plan.model_dump()
    ents = [e for e in plan.entities if e.id in ids]
    keep = ids | {e.group for e in ents if e.group}
    d["entities"] = [e for e in d["entities"] if e["id"] in ids]
    for e in d["entities"]:
        if e.get("supported_by") and e["supported_by"] not in keep:
            e["supported_by"] = None
    d["relations"] = [r for r in d["relations"] if r["subject"] in keep and r["object"] in keep
                      and (r.get("object2") is None or r["object2"] in keep)]
    d["texts"] = [t for t in d["texts"] if t["on"] in ids or (t["on"] is None and t["box"] is not None and
                                                              min(bands - 1, int((t["box"][1] + t["box"][3]) / 2
                                                                                 * bands)) in bands_in)]
    sub = ScenePlan.model_validate(d)
    things = []
    by_group: dict[str, list] = {}
    for e in plan.entities:
        if e.id in ids:
            by_group.setdefault(e.group or e.id, []).append(e)
    for members in by_group.values():
        e = members[0]
        color = f"{e.attributes.color} " if e.attributes.color and not getattr(e.attributes, "default_color", False) else ""
        things.append(f"a {color}{e.noun}" if len(members) == 1 else f"{len(members)} {color}{e.noun}s")
    for t in sub.texts:
        things.append(f'the text "{t.content}"')
    sub.prompt = " and ".join(things) if things else f"the {plan.background.kind}"
    return sub


def regions_mask(boxes, width: int, height: int, pad: int = 4):
    """Boolean HxW mask covering the boxes, padded by ``pad`` pixels."""
    return boxes_mask(boxes, width, height, pad)
