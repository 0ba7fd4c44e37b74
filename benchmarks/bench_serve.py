"""thinkdraw serve: server overhead per request over Engine.generate, and throughput with 1 and 2 workers.

    python benchmarks/bench_serve.py                      # sketch renderer, think mode (milliseconds per image)
    python benchmarks/bench_serve.py --ray                # the same through Ray Serve: 1 and 2 replicas (local Ray)
    python benchmarks/bench_serve.py --renderer builtin --n 6 --throughput-n 8   # the bundled model (slow on CPU)

Overhead: the same prompts through ``Engine.generate`` in-process, then through the server one at a time
(``POST /v1/images/generations``, b64_json); per request, overhead = client latency - the engine's own total
(``timings.total`` in the response), so the figure is paired and excludes the engine's work. Throughput: C
concurrent clients send R requests to a server with 1, then 2 workers; requests per second over the wall time
(429s are retried after their Retry-After and counted once answered). The load average is printed beside the
figures: other work on the machine changes them.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

PROMPTS = ["two red apples to the left of a blue cup", "a sign that says OPEN next to a tree",
           "three yellow stars above a green heart", "a boat on the sea at sunset", "a red car on the grass",
           "a cat and a dog in a row", "four balloons above a house", "a blue ball on a table"]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


RAY = False  # --ray: each server is `thinkdraw serve --ray` with N replicas (1 worker each) instead of N workers


def start(workers: int, renderer: str, mode: str, data: str):
    scale = ["--ray", "--replicas", str(workers), "--num-cpus", "1"] if RAY else ["--workers", str(workers)]
    proc = subprocess.Popen([sys.executable, "-m", "thinkdraw.cli", "serve", "--port", "0", *scale,
                             "--renderer", renderer, "--mode", mode, "--data", data, "--queue", "64"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # Ray may log before the server's line
        lines.append(line)
        if line.startswith("thinkdraw serve: http://"):
            break
    else:
        proc.kill()
        raise SystemExit("server did not start: " + "".join(lines[-30:]))
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    url = line.split()[2].rstrip("/")
    end = time.monotonic() + 300
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", timeout=5).json()["ready"]:
                return proc, url
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("workers did not get ready")


def stop(proc) -> None:
    proc.send_signal(signal.SIGINT if RAY else signal.SIGTERM)  # Ray: Ctrl-C stops the replicas and its local Ray
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def post(h: httpx.Client, prompt: str, seed: int, mode: str) -> dict:
    while True:
        r = h.post("/v1/images/generations", json={"prompt": prompt, "seed": seed, "mode": mode})
        if r.status_code == 429:
            time.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        if r.status_code != 200:
            raise SystemExit(f"HTTP {r.status_code}: {r.text[:300]}")
        return r.json()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--renderer", default="sketch", choices=("sketch", "builtin"))
    ap.add_argument("--mode", default="think", choices=("think", "reflect", "direct"))
    ap.add_argument("--n", type=int, default=40, help="requests for the overhead figure")
    ap.add_argument("--throughput-n", type=int, default=80, help="requests per throughput run")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients in the throughput runs")
    ap.add_argument("--ray", action="store_true", help="serve --ray: 1 and 2 Ray Serve replicas instead of workers")
    a = ap.parse_args()
    global RAY
    RAY = a.ray
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f} (other work on this machine "
          f"changes every figure below)")

    from thinkdraw import Engine

    eng = Engine(renderer=a.renderer)
    eng.generate(PROMPTS[0], mode=a.mode)  # warm-up
    direct = []
    for i in range(a.n):
        t = time.perf_counter()
        eng.generate(PROMPTS[i % len(PROMPTS)], seed=i, mode=a.mode)
        direct.append(time.perf_counter() - t)
    print(f"Engine.generate in-process ({a.renderer}, {a.mode}), {a.n} prompts: median {1000 * statistics.median(direct):.1f} "
          f"ms, p95 {1000 * pct(direct, 0.95):.1f} ms")

    with tempfile.TemporaryDirectory() as data:
        proc, url = start(1, a.renderer, a.mode, data)
        try:
            with httpx.Client(base_url=url, timeout=600) as h:
                post(h, PROMPTS[0], 0, a.mode)  # warm-up
                lat, over = [], []
                for i in range(a.n):
                    t = time.perf_counter()
                    r = post(h, PROMPTS[i % len(PROMPTS)], i, a.mode)
                    dt = time.perf_counter() - t
                    lat.append(dt)
                    over.append(dt - r["data"][0]["timings"]["total"])
            print(f"through the server (1 {'replica' if RAY else 'worker'}, sequential): latency median {1000 * statistics.median(lat):.1f} ms, "
                  f"p95 {1000 * pct(lat, 0.95):.1f} ms")
            print(f"server overhead per request (latency - engine total, paired): median "
                  f"{1000 * statistics.median(over):.1f} ms, p95 {1000 * pct(over, 0.95):.1f} ms")
        finally:
            stop(proc)

        for workers in (1, 2):
            proc, url = start(workers, a.renderer, a.mode, data)
            try:
                with httpx.Client(base_url=url, timeout=600) as h:
                    for w in range(workers * 2):
                        post(h, PROMPTS[w % len(PROMPTS)], w, a.mode)  # warm every worker

                def client(k: int, url: str = url) -> int:
                    done = 0
                    with httpx.Client(base_url=url, timeout=600) as h:
                        for i in range(k, a.throughput_n, a.clients):
                            post(h, PROMPTS[i % len(PROMPTS)], i, a.mode)
                            done += 1
                    return done

                t = time.perf_counter()
                with ThreadPoolExecutor(a.clients) as ex:
                    total = sum(ex.map(client, range(a.clients)))
                wall = time.perf_counter() - t
                print(f"throughput, {workers} {'replica(s)' if RAY else 'worker(s)'}, {a.clients} clients, {total} requests: {total / wall:.2f} req/s "
                      f"({wall:.1f} s; load average now {os.getloadavg()[0]:.2f})")
            finally:
                stop(proc)


if __name__ == "__main__":
    main()
