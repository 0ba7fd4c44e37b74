"""thinkdraw eval-edit (issue 12, part 5): a tiny run with the sketch renderer."""

import json
import random

from PIL import Image

from thinkdraw.cli import main
from thinkdraw.eval.edits import KINDS, choose_turn, expected_after, scene_at


def test_eval_edit_writes_reports_and_resumes(tmp_path, capsys):
    out = tmp_path / "ee"
    args = ["eval-edit", "--n", "2", "--turns", "2", "--seed", "0", "--mode", "think", "--renderer", "sketch",
            "--out", str(out)]
    assert main(args) == 0
    rep = json.loads((out / "report.json").read_text())
    for k in ("single_turn_success", "all_turns_success", "outside_changed_pixels", "median_latency_s",
              "mean_latency_s", "by_kind"):
        assert k in rep
    assert rep["scenes"] == 2 and 1 <= rep["n"] <= 4
    assert set(rep["by_kind"]) <= set(KINDS)
    for a in rep["by_kind"].values():
        assert {"single_turn_success", "all_turns_success", "outside_changed_pixels", "median_latency_s",
                "mean_latency_s"} <= set(a)
    assert rep["outside_changed_pixels"] == 0  # token surgery: nothing outside the expected change's region
    assert Image.open(out / "report.png").size[0] > 100
    assert "single-turn success" in (out / "report.md").read_text()
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert main(args) == 0  # resumes: nothing rerun, nothing appended
    assert (out / "results.jsonl").read_text().splitlines() == lines
    assert json.loads((out / "report.json").read_text())["single_turn_success"] == rep["single_turn_success"]


def test_expected_plan_is_the_benchmarks_own():
    _, plan = scene_at(0, 0)
    rng = random.Random(0)
    t = choose_turn(plan, "recolour", rng)
    assert t is not None and t.instruction.startswith("make the ")
    exp, changed, ok, _ = expected_after(plan, t, plan)
    assert ok and exp.entity(t.target).attributes.color == t.params["color"]
    assert plan.entity(t.target).attributes.color != t.params["color"]  # the source plan is not touched
    assert changed == [plan.entity(t.target).box]
    g = choose_turn(plan, "time", rng)
    exp, changed, ok, _ = expected_after(plan, g, plan)
    assert changed is None and exp.background.time == g.params["time"]


def test_eval_edit_rejects_a_file_as_out(tmp_path, capsys):
    f = tmp_path / "x"
    f.write_text("")
    assert main(["eval-edit", "--n", "1", "--renderer", "sketch", "--out", str(f)]) != 0
    assert "not a folder" in capsys.readouterr().err


def test_expected_plan_of_a_remove_drops_what_named_it():
    from thinkdraw.eval.edits import _without
    from thinkdraw.think import plan_prompt

    _, plan = plan_prompt("a house next to a tree and a sign that says HI")
    house = next(e for e in plan.entities if e.category == "house")
    assert any(house.id in (r.subject, r.object) for r in plan.relations)
    after = _without(plan, house.id)
    assert house.id not in {e.id for e in after.entities}
    assert all(house.id not in (r.subject, r.object) for r in after.relations)
