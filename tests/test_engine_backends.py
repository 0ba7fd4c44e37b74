"""The Engine asks its renderer what a refine round needs; every command that builds an Engine resolves its
planner, renderer and critic the same way (flags over environment over the config file)."""

from __future__ import annotations

import pytest

from thinkdraw.plan.schema import Check, Critique


class FailOnce:
    """A scripted critic: the first look fails the plan's first entity, every later look passes."""

    name = "scripted"

    def __init__(self):
        self.looks = 0

    def check(self, image, plan):
        self.looks += 1
        ok = self.looks > 1
        checks = [Check(kind="presence", target=e.id, passed=ok or i > 0, box=e.box)
                  for i, e in enumerate(plan.entities)]
        return Critique(checks=checks, score=sum(c.passed for c in checks) / max(1, len(checks)),
                        reflection="ok" if ok else "first thing missing",
                        failed_regions=[c.box for c in checks if not c.passed])


class Recorder:
    """The sketch renderer, recording the steps each draw is asked for."""

    name = "recorder"
    sizes = None

    def __init__(self, refine_steps="absent"):
        from thinkdraw.draw.sketch import SketchRenderer

        self.inner = SketchRenderer()
        self.calls: list[tuple[int | None, bool]] = []
        if refine_steps != "absent":
            self.refine_steps = refine_steps

    def draw(self, plan, seed=0, mask=None, init=None, progress=None, mode="think", steps=None):
        self.calls.append((steps, mask is not None))
        return self.inner.draw(plan, seed=seed, mask=mask, init=init, progress=progress, mode=mode, steps=steps)


@pytest.mark.parametrize(("declared", "engine_steps", "asked"), [
    (7, None, 7),  # the renderer says what it needs
    (None, None, None),  # it says "my default steps"
    ("absent", None, None),  # a renderer written before the attribute: its default, as before
    (7, 3, 3),  # Engine(refine_steps=N) overrides the renderer
])
def test_refine_rounds_ask_the_renderer(declared, engine_steps, asked):
    from thinkdraw.engine import Engine

    r = Recorder(declared)
    eng = Engine(renderer=r, critic=FailOnce(), refine_steps=engine_steps)
    res = eng.generate("a red ball next to a blue cup", seed=0, mode="reflect")
    assert [k.label for k in res.rounds] == ["draw", "refine 1"]
    assert r.calls == [(None, False), (asked, True)]  # the first drawing: the renderer's default steps


def test_builtin_renderers_say_what_they_need():
    from thinkdraw.draw.base import refine_steps_of
    from thinkdraw.draw.builtin import REFINE_STEPS
    from thinkdraw.draw.sketch import SketchRenderer

    assert REFINE_STEPS == 4 and SketchRenderer.refine_steps is None
    assert refine_steps_of(SketchRenderer()) is None and refine_steps_of(object()) is None
    bad = Recorder(0)
    with pytest.raises(ValueError, match="refine_steps must be"):
        refine_steps_of(bad)
    from thinkdraw.engine import Engine

    with pytest.raises(ValueError, match="refine_steps must be"):
        Engine(renderer="sketch", refine_steps=0)


def test_scene_renderer_refine_steps(tiny_renderer):
    assert tiny_renderer.refine_steps == 4  # the number the engine used to pass to every renderer

