"""A fake OpenAI-compatible server on loopback for the LLM planner and VLM critic tests: a real HTTP server
(http.server in a thread) that answers POST /v1/chat/completions from a script and records every request.

    with FakeOpenAI([chat('{"prompt": ...}'), error(500), slow(5.0, chat(...))]) as srv:
        Endpoint(url=srv.url, model="fake")  # srv.requests: the JSON bodies received, in order

A script item is a reply dict (``chat``, ``error``, ``slow``) or a callable ``body -> reply``; when the script
runs out the last item is repeated.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat(content: str | None, refusal: str | None = None, finish: str = "stop") -> dict:
    msg = {"role": "assistant", "content": content}
    if refusal is not None:
        msg["refusal"] = refusal
    return {"status": 200, "json": {"id": "x", "object": "chat.completion", "model": "fake",
                                    "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}}


def chat_json(obj) -> dict:
    return chat(json.dumps(obj))


def error(status: int, message: str = "boom") -> dict:
    return {"status": status, "json": {"error": {"message": message, "type": "server_error"}}}


def slow(seconds: float, reply: dict) -> dict:
    return {**reply, "delay": seconds}


class FakeOpenAI:
    def __init__(self, script, models=("fake",)) -> None:
        self.script = list(script)
        self.models = list(models)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._i = 0
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _send(self, reply: dict) -> None:
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                data = (json.dumps(reply["json"]) if "json" in reply else reply.get("text", "")).encode()
                try:
                    self.send_response(reply.get("status", 200))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):  # noqa: N802
                srv.paths.append(self.path)
                if self.path.rstrip("/").endswith("/models"):
                    self._send({"json": {"object": "list", "data": [{"id": m, "object": "model"}
                                                                    for m in srv.models]}})
                else:
                    self._send(error(404, "not found"))

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with srv._lock:
                    srv.paths.append(self.path)
                    srv.requests.append(body)
                    srv.headers.append(dict(self.headers))
                    item = srv.script[min(srv._i, len(srv.script) - 1)]
                    srv._i += 1
                if not self.path.endswith("/chat/completions"):
                    self._send(error(404, f"no route {self.path}"))
                    return
                self._send(item(body) if callable(item) else item)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
