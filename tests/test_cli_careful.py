"""The careful command line: safe output files, one-line errors, honest messages, your own weights."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from thinkdraw.cli import main
from thinkdraw.plan.pngmeta import read_image_meta, write_image
from thinkdraw.plan.schema import ScenePlan


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("thinkdraw: error:"), err
    assert "Traceback" not in err and len(lines) == 1, err


SKETCH = ["--renderer", "sketch", "--mode", "think", "-q"]


def test_unnamed_output_is_never_overwritten(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, out, _ = run(capsys, "generate", "a red ball", "--renderer", "sketch", "--mode", "think")
        assert code == 0
    assert (tmp_path / "out.png").is_file() and (tmp_path / "out-1.png").is_file()
    assert "out-1.png" in out  # the path written is printed
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_named_output_needs_force_to_overwrite(tmp_path, capsys):
    png = tmp_path / "a.png"
    assert run(capsys, "generate", "a red ball", "-o", str(png), *SKETCH)[0] == 0
    before = png.read_bytes()
    code, _, err = run(capsys, "generate", "a blue ball", "-o", str(png), *SKETCH)
    assert code == 2 and "--force" in err
    one_line_error(err)
    assert png.read_bytes() == before
    assert run(capsys, "generate", "a blue ball", "-o", str(png), "--force", *SKETCH)[0] == 0
    assert read_image_meta(png)["prompt"] == "a blue ball"


@pytest.mark.parametrize("target", ["folder", "/dev/null", "file-as-parent"])
def test_bad_targets_are_refused_and_leave_nothing(tmp_path, capsys, target):
    if target == "folder":
        (tmp_path / "adir").mkdir()
        path = str(tmp_path / "adir")
    elif target == "/dev/null":
        path = "/dev/null"
        if not os.path.exists(path):
            pytest.skip("no /dev/null here")
    else:
        (tmp_path / "f.txt").write_text("x")
        path = str(tmp_path / "f.txt" / "x.png")
    code, _, err = run(capsys, "generate", "a red ball", "-o", path, "--force", *SKETCH)
    assert code == 2
    one_line_error(err)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    if target == "/dev/null":
        assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("suffix,fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP")])
def test_output_format_follows_the_name_and_carries_the_plan(tmp_path, capsys, suffix, fmt):
    path = tmp_path / f"x{suffix}"
    assert run(capsys, "generate", "two red apples left of a blue cup", "-o", str(path), *SKETCH)[0] == 0
    with Image.open(path) as im:
        assert im.format == fmt
    meta = read_image_meta(path)
    assert len(meta["plan"].entities) == 3 and meta["mode"] == "think"
    code, out, _ = run(capsys, "inspect", str(path))
    assert code == 0 and "apple_1" in out


def test_unknown_format_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "a red ball", "-o", str(tmp_path / "x.bmp"), *SKETCH)
    assert code == 2 and "unsupported image format" in err
    one_line_error(err)


def test_dash_writes_png_to_stdout(tmp_path):
    r = subprocess.run([sys.executable, "-m", "thinkdraw.cli", "generate", "a red ball", "-o", "-", *SKETCH],
                       capture_output=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "s.png").write_bytes(r.stdout)
    assert read_image_meta(tmp_path / "s.png")["prompt"] == "a red ball"
    assert not list(tmp_path.glob("out*.png"))


def test_oversized_metadata_is_trimmed_so_the_image_opens(tmp_path):
    plan = ScenePlan(prompt="a red ball")
    reasoning = [{"stage": "parse", "text": "x" * 2000 + str(k)} for k in range(2000)]  # ~4 MB of reasoning
    path, trimmed = write_image(Image.new("RGB", (32, 32)), tmp_path / "big.png", plan, reasoning=reasoning)
    assert trimmed == ["reasoning"]
    with Image.open(path) as im:
        im.load()
    meta = read_image_meta(path)
    assert "reasoning" not in meta and meta["trimmed"] == ["reasoning"]


def test_inspect_metadata_without_plan_is_one_line(tmp_path, capsys):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("thinkdraw", json.dumps({"prompt": "x"}))
    Image.new("RGB", (8, 8)).save(tmp_path / "n.png", pnginfo=info)
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for name, needle in (("n.png", "without a plan"), ("plain.png", "not written by thinkdraw"),
                         ("junk.png", "not a readable image"), ("missing.png", "no such file")):
        code, _, err = run(capsys, "inspect", str(tmp_path / name))
        assert code == 2 and needle in err, err
        one_line_error(err)


def test_inspect_shows_rounds_kept_and_timings(tmp_path, capsys):
    from thinkdraw.engine import GenerateResult, Round
    from thinkdraw.plan.schema import Critique, Reasoning

    img = Image.new("RGB", (16, 16))
    r = GenerateResult(prompt="a red ball", image=img, plan=ScenePlan(prompt="a red ball"), reasoning=Reasoning(),
                       mode="reflect", seed=1, renderer="builtin", timings={"draw": 0.1, "total": 0.2},
                       rounds=[Round(img, Critique(score=0.5, reflection="The ball is blue."), 0.1, label="draw"),
                               Round(img, Critique(score=1.0, reflection="Everything planned is there."), 0.1,
                                     label="refine 1")], kept=1)
    r.save(str(tmp_path / "r.png"))
    code, out, _ = run(capsys, "inspect", str(tmp_path / "r.png"))
    assert code == 0
    assert "refine 1: score 1.00" in out and "<- kept" in out and "timings:" in out and "draw 100 ms" in out


BAD = [
    (["generate", "a cat", "--size", "-5"], "out of range"),
    (["generate", "a cat", "--size", "abc"], "not a whole number"),
    (["generate", "a cat", "--size", "128"], "256"),  # the builtin renderer draws 256 px
    (["generate", "a cat", "--rounds", "-1"], "out of range"),
    (["generate", "a cat", "--mode", "dream"], "invalid choice"),
    (["generate", "a cat", "--weights", "/nonexistent/w"], "weights folder"),
    (["plan"], "needs a PROMPT"),
    (["eval", "--n", "0"], "out of range"),
    (["eval", "--modes", ""], "unknown modes"),
    (["world", "sample", "--n", "0", "--out", "x"], "out of range"),
    (["train", "dreams"], "unknown model"),
    (["inspect"], "required"),
    (["nonsense"], "invalid choice"),
]


@pytest.mark.parametrize("args,needle", BAD)
def test_bad_input_is_one_line_and_nonzero(capsys, args, needle):
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own errors exit through our one-line error()
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err, err
    one_line_error(err)


def test_unwritable_locations_are_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    blocked = tmp_path / "f" / "sub"  # a file where a folder should be: fails even for root
    src = tmp_path / "p.txt"
    src.write_text("a cat\n")
    for args in (["plan", "--batch", str(src), "-o", str(blocked / "o.jsonl")],
                 ["plan", "a cat", "-o", str(blocked / "o.json")],
                 ["eval", "--modes", "sketch", "--n", "1", "--categories", "single_object", "--out", str(blocked)],
                 ["world", "sample", "--n", "1", "--out", str(blocked)]):
        code, _, err = run(capsys, *args)
        assert code == 2, (args, err)
        one_line_error(err)


HELP = [["--help"], ["plan", "--help"], ["generate", "--help"], ["inspect", "--help"], ["eval", "--help"],
        ["world", "--help"], ["world", "sample", "--help"], ["world", "vocab", "--help"], ["train", "--help"],
        ["schema", "--help"], ["train", "tokenizer", "--help"], ["train", "generator", "--help"],
        ["train", "critic", "--help"], ["train", "verifier", "--help"]]


@pytest.mark.parametrize("args", HELP, ids=lambda a: " ".join(a))
def test_every_help_works(capsys, args):
    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr().out
    assert code == 0 and "usage" in out.lower()
    if args[0] == "train" and len(args) == 3:
        assert "(default:" in out and "--export" in out


def test_train_help_lists_models(capsys):
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and all(m in out for m in ("tokenizer", "generator", "critic", "verifier"))


def test_plan_output_file_and_batch_rules(tmp_path, capsys):
    dst = tmp_path / "x.json"
    code, out, err = run(capsys, "plan", "a red ball", "-o", str(dst))
    assert code == 0 and out == "" and json.loads(dst.read_text())["plan"]["entities"][0]["noun"] == "ball"
    src = tmp_path / "b.txt"
    src.write_text("# my prompts\na cat\n  # indented comment\nthree stars\n", encoding="utf-8")
    code, _, err = run(capsys, "plan", "--batch", str(src), "extra prompt")
    assert code == 2 and "not both" in err
    code, out, _ = run(capsys, "plan", "--batch", str(src))
    assert code == 0 and [json.loads(x)["prompt"] for x in out.splitlines()] == ["a cat", "three stars"]


def test_eval_small_n_has_no_nan_and_says_it_reuses(tmp_path, capsys):
    code, out, _ = run(capsys, "eval", "--modes", "sketch", "--n", "3", "--out", str(tmp_path / "ev"))
    assert code == 0 and " nan " not in out and "| colors | - |" in out
    code, out, err = run(capsys, "eval", "--modes", "sketch", "--n", "3", "--out", str(tmp_path / "ev"))
    assert code == 0 and "reusing 3 results" in err and "--fresh" in err


def test_world_vocab_lists_every_kind(capsys):
    from thinkdraw.world.vocab import CATEGORIES

    code, out, _ = run(capsys, "world", "vocab")
    assert code == 0 and f"draws {len(CATEGORIES)} kinds of thing" in out and "balloon" in out
    code, out, _ = run(capsys, "world", "vocab", "--json")
    assert len(json.loads(out)["categories"]) == len(CATEGORIES)


def test_internal_errors_are_one_line(capsys, monkeypatch):
    import thinkdraw.cli as cli

    def boom(a):
        raise KeyError("plan")

    monkeypatch.setattr(cli, "cmd_schema", boom)
    monkeypatch.delenv("THINKDRAW_DEBUG", raising=False)
    code, _, err = run(capsys, "schema")
    assert code == 1 and "internal error" in err and "Traceback" not in err


def _retrained_tokenizer(folder: Path) -> None:
    """A stand-in for a retrained tokenizer: the bundled one saved again (same shapes, another file)."""
    from thinkdraw.models.bundled import load_tokenizer
    from thinkdraw.models.weights import save_weights

    tok = load_tokenizer()
    save_weights(tok, folder / "tokenizer.safetensors", tok.config.to_dict(), extra={"note": "retrained"})


def test_weights_folder_refuses_a_generator_with_another_tokenizer(tmp_path, capsys):
    folder = tmp_path / "w"
    folder.mkdir()
    _retrained_tokenizer(folder)
    code, _, err = run(capsys, "generate", "a red ball", "-o", str(tmp_path / "x.png"), "--mode", "think",
                       "--weights", str(folder))
    assert code == 2 and "trained on another tokenizer" in err, err
    one_line_error(err)


def test_weights_env_and_matching_folder(tmp_path, capsys, monkeypatch):
    import shutil

    from thinkdraw.models.weights import WEIGHTS_DIR, record_export, weights_path

    folder = tmp_path / "w"
    folder.mkdir()
    for name in ("tokenizer", "generator"):
        shutil.copyfile(WEIGHTS_DIR / f"{name}.safetensors", folder / f"{name}.safetensors")
    record_export(folder, "tokenizer")
    from thinkdraw.models.weights import file_sha256

    record_export(folder, "generator", tokenizer_sha256=file_sha256(folder / "tokenizer.safetensors"))
    monkeypatch.setenv("THINKDRAW_WEIGHTS", str(folder))
    assert weights_path("generator") == folder / "generator.safetensors"
    assert weights_path("critic") == WEIGHTS_DIR / "critic.safetensors"  # not in the folder: the bundled one
    code, _, err = run(capsys, "generate", "a red ball", "-o", str(tmp_path / "x.png"), "--mode", "think", "-q")
    assert code == 0, err


def test_export_goes_to_the_user_folder_with_backups(tmp_path, monkeypatch):
    import json as _json

    from thinkdraw.models.weights import WEIGHTS_DIR, user_weights_dir
    from thinkdraw.train.common import export_run

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "critic.safetensors").write_bytes((WEIGHTS_DIR / "critic.safetensors").read_bytes())
    (run_dir / "train_log.json").write_text("{}")
    (run_dir / "loss_curve.png").write_bytes(b"png")
    bundled = (WEIGHTS_DIR / "critic.safetensors").stat().st_mtime_ns
    for _ in range(2):
        dst = export_run(run_dir, "critic")
    assert dst.parent == user_weights_dir() and str(tmp_path) in str(dst)
    assert (WEIGHTS_DIR / "critic.safetensors").stat().st_mtime_ns == bundled  # the package is untouched
    assert len(list((dst.parent / "backup").glob("critic-*.safetensors"))) == 1
    manifest = _json.loads((dst.parent / "weights.json").read_text())
    assert "sha256" in manifest["files"]["critic.safetensors"]


def test_bundled_generator_is_recorded_with_its_tokenizer():
    from thinkdraw.models.bundled import GENERATOR_FILE, TOKENIZER_FILE
    from thinkdraw.models.weights import check_pair, file_sha256, trained_on_tokenizer

    assert trained_on_tokenizer(GENERATOR_FILE) == file_sha256(TOKENIZER_FILE)
    check_pair(TOKENIZER_FILE, GENERATOR_FILE)


def _all_commands():
    from thinkdraw.cli import build_parser

    def walk(p, prefix):
        for a in p._actions:
            if a.__class__.__name__ == "_SubParsersAction":
                for name, sub in a.choices.items():
                    yield [*prefix, name]
                    yield from walk(sub, [*prefix, name])

    return list(walk(build_parser(), []))


@pytest.mark.parametrize("args", _all_commands(), ids=lambda a: " ".join(a))
def test_every_subcommand_has_working_help(capsys, args):
    code = main([*args, "--help"])
    out = capsys.readouterr().out
    assert code == 0 and "usage" in out.lower(), (args, out)


def test_a_placeholder_is_never_reported_as_a_success(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "a giraffe", "-o", str(tmp_path / "g.png"), "--renderer", "sketch")
    assert code == 0 and "no score" in err and "placeholder" in err and "score 1.00" not in err
