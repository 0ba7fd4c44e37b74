"""Reflect / interleaved modes, cropped masked redraw, injected defects and the eval suite."""

import json
import random

import numpy as np
import pytest

from thinkdraw.plan.schema import Check, Critique
from thinkdraw.think import plan_prompt


class FailFirst:
    """A scripted critic: each plan's first look fails its first fact, every later look passes."""

    name = "scripted"

    def __init__(self):
        self.seen: dict[str, int] = {}
        self.plans = []

    def check(self, image, plan):
        self.plans.append(plan)
        key = ",".join(e.id for e in plan.entities)
        self.seen[key] = self.seen.get(key, 0) + 1
        ok = self.seen[key] > 1 or not plan.entities
        checks = [Check(kind="presence", target=e.id, passed=ok or i > 0, box=e.box)
                  for i, e in enumerate(plan.entities)]
        score = sum(c.passed for c in checks) / len(checks) if checks else 1.0
        return Critique(checks=checks, score=score, reflection="ok" if ok else "first thing missing",
                        failed_regions=[c.box for c in checks if not c.passed])


def test_cropped_redraw_is_bit_identical_outside_the_mask_and_computes_a_window(tiny_renderer):
    _, plan = plan_prompt("a red ball next to a blue cup")
    base = tiny_renderer.draw(plan, seed=0).image
    m = np.zeros((256, 256), bool)
    m[20:60, 30:70] = True
    out = tiny_renderer.draw(plan, seed=1, mask=m, init=base)
    a, b = np.asarray(base), np.asarray(out.image)
    assert np.array_equal(a[~m], b[~m]) and not np.array_equal(a[m], b[m])
    [(x0, y0, x1, y1)] = out.info["windows"]
    assert (x1 - x0) * (y1 - y0) < 256 * 256 / 2  # only a window around the region was computed
    assert x0 <= 30 and y0 <= 20 and x1 >= 70 and y1 >= 60 and (x1 - x0) % 32 == 0
    # two far-apart regions: two windows, each small
    m2 = m.copy()
    m2[200:240, 190:230] = True
    two = tiny_renderer.draw(plan, seed=1, mask=m2, init=base)
    assert len(two.info["windows"]) == 2
    assert np.array_equal(np.asarray(two.image)[~m2], a[~m2])
    tiny_renderer.crop = False
    try:
        full = tiny_renderer.draw(plan, seed=1, mask=m, init=base)
    finally:
        tiny_renderer.crop = True
    assert full.info["windows"] == [(0, 0, 256, 256)]
    assert np.array_equal(np.asarray(full.image)[~m], a[~m])


def test_interleaved_draws_band_by_band_with_subprompts_and_one_redraw(tiny_renderer):
    from thinkdraw import Engine

    critic = FailFirst()
    eng = Engine(renderer=tiny_renderer, critic=critic, bands=3)
    r = eng.generate("a yellow sun above a red car, a dog to the right of the car", seed=0, mode="interleaved")
    labels = [x.label for x in r.rounds]
    assert labels[0] == "band 1/3" and labels[-1].startswith("band 3/3")
    # a band whose own facts fail is redrawn exactly once
    assert all(labels.count(f"band {b}/3 redraw") <= 1 for b in (1, 2, 3))
    assert any(lb.endswith("redraw") for lb in labels)
    assert all(x.prompt for x in r.rounds)  # the sub-prompt written before each band
    assert "sun" in r.rounds[0].prompt and "car" not in r.rounds[0].prompt
    steps = [s.text for s in r.reasoning.steps if s.stage == "interleave"]
    assert steps[0].startswith("Band 1/3 (top")
    assert {"band_1", "band_2", "band_3", "total", "plan"} <= set(r.timings)
    # later bands only touch their own rows and their own objects' boxes: the top band of the final image
    # is the kept band-1 drawing except where a lower object reaches up
    from thinkdraw.engine import regions_mask

    lower = [e.box for e in r.plan.entities if (e.box[1] + e.box[3]) / 2 >= 1 / 3]
    touched = regions_mask(lower, 256, 256) if lower else np.zeros((256, 256), bool)
    touched[96:] = True
    band1 = [x for x in r.rounds if x.label.startswith("band 1/3")]
    kept1 = max(band1, key=lambda x: x.critique.score)
    assert np.array_equal(np.asarray(kept1.image)[~touched], np.asarray(r.image)[~touched])
    # the critic judged growing partial plans: band 1 sees only the sun
    assert [e.category for e in critic.plans[0].entities] == ["sun"]


def test_reflect_is_the_default_mode_and_modes_are_checked(tiny_renderer):
    from thinkdraw import Engine
    from thinkdraw.engine import DEFAULT_MODE, MODES

    assert DEFAULT_MODE == "reflect" and set(MODES) == {"direct", "think", "reflect", "interleaved"}
    eng = Engine(renderer=tiny_renderer, critic=FailFirst())
    r = eng.generate("a red ball", seed=0)
    assert r.mode == "reflect" and r.rounds[0].label == "draw" and len(r.rounds) == 2
    with pytest.raises(ValueError, match="mode"):
        eng.render(r.plan, r.reasoning, mode="dream")
    with pytest.raises(ValueError):
        Engine(renderer=tiny_renderer, bands=0)


@pytest.mark.parametrize("kind", ["remove", "recolor", "move", "letter", "negative"])
def test_injected_defects_fail_the_eval_scorer(kind):
    from thinkdraw.eval.defects import inject
    from thinkdraw.eval.fidelity import score_image
    from thinkdraw.world.render import render_scene

    prompts = {"remove": "a red ball to the left of a blue cup", "recolor": "a red ball to the left of a blue cup",
               "move": "a red ball to the left of a blue cup", "letter": 'a green sign that says "OPEN"',
               "negative": "a red ball on the grass, no trees"}
    _, plan = plan_prompt(prompts[kind], seed=0)
    assert score_image(render_scene(plan, seed=0).image, plan).all_passed
    d = inject(plan, random.Random(0), kinds=(kind,))
    assert d is not None
    bad, got, targets = d
    assert got == kind
    fid = score_image(render_scene(bad, seed=0).image, plan)
    assert any(not f.passed and f.target in targets for f in fid.facts), [f for f in fid.facts if not f.passed]


def test_eval_suite_writes_reports_and_resumes(tmp_path):
    from thinkdraw.eval.suite import EVAL_CATEGORIES, eval_items, run_eval

    items = eval_items(16)
    assert [it.category for it in items].count("text") == 2 and len({it.prompt for it in items}) == 16
    assert set(it.category for it in items) == set(EVAL_CATEGORIES)
    rep = run_eval(tmp_path, modes=("sketch",), n=16)
    assert (tmp_path / "report.png").is_file() and (tmp_path / "report.md").read_text().count("|") > 20
    data = json.loads((tmp_path / "report.json").read_text())
    assert set(data["modes"]["sketch"]["by_category"]) == set(EVAL_CATEGORIES)
    assert rep.modes["sketch"].overall >= 0.75  # the oracle draws the plan exactly
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 16
    run_eval(tmp_path, modes=("sketch",), n=16)  # everything already judged: nothing redrawn
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 16
    with pytest.raises(ValueError, match="modes"):
        run_eval(tmp_path, modes=("dream",), n=2)


def test_eval_headline_counts_identity_and_reads_older_results():
    from thinkdraw.eval.suite import EvalResult, summarise

    base = {"index": 0, "mode": "think", "category": "single_object", "prompt": "a ball", "seconds": 0.1}
    blob = {"kind": "identity", "target": "ball_1", "passed": False, "detail": "ball: a blob"}
    here = {"kind": "present", "target": "ball_1", "passed": True, "detail": ""}
    new = EvalResult(**base, correct=False, correct_agnostic=True, facts=[here, blob])
    # a line written before identity was the headline: correct was class-agnostic, correct_identity the other
    old = EvalResult(**{**base, "index": 1}, correct=True, correct_identity=False, facts=[here, blob])
    assert (old.correct, old.correct_agnostic) == (False, True)
    rep = summarise([new, old], 2, 0, ("think",), ("single_object",)).modes["think"]
    assert rep.overall == 0.0 and rep.overall_agnostic == 1.0 and rep.by_category == {"single_object": 0.0}
    assert rep.facts == 0.5 and rep.facts_by_kind == {"identity": 0.0, "present": 1.0}


def test_eval_suite_runs_engine_modes(tmp_path, tiny_renderer):
    from thinkdraw import Engine
    from thinkdraw.eval.suite import run_eval

    eng = Engine(renderer=tiny_renderer, critic=FailFirst())
    rep = run_eval(tmp_path, modes=("direct", "think", "reflect"), n=3, engine=eng,
                   categories=("single_object", "colors", "position"))
    assert set(rep.modes) == {"direct", "think", "reflect"} and all(m.n == 3 for m in rep.modes.values())
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {r["mode"] for r in rows} == {"direct", "think", "reflect"}
    assert all(r["rounds"] >= 1 for r in rows if r["mode"] == "reflect")


def test_failed_checks_become_edit_operations_and_a_mask():
    from thinkdraw.reflect.refine import critique_to_edit, describe

    _, plan = plan_prompt('a red ball left of a blue cup, a sign that says "OPEN", no trees')
    ball, cup = plan.entity("ball_1"), plan.entity("cup_1")
    crit = Critique(checks=[
        Check(kind="presence", target="ball_1", expected="ball", observed="3% of its box filled", passed=False,
              box=ball.box),
        Check(kind="color", target="cup_1", expected="blue", observed="red", passed=False, box=cup.box),
        Check(kind="text", target="text_1", expected="OPEN", observed="OPFN", passed=False, box=plan.texts[0].box),
        Check(kind="absence", target="tree", expected="absent", observed="1 found", passed=False,
              box=(0.0, 0.0, 0.1, 0.1)),
        Check(kind="presence", target="sign_1", expected="sign", passed=True, box=plan.entity("sign_1").box),
    ], score=0.2, reflection="...", failed_regions=[ball.box, cup.box, plan.texts[0].box, (0.0, 0.0, 0.1, 0.1)])
    edit = critique_to_edit(crit, plan)
    assert [(o.op, o.target) for o in edit.operations] == [("add", "ball_1"), ("recolor", "cup_1"),
                                                           ("retext", "text_1"), ("remove", "tree")]
    assert edit.result == plan and len(edit.mask) == 4
    assert describe(edit) == "add ball_1; recolor cup_1 to blue; rewrite text_1 as 'OPEN'; remove tree"


def test_cli_generate_modes_and_eval(tmp_path, capsys):
    from thinkdraw.cli import main
    from thinkdraw.plan.pngmeta import read_png_meta

    png = tmp_path / "i.png"
    assert main(["generate", "a red ball above a blue cup", "-o", str(png), "--renderer", "sketch",
                 "--mode", "think", "-q"]) == 0
    assert read_png_meta(png)["mode"] == "think"
    code = main(["eval", "--modes", "sketch", "--n", "8", "--out", str(tmp_path / "ev")])
    out = capsys.readouterr().out
    assert code == 0 and "| **overall** |" in out and (tmp_path / "ev" / "report.png").is_file()
    assert main(["eval", "--modes", "dream", "--n", "2", "--out", str(tmp_path / "ev2")]) == 2
    assert "unknown modes" in capsys.readouterr().err
    assert main(["eval", "--n", "0", "--out", str(tmp_path / "ev3")]) == 2


def test_reflection_phrases_use_the_right_article():
    from thinkdraw.reflect.builtin import _a

    assert (_a("apple"), _a("ball"), _a("nothing")) == ("an apple", "a ball", "nothing")


def test_composite_keeps_reproduced_background_and_takes_what_changed():
    import numpy as np

    from thinkdraw.draw.scene import _composite

    old = np.full((16, 16, 3), 100, np.uint8)
    new = np.full((16, 16, 3), 104, np.uint8)  # the redraw's background, a slightly different tone
    new[6:10, 6:10] = (200, 30, 30)  # what the repair drew
    m = np.zeros((16, 16), bool)
    m[2:14, 2:14] = True
    out = _composite(old, new, m, blend=True)
    assert np.array_equal(out[~m], old[~m])  # outside the mask: bit-identical
    assert (out[3, 3] == 100).all()  # reproduced background keeps the old pixels (no visible box)
    assert out[8, 8].tolist() == [200, 30, 30]  # the repaired thing replaces them
    hard = _composite(old, new, m, blend=False)
    assert (hard[3, 3] == 104).all() and np.array_equal(hard[~m], old[~m])
