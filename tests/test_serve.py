"""thinkdraw serve on a live server on loopback: the official openai client (generations, edits, streaming),
the native API and sessions, error cases, a bounded load test, a worker crash, and a schema fuzz test.

One server (a subprocess: `python -m thinkdraw.cli serve --port 0`) with the sketch renderer in think mode, so
that every request is milliseconds of CPU; skipped when the serve extra or the openai client is missing.
"""

from __future__ import annotations

import base64
import io
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("multipart", reason="the serve extra is not installed (pip install -e '.[serve]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[dev]')")
openai = pytest.importorskip("openai", reason="the openai client is not installed (pip install -e '.[dev]')")

KEY = "test-key-123"


class LiveServer:
    def __init__(self, proc: subprocess.Popen, url: str, data: Path) -> None:
        self.proc, self.url, self.data = proc, url, data
        self.headers = {"Authorization": f"Bearer {KEY}"}

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=kw.pop("timeout", 60), **kw)

    def openai(self, **kw):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=kw.pop("api_key", KEY), max_retries=0, timeout=60, **kw)

    def health(self) -> dict:
        return httpx.get(self.url + "/healthz", timeout=10).json()


def start_server(data: Path, *args: str, timeout: float = 90) -> LiveServer:
    """`thinkdraw serve` on a free loopback port; returns when every worker has loaded its models."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "thinkdraw.cli", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--data", str(data), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    lines: list[str] = []
    url = None
    end = time.monotonic() + timeout

    def pump():
        for line in proc.stdout:
            lines.append(line)

    line = proc.stdout.readline()
    lines.append(line)
    if line.startswith("thinkdraw serve: http://"):
        url = line.split()[2].rstrip("/")
    threading.Thread(target=pump, daemon=True).start()
    if url is None:
        proc.kill()
        raise RuntimeError("the server did not start: " + "".join(lines))
    srv = LiveServer(proc, url, data)
    srv.log = lines
    while time.monotonic() < end:
        try:
            if srv.health()["ready"]:
                return srv
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server's workers did not get ready: " + "".join(lines))


def stop_server(srv: LiveServer) -> None:
    srv.proc.send_signal(signal.SIGINT)
    try:
        srv.proc.wait(20)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        srv.proc.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("serve-data")
    srv = start_server(data, "--renderer", "sketch", "--mode", "think", "--workers", "1", "--queue", "4",
                       "--max-upload-mb", "1", "--max-pixels", "4000000", "--api-key", KEY)
    yield srv
    stop_server(srv)


def _png(size=(64, 64), color=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png(w: int = 100_000, h: int = 100_000) -> bytes:
    """A tiny PNG whose header claims w x h pixels (a decompression bomb: gigapixels from a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert "Traceback" not in r.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- the official client --------------------------------------------------------------------------------------
def test_openai_generate_b64_with_thinkdraw_fields(server):
    c = server.openai()
    r = c.images.generate(prompt="two red apples to the left of a blue cup", size="256x256", n=2,
                          extra_body={"mode": "think", "seed": 3})
    assert len(r.data) == 2 and r.size == "256x256" and r.output_format == "png"
    first = r.data[0]
    img = Image.open(io.BytesIO(base64.b64decode(first.b64_json)))
    assert img.size == (256, 256)
    extra = first.model_extra
    assert extra["mode"] == "think" and extra["seed"] == 3 and r.data[1].model_extra["seed"] == 4
    assert [e["noun"] for e in extra["plan"]["entities"]].count("apple") == 2
    assert any(s["stage"] == "layout" for s in extra["reasoning"])
    assert "total" in extra["timings"] and extra["rounds"] == []
    # the PNG carries its plan, like every image thinkdraw writes
    assert "thinkdraw" in img.info or img.text


def test_openai_generate_url_served_from_files(server, tmp_path):
    c = server.openai()
    r = c.images.generate(prompt="a yellow star", response_format="url", size="128x128")
    url = r.data[0].url
    assert url.startswith(server.url + "/v1/files/") and r.data[0].b64_json is None
    got = httpx.get(url, timeout=10)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (128, 128)
    name = url.rsplit("/", 1)[1]
    assert (server.data / "files" / name).is_file()
    with server.client() as h:  # only names this server wrote, only from its files folder
        for bad in ("../sessions.db", "..%2Fsessions.db", "x.png", name.replace(".png", ".txt")):
            _error(h.get(f"/v1/files/{bad}"), 404)


def test_openai_generate_stream_partial_images(server):
    c = server.openai()
    events = list(c.images.generate(prompt="a red car on the grass", stream=True, partial_images=2,
                                    extra_body={"mode": "think"}))
    kinds = [e.type for e in events]
    assert kinds[-1] == "image_generation.completed" and kinds[:-1] == ["image_generation.partial_image"]
    done = events[-1]
    assert done.model_extra["plan"]["entities"][0]["noun"] == "car"
    Image.open(io.BytesIO(base64.b64decode(done.b64_json))).verify()


def test_openai_edit_and_mask(server, tmp_path):
    c = server.openai()
    src = c.images.generate(prompt="a red car on the grass", extra_body={"mode": "think"})
    path = tmp_path / "car.png"
    path.write_bytes(base64.b64decode(src.data[0].b64_json))
    before = np.asarray(Image.open(path).convert("RGB"))

    e = c.images.edit(image=path.open("rb"), prompt="make the car blue", extra_body={"mode": "think"})
    extra = e.data[0].model_extra
    assert extra["operations"][0]["op"] == "recolor" and extra["ok"] is True
    after = np.asarray(Image.open(io.BytesIO(base64.b64decode(e.data[0].b64_json))).convert("RGB"))
    assert (after != before).any()

    # an opaque mask: nothing may change; a transparent one: the edit goes through
    opaque, clear = tmp_path / "opaque.png", tmp_path / "clear.png"
    Image.new("RGBA", (256, 256), (0, 0, 0, 255)).save(opaque)
    Image.new("RGBA", (256, 256), (0, 0, 0, 0)).save(clear)
    kept = c.images.edit(image=path.open("rb"), mask=opaque.open("rb"), prompt="make the car blue")
    kept_px = np.asarray(Image.open(io.BytesIO(base64.b64decode(kept.data[0].b64_json))).convert("RGB"))
    assert (kept_px == before).all() and kept.data[0].model_extra["mask_blocked_px"] > 0
    free = c.images.edit(image=path.open("rb"), mask=clear.open("rb"), prompt="make the car blue")
    free_px = np.asarray(Image.open(io.BytesIO(base64.b64decode(free.data[0].b64_json))).convert("RGB"))
    assert (free_px == after).all()

    # streamed edit
    events = list(c.images.edit(image=path.open("rb"), prompt="make the car green", stream=True, partial_images=1))
    assert [ev.type for ev in events] == ["image_edit.partial_image", "image_edit.completed"]

    # refused instruction: 400 naming what is there
    with pytest.raises(openai.BadRequestError) as ei:
        c.images.edit(image=path.open("rb"), prompt="remove the elephant")
    assert ei.value.body["code"] == "not_found" and "car" in ei.value.body["message"]


def test_openai_edit_several_images_compose(server, tmp_path):
    c = server.openai()
    for name, prompt in (("a.png", "a red car on the grass"), ("b.png", "a yellow star in the sky")):
        r = c.images.generate(prompt=prompt)
        (tmp_path / name).write_bytes(base64.b64decode(r.data[0].b64_json))
    e = c.images.edit(image=[(tmp_path / "a.png").open("rb"), (tmp_path / "b.png").open("rb")],
                      prompt="add the star from image 2 to image 1")
    ops = e.data[0].model_extra["operations"]
    assert ops[0]["op"] == "add" and ops[0]["params"]["from_image"] == 2


def test_reflect_mode_rounds(server):
    """The default mode: the critic checks the drawing; rounds come back with scores and reflections."""
    r = server.openai().images.generate(prompt="two red apples left of a blue cup", extra_body={"mode": "reflect"})
    rounds = r.data[0].model_extra["rounds"]
    assert rounds and rounds[0]["label"] == "draw" and 0 <= rounds[0]["score"] <= 1
    assert rounds[0]["reflection"] and sum(x["kept"] for x in rounds) == 1
    assert any(s["stage"] == "reflect" for s in r.data[0].model_extra["reasoning"])


def test_models_and_docs(server):
    c = server.openai()
    ids = [m.id for m in c.models.list().data]
    assert "thinkdraw" in ids and "thinkdraw-sketch" in ids
    with server.client() as h:
        assert h.get("/docs").status_code == 200
        spec = h.get("/openapi.json").json()
    for p in ("/v1/images/generations", "/v1/images/edits", "/v1/plans", "/v1/render", "/v1/describe",
              "/v1/sessions", "/v1/sessions/{sid}/turns", "/v1/stream"):
        assert p in spec["paths"], p


# --- errors -----------------------------------------------------------------------------------------------------
def test_error_cases(server):
    c = server.openai()
    with pytest.raises(openai.BadRequestError) as ei:
        c.images.generate(prompt="a ball", size="100x50")
    assert ei.value.body["param"] == "size" and "Supported sizes" in ei.value.body["message"]
    with pytest.raises(openai.BadRequestError) as ei:
        c.images.generate(prompt="   ")
    assert ei.value.body["param"] == "prompt"
    with pytest.raises(openai.NotFoundError):
        c.images.generate(prompt="a ball", model="dall-e-3")
    with pytest.raises(openai.AuthenticationError):
        server.openai(api_key="wrong").images.generate(prompt="a ball")
    with server.client() as h:
        _error(h.post("/v1/images/generations", json={"prompt": "a ball", "n": 9}), 400)
        _error(h.post("/v1/images/generations", content=b"{not json", headers={"content-type": "application/json"}), 400)
        _error(h.post("/v1/images/generations", json={"prompt": "a ball", "mode": "direct"}), 400, "unsupported_mode")
        _error(h.get("/v1/sessions/deadbeef"), 404, "not_found")
        _error(h.post("/v1/sessions/deadbeef/turns", json={"instruction": "make it blue"}), 404, "not_found")
        _error(h.get("/v1/nothing-here"), 404, "unknown_url")
        _error(h.delete("/v1/images/generations"), 405)
        _error(httpx.post(server.url + "/v1/plans", json={"prompt": "a ball"}, timeout=10), 401, "invalid_api_key")
        _error(httpx.post(server.url + "/v1/plans", json={"prompt": "a ball"}, timeout=10,
                          headers={"Authorization": "Bearer nope"}), 401, "invalid_api_key")
        # uploads
        big = b"\x89PNG" + os.urandom(1_200_000)
        _error(h.post("/v1/images/edits", files={"image": ("a.png", big, "image/png")}, data={"prompt": "x"}), 413)
        _error(h.post("/v1/images/edits", files={"image": ("b.png", _bomb_png(), "image/png")},
                      data={"prompt": "make it blue"}), 400, "image_too_large")
        _error(h.post("/v1/describe", files={"image": ("b.png", _bomb_png(3000, 3000), "image/png")}), 400,
               "image_too_large")
        _error(h.post("/v1/images/edits", files={"image": ("a.gif", b"GIF89a" + b"\0" * 100, "image/gif")},
                      data={"prompt": "make it blue"}), 400)
        _error(h.post("/v1/images/edits", files={"image": ("a.png", _png()[:60], "image/png")},
                      data={"prompt": "make it blue"}), 400, "invalid_image")
        _error(h.post("/v1/images/edits", files={"image": ("a.png", _png(), "image/png"),
                                                 "mask": ("m.png", _png((32, 32), mode="RGBA", color=(0, 0, 0, 0)),
                                                          "image/png")},
                      data={"prompt": "make it blue"}), 400, "invalid_mask")
        _error(h.post("/v1/images/edits", json={"prompt": "x"}), 400, "invalid_content_type")
    assert not any((server.data / "uploads").iterdir())  # nothing left behind


def test_refuses_non_loopback_without_key(capsys):
    from thinkdraw.cli import main
    from thinkdraw.serve import check_bind, is_loopback

    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs an API key" in err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("::")
    check_bind("0.0.0.0", "a-key")  # with a key, any address
    check_bind("127.0.0.1", None)


# --- native API and sessions -------------------------------------------------------------------------------
def test_native_plans_render_stream_describe(server):
    with server.client() as h:
        p = h.post("/v1/plans", json={"prompt": "a sign that says OPEN next to a tree"}).json()
        assert p["plan"]["texts"][0]["content"] == "OPEN" and p["reasoning"]
        plan = p["plan"]
        plan["entities"][0]["attributes"]["color"] = "purple"  # an edited plan, drawn as it is
        r = h.post("/v1/render", json={"plan": plan, "mode": "think"}).json()
        assert r["data"][0]["plan"]["entities"][0]["attributes"]["color"] == "purple"
        events = []
        with h.stream("POST", "/v1/stream", json={"prompt": "a red ball", "mode": "think"}) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            for line in s.iter_lines():
                if line.startswith("event:"):
                    events.append(line[6:].strip())
        assert events[0] == "reasoning" and "plan" in events and "partial_image" in events and events[-1] == "result"
        assert events.index("plan") < events.index("partial_image")
        png = base64.b64decode(r["data"][0]["b64_json"])
        d = h.post("/v1/describe", files={"image": ("x.png", png, "image/png")})
        assert d.status_code == 200, d.text
        assert "entities" in d.json()["plan"]


def test_sessions(server, tmp_path):
    from thinkdraw.plan.pngmeta import read_image_meta

    with server.client() as h:
        s = h.post("/v1/sessions", json={"prompt": "a red car on the grass", "mode": "think"}).json()
        sid = s["id"]
        assert s["head"] == 1 and len(s["turns"]) == 1
        s = h.post(f"/v1/sessions/{sid}/turns", json={"instruction": "make the car blue"}).json()
        assert s["head"] == 2 and s["history"] == [1, 2]
        _error(h.post(f"/v1/sessions/{sid}/turns", json={"instruction": "remove the elephant"}), 400, "not_found")
        assert h.get(f"/v1/sessions/{sid}").json()["head"] == 2  # a refused edit adds nothing
        s = h.post(f"/v1/sessions/{sid}/undo").json()
        assert s["head"] == 1
        _error(h.post(f"/v1/sessions/{sid}/undo"), 400)  # nothing to undo at the root
        s = h.post(f"/v1/sessions/{sid}/turns", json={"instruction": "add a tree", "parent": 1}).json()
        assert s["head"] == 3 and s["history"] == [1, 3]
        assert sorted(t["id"] for t in s["turns"] if t["parent"] == 1) == [2, 3]  # two branches from turn 1
        s = h.post(f"/v1/sessions/{sid}/branch", json={"turn": 2}).json()
        assert s["head"] == 2
        _error(h.post(f"/v1/sessions/{sid}/branch", json={"turn": 99}), 404)
        img = h.get(f"/v1/sessions/{sid}/turns/2/image")
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        (tmp_path / "t2.png").write_bytes(img.content)
        meta = read_image_meta(tmp_path / "t2.png")
        assert meta["plan"].entities[0].attributes.color == "blue"
        assert h.get(f"/v1/sessions/{sid}/turns/2").json()["edit"]["operations"][0]["op"] == "recolor"
        assert any(x["id"] == sid for x in h.get("/v1/sessions").json()["data"])
        # streamed turn
        names = []
        with h.stream("POST", f"/v1/sessions/{sid}/turns", json={"instruction": "make the car red", "stream": True}) as st:
            for line in st.iter_lines():
                if line.startswith("event:"):
                    names.append(line[6:].strip())
        assert names[-1] == "result" and "partial_image" in names
        # a session from an uploaded image: the PNG a turn wrote keeps its plan (nothing described)
        imp = h.post("/v1/sessions/import", files={"image": ("t2.png", img.content, "image/png")})
        assert imp.status_code == 200, imp.text
        first = imp.json()["turns"][0]
        assert first["kind"] == "import" and first["text"] == "t2.png" and first["extra"]["described"] is False
        _error(h.post("/v1/sessions/import", files={"image": ("x.png", b"not an image", "image/png")}), 400)
    # the server's sessions are the CLI's sessions (the same store under --data)
    from thinkdraw.session import Session

    assert Session.open(sid, data_dir=server.data).head.id == 4


# --- load, crash, fuzz ---------------------------------------------------------------------------------------------
def test_load_bounded_every_request_answered(server):
    """32 concurrent clients x 2 requests on 1 worker with a queue of 4: each gets 200 or 429 (with Retry-After in
    OpenAI's shape), none lost, none hung; all within a bound."""
    def client(i):
        out = []
        with server.client(timeout=60) as h:
            for k in range(2):
                r = h.post("/v1/images/generations", json={"prompt": f"{1 + (i + k) % 3} red balls", "seed": i,
                                                            "size": "1024x1024"})
                if r.status_code == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                    assert _error(r, 429, "rate_limit_exceeded")["type"] == "requests"
                out.append(r.status_code)
        return out

    t0 = time.monotonic()
    with ThreadPoolExecutor(32) as ex:
        codes = [c for cs in ex.map(client, range(32)) for c in cs]
    took = time.monotonic() - t0
    assert len(codes) == 64 and set(codes) <= {200, 429}, codes
    assert codes.count(200) >= 5 and codes.count(429) >= 1, codes
    assert took < 90, took
    h = server.health()
    assert all(not w["running"] and w["waiting"] == 0 for w in h["workers"])


def test_worker_crash_loses_no_accepted_job(server):
    """Kill the worker while it runs a job and others wait: the running one's client gets an error, the waiting
    ones are re-queued on the restarted worker and answered 200."""
    pid = server.health()["workers"][0]["pid"]
    restarts = server.health()["workers"][0]["restarts"]
    results = []

    def one(i):
        with server.client(timeout=120) as h:
            r = h.post("/v1/images/generations", json={"prompt": "three stars above a house", "n": 4, "seed": i,
                                                        "size": "1536x1536"})
            results.append(r)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    end = time.monotonic() + 30
    while time.monotonic() < end and not server.health()["workers"][0]["running"]:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(120)
    assert len(results) == 3 and not any(t.is_alive() for t in threads)
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {200, 500} and codes.count(200) >= 1, [r.text[:200] for r in results]
    for r in results:
        if r.status_code == 500:
            assert _error(r, 500, "worker_failed")
    w = server.health()["workers"][0]
    assert w["restarts"] == restarts + 1 and w["pid"] != pid
    end = time.monotonic() + 60
    while not server.health()["ready"] and time.monotonic() < end:
        time.sleep(0.2)
    with server.client() as h:
        assert h.post("/v1/images/generations", json={"prompt": "a ball"}).status_code == 200


def _random_value(rng: random.Random, depth: int = 0, schema: dict | None = None):
    if schema and schema.get("enum") and rng.random() < 0.5:
        return rng.choice(schema["enum"])
    kinds = ["str", "int", "float", "bool", "null", "list", "dict", "bigint", "longstr", "size"]
    k = rng.choice(kinds if depth < 2 else kinds[:5])
    if k == "str":
        return rng.choice(["", " ", "a red ball", "make it blue", "\u0000", "é✓", "thinkdraw", "think", "1x1", "auto",
                           "b64_json", "url", "reflect", "-1", "../../etc/passwd"])
    if k == "int":
        return rng.choice([0, 1, 2, 4, 5, -1, 99, 2**31])
    if k == "bigint":
        return 10 ** rng.randint(10, 40)
    if k == "float":
        return rng.choice([0.5, -3.2, 1e308, float("1e-300")])
    if k == "bool":
        return rng.random() < 0.5
    if k == "null":
        return None
    if k == "longstr":
        return "x" * rng.randint(1000, 50000)
    if k == "size":
        return rng.choice(["256x256", "32x32", "2049x2049", "0x0", "99999x99999", "256x128", "axb"])
    if k == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["prompt", "plan", "entities", "box", "x", "mode"]): _random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def _schema_props(spec: dict, op: dict) -> dict:
    body = op.get("requestBody", {}).get("content", {})
    for ctype in ("application/json", "multipart/form-data"):
        if ctype in body:
            s = body[ctype].get("schema", {})
            if "$ref" in s:
                s = spec["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
            return s.get("properties", {})
    return {}


def test_schema_fuzz_no_5xx(server):
    """A seeded generator of random bodies (valid field names, random values; random JSON; random form fields
    and bytes) against every route in /openapi.json: no 5xx, every error in OpenAI's shape."""
    rng = random.Random(1234)
    with server.client(timeout=60) as h:
        spec = h.get("/openapi.json").json()
        h.post("/v1/sessions", json={"prompt": "a red car", "mode": "think"})  # something for session routes
        sids = [s["id"] for s in h.get("/v1/sessions").json()["data"]][:1]
        n = 0
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                props = _schema_props(spec, op)
                multipart = "multipart/form-data" in op.get("requestBody", {}).get("content", {})
                for _ in range(14):
                    url = path
                    for name in ("sid", "n", "model", "name"):
                        val = rng.choice([*sids, "zz", "0", "-1", "%2e%2e", "1" * 30, "2", "1"]) if name == "sid" \
                            else rng.choice(["1", "2", "0", "-5", "abc", "99999999999999999999"])
                        url = url.replace("{" + name + "}", val)
                    kw = {}
                    if multipart:
                        fields = {k: str(_random_value(rng, 1, v))[:2000] for k, v in props.items()
                                  if rng.random() < 0.6 and v.get("format") != "binary"}
                        files = {}
                        if rng.random() < 0.8:
                            files["image"] = ("i.png", rng.choice([_png(), os.urandom(rng.randint(0, 3000)), b"",
                                                                   _png((300, 200), mode="RGBA")]), "image/png")
                        if rng.random() < 0.3:
                            files["mask"] = ("m.png", rng.choice([_png(mode="RGBA"), b"xx"]), "image/png")
                        kw = {"data": fields, "files": files or None}
                        if not files:
                            kw = {"data": fields or {"x": "1"}}
                    elif method in ("post", "put", "patch"):
                        choice = rng.random()
                        if choice < 0.7 and props:
                            kw = {"json": {k: _random_value(rng, 0, v) for k, v in props.items() if rng.random() < 0.6}}
                        elif choice < 0.85:
                            kw = {"json": _random_value(rng)}
                        else:
                            kw = {"content": os.urandom(rng.randint(0, 200)),
                                  "headers": {"content-type": rng.choice(["application/json", "text/plain"])}}
                    r = h.request(method.upper(), url, **kw)
                    n += 1
                    assert r.status_code < 500, (method, url, kw.get("json"), r.status_code, r.text[:300])
                    assert "Traceback" not in r.text
                    if r.status_code >= 400:
                        _error(r, r.status_code)
                    if r.status_code == 429:
                        time.sleep(0.2)
        assert n > 200
