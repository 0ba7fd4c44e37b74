"""The loop: Engine(planner, renderer).generate(prompt) -> think, then draw; timings per stage.

    from thinkdraw import Engine
    r = Engine().generate("two red apples left of a blue cup", seed=0, mode="think")
    r.image.save("out.png"); print(r.reasoning.render()); print(r.timings)

Modes: ``think`` (plan, then draw from the plan) and ``direct`` (draw from the prompt alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from thinkdraw.draw.base import Renderer, get_renderer
from thinkdraw.plan.schema import Reasoning, ScenePlan
from thinkdraw.think.base import Planner, get_planner

MODES = ("think", "direct")


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

    def save(self, path: str) -> str:
        from thinkdraw.plan.pngmeta import save_png

        return str(save_png(self.image, path, self.plan, seed=self.seed, renderer=self.renderer, mode=self.mode,
                            reasoning=[s.model_dump() for s in self.reasoning.steps]))


class Engine:
    def __init__(self, planner: str | Planner = "rules", renderer: str | Renderer = "builtin") -> None:
        self.planner = get_planner(planner) if isinstance(planner, str) else planner
        self.renderer = get_renderer(renderer) if isinstance(renderer, str) else renderer

    def generate(self, prompt: str, seed: int = 0, mode: str = "think",
                 progress: Callable[[int, int], None] | None = None) -> GenerateResult:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if not prompt or not prompt.strip():
            raise ValueError("empty prompt: say what to draw")
        t0 = time.perf_counter()
        if mode == "think":
            reasoning, plan = self.planner.plan(prompt, seed=seed)
        else:
            reasoning, plan = Reasoning(), ScenePlan(prompt=" ".join(prompt.split()))
        t1 = time.perf_counter()
        out = self.renderer.draw(plan, seed=seed, progress=progress, mode=mode)
        t2 = time.perf_counter()
        return GenerateResult(prompt=prompt, image=out.image, plan=plan, reasoning=reasoning, mode=mode, seed=seed,
                              renderer=self.renderer.name,
                              timings={"plan": t1 - t0, "draw": t2 - t1, "total": t2 - t0})
