"""Sessions (issue 12, part 3): a conversation that survives, as a tree of turns.

    from thinkdraw.session import Session
    s = Session.create(prompt="a red car on the grass", data_dir="~/td")   # turn 1 (the root)
    s.edit("make the car blue")            # turn 2, child of 1; the head moves to it
    s.undo()                               # the head goes back to turn 1 (turn 2 is kept)
    s.edit("add a tree next to the car")   # turn 3: a second branch from turn 1
    s.branch(2); s.edit("remove the car")  # turn 4, from turn 2
    s.history()                            # the path root -> head: [1, 2, 4]
    s.export(path="out.png")               # the head's image, carrying its plan (editable later)

Storage: one folder (``data_dir``; default ``$THINKDRAW_DATA``, else the per-user data folder, e.g.
``~/.local/share/thinkdraw``) holding ``sessions.db`` (SQLite, WAL, foreign keys on, busy timeout) and
``images/ab/<sha256>.png``: each image once, named by the SHA-256 of its RGB pixels (the same hash the
images thinkdraw writes carry as ``pixels``), so two turns with the same pixels share one file.

A turn is written in two steps: its image file first (to a temporary in the same folder, flushed to disk,
renamed into place: a file under its final name is always whole), then one SQLite transaction inserts the
turn and moves the session's head. A crash (``kill -9``) before the commit loses that turn only: at worst an
image file nothing refers to is left (``SessionStore.gc`` removes those); a committed turn never refers to an
image that is not whole on disk. Several processes may use one data folder: SQLite serialises the writers
(``BEGIN IMMEDIATE``, a 30 s busy timeout); two edits of one session at the same time both become turns
(siblings when they started from the same head) and the head ends on the later one.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from thinkdraw.plan.schema import Reasoning, ScenePlan

BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    hash TEXT PRIMARY KEY,              -- sha256 hex of the RGB pixels (and size)
    width INTEGER NOT NULL, height INTEGER NOT NULL, bytes INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, name TEXT, renderer TEXT NOT NULL, mode TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL,
    head INTEGER,                       -- the turn the next edit starts from
    FOREIGN KEY (id, head) REFERENCES turns (session, n) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE IF NOT EXISTS turns (
    session TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,                 -- the turn's number in its session: 1, 2, ...
    parent INTEGER,                     -- NULL for the root
    kind TEXT NOT NULL,                 -- generate | edit | import | compose
    text TEXT NOT NULL,                 -- the prompt or the instruction
    plan TEXT NOT NULL,                 -- the ScenePlan after the turn, JSON
    image TEXT NOT NULL REFERENCES images (hash),
    reasoning TEXT NOT NULL,            -- [{stage, text}], JSON
    edit TEXT,                          -- the EditPlan's operations and mask, JSON (edits)
    mode TEXT NOT NULL, seed INTEGER NOT NULL, renderer TEXT NOT NULL,
    timings TEXT NOT NULL, focus TEXT NOT NULL, extra TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (session, n),
    FOREIGN KEY (session, parent) REFERENCES turns (session, n));
CREATE INDEX IF NOT EXISTS turns_parent ON turns (session, parent);
"""


class SessionError(ValueError):
    """A session or turn that does not exist, or a move the tree does not allow (one clear line)."""


def default_data_dir() -> Path:
    """``$THINKDRAW_DATA``, else the per-user data folder: ``$XDG_DATA_HOME/thinkdraw`` (``~/.local/share``),
    ``~/Library/Application Support/thinkdraw`` on macOS, ``%LOCALAPPDATA%\\thinkdraw`` on Windows."""
    env = os.environ.get("THINKDRAW_DATA")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "thinkdraw"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "thinkdraw"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "thinkdraw"


@dataclass
class Turn:
    session: str
    id: int  # the turn's number in its session
    parent: int | None
    kind: str
    text: str
    plan: ScenePlan
    image_hash: str
    reasoning: Reasoning
    edit: dict | None
    mode: str
    seed: int
    renderer: str
    timings: dict
    focus: list[str]
    extra: dict
    created: float
    store: SessionStore | None = field(default=None, repr=False, compare=False)

    @property
    def image(self) -> Image.Image:
        """The turn's pixels (read from the content-addressed store)."""
        assert self.store is not None
        return self.store.load_image(self.image_hash)

    @property
    def image_path(self) -> Path:
        assert self.store is not None
        return self.store.image_path(self.image_hash)

    def metadata(self) -> dict:
        """What an exported file carries beside the plan (the same keys generate/edit write)."""
        from thinkdraw import __version__

        meta = {"seed": self.seed, "renderer": self.renderer, "mode": self.mode, "thinkdraw": __version__,
                "reasoning": [s.model_dump() for s in self.reasoning.steps],
                "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
                "pixels": "sha256:" + self.image_hash, "focus": self.focus,
                "session": {"id": self.session, "turn": self.id, "parent": self.parent, "kind": self.kind}}
        if self.kind in ("edit", "compose"):
            meta["instruction"] = self.text
        if self.edit is not None:
            meta["edit"] = self.edit
        return meta


@dataclass
class SessionInfo:
    id: str
    name: str | None
    renderer: str
    mode: str
    created: float
    updated: float
    head: int | None
    turns: int
    first: str  # the root turn's prompt


@dataclass
class TurnOutcome:
    """What a turn did: ``ok`` False when the instruction was refused (``message``, ``kind``; no turn was added
    and ``turn`` is the unchanged head). ``result``: the engine's result (rounds, changed pixels...)."""

    ok: bool
    turn: Turn
    result: object = None
    message: str = ""
    kind: str = ""


class SessionStore:
    """The data folder: ``sessions.db`` and the content-addressed ``images/``."""

    def __init__(self, data_dir: str | Path | None = None) -> None:
        self.root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "images").mkdir(exist_ok=True)
        self.db_path = self.root / "sessions.db"
        self._conn: sqlite3.Connection | None = None
        self._init_schema()

    # --- SQLite ---------------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            c = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA foreign_keys = ON")
            c.execute("PRAGMA synchronous = FULL")
            c.row_factory = sqlite3.Row
            self._conn = c
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock is taken at once, waiting up to the busy
        timeout for another process); committed on success, rolled back on any exception."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def _init_schema(self) -> None:
        with self.transaction() as c:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # --- images ----------------------------------------------------------------------------------
    def image_path(self, h: str) -> Path:
        h = h.removeprefix("sha256:")
        return self.root / "images" / h[:2] / f"{h}.png"

    def put_image(self, image: Image.Image) -> str:
        """Store the pixels once under their hash (atomically: temporary, fsync, rename); returns the hex hash."""
        from thinkdraw.edit.source import pixel_hash

        rgb = image.convert("RGB")
        h = pixel_hash(rgb).removeprefix("sha256:")
        p = self.image_path(h)
        if p.is_file():
            return h
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                rgb.save(f, format="PNG")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        _fsync_dir(p.parent)
        return h

    def load_image(self, h: str) -> Image.Image:
        p = self.image_path(h)
        try:
            with Image.open(p) as im:
                im.load()
                return im.convert("RGB")
        except FileNotFoundError:
            raise SessionError(f"the image {h[:12]} of this session is missing from {p.parent}") from None

    def gc(self) -> int:
        """Remove image files no turn refers to (left by a turn that crashed before its commit); returns how
        many. Files younger than a minute are left alone: another process may be about to commit them."""
        used = {r[0] for r in self.conn.execute("SELECT image FROM turns")}
        n = 0
        now = time.time()
        for p in (self.root / "images").glob("*/*.png"):
            if p.stem not in used and now - p.stat().st_mtime > 60:
                p.unlink(missing_ok=True)
                n += 1
        return n

    # --- sessions and turns ------------------------------------------------------------------------
    def sessions(self) -> list[SessionInfo]:
        rows = self.conn.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM turns t WHERE t.session = s.id) AS nturns, "
            "(SELECT text FROM turns t WHERE t.session = s.id AND t.parent IS NULL ORDER BY n LIMIT 1) AS first "
            "FROM sessions s ORDER BY s.updated DESC").fetchall()
        return [SessionInfo(id=r["id"], name=r["name"], renderer=r["renderer"], mode=r["mode"], created=r["created"],
                            updated=r["updated"], head=r["head"], turns=r["nturns"], first=r["first"] or "")
                for r in rows]

    def find(self, ref: str) -> str:
        """A session's id from its id, a unique prefix of it, or its name."""
        rows = self.conn.execute("SELECT id FROM sessions WHERE id = ? OR name = ?", (ref, ref)).fetchall()
        if not rows:
            rows = self.conn.execute("SELECT id FROM sessions WHERE id LIKE ? || '%'", (ref,)).fetchall()
        if not rows:
            raise SessionError(f"no session {ref!r} in {self.root} (thinkdraw session list shows them)")
        if len(rows) > 1:
            raise SessionError(f"{ref!r} names {len(rows)} sessions ({', '.join(r[0] for r in rows)}); give its id")
        return rows[0][0]

    def turn(self, session: str, n: int) -> Turn:
        r = self.conn.execute("SELECT * FROM turns WHERE session = ? AND n = ?", (session, n)).fetchone()
        if r is None:
            raise SessionError(f"session {session} has no turn {n}")
        return self._turn(r)

    def turns(self, session: str) -> list[Turn]:
        return [self._turn(r) for r in self.conn.execute("SELECT * FROM turns WHERE session = ? ORDER BY n", (session,))]

    def children(self, session: str, n: int) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT n FROM turns WHERE session = ? AND parent = ? ORDER BY n",
                                                (session, n))]

    def _turn(self, r: sqlite3.Row) -> Turn:
        return Turn(session=r["session"], id=r["n"], parent=r["parent"], kind=r["kind"], text=r["text"],
                    plan=ScenePlan.model_validate_json(r["plan"]),
                    reasoning=Reasoning.model_validate({"steps": json.loads(r["reasoning"])}),
                    image_hash=r["image"], edit=json.loads(r["edit"]) if r["edit"] else None, mode=r["mode"],
                    seed=r["seed"], renderer=r["renderer"], timings=json.loads(r["timings"]),
                    focus=json.loads(r["focus"]), extra=json.loads(r["extra"]), created=r["created"], store=self)

    def head(self, session: str) -> int | None:
        r = self.conn.execute("SELECT head FROM sessions WHERE id = ?", (session,)).fetchone()
        if r is None:
            raise SessionError(f"no session {session!r}")
        return r[0]

    def set_head(self, session: str, n: int) -> None:
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM turns WHERE session = ? AND n = ?", (session, n)).fetchone() is None:
                raise SessionError(f"session {session} has no turn {n}")
            c.execute("UPDATE sessions SET head = ?, updated = ? WHERE id = ?", (n, time.time(), session))

    def new_session(self, renderer: str, mode: str, name: str | None = None) -> str:
        if name is not None and self.conn.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone():
            raise SessionError(f"a session named {name!r} exists; pick another name")
        sid = secrets.token_hex(4)
        now = time.time()
        with self.transaction() as c:
            c.execute("INSERT INTO sessions (id, name, renderer, mode, created, updated, head) "
                      "VALUES (?, ?, ?, ?, ?, ?, NULL)", (sid, name, renderer, mode, now, now))
        return sid

    def delete_session(self, session: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE sessions SET head = NULL WHERE id = ?", (session,))
            c.execute("DELETE FROM turns WHERE session = ?", (session,))
            c.execute("DELETE FROM sessions WHERE id = ?", (session,))

    def add_turn(self, session: str, parent: int | None, kind: str, text: str, plan: ScenePlan, image: Image.Image,
                 reasoning: Reasoning, mode: str, seed: int, renderer: str, timings: dict | None = None,
                 edit: dict | None = None, focus: list[str] | None = None, extra: dict | None = None) -> Turn:
        """The image file first (atomic), then one transaction: the turn and the new head."""
        h = self.put_image(image)
        now = time.time()
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO images (hash, width, height, bytes, created) VALUES (?, ?, ?, ?, ?)",
                      (h, image.width, image.height, self.image_path(h).stat().st_size, now))
            n = c.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE session = ?", (session,)).fetchone()[0]
            c.execute("INSERT INTO turns (session, n, parent, kind, text, plan, image, reasoning, edit, mode, seed, "
                      "renderer, timings, focus, extra, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (session, n, parent, kind, text, plan.model_dump_json(), h,
                       json.dumps([s.model_dump() for s in reasoning.steps]), json.dumps(edit) if edit else None,
                       mode, int(seed), renderer, json.dumps({k: float(v) for k, v in (timings or {}).items()}),
                       json.dumps(list(focus or [])), json.dumps(extra or {}), now))
            self._before_commit(session, n)
            c.execute("UPDATE sessions SET head = ?, updated = ? WHERE id = ?", (n, now, session))
        return self.turn(session, n)

    def _before_commit(self, session: str, n: int) -> None:
        """A hook for tests: called inside a turn's transaction after the image file is written."""

    def check(self) -> list[str]:
        """Problems in the store (empty when consistent): SQLite's integrity and foreign-key checks, heads that
        are not turns, turns whose image file is missing."""
        out = []
        ok = self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            out.append(f"integrity: {ok}")
        out += [f"foreign key: {tuple(r)}" for r in self.conn.execute("PRAGMA foreign_key_check")]
        for r in self.conn.execute("SELECT DISTINCT image FROM turns"):
            if not self.image_path(r[0]).is_file():
                out.append(f"missing image {r[0]}")
        return out


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _edit_json(result) -> dict | None:
    e = getattr(result, "edit", None)
    if e is None:
        return None
    return {"operations": [o.model_dump(mode="json") for o in e.operations], "mask": [list(b) for b in e.mask]}


class Session:
    """A conversation: a tree of turns in a :class:`SessionStore`, with a head the next turn starts from."""

    def __init__(self, store: SessionStore, session_id: str, engine=None) -> None:
        self.store = store
        self.id = session_id
        row = store.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionError(f"no session {session_id!r}")
        self.name = row["name"]
        self.renderer = row["renderer"]
        self.mode = row["mode"]
        self._engine = engine

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, data_dir: str | Path | None = None, prompt: str | None = None, image=None, engine=None,
               name: str | None = None, seed: int = 0, mode: str | None = None, size: int | None = None,
               renderer: str | None = None) -> Session:
        """A new session whose first turn is ``prompt`` generated, or ``image`` (a path or a PIL image) taken in
        as it is (its carried plan when its pixels still match it, else described from the pixels)."""
        from thinkdraw.engine import DEFAULT_MODE

        if (prompt is None) == (image is None):
            raise ValueError("a session starts from a prompt or from an image (one of them)")
        store = data_dir if isinstance(data_dir, SessionStore) else SessionStore(data_dir)
        rname = renderer or (engine.renderer.name if engine is not None else "builtin")
        sid = store.new_session(rname, mode or DEFAULT_MODE, name)
        s = cls(store, sid, engine)
        try:
            if prompt is not None:
                s.generate(prompt, seed=seed, size=size)
            else:
                s.add_image(image)
        except BaseException:
            store.delete_session(sid)
            raise
        return s

    @classmethod
    def open(cls, ref: str, data_dir: str | Path | None = None, engine=None) -> Session:
        """An existing session by id, unique id prefix or name."""
        store = data_dir if isinstance(data_dir, SessionStore) else SessionStore(data_dir)
        return cls(store, store.find(ref), engine)

    @staticmethod
    def list(data_dir: str | Path | None = None) -> list[SessionInfo]:
        store = data_dir if isinstance(data_dir, SessionStore) else SessionStore(data_dir)
        return store.sessions()

    @property
    def engine(self):
        if self._engine is None:
            from thinkdraw.engine import Engine

            self._engine = Engine(renderer=self.renderer)
        return self._engine

    # --- the tree ----------------------------------------------------------------------------------
    @property
    def head(self) -> Turn:
        n = self.store.head(self.id)
        if n is None:
            raise SessionError(f"session {self.id} has no turns yet")
        return self.store.turn(self.id, n)

    def turn(self, n: int) -> Turn:
        return self.store.turn(self.id, n)

    def turns(self) -> list[Turn]:
        """Every turn of the tree, in the order they were made."""
        return self.store.turns(self.id)

    def history(self, n: int | None = None) -> list[Turn]:
        """The path from the root to turn ``n`` (default: the head)."""
        t = self.head if n is None else self.turn(n)
        path = [t]
        while path[-1].parent is not None:
            path.append(self.turn(path[-1].parent))
        return path[::-1]

    def children(self, n: int) -> list[int]:
        return self.store.children(self.id, n)

    def undo(self) -> Turn:
        """Move the head to its parent (the undone turn stays in the tree: redo, or branch to it)."""
        h = self.head
        if h.parent is None:
            raise SessionError(f"nothing to undo: turn {h.id} is the first turn of session {self.id}")
        self.store.set_head(self.id, h.parent)
        return self.head

    def redo(self) -> Turn:
        """Move the head to its most recent child (what undo left)."""
        kids = self.children(self.head.id)
        if not kids:
            raise SessionError(f"nothing to redo: turn {self.head.id} has no later turn")
        self.store.set_head(self.id, kids[-1])
        return self.head

    def back(self, k: int = 1) -> Turn:
        """Go ``k`` turns back along the path to the root."""
        path = self.history()
        if k < 1 or k >= len(path):
            raise SessionError(f"cannot go back {k} turn(s): the head is turn {len(path)} of its path")
        self.store.set_head(self.id, path[-1 - k].id)
        return self.head

    def branch(self, n: int, instruction: str | None = None, **kw) -> Turn | TurnOutcome:
        """Make turn ``n`` the head, so the next turn starts a new branch from it (the tree keeps both); with
        ``instruction``, make that edit at once and return its outcome."""
        self.store.set_head(self.id, n)
        if instruction is not None:
            return self.edit(instruction, **kw)
        return self.head

    goto = branch

    # --- turns -------------------------------------------------------------------------------------
    def generate(self, prompt: str, seed: int = 0, mode: str | None = None, size: int | None = None,
                 progress=None) -> TurnOutcome:
        """A new image from a prompt, as a turn after the head (the root when the session is empty)."""
        mode = mode or self.mode
        r = self.engine.generate(prompt, seed=seed, mode=mode, size=size, progress=progress)
        t = self.store.add_turn(self.id, self.store.head(self.id), "generate", prompt, r.plan, r.image, r.reasoning,
                                mode, seed, r.renderer, r.timings, extra={"kept": r.kept})
        return TurnOutcome(ok=True, turn=t, result=r)

    def add_image(self, image, text: str | None = None) -> TurnOutcome:
        """An outside image as a turn: its carried plan when its pixels still match it, else described."""
        from thinkdraw.edit.source import load_source, pixel_hash, plan_matches

        src = load_source(image)
        reasoning = Reasoning()
        ok = src.plan is not None and bool(src.meta.get("pixels")) and src.meta["pixels"] == pixel_hash(src.image)
        if ok:
            plan = src.plan
            reasoning.add("locate", "Taken in with the plan it carries (its pixel hash matches).")
        else:
            _, why = plan_matches(src, None) if src.plan is None else (False, "its pixels no longer match its plan")
            d = self.engine.describe(src.image)
            plan = d.plan
            reasoning.add("describe", f"Described from its pixels: {why}.")
            reasoning.steps += d.reasoning.steps
        label = text or (Path(src.path).name if src.path else "an image")
        t = self.store.add_turn(self.id, self.store.head(self.id), "import", label, plan, src.image, reasoning,
                                "think", int(src.meta.get("seed", 0) or 0), str(src.meta.get("renderer", self.renderer)),
                                focus=list(src.meta.get("focus") or []), extra={"described": not ok})
        return TurnOutcome(ok=True, turn=t)

    def _source(self, t: Turn):
        from thinkdraw.edit.source import Source

        return Source(image=t.image, plan=t.plan, meta={"pixels": "sha256:" + t.image_hash, "seed": t.seed,
                                                        "focus": t.focus})

    def edit(self, instruction: str, seed: int | None = None, mode: str | None = None, progress=None) -> TurnOutcome:
        """Edit the head's image by instruction (its plan is known: nothing is described); a refused
        instruction adds no turn (``ok`` False, the head unchanged)."""
        h = self.head
        mode = mode or self.mode
        mode = mode if mode in ("think", "reflect") else "reflect"
        r = self.engine.edit(self._source(h), instruction, seed=h.seed if seed is None else seed, mode=mode,
                             progress=progress)
        if not r.ok:
            return TurnOutcome(ok=False, turn=h, result=r, message=r.message, kind=r.kind)
        t = self.store.add_turn(self.id, h.id, "edit", instruction, r.plan, r.image, r.reasoning, mode, r.seed,
                                r.renderer, r.timings, edit=_edit_json(r), focus=r.focus,
                                extra={"kept": r.kept, "changed_px": int(r.changed.sum()) if r.changed is not None
                                       else None})
        return TurnOutcome(ok=True, turn=t, result=r)

    def compose(self, sources: list, instruction: str, seed: int | None = None, mode: str | None = None,
                progress=None) -> TurnOutcome:
        """Combine several images (turn numbers of this session, paths or PIL images) by instruction
        (``thinkdraw.edit.compose``); the new turn follows the head."""
        mode = mode or self.mode
        mode = mode if mode in ("think", "reflect") else "reflect"
        imgs, names = [], []
        for s in sources:
            if isinstance(s, int):
                imgs.append(self._source(self.turn(s)))
                names.append(f"turn {s}")
            else:
                imgs.append(s)
                names.append(str(s) if not isinstance(s, Image.Image) else "an image")
        r = self.engine.edit(imgs, instruction, seed=seed, mode=mode, progress=progress)
        if not r.ok:
            return TurnOutcome(ok=False, turn=self.head, result=r, message=r.message, kind=r.kind)
        t = self.store.add_turn(self.id, self.store.head(self.id), "compose", instruction, r.plan, r.image,
                                r.reasoning, mode, r.seed, r.renderer, r.timings, edit=_edit_json(r), focus=r.focus,
                                extra={"sources": names, "base": getattr(r, "base", None)})
        return TurnOutcome(ok=True, turn=t, result=r)

    def export(self, n: int | None = None, path: str | Path = "out.png", overwrite: bool = False) -> str:
        """Write turn ``n``'s image (default: the head's) carrying its plan and metadata, so ``thinkdraw edit``
        and ``inspect`` read it like any image thinkdraw wrote. Returns the path written."""
        from thinkdraw.plan.pngmeta import write_image

        t = self.head if n is None else self.turn(n)
        return write_image(t.image, path, t.plan, overwrite=overwrite, **t.metadata())[0]
