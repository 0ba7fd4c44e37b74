"""The bundled models, loaded from the package's safetensors (no network, ever)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from thinkdraw.models.autoencoder import AEConfig, AutoEncoder
from thinkdraw.models.generator import GenConfig, Generator
from thinkdraw.models.reader import ReaderConfig, TextReader
from thinkdraw.models.segmenter import SegConfig, Segmenter
from thinkdraw.models.things import ThingConfig, ThingNet
from thinkdraw.models.verifier import BoxVerifier, VerifierConfig
from thinkdraw.models.weights import WEIGHTS_DIR, WeightsError, load_into, read_weights, weights_path

TOKENIZER_FILE = WEIGHTS_DIR / "tokenizer.safetensors"
CRITIC_FILE = WEIGHTS_DIR / "critic.safetensors"
VERIFIER_FILE = WEIGHTS_DIR / "verifier.safetensors"
GENERATOR_FILE = WEIGHTS_DIR / "generator.safetensors"
READER_FILE = WEIGHTS_DIR / "reader.safetensors"


def _cfg(cls, d: dict):
    d = dict(d)
    if "ch" in d:
        d["ch"] = tuple(d["ch"])
    try:
        return cls(**d)
    except TypeError as e:
        raise WeightsError(f"unknown model config {d}: {e}") from e


def model_file(name: str, path: str | Path | None = None, folder: str | Path | None = None) -> Path:
    """``path`` when given, else model ``name`` from the weights folder in force (see models/weights.py)."""
    return Path(path) if path else weights_path(name, folder)


@lru_cache(maxsize=8)
def _load(kind: str, path: Path):
    model_cls, cfg_cls = {"tokenizer": (AutoEncoder, AEConfig), "generator": (Generator, GenConfig),
                          "critic": (Segmenter, SegConfig), "verifier": (BoxVerifier, VerifierConfig),
                          "reader": (TextReader, ReaderConfig), "things": (ThingNet, ThingConfig),
                          "describer": (BoxVerifier, VerifierConfig)}[kind]
    sd, meta = read_weights(path)
    return load_into(model_cls(_cfg(cfg_cls, meta["config"])), sd, path)


def load_tokenizer(path: str | Path | None = None, folder: str | Path | None = None) -> AutoEncoder:
    return _load("tokenizer", model_file("tokenizer", path, folder))


def load_generator(path: str | Path | None = None, folder: str | Path | None = None) -> Generator:
    return _load("generator", model_file("generator", path, folder))


def load_segmenter(path: str | Path | None = None, folder: str | Path | None = None) -> Segmenter:
    return _load("critic", model_file("critic", path, folder))


def load_verifier(path: str | Path | None = None, folder: str | Path | None = None) -> BoxVerifier:
    return _load("verifier", model_file("verifier", path, folder))


def load_reader(path: str | Path | None = None, folder: str | Path | None = None) -> TextReader:
    return _load("reader", model_file("reader", path, folder))


def load_describer_verifier(path: str | Path | None = None, folder: str | Path | None = None) -> BoxVerifier:
    """describe's box verifier: one trained without blob negatives (docs/edit.md says why)."""
    return _load("describer", model_file("describer", path, folder))


def load_things(path: str | Path | None = None, folder: str | Path | None = None) -> ThingNet:
    return _load("things", model_file("things", path, folder))


def bundled_available() -> bool:
    return TOKENIZER_FILE.is_file() and GENERATOR_FILE.is_file()


def set_threads(n: int | None = None) -> None:
    """Use the machine's cores, but never more threads than cores (oversubscription is very slow).
    ``$THINKDRAW_THREADS`` fixes the number for a process (the server's workers share the cores this way:
    measured on 2 cores, two workers that each took both cores served 1.96 images/s, fewer than one)."""
    import os

    if n is None and os.environ.get("THINKDRAW_THREADS", "").isdigit():
        n = int(os.environ["THINKDRAW_THREADS"])
    if not n:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = max(1, n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
