"""Sessions (issue 12, part 3): a tree of turns in SQLite with content-addressed images; undo, redo, branch,
history; a crash mid-turn (an exception, and a real kill -9) leaves the store consistent; several writers."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from thinkdraw.engine import Engine
from thinkdraw.session import Session, SessionError, SessionStore


@pytest.fixture(scope="module")
def engine():
    return Engine(renderer="sketch")


def new(tmp_path, engine, prompt="a red car and a cloud", **kw):
    return Session.create(tmp_path / "data", prompt=prompt, engine=engine, mode="think", **kw)


def test_store_is_wal_with_foreign_keys(tmp_path, engine):
    s = new(tmp_path, engine)
    c = s.store.conn
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] >= 10000
    assert (tmp_path / "data" / "sessions.db").is_file()
    with pytest.raises(sqlite3.IntegrityError):  # a turn whose image is not stored is refused by the schema
        with s.store.transaction() as t:
            t.execute("INSERT INTO turns (session, n, parent, kind, text, plan, image, reasoning, mode, seed, renderer,"
                      " timings, focus, extra, created) VALUES (?, 99, NULL, 'edit', '', '{}', 'nope', '[]', 'think', 0,"
                      " 'sketch', '{}', '[]', '{}', 0)", (s.id,))


def test_undo_branch_and_history(tmp_path, engine):
    s = new(tmp_path, engine)
    assert s.head.id == 1 and s.head.parent is None and s.head.kind == "generate"
    t2 = s.edit("make the car blue").turn
    assert (t2.id, t2.parent) == (2, 1) and s.head.id == 2
    assert s.undo().id == 1
    with pytest.raises(SessionError, match="nothing to undo"):
        s.undo()
    t3 = s.edit("remove the cloud").turn  # a second branch from turn 1; turn 2 is kept
    assert (t3.id, t3.parent) == (3, 1)
    assert s.children(1) == [2, 3]
    t4 = s.branch(2, "add a tree next to the car").turn  # from any earlier turn
    assert (t4.id, t4.parent) == (4, 2)
    assert [t.id for t in s.history()] == [1, 2, 4]
    assert [t.id for t in s.turns()] == [1, 2, 3, 4]
    assert s.turn(4).plan.entity("car_1").attributes.color == "blue"
    assert any(e.category == "tree" for e in s.turn(4).plan.entities)
    assert not any(e.category == "cloud" for e in s.turn(3).plan.entities)
    s.undo()
    assert s.redo().id == 4
    assert s.back(2).id == 1
    # the focus of a turn carries on: "it" is the car edited before
    s.branch(2)
    out = s.edit("make it green")
    assert out.ok and out.turn.plan.entity("car_1").attributes.color == "green"
    # reopened from the same folder by another object: the same tree and head
    again = Session.open(s.id, tmp_path / "data", engine=engine)
    assert again.head.id == out.turn.id and [t.id for t in again.history()] == [1, 2, out.turn.id]


def test_edit_keeps_pixels_outside_and_needs_no_describe(tmp_path, engine):
    s = new(tmp_path, engine)
    before = np.asarray(s.head.image)
    out = s.edit("make the car blue")
    assert out.ok and not out.result.described
    after = np.asarray(out.turn.image)
    assert ((before != after).any(-1) & ~out.result.changed).sum() == 0


def test_refused_edit_adds_no_turn(tmp_path, engine):
    s = new(tmp_path, engine)
    out = s.edit("remove the dog")
    assert not out.ok and out.kind == "not_found" and "dog" in out.message
    assert s.head.id == 1 and len(s.turns()) == 1


def test_images_are_deduplicated_by_hash(tmp_path, engine):
    s = new(tmp_path, engine)
    a = s.edit("make the car blue").turn
    s.undo()
    b = s.edit("make the car blue").turn  # the same edit again: the same pixels, one file
    assert a.id != b.id and a.image_hash == b.image_hash
    files = list((tmp_path / "data" / "images").glob("*/*.png"))
    assert len(files) == 2
    assert s.store.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 2
    assert a.image_path.name == a.image_hash + ".png"
    from thinkdraw.edit.source import pixel_hash

    assert pixel_hash(a.image) == "sha256:" + a.image_hash


def test_crash_mid_turn_keeps_store_consistent(tmp_path, engine, monkeypatch):
    s = new(tmp_path, engine)
    s.edit("make the car blue")
    head = s.head

    def boom(session, n):
        raise RuntimeError("crash after the image was written, before the commit")

    monkeypatch.setattr(s.store, "_before_commit", boom)
    with pytest.raises(RuntimeError):
        s.edit("remove the cloud")
    monkeypatch.undo()
    assert s.store.check() == []
    assert s.head.id == head.id and s.head.image_hash == head.image_hash
    assert len(s.turns()) == 2
    # the image written before the crash is there, unreferenced; gc removes it once it is old
    files = list((tmp_path / "data" / "images").glob("*/*.png"))
    assert len(files) == 3
    for f in files:
        os.utime(f, (time.time() - 120, time.time() - 120))
    assert s.store.gc() == 1
    assert s.store.check() == []
    assert s.edit("remove the cloud").turn.id == 3  # the session goes on


def test_no_half_written_image_is_ever_named(tmp_path, engine):
    store = SessionStore(tmp_path / "data")
    from PIL import Image

    h = store.put_image(Image.new("RGB", (8, 8), (1, 2, 3)))
    leftovers = [p for p in (tmp_path / "data" / "images").rglob("*") if p.is_file() and p.suffix == ".tmp"]
    assert leftovers == [] and store.image_path(h).is_file()


KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from thinkdraw.session import Session
    from thinkdraw.engine import Engine

    s = Session.open(sys.argv[2], sys.argv[1], engine=Engine(renderer="sketch"))
    def hang(session, n):
        Path(sys.argv[3]).write_text("in the turn's transaction")
        time.sleep(60)
    s.store._before_commit = hang
    s.edit("remove the cloud", mode="think")
""")


def test_kill_9_mid_turn_loses_only_that_turn(tmp_path, engine):
    s = new(tmp_path, engine)
    s.edit("make the car blue")
    head = s.head
    s.store.close()
    marker = tmp_path / "ready"
    script = tmp_path / "turn.py"
    script.write_text(KILLED)
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "data"), s.id, str(marker)])
    try:
        for _ in range(600):
            if marker.exists() or p.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the turn's commit"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    store = SessionStore(tmp_path / "data")
    assert store.check() == []
    again = Session.open(s.id, store, engine=engine)
    assert again.head.id == head.id and again.head.image_hash == head.image_hash
    assert len(again.turns()) == 2
    assert again.edit("remove the cloud").turn.id == 3  # the lock the killed process held is gone


def test_several_writers_on_one_data_dir(tmp_path, engine):
    s = new(tmp_path, engine)
    errors = []

    def worker(instr):
        try:
            mine = Session.open(s.id, tmp_path / "data", engine=Engine(renderer="sketch"))
            for _ in range(3):
                assert mine.edit(instr).ok
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in ("make the car blue", "make the cloud gray")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    turns = s.turns()
    assert sorted(t.id for t in turns) == list(range(1, 8))
    assert s.store.check() == []


def test_session_from_an_image_and_export(tmp_path, engine):
    src = tmp_path / "in.png"
    engine.generate("a red ball and a blue cup", mode="think").save(str(src))
    s = Session.create(tmp_path / "data", image=src, engine=engine, mode="think")
    assert s.head.kind == "import" and not s.head.extra["described"]
    s.edit("make the ball green")
    out = tmp_path / "turn2.png"
    s.export(path=out)
    from thinkdraw.plan.pngmeta import read_image_meta

    meta = read_image_meta(out)
    assert meta["session"]["turn"] == 2 and meta["instruction"] == "make the ball green"
    r = engine.edit(str(out), "make the cup red", mode="think")  # the export is a normal editable image
    assert r.ok and not r.described
    with pytest.raises(Exception, match="exists"):
        s.export(path=out)
    assert Session.list(tmp_path / "data")[0].turns == 2


def test_cli_sessions(tmp_path, capsys):
    from thinkdraw.cli import main

    d = ["--data-dir", str(tmp_path / "data")]
    assert main(["session", "new", "a red car and a cloud", "--renderer", "sketch", "--mode", "think",
                 "--name", "demo", *d]) == 0
    assert "turn 1" in capsys.readouterr().out
    assert main(["session", "edit", "demo", "make the car blue", *d]) == 0
    assert "turn 2 (from turn 1)" in capsys.readouterr().out
    assert main(["session", "undo", "demo", *d]) == 0
    assert "head at turn 1" in capsys.readouterr().out
    assert main(["session", "undo", "demo", *d]) == 2
    assert "nothing to undo" in capsys.readouterr().err
    assert main(["session", "branch", "demo", "2", "remove the cloud", *d]) == 0
    assert main(["session", "edit", "demo", "remove the dog", *d]) == 2
    err = capsys.readouterr().err
    assert "not edited" in err and "stays at turn 3" in err and "Traceback" not in err
    assert main(["session", "show", "demo", *d]) == 0
    out = capsys.readouterr().out
    assert "turn 1" in out and "turn 2" in out and "* turn 3" in out
    assert main(["session", "show", "demo", "--json", "--tree", *d]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["parent"] for t in data["turns"]] == [None, 1, 2] and data["head"] == 3
    assert main(["session", "list", *d]) == 0
    assert "demo" in capsys.readouterr().out
    png = tmp_path / "x.png"
    assert main(["session", "export", "demo", "2", "-o", str(png), *d]) == 0
    assert png.is_file()
    assert main(["session", "export", "demo", "2", "-o", str(png), *d]) == 2  # never overwritten without --force
    assert main(["session", "show", "nosuch", *d]) == 2
    assert "no session" in capsys.readouterr().err
    assert Path(data["turns"][0]["path"]).is_file()


def test_session_compose_from_earlier_turns(tmp_path, engine):
    s = new(tmp_path, engine, prompt="a red boat on the sea")
    s.generate("a green tree and a house on the grass", mode="think")
    out = s.compose([1, 2], "put the boat from image 1 next to the tree in image 2")
    assert out.ok and out.turn.kind == "compose" and out.turn.parent == 2
    assert out.turn.extra["sources"] == ["turn 1", "turn 2"] and out.turn.extra["base"] == 1
    assert {e.category for e in out.turn.plan.entities} == {"boat", "tree", "house"}


def _pty_chat(args, lines, timeout=60.0) -> str:
    """Run ``thinkdraw chat`` on a pseudo-terminal, typing ``lines`` one at a time after each prompt."""
    import pty
    import select

    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "thinkdraw.cli", "chat", *args], stdin=slave, stdout=slave,
                         stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    todo = list(lines)
    end = time.time() + timeout
    try:
        while time.time() < end:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if out.endswith(b"thinkdraw> ") and todo:
                os.write(master, (todo.pop(0) + "\n").encode())
                out += b"\n"
            if p.poll() is not None and not r:
                break
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


def test_chat_as_a_person_types_it(tmp_path):
    png = tmp_path / "saved.png"
    text = _pty_chat(["--data-dir", str(tmp_path / "data"), "--renderer", "sketch", "--mode", "think"],
                     ["a red car and a cloud", "make the car blue", "/undo", "remove the cloud", "/branch 2",
                      "add a tree", "remove the dog", "/show", "/plan", f"/save {png}", "/quit"])
    assert "thinkdraw chat" in text and "/help" in text
    assert "turn 1: a red car and a cloud" in text
    assert "[locate] 'the car' -> car_1" in text and "[final]" in text  # the reasoning, stage by stage
    assert "turn 2 (from turn 1): a blue car" in text
    assert "at turn 1" in text and "turn 3 (from turn 1)" in text and "turn 4 (from turn 2)" in text
    assert "not done (not found): there is no dog" in text
    assert "* turn 4" in text and "tree_1" in text
    assert text.count("image: ") >= 5 and f"wrote {png}" in text and png.is_file()
    sid = Session.list(tmp_path / "data")[0].id
    again = _pty_chat(["--data-dir", str(tmp_path / "data"), "--session", sid], ["/show", "/back 1", "/quit"])
    assert "* turn 4" in again and "at turn 2" in again
