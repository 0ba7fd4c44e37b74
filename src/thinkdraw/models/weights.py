"""Loading and saving weights: safetensors only (never pickle), config in the file's metadata.

Where weights come from, for each model file (``tokenizer``, ``generator``, ``critic``, ``verifier``, ...):
  1. a weights folder named by the caller (``--weights DIR``, ``Engine(weights=DIR)``), else
  2. the folder in ``$THINKDRAW_WEIGHTS``, else
  3. the bundled weights inside the package (``WEIGHTS_DIR``).
A folder may hold only some models; the others come from the bundled ones. Training runs export into the
user weights folder (``user_weights_dir()``), never over the bundled files unless that folder is named.

A folder's ``weights.json`` records the sha256 of each file and, for a generator, the sha256 of the tokenizer
it was trained on (a new generator also carries that in its own metadata): a generator is never paired with
another tokenizer (its latents would decode to noise); ``check_pair`` says so clearly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS_ENV = "THINKDRAW_WEIGHTS"
MANIFEST = "weights.json"


def user_weights_dir() -> Path:
    """Where ``thinkdraw train ... --export`` writes: the user's data folder, never the package."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "thinkdraw" / "weights"


def weights_folder(folder: str | Path | None = None) -> Path | None:
    """The weights folder in force (``folder``, else ``$THINKDRAW_WEIGHTS``), checked; None: the bundled ones."""
    chosen = folder if folder not in (None, "") else os.environ.get(WEIGHTS_ENV) or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        where = "--weights" if folder not in (None, "") else f"${WEIGHTS_ENV}"
        raise WeightsError(f"weights folder {str(path)!r} (from {where}) does not exist or is not a folder")
    return path


def weights_path(name: str, folder: str | Path | None = None) -> Path:
    """The file for model ``name``: from the weights folder in force when it has one, else the bundled file."""
    d = weights_folder(folder)
    if d is not None and (d / f"{name}.safetensors").is_file():
        return d / f"{name}.safetensors"
    return WEIGHTS_DIR / f"{name}.safetensors"


def file_sha256(path: str | Path) -> str:
    p = Path(path)
    st = p.stat()
    return _sha256(str(p.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(folder: str | Path) -> dict:
    p = Path(folder) / MANIFEST
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise WeightsError(f"weights manifest {p} is unreadable: {e}") from e
    return data if isinstance(data, dict) else {}


def trained_on_tokenizer(generator_path: str | Path) -> str | None:
    """The sha256 of the tokenizer the generator at ``generator_path`` was trained on, when recorded."""
    from safetensors import safe_open

    gp = Path(generator_path)
    try:
        with safe_open(str(gp), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception:  # an unreadable file is reported by read_weights with its own message
        return None
    if "tokenizer_sha256" in meta:
        return json.loads(meta["tokenizer_sha256"])
    entry = read_manifest(gp.parent).get("files", {}).get(gp.name, {})
    if entry.get("sha256") in (None, file_sha256(gp)):
        return entry.get("tokenizer_sha256")
    return None


def check_pair(tokenizer_path: str | Path, generator_path: str | Path) -> None:
    """Refuse a generator paired with a tokenizer other than the one it was trained on."""
    want = trained_on_tokenizer(generator_path)
    if want is None or not Path(tokenizer_path).is_file():
        return
    have = file_sha256(tokenizer_path)
    if have != want:
        raise WeightsError(
            f"the generator {generator_path} was trained on another tokenizer (sha256 {want[:12]}), not on "
            f"{tokenizer_path} ({have[:12]}): put the generator trained on this tokenizer beside it "
            f"(thinkdraw train generator --tokenizer {tokenizer_path} --export), or use both from one folder")


def record_export(folder: Path, name: str, tokenizer_sha256: str | None = None) -> None:
    """Note an exported file (and, for a generator, its tokenizer) in the folder's ``weights.json``."""
    data = read_manifest(folder)
    files = data.setdefault("files", {})
    entry = {"sha256": file_sha256(folder / f"{name}.safetensors")}
    if tokenizer_sha256:
        entry["tokenizer_sha256"] = tokenizer_sha256
    files[f"{name}.safetensors"] = entry
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / MANIFEST)


class WeightsError(RuntimeError):
    """A weights file is missing, unreadable or does not fit its model."""


def save_weights(model: nn.Module, path: str | Path, config: dict, fp16: bool = True, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: (v.half() if fp16 and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(config), **{k: json.dumps(v) for k, v in (extra or {}).items()}}
    tmp = path.with_name(path.name + ".tmp")
    save_file(sd, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict in fp32, metadata with JSON values decoded); clear errors naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path} (reinstall thinkdraw, or train it: see docs/models.md)")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        sd = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"weights file {path} is corrupt or not a safetensors file: {e}") from e
    try:
        meta = {k: json.loads(v) for k, v in meta.items()}
    except json.JSONDecodeError as e:
        raise WeightsError(f"weights file {path} has unreadable metadata: {e}") from e
    if "config" not in meta:
        raise WeightsError(f"weights file {path} carries no model config")
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, meta


def load_into(model: nn.Module, sd: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"weights file {path} does not fit the model: {str(e).splitlines()[0]}") from e
    return model.eval()
