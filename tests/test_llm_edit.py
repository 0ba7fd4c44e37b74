"""The LLM-driven edit parser: the same client as the planner reads an instruction into intents (fake server on
loopback); locating and the mask stay the rules'."""

import pytest

from fake_openai import FakeOpenAI, chat_json
from thinkdraw.config import Endpoint
from thinkdraw.edit.apply import plan_edit
from thinkdraw.edit.llm_instruct import LLMEdit, LLMInstructionParser
from thinkdraw.errors import BackendError
from thinkdraw.think.rules import plan_prompt


def test_llm_reads_the_instruction_and_the_rules_carry_it_out():
    _, plan = plan_prompt("a white boat on the sea and a yellow sun")
    answer = {"intents": [{"op": "recolor", "ref": "the boat", "color": "crimson"},
                          {"op": "time", "time": "sunset"}]}
    with FakeOpenAI([chat_json({"intents": [{"op": "recolor", "ref": "the boat"}]}), chat_json(answer)]) as srv:
        parser = LLMInstructionParser(Endpoint(url=srv.url, model="fake"))
        out = plan_edit(plan, "could you give the boat a crimson paint job, at dusk", parser=parser)
    body = srv.requests[0]
    assert body["response_format"]["json_schema"]["schema"] == LLMEdit.model_json_schema()
    assert "- boat_1: white boat at [" in body["messages"][1]["content"]
    assert "op 'recolor' needs color" in srv.requests[1]["messages"][-1]["content"]  # fed back
    assert out.ok, out.message
    assert out.edit.result.entity("boat_1").attributes.color == "red"  # crimson -> red
    assert out.edit.result.background.time == "sunset"
    assert [o.op for o in out.edit.operations][:1] == ["recolor"]


def test_a_reference_that_names_nothing_is_still_refused():
    _, plan = plan_prompt("a white boat on the sea")
    with FakeOpenAI([chat_json({"intents": [{"op": "remove", "ref": "the giraffe"}]})]) as srv:
        out = plan_edit(plan, "lose the giraffe", parser=LLMInstructionParser(Endpoint(url=srv.url, model="f")))
    assert not out.ok and out.kind == "not_found"


def test_engine_edit_with_the_llm_parser(tmp_path):
    from thinkdraw.engine import Engine

    eng = Engine(renderer="sketch")
    src = eng.generate("a white boat on the sea", mode="think")
    path = tmp_path / "boat.png"
    src.save(str(path))
    with FakeOpenAI([chat_json({"intents": [{"op": "recolor", "ref": "the boat", "color": "red"}]})]) as srv:
        eng.edit_parser = LLMInstructionParser(Endpoint(url=srv.url, model="f"))
        r = eng.edit(str(path), "paint the vessel red", mode="think")
    assert r.ok and r.plan.entity("boat_1").attributes.color == "red"
    assert 0 < r.changed.sum() < r.changed.size  # only the boat's region was redrawn
    with FakeOpenAI([chat_json({"intents": []})]) as srv:
        eng.edit_parser = LLMInstructionParser(Endpoint(url=srv.url, model="f"))
        with pytest.raises(BackendError, match="LLM edit parser .* failed twice: schema violation: intents"):
            eng.edit(str(path), "paint the vessel red", mode="think")
