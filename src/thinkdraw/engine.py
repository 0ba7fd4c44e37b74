"""The loop: Engine(planner, renderer).generate(prompt) -> think, then draw; timings per stage.

    from thinkdraw import Engine
    r = Engine().generate("two red apples left of a blue cup", seed=0, mode="think")
    r.image.save("out.png"); print(r.reasoning.render()); print(r.timings)

Modes: ``think`` (plan, then draw from the plan), ``direct`` (draw from the prompt alone) and
``reflect`` (think, then the critic checks the image against the plan; failed regions are redrawn under
a mask, everything else kept bit for bit; at most ``max_rounds`` rounds, stopping early when every check
passes; the best-scoring round wins; every round is kept with its critique and reflection text).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from thinkdraw.draw.base import Renderer, get_renderer
from thinkdraw.plan.schema import Reasoning, ScenePlan
from thinkdraw.think.base import Planner, get_planner

MODES = ("think", "direct", "reflect")


@dataclass
class Round:
    image: Image.Image
    critique: object  # thinkdraw.plan.schema.Critique
    seconds: float


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
    rounds: list[Round] = field(default_factory=list)  # reflect mode: round 0 is the first drawing

    def save(self, path: str) -> str:
        from thinkdraw.plan.pngmeta import save_png

        return str(save_png(self.image, path, self.plan, seed=self.seed, renderer=self.renderer, mode=self.mode,
                            reasoning=[s.model_dump() for s in self.reasoning.steps]))


class Engine:
    def __init__(self, planner: str | Planner = "rules", renderer: str | Renderer = "builtin",
                 critic=None, max_rounds: int = 2) -> None:
        self.planner = get_planner(planner) if isinstance(planner, str) else planner
        self.renderer = get_renderer(renderer) if isinstance(renderer, str) else renderer
        self._critic = critic
        self.max_rounds = max_rounds

    @property
    def critic(self):
        if self._critic is None:
            from thinkdraw.reflect.builtin import BuiltinCritic

            self._critic = BuiltinCritic()
        return self._critic

    def generate(self, prompt: str, seed: int = 0, mode: str = "think",
                 progress: Callable[[int, int], None] | None = None) -> GenerateResult:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if not prompt or not prompt.strip():
            raise ValueError("empty prompt: say what to draw")
        t0 = time.perf_counter()
        if mode != "direct":
            reasoning, plan = self.planner.plan(prompt, seed=seed)
        else:
            reasoning, plan = Reasoning(), ScenePlan(prompt=" ".join(prompt.split()))
        r = self.render(plan, reasoning, seed=seed, mode=mode, progress=progress)
        r.prompt = prompt
        r.timings = {"plan": time.perf_counter() - t0 - r.timings["total"], **r.timings}
        r.timings["total"] = time.perf_counter() - t0
        return r

    def render(self, plan: ScenePlan, reasoning: Reasoning, seed: int = 0, mode: str = "think",
               progress: Callable[[int, int], None] | None = None) -> GenerateResult:
        """Draw a plan that is already made (think / direct / reflect), e.g. one edited by hand."""
        t1 = time.perf_counter()
        out = self.renderer.draw(plan, seed=seed, progress=progress, mode="direct" if mode == "direct" else "think")
        timings = {"draw": time.perf_counter() - t1}
        image, rounds = out.image, []
        if mode == "reflect":
            image, rounds = self._reflect(plan, reasoning, out.image, seed, timings)
        timings["total"] = time.perf_counter() - t1
        return GenerateResult(prompt=plan.prompt, image=image, plan=plan, reasoning=reasoning, mode=mode, seed=seed,
                              renderer=self.renderer.name, timings=timings, rounds=rounds)

    def _reflect(self, plan: ScenePlan, reasoning: Reasoning, image: Image.Image, seed: int,
                 timings: dict[str, float]) -> tuple[Image.Image, list[Round]]:
        """Check, redraw only the failed regions, check again; keep the best round."""
        t = time.perf_counter()
        crit = self.critic.check(image, plan)
        rounds = [Round(image, crit, time.perf_counter() - t)]
        timings["reflect"] = rounds[0].seconds
        reasoning.add("reflect", f"Round 0: score {crit.score:.2f}. {crit.reflection}")
        for k in range(1, self.max_rounds + 1):
            if all(c.passed for c in crit.checks) or not crit.failed_regions:
                break
            t = time.perf_counter()
            mask = regions_mask(crit.failed_regions, plan.canvas.width, plan.canvas.height)
            redo = self.renderer.draw(plan, seed=seed + 1000 * k, mask=mask, init=image)
            image = redo.image
            crit = self.critic.check(image, plan)
            rounds.append(Round(image, crit, time.perf_counter() - t))
            timings[f"refine_{k}"] = rounds[-1].seconds
            reasoning.add("reflect", f"Round {k}: redrew {len(mask.nonzero()[0])} px in "
                                     f"{len(rounds[-2].critique.failed_regions)} region(s); score {crit.score:.2f}. "
                                     f"{crit.reflection}")
        best = max(range(len(rounds)), key=lambda i: (rounds[i].critique.score, -i))
        if len(rounds) > 1:
            reasoning.add("reflect", f"Kept round {best} (score {rounds[best].critique.score:.2f}).")
        return rounds[best].image, rounds


def regions_mask(boxes, width: int, height: int, pad: int = 4):
    """Boolean HxW mask covering the boxes, padded by ``pad`` pixels."""
    import numpy as np

    m = np.zeros((height, width), bool)
    for b in boxes:
        x0, y0 = max(0, int(b[0] * width) - pad), max(0, int(b[1] * height) - pad)
        x1, y1 = min(width, int(np.ceil(b[2] * width)) + pad), min(height, int(np.ceil(b[3] * height)) + pad)
        m[y0:y1, x0:x1] = True
    return m
