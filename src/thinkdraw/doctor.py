"""``thinkdraw doctor``: what this installation can do, in a second or two, without loading any weights.

Backends (installed, configured, reachable: an LLM / VLM server is asked ``GET /models`` with a short timeout),
the devices torch sees, and where the weights, the sessions and the config file are. Exit code 0 when the
backends in use (the chosen planner, renderer and critic) are ready, 1 when one of them is not.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

from thinkdraw import __version__

BUILTIN_RENDERER = ("tokenizer", "generator")
BUILTIN_CRITIC = ("critic", "verifier", "reader")
DIFFUSERS_PACKAGES = ("diffusers", "transformers", "accelerate")


def _version(pkg: str) -> str | None:
    if importlib.util.find_spec(pkg) is None:
        return None
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def _endpoint(ep, timeout: float, label: str) -> dict:
    from thinkdraw.errors import BackendError

    out: dict = {"url": ep.url, "model": ep.model, "api_key": ep.masked_key(), "httpx": _version("httpx")}
    if out["httpx"] is None:
        out.update(ok=False, status="httpx is not installed: pip install 'thinkdraw[llm]'")
        return out
    if not ep.url or not ep.model:
        missing = " and ".join(x for x, v in (("url", ep.url), ("model", ep.model)) if not v)
        out.update(ok=False, status=f"not configured: no {missing} (--{label}-url/--{label}-model, "
                                    f"THINKDRAW_{label.upper()}_*, or [{label}] in the config file)")
        return out
    from thinkdraw.backends.openai_compat import list_models, normalize_url

    try:
        out["url"] = normalize_url(ep.url)
        t = time.perf_counter()
        models = list_models(ep, timeout=timeout)
        ms = 1000 * (time.perf_counter() - t)
    except BackendError as e:
        out.update(ok=False, status=f"unreachable: {e}")
        return out
    listed = ep.model in models or any(m.split(":")[0] == ep.model for m in models)
    out["models"] = models[:50]
    out.update(ok=listed or not models,
               status=f"reachable in {ms:.0f} ms; " + (f"model {ep.model!r} listed" if listed else
                                                      f"model {ep.model!r} NOT listed (the server has: "
                                                      f"{', '.join(models[:8]) or 'none'})"))
    return out


def _weights(names: tuple[str, ...], folder: str | None) -> dict:
    from thinkdraw.models.weights import weights_path

    files = {n: weights_path(n, folder) for n in names}
    missing = [n for n, p in files.items() if not p.is_file()]
    return {"ok": not missing, "files": {n: str(p) for n, p in files.items()},
            "status": "weights present" if not missing else f"missing weights: {', '.join(missing)}"}


def _diffusers(settings) -> dict:
    versions = {p: _version(p) for p in DIFFUSERS_PACKAGES}
    missing = [p for p, v in versions.items() if v is None]
    out: dict = {"packages": versions}
    model = settings.diffusers.get("model")
    if model:
        p = Path(str(model)).expanduser()
        out["model"] = str(p)
        if p.is_dir():
            out["model_status"] = "a diffusers folder" if (p / "model_index.json").is_file() else \
                "a folder without model_index.json"
        else:
            out["model_status"] = "not a local folder (a hub id, or missing)"
    if missing:
        out.update(ok=False, status=f"not installed: {', '.join(missing)} (pip install 'thinkdraw[diffusers]')")
    else:
        out.update(ok=True, status="installed" + (f"; model {out['model']}: {out['model_status']}" if model else
                                                  "; no model named (--model, $THINKDRAW_DIFFUSERS_MODEL or [diffusers] model)"))
    return out


def _devices() -> dict:
    import torch

    d: dict = {"torch": torch.__version__, "cpu_threads": torch.get_num_threads(), "cuda": [], "mps": False}
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                d["cuda"].append(f"cuda:{i} {p.name} ({p.total_memory / 2**30:.0f} GiB)")
    except Exception as e:  # noqa: BLE001 - a broken driver is reported, not raised
        d["cuda_error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    try:
        d["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    except Exception:  # noqa: BLE001
        d["mps"] = False
    return d


def report(settings, timeout: float = 2.0, weights: str | None = None) -> dict:
    from thinkdraw.models.weights import WEIGHTS_DIR, WEIGHTS_ENV, user_weights_dir
    from thinkdraw.session.store import default_data_dir

    llm = _endpoint(settings.llm, timeout, "llm")
    same = (settings.vlm.url, settings.vlm.model) == (settings.llm.url, settings.llm.model)
    vlm = dict(llm, same_as_llm=True) if same else _endpoint(settings.vlm, timeout, "vlm")
    data = default_data_dir()
    r = {
        "thinkdraw": __version__, "python": platform.python_version(), "executable": sys.executable,
        "config": {"path": str(settings.path) if settings.path else None, "source": settings.path_source,
                   "default_path": str(_default_config()), "sources": settings.sources},
        "chosen": {"planner": settings.planner, "fallback": settings.fallback, "renderer": settings.renderer,
                   "critic": settings.critic},
        "planners": {"rules": {"ok": True, "status": "built in"}, "llm": llm},
        "renderers": {"builtin": _weights(BUILTIN_RENDERER, weights), "sketch": {"ok": True, "status": "no weights"},
                      "diffusers": _diffusers(settings)},
        "critics": {"builtin": _weights(BUILTIN_CRITIC, weights), "vlm": vlm},
        "devices": _devices(),
        "folders": {"weights_env": os.environ.get(WEIGHTS_ENV) or None, "user_weights": str(user_weights_dir()),
                    "bundled_weights": str(WEIGHTS_DIR), "sessions": str(data),
                    "sessions_exist": (data / "sessions.db").is_file() or data.is_dir()},
    }
    problems = []
    for kind, key in (("planners", "planner"), ("renderers", "renderer"), ("critics", "critic")):
        name = settings.__dict__[key]
        entry = r[kind].get(name)
        if entry is None:
            problems.append(f"{key} {name!r} is not a known {key}")
        elif not entry["ok"]:
            problems.append(f"{key} {name}: {entry['status']}")
    r["problems"] = problems
    return r


def _default_config() -> Path:
    from thinkdraw.config import default_config_path

    return default_config_path()


def _mark(ok: bool) -> str:
    return "ok  " if ok else "--  "


def render(r: dict) -> str:
    c = r["config"]
    lines = [f"thinkdraw {r['thinkdraw']} (Python {r['python']}, {r['executable']})"]
    if c["path"]:
        lines.append(f"config: {c['path']} (from {c['source']})")
    else:
        lines.append(f"config: none (the default place is {c['default_path']}; $THINKDRAW_CONFIG or --config name "
                     "another)")
    ch = r["chosen"]
    lines.append(f"in use: planner {ch['planner']}" + (f" (fallback {ch['fallback']})" if ch["fallback"] else "")
                 + f", renderer {ch['renderer']}, critic {ch['critic']}")
    for kind in ("planners", "renderers", "critics"):
        lines.append(f"{kind}:")
        for name, e in r[kind].items():
            status = e["status"]
            if e.get("same_as_llm") and e.get("url") and e.get("model"):
                status = "the LLM's server and model: " + status
            elif "httpx" in e and e.get("url") and e.get("model"):
                status = f"{e['model']} at {e['url']}: {status}"
            lines.append(f"  {_mark(e['ok'])}{name:<10} {status}")
    d = r["devices"]
    cuda = "; ".join(d["cuda"]) if d["cuda"] else ("error: " + d["cuda_error"] if d.get("cuda_error") else "none")
    lines.append(f"devices (torch {d['torch']}): cpu ({d['cpu_threads']} threads); cuda: {cuda}; "
                 f"mps: {'available' if d['mps'] else 'no'}")
    f = r["folders"]
    lines.append("weights: " + (f"$THINKDRAW_WEIGHTS={f['weights_env']}, then " if f["weights_env"] else "")
                 + f"bundled {f['bundled_weights']} (training exports to {f['user_weights']})")
    lines.append(f"sessions: {f['sessions']}" + ("" if f["sessions_exist"] else " (not created yet)"))
    if r["problems"]:
        lines.append("problems: " + "; ".join(r["problems"]))
    else:
        lines.append("everything in use is ready")
    return "\n".join(lines)


def doctor(a, settings=None) -> int:
    """``settings``: resolved by the CLI (``thinkdraw.cli._settings``, the same for every command); default:
    the environment and the config file."""
    if settings is None:
        from thinkdraw.config import resolve

        settings = resolve()
    s = settings
    if not 0 < a.timeout <= 60:
        raise ValueError("--timeout must be in (0, 60] seconds")
    r = report(s, timeout=a.timeout)
    print(json.dumps(r, indent=2) if a.json else render(r))
    return 0 if not r["problems"] else 1
