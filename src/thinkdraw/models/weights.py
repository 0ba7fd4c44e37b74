"""Loading and saving bundled weights: safetensors only (never pickle), config in the file's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).parent / "weights"


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
