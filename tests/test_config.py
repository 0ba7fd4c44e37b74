"""The config file: where it is found, flags over environment over file, the critic's own settings first,
clear one-line errors."""

import pytest

from thinkdraw.cli import main
from thinkdraw.config import ConfigError, config_path, default_config_path, resolve

FILE = """planner = "llm"
fallback = "rules"
renderer = "sketch"
critic = "vlm"
[llm]
url = "http://file:1/v1"
model = "file-model"
api_key = "file-key"
timeout = 30
[vlm]
model = "file-vl"
[diffusers]
model = "/models/sd15"
dtype = "fp16"
"""


def test_default_place_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("THINKDRAW_CONFIG")
    assert default_config_path() == tmp_path / "thinkdraw" / "config.toml"
    assert config_path() == (None, "none")  # no file there: the defaults
    (tmp_path / "thinkdraw").mkdir()
    (tmp_path / "thinkdraw" / "config.toml").write_text(FILE)
    assert config_path() == (tmp_path / "thinkdraw" / "config.toml", "default")
    s = resolve()
    assert (s.planner, s.fallback, s.renderer, s.critic) == ("llm", "rules", "sketch", "vlm")
    assert s.diffusers == {"model": "/models/sd15", "dtype": "fp16"}
    other = tmp_path / "other.toml"
    other.write_text('planner = "rules"\n')
    monkeypatch.setenv("THINKDRAW_CONFIG", str(other))
    assert resolve().planner == "rules" and resolve().path == other
    monkeypatch.setenv("THINKDRAW_CONFIG", "")
    assert resolve().path is None and resolve().planner == "rules"


def test_flags_over_env_over_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(FILE)
    env = {}
    s = resolve(str(cfg), env=env)
    assert (s.llm.url, s.llm.model, s.llm.api_key, s.llm.timeout) == ("http://file:1/v1", "file-model", "file-key", 30)
    assert s.sources["llm.model"].endswith("[llm]")
    env = {"THINKDRAW_LLM_URL": "http://env:2/v1", "THINKDRAW_LLM_MODEL": "env-model"}
    s = resolve(str(cfg), env=env)
    assert (s.llm.url, s.llm.model, s.llm.api_key) == ("http://env:2/v1", "env-model", "file-key")
    assert s.sources["llm.url"] == "$THINKDRAW_LLM_URL"
    s = resolve(str(cfg), env=env, llm_model="flag-model", planner="rules", critic="builtin")
    assert (s.llm.url, s.llm.model, s.planner, s.critic) == ("http://env:2/v1", "flag-model", "rules", "builtin")
    # the critic: its own sources first (flag, env, [vlm]), then the LLM's
    assert (s.vlm.url, s.vlm.model, s.vlm.api_key, s.vlm.timeout) == ("http://env:2/v1", "file-vl", "file-key", 30)
    s = resolve(str(cfg), env={**env, "THINKDRAW_VLM_MODEL": "env-vl"}, llm_model="flag-model")
    assert s.vlm.model == "env-vl"
    s = resolve(str(cfg), env={**env, "THINKDRAW_VLM_MODEL": "env-vl"}, vlm_model="flag-vl")
    assert s.vlm.model == "flag-vl" and s.sources["vlm.model"] == "--vlm-model"
    assert resolve(str(cfg), env=env, fallback="none").fallback is None


@pytest.mark.parametrize("text, message", [
    ("planner = [", "is not valid TOML"),
    ('planer = "llm"\n', "planer: unknown setting"),
    ('[llm]\nurll = "x"\n', "llm.urll: unknown setting"),
    ('planner = "gpt"\n', "planner: Input should be 'rules' or 'llm'"),
    ("[llm]\ntimeout = -1\n", "llm.timeout: Input should be greater than 0"),
])
def test_bad_files_are_one_line(tmp_path, capsys, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve(str(cfg), env={})
    assert main(["plan", "--config", str(cfg), "a red apple"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thinkdraw: error: config file ") and message in err and err.count("\n") == 1


def test_a_named_file_must_exist(tmp_path, capsys, monkeypatch):
    with pytest.raises(ConfigError, match="from --config"):
        resolve(str(tmp_path / "nope.toml"))
    monkeypatch.setenv("THINKDRAW_CONFIG", str(tmp_path / "nope.toml"))
    assert main(["plan", "a red apple"]) == 2
    assert "(from $THINKDRAW_CONFIG) does not exist" in capsys.readouterr().err


def test_engine_planner_and_critic_by_name_read_the_settings(tmp_path, monkeypatch):
    from thinkdraw.reflect.base import get_critic
    from thinkdraw.think import get_planner

    cfg = tmp_path / "c.toml"
    cfg.write_text(FILE)
    monkeypatch.setenv("THINKDRAW_CONFIG", str(cfg))
    monkeypatch.setenv("THINKDRAW_LLM_MODEL", "env-model")
    p = get_planner("llm")
    assert (p.name, p.endpoint.model, p.endpoint.url, p.fallback) == ("llm", "env-model", "http://file:1/v1", "rules")
    c = get_critic("vlm")
    assert (c.name, c.endpoint.model) == ("vlm", "file-vl")
