"""The bundled models, loaded from the package's safetensors (no network, ever)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from thinkdraw.models.autoencoder import AEConfig, AutoEncoder
from thinkdraw.models.generator import GenConfig, Generator
from thinkdraw.models.segmenter import SegConfig, Segmenter
from thinkdraw.models.verifier import BoxVerifier, VerifierConfig
from thinkdraw.models.weights import WEIGHTS_DIR, WeightsError, load_into, read_weights

TOKENIZER_FILE = WEIGHTS_DIR / "tokenizer.safetensors"
CRITIC_FILE = WEIGHTS_DIR / "critic.safetensors"
VERIFIER_FILE = WEIGHTS_DIR / "verifier.safetensors"
GENERATOR_FILE = WEIGHTS_DIR / "generator.safetensors"


def _cfg(cls, d: dict):
    d = dict(d)
    if "ch" in d:
        d["ch"] = tuple(d["ch"])
    try:
        return cls(**d)
    except TypeError as e:
        raise WeightsError(f"unknown model config {d}: {e}") from e


@lru_cache(maxsize=4)
def load_tokenizer(path: str | Path | None = None) -> AutoEncoder:
    path = Path(path) if path else TOKENIZER_FILE
    sd, meta = read_weights(path)
    return load_into(AutoEncoder(_cfg(AEConfig, meta["config"])), sd, path)


@lru_cache(maxsize=4)
def load_generator(path: str | Path | None = None) -> Generator:
    path = Path(path) if path else GENERATOR_FILE
    sd, meta = read_weights(path)
    return load_into(Generator(_cfg(GenConfig, meta["config"])), sd, path)


@lru_cache(maxsize=4)
def load_segmenter(path: str | Path | None = None) -> Segmenter:
    path = Path(path) if path else CRITIC_FILE
    sd, meta = read_weights(path)
    return load_into(Segmenter(_cfg(SegConfig, meta["config"])), sd, path)


@lru_cache(maxsize=4)
def load_verifier(path: str | Path | None = None) -> BoxVerifier:
    path = Path(path) if path else VERIFIER_FILE
    sd, meta = read_weights(path)
    return load_into(BoxVerifier(_cfg(VerifierConfig, meta["config"])), sd, path)


def bundled_available() -> bool:
    return TOKENIZER_FILE.is_file() and GENERATOR_FILE.is_file()


def set_threads(n: int | None = None) -> None:
    """Use the machine's cores, but never more threads than cores (oversubscription is very slow)."""
    import os

    n = n or len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
