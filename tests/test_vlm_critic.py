"""The VLM critic against a fake OpenAI-compatible vision server on loopback: the request carries the image as a
data URL, the plan's checks and the schema; the answer becomes a Critique (per check, 0..100 -> 0..1, the
reflection, boxes of what failed); failures are retried then one clear error; the engine's reflect loop runs
with it; the CLI's --critic vlm."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from fake_openai import FakeOpenAI, chat_json, error
from thinkdraw.config import Endpoint
from thinkdraw.errors import BackendError
from thinkdraw.reflect.vlm import VLMCritic, answer_schema, plan_checks
from thinkdraw.think.rules import plan_prompt

PROMPT = 'two red apples left of a blue cup and a sign that says "OPEN", no cars'


def verdicts(body, failing=(), score=None, seen=None):
    """Answer every fact id found in the request; the ids in ``failing`` fail."""
    text = body["messages"][1]["content"][0]["text"]
    ids = [line.split(" ")[0] for line in text.splitlines() if line.startswith("c")]
    checks = [{"id": i, "passed": i not in failing, "observed": "missing" if i in failing else "as planned",
               "box": seen if i in failing else None} for i in ids]
    return chat_json({"checks": checks, "score": score if score is not None else 100 * (1 - len(failing) / len(ids)),
                      "reflection": "The second apple is missing." if failing else "Everything is right."})


def critic(srv, **kw):
    return VLMCritic(Endpoint(url=srv.url, model="fake-vl", timeout=kw.pop("timeout", 10), **kw))


def test_request_carries_the_image_the_checks_and_the_schema():
    _, plan = plan_prompt(PROMPT)
    image = Image.new("RGB", (256, 256), (10, 200, 30))
    facts = plan_checks(plan)
    kinds = [f["kind"] for f in facts]
    assert kinds.count("presence") == len(plan.entities) and "count" in kinds and "position" in kinds
    assert "absence" in kinds and "text" in kinds and "color" in kinds
    with FakeOpenAI([lambda b: verdicts(b, failing=("c3",), score=72, seen=[500, 100, 600, 200])]) as srv:
        crit = critic(srv).check(image, plan)
    body = srv.requests[0]
    assert body["model"] == "fake-vl"
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "thinkdraw_critique"
    assert rf["json_schema"]["schema"] == answer_schema()
    parts = body["messages"][1]["content"]
    url = parts[1]["image_url"]["url"]
    assert parts[1]["type"] == "image_url" and url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (256, 256) and np.array_equal(np.asarray(sent.convert("RGB")), np.asarray(image))
    assert "c1 (presence): There is an apple (apple_1) around [" in parts[0]["text"]
    assert "reads exactly 'OPEN'" in parts[0]["text"] and "There is no car anywhere" in parts[0]["text"]
    # the Critique
    assert len(crit.checks) == len(facts) and crit.score == 0.72
    assert crit.reflection == "The second apple is missing."
    failed = [c for c in crit.checks if not c.passed]
    assert len(failed) == 1 and failed[0].target == facts[2]["target"] and failed[0].observed == "missing"
    assert crit.evidence == pytest.approx((len(facts) - 1) / len(facts))
    planned = facts[2]["boxes"][0]
    assert tuple(crit.failed_regions[0]) == tuple(planned)  # where it should be ...
    assert tuple(crit.failed_regions[1]) == (0.5, 0.1, 0.6, 0.2)  # ... and where the model saw it
    assert crit.unchecked == []


def test_missing_verdicts_are_fed_back_then_an_error():
    _, plan = plan_prompt("a red apple")
    with FakeOpenAI([chat_json({"checks": [], "score": 50, "reflection": "?"})]) as srv:
        with pytest.raises(BackendError) as ei:
            critic(srv).check(Image.new("RGB", (64, 64)), plan)
    assert "VLM critic (fake-vl at " in str(ei.value) and "no verdict for c1, c2" in str(ei.value)
    assert "no verdict for c1, c2" in srv.requests[1]["messages"][-1]["content"]


def test_server_errors_are_retried_then_one_line():
    _, plan = plan_prompt("a red apple")
    with FakeOpenAI([error(500, "vision tower crashed")]) as srv:
        with pytest.raises(BackendError, match="VLM critic .* failed twice: HTTP 500 from the server: vision tower"):
            critic(srv).check(Image.new("RGB", (64, 64)), plan)
    assert len(srv.requests) == 2
    with FakeOpenAI([{"status": 200, "json": {"choices": [{"message": {"content": "no idea"}}]}},
                     lambda b: verdicts(b)]) as srv:
        crit = critic(srv).check(Image.new("RGB", (64, 64)), plan)
    assert crit.score == 1.0 and all(c.passed for c in crit.checks)


def test_engine_reflect_loop_with_the_vlm_critic():
    from thinkdraw.engine import Engine

    calls = []

    def script(body):
        calls.append(body)
        # round 0: the second apple (c3: presence apple_2) fails; after the redraw everything passes
        return verdicts(body, failing=("c3",) if len(calls) == 1 else (), seen=None)

    with FakeOpenAI([script]) as srv:
        eng = Engine(renderer="sketch", critic=critic(srv), max_rounds=2)
        r = eng.generate("two red apples left of a blue cup", mode="reflect")
    assert len(calls) == 2 and [x.label for x in r.rounds] == ["draw", "refine 1"]
    assert r.rounds[0].critique.score < 1.0 and r.rounds[1].critique.score == 1.0 and r.kept == 1
    text = r.reasoning.render()
    assert "Round 0: score 0.88. The second apple is missing." in text  # 7 of 8 facts
    assert "Round 1: add apple_2; redrew" in text and "Kept round 1" in text
    # only the failed region was redrawn: pixels far from apple_2's box are the first drawing's
    box = r.plan.entity("apple_2").box
    a, b = np.asarray(r.rounds[0].image), np.asarray(r.rounds[1].image)
    x1 = int(box[2] * 256) + 8
    assert np.array_equal(a[:, x1:], b[:, x1:])


def test_cli_generate_with_the_vlm_critic(capsys, tmp_path):
    from thinkdraw.cli import main

    with FakeOpenAI([lambda b: verdicts(b)]) as srv:
        code = main(["generate", "--renderer", "sketch", "--critic", "vlm", "--llm-url", srv.url, "--llm-model",
                     "text-only", "--vlm-model", "fake-vl", "-o", str(tmp_path / "a.png"), "a red apple"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "draw: score 1.00 (2 of 2 checks passed): Everything is right." in out.err
    assert srv.requests[0]["model"] == "fake-vl"  # the critic's own model, the LLM's server
    with FakeOpenAI([error(500)]) as srv:
        code = main(["generate", "--renderer", "sketch", "--critic", "vlm", "--llm-url", srv.url, "--llm-model",
                     "m", "-o", str(tmp_path / "b.png"), "a red apple"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("thinkdraw: error: the VLM critic (m at ") and err.count("\n") == 1
    assert not (tmp_path / "b.png").exists()
    assert json.loads(json.dumps(answer_schema()))["required"] == ["checks", "score", "reflection"]
