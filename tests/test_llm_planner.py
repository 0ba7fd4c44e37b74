"""The LLM planner against a real HTTP server on loopback (tests/fake_openai.py) with scripted answers: valid,
invalid JSON, wrong schema, slow, 500, a refusal, a server without json_schema; the repair by the layout solver;
the fallback to the rules planner; the CLI flags."""

import json
import socket
import subprocess
import sys

import pytest

from fake_openai import FakeOpenAI, chat, chat_json, error, slow
from thinkdraw.config import Endpoint
from thinkdraw.errors import BackendError
from thinkdraw.plan.schema import PlanOutput
from thinkdraw.think.llm import LLMPlanner, plan_schema
from thinkdraw.think.rules import plan_prompt

PROMPT = "two red apples left of a blue cup"


def answer(prompt=PROMPT, drop_boxes=("apple_2",), **change):
    """What a good LLM would answer: the rules planner's object, some boxes left out."""
    rs, plan = plan_prompt(prompt)
    d = PlanOutput(prompt=prompt, reasoning=rs.steps, plan=plan).model_dump(mode="json")
    for e in d["plan"]["entities"]:
        if e["id"] in drop_boxes:
            e["box"] = None
        e.update(change.get(e["id"], {}))
    d["reasoning"] = [{"stage": "parse", "text": "Two red apples, one blue cup; the apples left of the cup."}]
    return d


def planner(srv, **kw):
    return LLMPlanner(Endpoint(url=srv.url, model="fake-7b", timeout=kw.pop("timeout", 10), **kw))


def test_valid_answer_one_request_carrying_the_schema():
    with FakeOpenAI([chat_json(answer())]) as srv:
        rs, plan = LLMPlanner(Endpoint(url=srv.url, model="fake-7b", api_key="sk-test")).plan(PROMPT, seed=3)
    assert len(srv.requests) == 1
    body = srv.requests[0]
    assert srv.paths == ["/v1/chat/completions"]
    assert body["model"] == "fake-7b" and body["seed"] == 3
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "thinkdraw_plan"
    assert rf["json_schema"]["schema"] == plan_schema() == PlanOutput.model_json_schema()
    assert set(rf["json_schema"]["schema"]["properties"]) == {"prompt", "reasoning", "plan"}
    assert body["messages"][0]["role"] == "system" and body["messages"][-1] == {"role": "user", "content": PROMPT}
    assert srv.headers[0]["Authorization"] == "Bearer sk-test"
    assert [e.id for e in plan.entities] == ["apple_1", "apple_2", "cup_1"]
    assert all(e.box is not None for e in plan.entities)  # the solver placed apple_2
    text = rs.render()
    assert "[plan] Planned by the LLM fake-7b at " in text and "structured output (json_schema), 1 request." in text
    assert "[parse] Two red apples" in text  # the LLM's own reasoning is kept
    layout = [s.text for s in rs.steps if s.stage == "layout"][-1]
    assert "placed apple_2 at [" in layout and "kept 2 boxes as given (apple_1, cup_1)" in layout
    assert "Unsatisfied: none." in layout


def test_invalid_json_is_retried_once_with_the_error_fed_back():
    with FakeOpenAI([chat("Sure! Here is the plan: {not json"), chat_json(answer())]) as srv:
        rs, plan = planner(srv).plan(PROMPT)
    assert len(srv.requests) == 2
    retry = srv.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Sure! Here is the plan: {not json"}
    assert retry[-1]["role"] == "user" and "not valid JSON" in retry[-1]["content"]
    assert "retried once after: the answer is not valid JSON" in rs.render()
    assert len(plan.entities) == 3


def test_json_in_a_code_fence_after_thinking_is_read():
    content = "<think>apples first</think>\n```json\n" + json.dumps(answer()) + "\n```"
    with FakeOpenAI([chat(content)]) as srv:
        _, plan = planner(srv).plan(PROMPT)
    assert len(srv.requests) == 1 and len(plan.entities) == 3


def test_wrong_schema_twice_is_one_clear_error():
    bad = answer()
    bad["plan"]["entities"][0]["box"] = [0.5, 0.5, 0.2, 0.9]  # x0 > x1
    bad["plan"]["relations"].append({"subject": "apple_1", "predicate": "eats", "object": "cup_1"})
    with FakeOpenAI([chat_json(bad)]) as srv:
        with pytest.raises(BackendError) as ei:
            planner(srv).plan(PROMPT)
    msg = str(ei.value)
    assert len(srv.requests) == 2
    assert "\n" not in msg and "LLM planner (fake-7b at http://127.0.0.1:" in msg and "failed twice" in msg
    assert "schema violation" in msg and "plan.entities.0.box" in msg
    fed = srv.requests[1]["messages"][-1]["content"]
    assert "schema violation" in fed and "predicate" in fed


def test_a_bare_plan_or_an_empty_one_is_refused_and_retried():
    with FakeOpenAI([chat_json(answer()["plan"]), chat_json({**answer(), "plan": {"entities": []}}),
                     chat_json(answer())]) as srv:
        with pytest.raises(BackendError, match="draws nothing"):
            planner(srv).plan(PROMPT)
    assert "bare plan" in srv.requests[1]["messages"][-1]["content"]


def test_slow_server_times_out_then_error():
    with FakeOpenAI([slow(3.0, chat_json(answer()))]) as srv:
        with pytest.raises(BackendError, match=r"failed twice: no answer within 0.4 s"):
            planner(srv, timeout=0.4).plan(PROMPT)
    assert len(srv.requests) == 2


def test_slow_once_then_answered():
    with FakeOpenAI([slow(3.0, chat_json(answer())), chat_json(answer())]) as srv:
        rs, _ = planner(srv, timeout=0.6).plan(PROMPT)
    assert "retried once after: no answer within 0.6 s" in rs.render()


def test_500_is_retried_and_twice_is_an_error():
    with FakeOpenAI([error(500, "CUDA out of memory"), chat_json(answer())]) as srv:
        rs, plan = planner(srv).plan(PROMPT)
    assert len(srv.requests) == 2 and "HTTP 500 from the server: CUDA out of memory" in rs.render()
    with FakeOpenAI([error(500, "CUDA out of memory")]) as srv:
        with pytest.raises(BackendError, match="failed twice: HTTP 500 from the server: CUDA out of memory"):
            planner(srv).plan(PROMPT)


def test_404_says_which_model_to_pull():
    with FakeOpenAI([error(404, 'model "fake-7b" not found, try pulling it first')]) as srv:
        with pytest.raises(BackendError, match="ollama pull fake-7b"):
            planner(srv).plan(PROMPT)


def test_server_without_json_schema_gets_plain_json():
    def plain_only(body):
        if "response_format" in body:
            return error(400, "response_format json_schema is not supported")
        return chat_json(answer())

    with FakeOpenAI([plain_only]) as srv:
        p = planner(srv)
        rs, plan = p.plan(PROMPT)
        p.plan("a red apple")  # it stays in plain mode: one request
    assert len(srv.requests) == 3
    assert "response_format" not in srv.requests[1]
    assert '"prompt"' in srv.requests[1]["messages"][0]["content"] and "JSON schema" in srv.requests[1]["messages"][0]["content"]
    assert "response_format" not in srv.requests[2]
    text = rs.render()
    assert "refused response_format json_schema (HTTP 400: response_format json_schema is not supported)" in text
    assert "plain JSON, 2 requests" in text


def test_refusal_is_retried():
    with FakeOpenAI([chat(None, refusal="I cannot help with that."), chat_json(answer())]) as srv:
        rs, _ = planner(srv).plan(PROMPT)
    assert "retried once after: the model refused: I cannot help with that." in rs.render()
    assert "harmless drawing" in srv.requests[1]["messages"][-1]["content"]


def test_fallback_rules_says_so():
    with FakeOpenAI([error(503, "loading model")]) as srv:
        p = LLMPlanner(Endpoint(url=srv.url, model="fake-7b"), fallback="rules")
        rs, plan = p.plan(PROMPT)
    assert rs.steps[0].stage == "plan" and rs.steps[0].text.startswith("The LLM planner failed: ")
    assert "HTTP 503" in rs.steps[0].text and "Planned by the rules planner instead" in rs.steps[0].text
    assert any(w.startswith("planned by the rules planner: the LLM planner failed") for w in plan.warnings)
    assert plan == plan_prompt(PROMPT)[1].model_copy(update={"warnings": plan.warnings})


def test_unreachable_server_is_one_line_at_once():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(BackendError, match=r"cannot reach http://127.0.0.1:\d+/v1: .*ollama serve"):
        LLMPlanner(Endpoint(url=f"http://127.0.0.1:{port}", model="m")).plan(PROMPT)


def test_missing_url_or_model_says_where_to_set_it():
    with pytest.raises(BackendError, match="no server URL: pass --llm-url, set THINKDRAW_LLM_URL"):
        LLMPlanner(Endpoint(model="m")).plan(PROMPT)
    with pytest.raises(BackendError, match="no model name: pass --llm-model"):
        LLMPlanner(Endpoint(url="http://127.0.0.1:9/v1")).plan(PROMPT)


def test_solver_repairs_gravity_and_overlaps_and_says_what_it_changed():
    a = answer("a red car next to a green tree on the grass", drop_boxes=())
    ents = {e["id"]: e for e in a["plan"]["entities"]}
    ents["car_1"]["box"] = [0.05, 0.1, 0.35, 0.3]  # floating in the sky
    ents["tree_1"]["box"] = [0.6, 0.45, 0.9, 0.9]
    with FakeOpenAI([chat_json(a)]) as srv:
        rs, plan = planner(srv).plan(a["prompt"])
    layout = [s.text for s in rs.steps if s.stage == "layout"][-1]
    car = plan.entity("car_1")
    assert car.box[3] > 0.6  # on the ground now
    assert "moved car_1 [50, 100, 350, 300] -> [" in layout and "kept 1 box as given (tree_1)" in layout
    assert "to stand on the ground (gravity)" in layout

    b = answer(drop_boxes=())
    for e in b["plan"]["entities"]:
        e["box"] = [0.4, 0.6, 0.6, 0.8]  # all three in one spot
    b["plan"]["entities"][0]["category"] = "fruit"
    b["plan"]["entities"][1]["attributes"]["color"] = "crimson"
    b["plan"]["canvas"] = {"width": 1024, "height": 1024}
    with FakeOpenAI([chat_json(b)]) as srv:
        rs, plan = planner(srv).plan(PROMPT)
    text = rs.render()
    assert "the LLM's boxes broke" in text and "overlaps" in text
    assert "Unsatisfied: none." in text
    assert "canvas 1024x1024 -> 256x256" in text
    assert "apple_1: category 'fruit' is not a world category: 'apple'" in text
    assert "apple_2: colour 'crimson' -> 'red'" in text
    assert plan.entity("apple_1").category == "apple" and plan.entity("apple_2").attributes.color == "red"
    assert plan.canvas.width == 256


def test_engine_generates_with_the_llm_planner():
    from thinkdraw.engine import Engine

    with FakeOpenAI([chat_json(answer())]) as srv:
        eng = Engine(planner=planner(srv), renderer="sketch")
        r = eng.generate(PROMPT, mode="think")
    assert r.image.size == (256, 256) and len(r.plan.entities) == 3
    assert r.reasoning.steps[0].text.startswith("Planned by the LLM fake-7b")


# --- the command line ---------------------------------------------------------------------------
def run_cli(args, capsys):
    from thinkdraw.cli import main

    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_plan_with_flags(capsys, monkeypatch):
    monkeypatch.setenv("THINKDRAW_LLM_MODEL", "from-env")
    with FakeOpenAI([chat_json(answer())]) as srv:
        code, out, err = run_cli(["plan", "--planner", "llm", "--llm-url", srv.url, "--llm-model", "from-flag",
                                  "--json", PROMPT], capsys)
    assert code == 0, err
    obj = json.loads(out)
    PlanOutput.model_validate(obj)
    assert obj["reasoning"][0]["text"].startswith("Planned by the LLM from-flag")
    assert srv.requests[0]["model"] == "from-flag"  # flags override the environment


def test_cli_plan_with_env_and_errors(capsys, monkeypatch, tmp_path):
    with FakeOpenAI([error(500, "no GPU")]) as srv:
        monkeypatch.setenv("THINKDRAW_LLM_URL", srv.url)
        monkeypatch.setenv("THINKDRAW_LLM_MODEL", "env-model")
        code, out, err = run_cli(["plan", "--planner", "llm", PROMPT], capsys)
        assert code == 2 and out == ""
        assert err.startswith("thinkdraw: error: the LLM planner (env-model at ") and err.count("\n") == 1
        assert "HTTP 500 from the server: no GPU" in err
        code, out, err = run_cli(["plan", "--planner", "llm", "--fallback", "rules", PROMPT], capsys)
        assert code == 0 and "[plan] The LLM planner failed" in out and "Planned by the rules planner" in out
        batch = tmp_path / "p.txt"
        batch.write_text("a red apple\na blue cup\n")
        code, out, err = run_cli(["plan", "--planner", "llm", "--batch", str(batch)], capsys)
        assert code == 0 and "2 of 2 prompts could not be planned" in err
        assert all("HTTP 500" in json.loads(line)["error"] for line in out.splitlines())


def test_cli_generate_with_the_llm_planner_from_a_config_file(capsys, tmp_path, monkeypatch):
    with FakeOpenAI([chat_json(answer())]) as srv:
        cfg = tmp_path / "config.toml"
        cfg.write_text(f'planner = "llm"\nrenderer = "sketch"\n[llm]\nurl = "{srv.url}"\nmodel = "file-model"\n')
        out_png = tmp_path / "o.png"
        code, out, err = run_cli(["generate", "--config", str(cfg), "--mode", "think", "-o", str(out_png), "-v",
                                  PROMPT], capsys)
    assert code == 0, err
    assert "renderer sketch" in out and "Planned by the LLM file-model" in out
    assert srv.requests[0]["model"] == "file-model"


def test_default_commands_do_not_import_httpx(tmp_path):
    code = ("import sys, thinkdraw, thinkdraw.cli as c\n"
            f"assert c.main(['generate', '--renderer', 'sketch', '--mode', 'think', '-q', '-o', {str(tmp_path / 'a.png')!r}, 'a red apple']) == 0\n"
            "assert c.main(['plan', 'a red apple']) == 0\n"
            "from thinkdraw.think import get_planner\n"
            "get_planner('llm')\n"
            "assert 'httpx' not in sys.modules, 'httpx imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PATH": "", "THINKDRAW_CONFIG": ""})
    assert r.returncode == 0, r.stderr
