"""The Engine asks its renderer what a refine round needs; every command that builds an Engine resolves its
planner, renderer and critic the same way (flags over environment over the config file)."""

from __future__ import annotations

import json

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


# --- every command that builds an Engine: the same backend flags, resolved the same way --------------------
def llm_answer(body):
    """A good LLM: the rules planner's plan for the prompt the request carries."""
    from fake_openai import chat_json
    from thinkdraw.plan.schema import PlanOutput
    from thinkdraw.think.rules import plan_prompt

    prompt = body["messages"][1]["content"]
    rs, plan = plan_prompt(prompt)
    return chat_json(PlanOutput(prompt=prompt, reasoning=rs.steps, plan=plan).model_dump(mode="json"))


def llm_requests(srv) -> list[str]:
    """The prompts the fake server was asked to plan."""
    return [b["messages"][1]["content"] for b in srv.requests if b.get("messages")]


ENGINE_COMMANDS = (["generate", "P"], ["edit", "a.png", "I"], ["compose", "a.png", "b.png", "I"],
                   ["session", "new", "P"], ["session", "edit", "s", "I"], ["session", "branch", "s", "1"],
                   ["chat"], ["serve"], ["batch", "p.txt", "--out", "o"], ["eval"], ["doctor"])


@pytest.mark.parametrize("argv", ENGINE_COMMANDS, ids=lambda v: " ".join(v[:2]))
def test_every_engine_command_takes_the_backend_flags(argv, tmp_path, monkeypatch):
    from thinkdraw.cli import _settings, build_parser

    cfg = tmp_path / "c.toml"
    cfg.write_text('planner = "rules"\nrenderer = "builtin"\n[llm]\nurl = "http://file:1/v1"\nmodel = "file-m"\n'
                   '[diffusers]\nmodel = "/from/file"\nsteps = 12\n')
    monkeypatch.setenv("THINKDRAW_LLM_MODEL", "env-m")
    monkeypatch.setenv("THINKDRAW_DIFFUSERS_MODEL", "/from/env")
    flags = ["--config", str(cfg), "--planner", "llm", "--fallback", "rules", "--critic", "vlm", "--renderer",
             "diffusers", "--model", "/from/flag", "--llm-url", "http://flag:2", "--llm-api-key", "sk-flag",
             "--vlm-model", "vl-flag"]
    a = build_parser().parse_args(argv + flags)
    s = _settings(a)
    assert (s.planner, s.fallback, s.critic, s.renderer) == ("llm", "rules", "vlm", "diffusers")
    assert s.llm.url == "http://flag:2" and s.llm.model == "env-m" and s.llm.api_key == "sk-flag"  # flag > env > file
    assert s.vlm.model == "vl-flag" and s.vlm.url == "http://flag:2"
    assert s.diffusers == {"model": "/from/flag", "steps": 12} and s.sources["diffusers.model"] == "--model"
    b = build_parser().parse_args(argv + ["--config", str(cfg)])
    s = _settings(b)
    assert (s.planner, s.renderer, s.llm.model, s.diffusers["model"]) == ("rules", "builtin", "env-m", "/from/env")
    monkeypatch.delenv("THINKDRAW_DIFFUSERS_MODEL")
    assert _settings(b).diffusers["model"] == "/from/file"


def test_engine_from_settings_builds_what_they_name(tmp_path):
    from thinkdraw.config import Endpoint, resolve
    from thinkdraw.draw.sketch import SketchRenderer
    from thinkdraw.engine import Engine
    from thinkdraw.reflect.vlm import VLMCritic
    from thinkdraw.think.llm import LLMPlanner

    cfg = tmp_path / "c.toml"
    cfg.write_text('planner = "llm"\ncritic = "vlm"\nrenderer = "sketch"\n[llm]\nurl = "http://x:1/v1"\nmodel = "m"\n')
    e = Engine.from_settings(resolve(str(cfg), env={}), max_rounds=1)
    assert isinstance(e.planner, LLMPlanner) and e.planner.endpoint == Endpoint(url="http://x:1/v1", model="m")
    assert isinstance(e.renderer, SketchRenderer) and isinstance(e.critic, VLMCritic) and e.max_rounds == 1
    with pytest.raises(ValueError, match="--model is for --renderer diffusers"):
        Engine.from_settings(resolve(str(cfg), model="/m", env={}))
    cfg.write_text('renderer = "diffusers"\n[diffusers]\nmodel = "/nope"\nsteppz = 3\n')
    pytest.importorskip("diffusers")
    with pytest.raises(ValueError, match="the diffusers renderer has no setting steppz"):
        Engine.from_settings(resolve(str(cfg), env={}))


def _sketch_image(tmp_path, name="a.png", prompt="a red ball next to a blue cup"):
    from thinkdraw.engine import Engine

    path = tmp_path / name
    Engine(renderer="sketch").generate(prompt, seed=0, mode="think").save(str(path))
    return path


def test_edit_and_compose_use_the_named_renderer_and_critic(tmp_path, capsys):
    from fake_openai import FakeOpenAI
    from test_vlm_critic import verdicts
    from thinkdraw.cli import main
    from thinkdraw.plan.pngmeta import read_image_meta

    src = _sketch_image(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('renderer = "sketch"\n')
    assert main(["edit", str(src), "make the ball green", "--config", str(cfg), "--mode", "think", "-q",
                 "-o", str(tmp_path / "e.png")]) == 0, capsys.readouterr().err
    assert read_image_meta(str(tmp_path / "e.png"))["renderer"] == "sketch"  # from the config file
    with FakeOpenAI([lambda b: verdicts(b)]) as srv:
        code = main(["edit", str(src), "make the ball green", "--renderer", "sketch", "--critic", "vlm",
                     "--llm-url", srv.url, "--llm-model", "fake-vl", "-o", str(tmp_path / "f.png")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert srv.requests and srv.requests[0]["model"] == "fake-vl"  # the VLM critic judged the edit
    assert "edit: score 1.00" in out.err and read_image_meta(str(tmp_path / "f.png"))["renderer"] == "sketch"
    other = _sketch_image(tmp_path, "b.png", "a boat on the sea")
    assert main(["compose", str(src), str(other), "the ball from image 1 on the sea of image 2", "--renderer",
                 "sketch", "--mode", "think", "-q", "-o", str(tmp_path / "c.png")]) == 0, capsys.readouterr().err
    assert read_image_meta(str(tmp_path / "c.png"))["renderer"] == "sketch"
    assert main(["edit", str(src), "make the ball green", "--model", str(tmp_path), "-o", str(tmp_path / "g.png")]) == 2
    assert "--model is for --renderer diffusers" in capsys.readouterr().err


def test_session_and_chat_plan_with_the_llm(tmp_path, capsys, monkeypatch):
    import io

    from fake_openai import FakeOpenAI
    from thinkdraw.cli import main
    from thinkdraw.session import SessionStore

    data = str(tmp_path / "data")
    with FakeOpenAI([llm_answer]) as srv:
        llm = ["--planner", "llm", "--llm-url", srv.url, "--llm-model", "fake-7b"]
        assert main(["session", "new", "a red ball", "--name", "s", "--renderer", "sketch", "--mode", "think",
                     "--data-dir", data, *llm]) == 0, capsys.readouterr().err
        assert llm_requests(srv) == ["a red ball"]
        assert main(["session", "edit", "s", "make the ball blue", "--data-dir", data, "--mode", "think"]) == 0
        monkeypatch.setattr("sys.stdin", io.StringIO("a green cup\n/quit\n"))
        assert main(["chat", "--data-dir", data, "--renderer", "sketch", "--mode", "think", *llm]) == 0
        out = capsys.readouterr().out
        assert llm_requests(srv) == ["a red ball", "a green cup"], out
    store = SessionStore(data)
    try:
        assert sorted(i.renderer for i in store.sessions()) == ["sketch", "sketch"]
    finally:
        store.close()


def test_batch_uses_the_named_backends_and_records_their_names(tmp_path, capsys):
    from fake_openai import FakeOpenAI
    from thinkdraw.cli import main

    prompts = tmp_path / "p.txt"
    prompts.write_text("a red ball\na blue cup\n")
    out = tmp_path / "out"
    with FakeOpenAI([llm_answer]) as srv:
        argv = ["batch", str(prompts), "--out", str(out), "--mode", "think", "--renderer", "sketch", "--planner",
                "llm", "--llm-url", srv.url, "--llm-model", "fake-7b", "--llm-api-key", "sk-secret-key"]
        assert main(argv) == 0, capsys.readouterr().err
        assert sorted(llm_requests(srv)) == ["a blue cup", "a red ball"]
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["renderer"] for r in rows] == ["sketch", "sketch"] and all(r["error"] is None for r in rows)
    recorded = json.loads((out / "batch.json").read_text())
    assert recorded["planner"] == "llm" and recorded["renderer"] == "sketch"
    assert "sk-secret" not in (out / "batch.json").read_text()  # endpoints and keys are never written
    capsys.readouterr()
    assert main(["batch", str(prompts), "--out", str(out), "--mode", "think", "--renderer", "sketch"]) == 2
    assert "planner 'llm' -> 'rules'" in capsys.readouterr().err  # other backends: refused, not mixed


def test_eval_builds_its_engine_from_the_flags(tmp_path, capsys, monkeypatch):
    import types

    from fake_openai import FakeOpenAI
    from thinkdraw.cli import main
    from thinkdraw.eval import fidelity

    monkeypatch.setattr(fidelity, "score_image", lambda *a, **k: types.SimpleNamespace(facts=[], all_passed=True))
    out = tmp_path / "ev"
    with FakeOpenAI([llm_answer]) as srv:
        argv = ["eval", "--n", "1", "--modes", "think", "--categories", "colors", "--out", str(out), "--renderer",
                "sketch", "--planner", "llm", "--llm-url", srv.url, "--llm-model", "fake-7b"]
        assert main(argv) == 0, capsys.readouterr().err
        asked = llm_requests(srv)
    from thinkdraw.eval.suite import WARMUP_PROMPT, eval_items

    assert asked == [WARMUP_PROMPT, WARMUP_PROMPT, eval_items(1, 0, ("colors",))[0].prompt]
    assert json.loads((out / "backends.json").read_text()) == {"planner": "llm", "renderer": "sketch",
                                                               "critic": "builtin", "llm_model": "fake-7b"}
    capsys.readouterr()
    assert main(argv[:11]) == 2  # the rules planner now: the old results are not reused
    err = capsys.readouterr().err
    assert "holds eval results drawn with other backends" in err and "planner 'llm' -> 'rules'" in err


def test_serve_builds_its_workers_engine_from_the_flags(tmp_path, monkeypatch):
    import thinkdraw.serve as serve_pkg
    from fake_openai import FakeOpenAI
    from thinkdraw.cli import main
    from thinkdraw.serve.runner import Runner

    pytest.importorskip("uvicorn")
    seen = {}

    class Stop(BaseException):  # past the CLI's one-line error handler
        pass

    def fake_app(config):
        seen["config"] = config
        raise Stop

    monkeypatch.setattr(serve_pkg, "create_app", fake_app)
    with FakeOpenAI([llm_answer]) as srv:
        with pytest.raises(Stop):
            main(["serve", "--port", "0", "--data", str(tmp_path), "--renderer", "sketch", "--planner", "llm",
                  "--llm-url", srv.url, "--llm-model", "fake-7b"])
        c = seen["config"]
        assert c.renderer == "sketch" and c.backends.planner == "llm"
        runner = Runner({"renderer": c.renderer, "rounds": c.rounds, "backends": c.backends, "preload": True,
                         "sessions_dir": str(tmp_path)})
        res = runner.run("generate", {"prompt": "a red ball", "seed": 0, "mode": "think"}, None)
        assert llm_requests(srv) == ["a red ball"]
    img = res["images"][0]
    assert img["renderer"] == "sketch" and img["reasoning"][0]["text"].startswith("Planned by the LLM fake-7b")
