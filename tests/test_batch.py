"""thinkdraw batch: prompts files, resumable output folders, worker processes, a real run killed with SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thinkdraw.batch import BatchError, BatchSettings, Journal, load_records, read_prompts, run_batch
from thinkdraw.plan.pngmeta import read_image_meta

PROMPTS = ["two red apples left of a blue cup", "a boat on the sea at sunset", "three yellow stars above a green heart",
           "a red car next to a tree", "a sign that says OPEN", "a yellow ball above a green box"]


def _txt(tmp_path: Path, prompts=PROMPTS, name="p.txt") -> Path:
    f = tmp_path / name
    f.write_text("# a comment\n\n" + "\n".join(prompts) + "\n", encoding="utf-8")
    return f


def _pixels(out: Path) -> dict[str, str]:
    return {p.name: read_image_meta(p)["pixels"] for p in sorted(out.glob("*.png"))}


@pytest.fixture(scope="module")
def tiny_engine(tiny_renderer):
    from thinkdraw import Engine

    return Engine(renderer=tiny_renderer)


def test_read_prompts_txt_and_jsonl_and_clear_errors(tmp_path):
    items = read_prompts(_txt(tmp_path), seed=5, mode="think")
    assert [i.prompt for i in items] == PROMPTS and {i.seed for i in items} == {5} and items[2].name == "00002.png"
    j = tmp_path / "p.jsonl"
    j.write_text('"a red ball"\n{"prompt": "a blue cup", "seed": 3, "mode": "direct", "name": "cup"}\n\n')
    a, b = read_prompts(j)
    assert (a.prompt, a.mode, a.name) == ("a red ball", "reflect", "00000.png")
    assert (b.seed, b.mode, b.name) == (3, "direct", "cup.png")
    for text, msg in [('{"prompt": ""}', "no prompt"), ("not json", "not JSON"), ('{"prompt": "x", "mode": "dream"}',
                      "unknown mode"), ('{"prompt": "x", "seed": "1"}', "seed"), ('{"prompt": "x", "name": "../a"}',
                      "name"), ('{"prompt": "x", "colour": 1}', "unknown field"),
                      ('{"prompt": "x", "name": "a"}\n{"prompt": "y", "name": "a"}', "taken")]:
        j.write_text(text + "\n")
        with pytest.raises(BatchError, match=msg):
            read_prompts(j)
    (tmp_path / "e.txt").write_text("# only a comment\n")
    with pytest.raises(BatchError, match="no prompts"):
        read_prompts(tmp_path / "e.txt")
    with pytest.raises(BatchError, match=".txt"):
        read_prompts(tmp_path / "p.csv")


def test_journal_drops_a_torn_last_line(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": ')
    j = Journal(f)
    assert j.load() == ['{"a": 1}', '{"a": 2}']
    j.append('{"a": 3}')
    j.close()
    assert [json.loads(x)["a"] for x in f.read_text().splitlines()] == [1, 2, 3]


def test_batch_is_the_same_for_any_worker_count_and_resumes(tmp_path, tiny_engine):
    items = read_prompts(_txt(tmp_path), mode="think")
    one = run_batch(items, tmp_path / "w1", workers=1, engine=tiny_engine)
    assert (one.drawn, one.reused, one.failed) == (len(PROMPTS), 0, 0)
    two = run_batch(items, tmp_path / "w2", workers=2, engine=tiny_engine)
    assert two.drawn == len(PROMPTS)
    assert _pixels(tmp_path / "w1") == _pixels(tmp_path / "w2")  # not the worker count, not the order
    recs = load_records(tmp_path / "w2")
    assert sorted(recs) == list(range(len(PROMPTS))) and all(r.path == f"{r.index:05d}.png" for r in recs.values())
    meta = read_image_meta(tmp_path / "w2" / "00001.png")
    assert meta["prompt"] == PROMPTS[1] and meta["mode"] == "think" and meta["plan"].entities

    # resumed: a torn line is cut, a deleted image is redrawn, nothing finished is redone
    out = tmp_path / "w2"
    (out / "00003.png").unlink()
    with (out / "results.jsonl").open("ab") as f:
        f.write(b'{"index": 9, "prom')
    (out / ".00004.png.abc123.tmp").write_bytes(b"half an image")
    again = run_batch(items, out, workers=1, engine=tiny_engine)
    assert (again.drawn, again.reused) == (1, len(PROMPTS) - 1)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(PROMPTS) + 1 and all(json.loads(x) for x in lines)
    assert not list(out.glob(".*.tmp")) and _pixels(out) == _pixels(tmp_path / "w1")
    assert run_batch(items, out, engine=tiny_engine).drawn == 0


def test_batch_refuses_another_batchs_folder_and_records_bad_prompts(tmp_path, tiny_engine):
    items = read_prompts(_txt(tmp_path, PROMPTS[:2]), mode="think")
    run_batch(items, tmp_path / "o", engine=tiny_engine)
    with pytest.raises(BatchError, match="other settings"):
        run_batch(items, tmp_path / "o", BatchSettings(rounds=1), engine=tiny_engine)
    other = read_prompts(_txt(tmp_path, ["a green tree", PROMPTS[1]], name="q.txt"), mode="think")
    with pytest.raises(BatchError, match="not that batch's"):
        run_batch(other, tmp_path / "o", engine=tiny_engine)
    more = read_prompts(_txt(tmp_path, [*PROMPTS[:2], "a blue fish"], name="r.txt"), mode="think")
    assert run_batch(more, tmp_path / "o", engine=tiny_engine).drawn == 1  # prompts added at the end: go on
    bad = read_prompts(_txt(tmp_path, ["a red ball", "x" * 5000], name="b.txt"), mode="think")
    s = run_batch(bad, tmp_path / "bad", engine=tiny_engine)
    assert (s.drawn, s.failed) == (1, 1)
    rec = load_records(tmp_path / "bad")[1]
    assert rec.error and rec.path is None
    assert run_batch(bad, tmp_path / "bad", engine=tiny_engine).drawn == 0  # a refused prompt is not retried


def test_cli_batch_errors_are_one_line(tmp_path, capsys):
    from thinkdraw.cli import main

    assert main(["batch", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    f = _txt(tmp_path, PROMPTS[:1])
    (tmp_path / "file").write_text("x")
    assert main(["batch", str(f), "--out", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["batch", str(f), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "out of range" in capsys.readouterr().err


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc (Linux)")
def test_a_real_run_killed_with_sigkill_resumes_without_redoing(tmp_path):
    prompts = [f"{n} {c} balls above a {d} box" for n in ("two", "three") for c in ("red", "blue", "green")
               for d in ("yellow", "white")]  # 12 prompts
    f = _txt(tmp_path, prompts)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "thinkdraw.cli", "batch", str(f), "--out", str(out), "--mode", "think",
           "--workers", "2"]
    env = {**os.environ, "CI": "1"}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = out / "results.jsonl"
    deadline = time.monotonic() + 600  # generous: the 2-core machine may be shared
    while time.monotonic() < deadline and p.poll() is None:
        if log.is_file() and log.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert p.poll() is None, f"the run ended before it could be killed: {p.stderr.read().decode()[-2000:]}"
    workers = _children(p.pid)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    end = time.monotonic() + 10
    while time.monotonic() < end and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "workers outlived their killed parent"

    before = load_records(out)
    assert 2 <= len(before) < len(prompts), p.stderr.read().decode()[-2000:]
    for r in before.values():  # whatever is recorded is whole
        assert read_image_meta(out / r.path)["prompt"] == r.prompt
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert f"{len(prompts) - len(before)} drawn, {len(before)} already done" in r.stdout
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert sorted(x["index"] for x in lines) == list(range(len(prompts)))  # each prompt exactly once
    assert len(list(out.glob("*.png"))) == len(prompts) and not list(out.glob(".*.tmp"))
