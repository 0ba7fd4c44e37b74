"""The critic's text reader (models/reader.py): model, decoding, the bundled weights, and the critic and the
main command with no Tesseract on the machine."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from thinkdraw.models.reader import CHARSET, ReaderConfig, TextReader, crop_text, decode, encode, preprocess
from thinkdraw.think import plan_prompt
from thinkdraw.world.render import render_scene

TINY = ReaderConfig(ch=(4, 8, 8, 8), hidden=8)


@pytest.fixture
def no_tesseract(monkeypatch):
    """A machine without the tesseract binary: not on PATH, and shutil.which cannot find it."""
    real = shutil.which
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # the venv's bin: python, thinkdraw, no tesseract
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if "tesseract" in str(cmd) else real(cmd, *a, **k))
    assert shutil.which("tesseract") is None


def test_shapes_loss_and_greedy_ctc_decode():
    torch.manual_seed(0)
    m = TextReader(TINY)
    x = torch.rand(2, 1, TINY.height, TINY.width) * 2 - 1
    logits = m(x)
    assert logits.shape == (2, TINY.width // 4, len(CHARSET) + 1)
    loss = m.loss(x, ["OPEN", "SALE 50%"])
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    ids = encode("AAB")
    assert decode([0, ids[0], ids[0], 0, ids[0], ids[2], ids[2], 0]) == "AAB"  # repeats collapse; a blank splits
    assert decode(encode("SALE 50% & #1!? it's -: ./+@$()")) == "SALE 50% & #1!? it's -: ./+@$()"
    assert len(m.read([Image.new("RGB", (40, 12), "white")])) == 1


def test_preprocess_is_a_fixed_strip_with_a_bright_background():
    dark = Image.new("RGB", (90, 24), (20, 20, 60))
    light = Image.new("RGB", (500, 20), (250, 240, 200))  # wider than the strip: squeezed
    for im in (dark, light):
        x = preprocess(im)
        assert x.shape == (1, 32, 256) and float(x.min()) >= -1 and float(x.max()) <= 1
        assert float(x.mean()) > 0.5  # the background (the crop's border) ends up bright


SIGNS = [("a sign that says OPEN", "OPEN"), ("a banner that says 'SALE 50%'", "SALE 50%"),
         ("a poster that says CAFE 24", "CAFE 24"), ("a red sign that says 'STOP'", "STOP")]


def test_bundled_reader_reads_sketch_signs_exactly():
    from thinkdraw.models.bundled import READER_FILE, load_reader
    from thinkdraw.models.weights import WEIGHTS_DIR

    assert READER_FILE.is_file() and (WEIGHTS_DIR / "reader.train_log.json").is_file()
    assert (WEIGHTS_DIR / "reader.loss_curve.png").is_file()
    assert READER_FILE.stat().st_size < 2_500_000
    log = json.loads((WEIGHTS_DIR / "reader.train_log.json").read_text())
    assert log["summary"]["val_exact"] >= 0.9
    reader = load_reader()
    crops, want = [], []
    for prompt, content in SIGNS:
        _, plan = plan_prompt(prompt, seed=0)
        t = plan.texts[0]
        assert t.content == content
        crops.append(crop_text(render_scene(plan, seed=0).image, t.box))
        want.append(content)
    assert reader.read(crops) == want


def test_critic_reads_text_without_tesseract(no_tesseract):
    from thinkdraw.reflect.builtin import BuiltinCritic

    critic = BuiltinCritic()
    _, plan = plan_prompt("a sign that says OPEN", seed=0)
    good = critic.check(render_scene(plan, seed=0).image, plan)
    text = [c for c in good.checks if c.kind == "text"]
    assert len(text) == 1 and text[0].passed and text[0].observed == "OPEN"
    bad_plan = plan.model_copy(deep=True)
    bad_plan.texts[0].content = "OPFN"  # a changed letter is read as drawn
    bad = critic.check(render_scene(bad_plan, seed=0).image, plan)
    text = [c for c in bad.checks if c.kind == "text"]
    assert not text[0].passed and text[0].observed == "OPFN" and "reads 'OPFN'" in bad.reflection
    assert not [c for c in BuiltinCritic(ocr=False).check(render_scene(plan, seed=0).image, plan).checks
                if c.kind == "text"]


def test_main_command_writes_out_png_without_tesseract(no_tesseract, tmp_path, capsys):
    from thinkdraw.cli import main

    out = tmp_path / "out.png"
    code = main(["generate", "two red apples to the left of a blue cup and a sign that says OPEN", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert out.is_file() and Image.open(out).size == (256, 256)


def test_reader_training_script_runs_and_resumes(tmp_path):
    from thinkdraw.train.reader import ReaderTrainConfig, random_text, train

    g = np.random.default_rng(0)
    texts = [random_text(g) for _ in range(300)]
    assert all(1 <= len(t) <= 20 and t == " ".join(t.split()) and set(t) <= set(CHARSET) for t in texts)
    assert any(c in "".join(texts) for c in "%&#!?'-:")
    out = tmp_path / "reader"
    cfg = ReaderTrainConfig(out=str(out), scenes=6, builtin_scenes=0, val_scenes=2, chunk=4, steps=2, batch=4,
                            log_every=1, ckpt_every=1)
    train(cfg, log=lambda *a: None, config=TINY)
    assert sorted(p.name for p in out.glob("data-*.npz")) == ["data-train-0.npz", "data-train-1.npz",
                                                              "data-val-0.npz"]
    cfg.steps = 3
    train(cfg, resume=True, log=lambda *a: None, config=TINY)
    log = json.loads((out / "train_log.json").read_text())
    assert [r["step"] for r in log["records"]] == [1, 2, 3] and "val_exact" in log["records"][-1]
    assert (out / "reader.safetensors").is_file() and (out / "loss_curve.png").is_file()
