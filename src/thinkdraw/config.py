"""Settings: which planner, renderer and critic, and how to reach the real models behind them.

Three layers, each overriding the one below it: command-line flags, then environment variables, then a
TOML config file. The file is the first of:
  1. ``--config PATH`` (a named file that does not exist is an error),
  2. ``$THINKDRAW_CONFIG`` (the same; set it to the empty string for no file at all),
  3. the default place: ``$XDG_CONFIG_HOME/thinkdraw/config.toml`` (``~/.config/thinkdraw/config.toml``;
     Windows ``%APPDATA%\\thinkdraw\\config.toml``), used when it exists.

    planner = "llm"          # rules (default) or llm
    fallback = "rules"       # when the LLM planner fails: plan with the rules planner (said in the reasoning)
    renderer = "builtin"     # builtin (default), sketch, diffusers
    critic = "builtin"       # builtin (default) or vlm

    [llm]                    # any OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp, hosted)
    url = "http://localhost:11434/v1"
    model = "qwen2.5:7b"
    api_key = ""             # or $THINKDRAW_LLM_API_KEY
    timeout = 120            # seconds per request
    temperature = 0.0
    structured = true        # ask for response_format json_schema (false: plain JSON from the start)

    [vlm]                    # the vlm critic's own endpoint; what it leaves out comes from [llm]
    model = "qwen2.5vl:7b"

    [diffusers]              # the diffusers renderer's settings (docs/backends.md)

Environment: ``THINKDRAW_LLM_URL``, ``THINKDRAW_LLM_MODEL``, ``THINKDRAW_LLM_API_KEY`` and, for the critic,
``THINKDRAW_VLM_URL``, ``THINKDRAW_VLM_MODEL``, ``THINKDRAW_VLM_API_KEY``. The critic takes each setting from
its own sources first (``--vlm-model``, ``THINKDRAW_VLM_*``, ``[vlm]``), then from the LLM's (flags, env,
``[llm]``): a text-only ``--llm-model`` never silently replaces a vision model named for the critic.

This module reads files and the environment only: it imports no HTTP client and no model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_ENV = "THINKDRAW_CONFIG"
DIFFUSERS_MODEL_ENV = "THINKDRAW_DIFFUSERS_MODEL"  # the diffusers renderer's model (draw.diffusers_renderer)
LLM_FIELDS = ("url", "model", "api_key")
DEFAULT_TIMEOUT = 120.0


class ConfigError(ValueError):
    """A config file that cannot be read or holds something it should not: one line, exit code 2."""


class EndpointFile(BaseModel):
    """One ``[llm]`` or ``[vlm]`` table as written in the file (everything optional)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout: float | None = Field(None, gt=0, le=3600)
    temperature: float | None = Field(None, ge=0, le=2)
    structured: bool | None = None


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    planner: Literal["rules", "llm"] | None = None
    fallback: Literal["rules", "none"] | None = None
    renderer: str | None = None
    critic: str | None = None
    llm: EndpointFile = Field(default_factory=EndpointFile)
    vlm: EndpointFile = Field(default_factory=EndpointFile)
    diffusers: dict[str, Any] = Field(default_factory=dict, description="the diffusers renderer's own settings")


class Endpoint(BaseModel):
    """A resolved OpenAI-compatible endpoint: what the HTTP client needs."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    temperature: float = 0.0
    structured: bool = True

    def masked_key(self) -> str | None:
        k = self.api_key
        return None if not k else (k[:3] + "..." + k[-2:] if len(k) > 8 else "***")


@dataclass
class Settings:
    planner: str = "rules"
    fallback: str | None = None
    renderer: str = "builtin"
    critic: str = "builtin"
    llm: Endpoint = field(default_factory=Endpoint)
    vlm: Endpoint = field(default_factory=Endpoint)
    diffusers: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the config file read (None: none)
    path_source: str = "none"  # --config, $THINKDRAW_CONFIG, default, none
    sources: dict[str, str] = field(default_factory=dict)  # "llm.url" -> "--llm-url" / "$THINKDRAW_LLM_URL" / file


def default_config_path() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "thinkdraw" / "config.toml"


def config_path(explicit: str | None = None, env: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """The config file in force and where it was named: ``(path, "--config" | "$THINKDRAW_CONFIG" |
    "default")``, or ``(None, "none")``. A file named by flag or environment must exist."""
    env = os.environ if env is None else env
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} (from --config) does not exist or is not a file")
        return p, "--config"
    if CONFIG_ENV in env:
        if not env[CONFIG_ENV]:
            return None, "none"
        p = Path(env[CONFIG_ENV]).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} (from ${CONFIG_ENV}) does not exist or is not a file")
        return p, f"${CONFIG_ENV}"
    p = default_config_path()
    return (p, "default") if p.is_file() else (None, "none")


def read_config(path: Path) -> FileConfig:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from e
    try:
        return FileConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        what = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"config file {str(path)!r}: {where}: {what}") from e


def resolve(config: str | None = None, *, planner: str | None = None, fallback: str | None = None,
            renderer: str | None = None, critic: str | None = None, llm_url: str | None = None,
            llm_model: str | None = None, llm_api_key: str | None = None, vlm_model: str | None = None,
            model: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Flags (the keyword arguments; None: not given) over environment over the config file. ``model``: the
    diffusers renderer's pipeline folder (``--model``, else ``$THINKDRAW_DIFFUSERS_MODEL``, else ``[diffusers]
    model``), kept in ``Settings.diffusers["model"]`` with the table's other settings."""
    env = os.environ if env is None else env
    path, how = config_path(config, env)
    f = read_config(path) if path is not None else FileConfig()
    s = Settings(path=path, path_source=how, diffusers=dict(f.diffusers))
    src = s.sources
    file_label = f"{path}" if path else "file"

    def pick(key: str, *cands: tuple[Any, str]) -> Any:
        for value, where in cands:
            if value not in (None, ""):
                src[key] = where
                return value
        return None

    s.planner = pick("planner", (planner, "--planner"), (f.planner, file_label)) or "rules"
    fb = pick("fallback", (fallback, "--fallback"), (f.fallback, file_label))
    s.fallback = None if fb in (None, "none") else fb
    s.renderer = pick("renderer", (renderer, "--renderer"), (f.renderer, file_label)) or "builtin"
    s.critic = pick("critic", (critic, "--critic"), (f.critic, file_label)) or "builtin"
    m = pick("diffusers.model", (model, "--model"), (env.get(DIFFUSERS_MODEL_ENV), f"${DIFFUSERS_MODEL_ENV}"),
             (f.diffusers.get("model"), f"{file_label} [diffusers]"))
    if m is not None:
        s.diffusers["model"] = m
    flags = {"url": llm_url, "model": llm_model, "api_key": llm_api_key}
    llm_cands = {k: [(flags[k], f"--llm-{k.replace('_', '-')}"), (env.get(f"THINKDRAW_LLM_{k.upper()}"),
                                                                   f"$THINKDRAW_LLM_{k.upper()}"),
                     (getattr(f.llm, k), f"{file_label} [llm]")] for k in LLM_FIELDS}
    llm = {k: pick(f"llm.{k}", *llm_cands[k]) for k in LLM_FIELDS}
    vflags = {"url": None, "model": vlm_model, "api_key": None}
    vlm = {k: pick(f"vlm.{k}", (vflags[k], "--vlm-model"), (env.get(f"THINKDRAW_VLM_{k.upper()}"),
                                                             f"$THINKDRAW_VLM_{k.upper()}"),
                   (getattr(f.vlm, k), f"{file_label} [vlm]"), *llm_cands[k]) for k in LLM_FIELDS}
    for key, vals, table, fallback_table in (("llm", llm, f.llm, None), ("vlm", vlm, f.vlm, f.llm)):
        extra = {}
        for k in ("timeout", "temperature", "structured"):
            v = getattr(table, k)
            if v is None and fallback_table is not None:
                v = getattr(fallback_table, k)
            if v is not None:
                extra[k] = v
        setattr(s, key, Endpoint(**vals, **extra))
    return s
