"""thinkdraw doctor: backends installed and reachable (a fake server on loopback), devices, folders; exit code 1
when a backend in use is not ready; no weights loaded."""

import json
import socket
import subprocess
import sys

from fake_openai import FakeOpenAI
from thinkdraw.cli import main


def doctor(capsys, *args):
    code = main(["doctor", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_defaults_are_ready(capsys):
    code, out, err = doctor(capsys)
    assert code == 0, err
    assert "in use: planner rules, renderer builtin, critic builtin" in out
    assert "ok  rules" in out and "ok  builtin    weights present" in out and "devices (torch " in out
    assert "config: none (the default place is " in out and "sessions: " in out
    assert "--  llm        not configured" in out and out.rstrip().endswith("everything in use is ready")


def test_reachable_server_and_listed_model(capsys):
    with FakeOpenAI([], models=("qwen2.5:7b", "qwen2.5vl:7b")) as srv:
        code, out, err = doctor(capsys, "--planner", "llm", "--llm-url", srv.url, "--llm-model", "qwen2.5:7b",
                                "--critic", "vlm", "--vlm-model", "qwen2.5vl:7b", "--llm-api-key", "sk-secret-123")
        assert code == 0, out
        assert f"ok  llm        qwen2.5:7b at {srv.url}: reachable in " in out and "model 'qwen2.5:7b' listed" in out
        assert f"ok  vlm        qwen2.5vl:7b at {srv.url}: reachable in " in out
        assert srv.paths == ["/v1/models", "/v1/models"] and not srv.requests  # nothing generated
        code, out, _ = doctor(capsys, "--json", "--planner", "llm", "--llm-url", srv.url, "--llm-model", "llama3",
                              "--llm-api-key", "sk-secret-123")
    r = json.loads(out)
    assert code == 1 and r["planners"]["llm"]["ok"] is False and "NOT listed" in r["planners"]["llm"]["status"]
    assert r["problems"] == [f"planner llm: {r['planners']['llm']['status']}"]
    assert "sk-secret-123" not in out and r["planners"]["llm"]["api_key"] == "sk-...23"
    assert set(r) >= {"config", "devices", "folders", "renderers", "critics"}


def test_unreachable_server_is_a_problem_only_when_in_use(capsys):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    s.close()
    code, out, _ = doctor(capsys, "--llm-url", url, "--llm-model", "m", "--timeout", "0.5")
    assert code == 0 and f"--  llm        m at {url}: unreachable: cannot reach" in out
    code, out, _ = doctor(capsys, "--planner", "llm", "--llm-url", url, "--llm-model", "m", "--timeout", "0.5")
    assert code == 1 and "problems: planner llm: unreachable" in out


def test_doctor_loads_no_model():
    code = ("import sys, thinkdraw.cli as c\n"
            "c.main(['doctor'])\n"
            "bad = [m for m in ('thinkdraw.draw.builtin', 'thinkdraw.reflect.builtin', 'thinkdraw.models.generator')"
            " if m in sys.modules]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PATH": "", "THINKDRAW_CONFIG": ""})
    assert r.returncode == 0, r.stderr
