"""thinkdraw serve --ray: the same HTTP API as a Ray Serve deployment on a real local Ray (one small replica).

Two servers on loopback, each a subprocess started as a user starts it: the plain ``thinkdraw serve`` and
``thinkdraw serve --ray`` (which starts a local Ray and stops it when it is stopped). Every request goes to
both over real HTTP; the answers must agree: the same pixels, plan and reasoning for the same prompt and seed,
the same error bodies, the same stream of events. Skipped when ray (with Serve) or the serve extra is missing;
`.ci/run` installs both. The option checks at the bottom need no Ray.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

KEY = "ray-test-key"
ARGS = ("--renderer", "sketch", "--mode", "think", "--workers", "1", "--queue", "4", "--api-key", KEY)


def _has(mod: str) -> bool:
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def _serve_missing() -> str | None:
    for mod, extra in (("fastapi", "serve"), ("uvicorn", "serve"), ("multipart", "serve"), ("httpx", "dev")):
        if not _has(mod):
            return f"{mod} is not installed (pip install -e '.[{extra}]')"
    if not _has("ray"):
        return "ray is not installed (pip install -e '.[ray]' runs this test)"
    try:
        import grpc  # noqa: F401 - what `import ray.serve` needs beyond ray[data]
        from ray import serve  # noqa: F401
    except ImportError as e:
        return f"ray serve is not importable (pip install -e '.[ray]'): {e}"
    return None


_MISSING = _serve_missing()
needs_ray = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


class Live:
    def __init__(self, proc: subprocess.Popen, url: str, log: list[str]) -> None:
        self.proc, self.url, self.log = proc, url, log

    def client(self):
        import httpx

        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120)


def _start(data: Path, *extra: str, timeout: float = 300) -> Live:
    import httpx

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "thinkdraw.cli", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--data", str(data), *ARGS, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    log: list[str] = []
    url: list[str] = []
    got = threading.Event()

    def pump():
        for line in proc.stdout:
            log.append(line)
            if line.startswith("thinkdraw serve: http://") and not url:
                url.append(line.split()[2].rstrip("/"))
                got.set()
        got.set()

    threading.Thread(target=pump, daemon=True).start()
    end = time.monotonic() + timeout
    got.wait(timeout)
    if not url:
        _stop_proc(proc)
        raise RuntimeError("the server did not start:\n" + "".join(log[-40:]))
    live = Live(proc, url[0], log)
    while time.monotonic() < end:
        try:
            h = httpx.get(live.url + "/healthz", timeout=10)
            if h.status_code == 200 and h.json()["ready"]:
                return live
        except (httpx.HTTPError, ValueError):
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    _stop_proc(proc)
    raise RuntimeError("the server's workers did not get ready:\n" + "".join(log[-40:]))


def _stop_proc(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the CLI removes the deployment and stops its local Ray
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what this test started
            proc.wait(10)
    return proc.returncode


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    plain = _start(tmp_path_factory.mktemp("plain-data"))
    try:
        ray = _start(tmp_path_factory.mktemp("ray-data"), "--ray", "--replicas", "1", "--num-cpus", "0.5")
    except BaseException:
        _stop_proc(plain.proc)
        raise
    worker_pids = [w["pid"] for w in ray.client().get("/healthz").json()["workers"]]
    yield plain, ray
    rc_ray = _stop_proc(ray.proc)
    _stop_proc(plain.proc)
    assert rc_ray == 0, "".join(ray.log[-40:])
    time.sleep(1.0)
    assert not any(_alive(p) for p in worker_pids), "a replica's worker outlived the server"


def _pixels(b64: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        return np.asarray(im.convert("RGB"))


def _same_image(a: dict, b: dict) -> None:
    assert np.array_equal(_pixels(a["b64_json"]), _pixels(b["b64_json"]))
    for k in ("plan", "reasoning", "seed", "mode", "renderer", "kept", "warnings", "prompt", "width", "height"):
        assert a[k] == b[k], k
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in a["rounds"]] == \
           [{k: v for k, v in r.items() if k != "seconds"} for r in b["rounds"]]


@needs_ray
@pytest.mark.slow
def test_generations_give_the_plain_servers_images(servers):
    plain, ray = servers
    h = ray.client().get("/healthz").json()
    assert h["ready"] and h["replica"].startswith("replica-") and "replica" not in plain.client().get("/healthz").json()
    for body in ({"prompt": "two red apples to the left of a blue cup", "seed": 3},
                 {"prompt": "a sign that says OPEN next to a tree", "seed": 0, "n": 2, "size": "128x128"},
                 {"prompt": "a boat on the sea at sunset", "seed": 7, "mode": "reflect", "model": "thinkdraw-sketch"}):
        with plain.client() as p, ray.client() as r:
            a, b = p.post("/v1/images/generations", json=body), r.post("/v1/images/generations", json=body)
        assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
        a, b = a.json(), b.json()
        assert len(a["data"]) == len(b["data"]) == body.get("n", 1)
        for x, y in zip(a["data"], b["data"], strict=True):
            _same_image(x, y)
        assert a["size"] == b["size"] and a["usage"] == b["usage"]
    with plain.client() as p, ray.client() as r:  # the native API: a plan, then that plan drawn
        pa = p.post("/v1/plans", json={"prompt": "three yellow stars above a green heart"}).json()
        pb = r.post("/v1/plans", json={"prompt": "three yellow stars above a green heart"}).json()
        assert pa == pb
        ra = p.post("/v1/render", json={"plan": pa["plan"], "seed": 2}).json()
        rb = r.post("/v1/render", json={"plan": pb["plan"], "seed": 2}).json()
        _same_image(ra["data"][0], rb["data"][0])


@needs_ray
@pytest.mark.slow
def test_errors_are_the_plain_servers_errors(servers):
    import httpx

    plain, ray = servers
    cases = [("post", "/v1/images/generations", {"json": {"prompt": "a red ball", "size": "100x50"}}),
             ("post", "/v1/images/generations", {"json": {"prompt": "   "}}),
             ("post", "/v1/images/generations", {"json": {"prompt": "a red ball", "model": "dall-e-9"}}),
             ("post", "/v1/images/generations", {"json": {"prompt": "a red ball", "n": 9}}),
             ("post", "/v1/images/generations", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
             ("get", "/v1/sessions/nope", {}),
             ("get", "/v1/no/such/route", {}),
             ("post", "/v1/images/edits", {"files": {"image": ("x.gif", b"GIF89a....", "image/gif")},
                                            "data": {"prompt": "make it blue"}})]
    with plain.client() as p, ray.client() as r:
        for method, path, kw in cases:
            a, b = getattr(p, method)(path, **kw), getattr(r, method)(path, **kw)
            assert a.status_code == b.status_code and a.status_code >= 400, (path, a.status_code, b.status_code)
            assert a.json() == b.json(), (path, a.text, b.text)
    for url in (plain.url, ray.url):  # no key: 401, in OpenAI's shape
        res = httpx.post(url + "/v1/plans", json={"prompt": "a red ball"}, timeout=30)
        assert res.status_code == 401 and res.json()["error"]["code"] == "invalid_api_key"


def _events(client, body: dict) -> list[tuple[str, dict]]:
    out = []
    with client.stream("POST", "/v1/stream", json=body) as res:
        assert res.status_code == 200
        name = None
        for line in res.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                out.append((name, json.loads(line[6:])))
    return out


@needs_ray
@pytest.mark.slow
def test_streams_and_edits_through_the_replica(servers):
    plain, ray = servers
    body = {"prompt": "a red car on the grass", "seed": 1, "mode": "reflect"}
    with plain.client() as p, ray.client() as r:
        ea, eb = _events(p, body), _events(r, body)
        assert [n for n, _ in ea] == [n for n, _ in eb] and ea[-1][0] == "result"
        assert ea[-1][1]["plan"] == eb[-1][1]["plan"]
        # an edit: the upload is verified and written by the replica, read by its worker, removed after
        gen = p.post("/v1/images/generations", json={"prompt": "a red car on the grass", "seed": 1}).json()
        png = base64.b64decode(gen["data"][0]["b64_json"])
        form = {"files": {"image": ("car.png", png, "image/png")}, "data": {"prompt": "make the car blue", "seed": "0"}}
        a, b = p.post("/v1/images/edits", **form), r.post("/v1/images/edits", **form)
        assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
        _same_image(a.json()["data"][0], b.json()["data"][0])
        assert a.json()["data"][0]["operations"] == b.json()["data"][0]["operations"]
        refused = {"files": {"image": ("car.png", png, "image/png")}, "data": {"prompt": "remove the elephant"}}
        a, b = p.post("/v1/images/edits", **refused), r.post("/v1/images/edits", **refused)
        assert a.status_code == b.status_code == 400 and a.json() == b.json()


# --- the options, checked before anything starts (no Ray needed) --------------------------------------------
def _cli(*args: str, block_ray: bool = False) -> subprocess.CompletedProcess:
    code = ("import sys\n" + ("sys.modules['ray'] = None\n" if block_ray else "") +
            "from thinkdraw.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, "serve", "--port", "0", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args, says", [
    (("--replicas", "2"), "give them with --ray"),
    (("--ray", "--replicas", "2", "--max-replicas", "3"), "not both"),
    (("--ray", "--min-replicas", "3", "--max-replicas", "2"), "is above --max-replicas"),
    (("--ray", "--num-cpus", "0"), "greater than 0"),
])
def test_bad_replica_options_are_one_line(args, says):
    r = _cli(*args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_ray_is_one_clear_line():
    r = _cli("--ray", "--replicas", "1", block_ray=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and 'pip install -e ".[ray]"' in r.stderr


def test_ray_options_bounds():
    from thinkdraw.serve.ray_serve import RayOptions

    assert RayOptions().bounds() == (1, 1) and not RayOptions().autoscaling
    assert RayOptions(replicas=3).bounds() == (3, 3)
    assert RayOptions(max_replicas=4).bounds() == (1, 4) and RayOptions(max_replicas=4).autoscaling
    assert RayOptions(min_replicas=2).bounds() == (2, 2)
    assert RayOptions(min_replicas=0, max_replicas=2).bounds() == (0, 2)


def test_a_killed_servers_workers_leave(tmp_path):
    """A server killed outright (kill -9; a Ray replica killed with its raylet) leaves no worker behind."""
    if _MISSING is not None and not _MISSING.startswith(("ray", "ray serve")):
        pytest.skip(_MISSING)
    import httpx

    srv = _start(tmp_path)
    pids = [w["pid"] for w in httpx.get(srv.url + "/healthz", timeout=30).json()["workers"]]
    srv.proc.kill()
    srv.proc.wait(10)
    end = time.monotonic() + 30
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.5)
    assert not any(_alive(p) for p in pids)
