"""The FastAPI app: OpenAI Images API, the native API, SSE streams, files this server wrote, the web page.

Every error a client sees has OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, and a
status that says what went wrong; no traceback ever leaves the server (they go to its log).
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import multipart  # noqa: F401  (python-multipart: the edits route parses multipart forms)
except ImportError as e:  # pragma: no cover - what a core install sees
    raise ImportError(f"thinkdraw serve needs the serve extra: pip install -e \".[serve]\" ({e})") from None

import asyncio
import base64
import contextlib
import json
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartParser

from thinkdraw import __version__
from thinkdraw.engine import MAX_SIZE, MIN_SIZE, MODES
from thinkdraw.plan.schema import ReasoningStep, ScenePlan
from thinkdraw.serve.config import ServeConfig
from thinkdraw.serve.uploads import UploadError, save_upload, verify_image
from thinkdraw.serve.workers import Busy, JobFailed, Pool

STATIC = Path(__file__).parent / "static"
FILE_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
EXT = {"png": "png", "jpeg": "jpg", "webp": "webp"}
KEEPALIVE_S = 15.0
BODY_TIMEOUT_S = 60.0  # a client that stops sending its body (slowloris) gets 408
TURN = PathParam(ge=1, le=2**31 - 1, description="the turn's number in its session")


# --- errors -----------------------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                   code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


def _from_failed(e: JobFailed) -> ApiError:
    return ApiError(e.status, e.message, e.type, e.param, e.code)


def _busy(e: Busy) -> ApiError:
    return ApiError(429, f"The server is busy: every worker's queue is full. Retry in {e.retry_after} s.",
                    type="requests", code="rate_limit_exceeded", headers={"Retry-After": str(e.retry_after)})


def _validation_message(errors) -> tuple[str, str | None]:
    if not errors:
        return "the request is not valid", None
    err = errors[0]
    loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
    param = ".".join(loc) or None
    msg = err.get("msg", "invalid value")
    if err.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    if err.get("type") == "missing":
        return f"missing required parameter '{param}'", param
    more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
    return (f"invalid value for '{param}': {msg}" if param else msg) + more, param


# --- request bodies ---------------------------------------------------------------------------------------
Mode = Literal["direct", "think", "reflect", "interleaved"]
OutputFormat = Literal["png", "jpeg", "webp"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI fields thinkdraw has no use for are ignored politely


class GenerationRequest(_Body):
    prompt: str = Field(max_length=32000, description="what to draw")
    model: str | None = Field(None, description="thinkdraw, thinkdraw-builtin or thinkdraw-sketch (GET /v1/models)")
    n: int | None = Field(1, ge=1, le=4, description="how many images (seeds seed, seed+1, ...)")
    size: str | None = Field("auto", description="WxH: 256x256 for the builtin renderer, any square size from "
                                                 "32x32 to 2048x2048 for the sketch renderer, or auto")
    response_format: Literal["b64_json", "url"] | None = Field(None, description="default b64_json")
    output_format: OutputFormat | None = Field("png", description="the image carries its plan in every format")
    stream: bool | None = Field(False, description="SSE: image_generation.partial_image events, then .completed")
    partial_images: int | None = Field(0, ge=0, le=3, description="how many partial images to stream (the drawing "
                                                                  "and each refine round)")
    user: str | None = Field(None, max_length=256, description="ignored")
    quality: str | None = Field(None, max_length=32, description="ignored")
    background: str | None = Field(None, max_length=32, description="ignored (images are opaque)")
    # thinkdraw's own fields
    mode: Mode | None = Field(None, description="think mode (the server's --mode when omitted)")
    seed: int | None = Field(0, ge=0, le=2**31 - 1)
    plan: ScenePlan | None = Field(None, description="a scene plan to draw instead of planning the prompt "
                                                     "(e.g. one edited by hand)")
    round_images: bool | None = Field(False, description="include each reflect round's image in rounds[]")


class PlanRequest(_Body):
    prompt: str = Field(max_length=32000)
    seed: int | None = Field(0, ge=0, le=2**31 - 1)


class RenderRequest(_Body):
    plan: ScenePlan
    reasoning: list[ReasoningStep] | None = Field(None, description="the reasoning that led to the plan, kept")
    model: str | None = None
    mode: Literal["think", "reflect", "interleaved"] | None = None
    seed: int | None = Field(0, ge=0, le=2**31 - 1)
    n: int | None = Field(1, ge=1, le=4)
    response_format: Literal["b64_json", "url"] | None = None
    output_format: OutputFormat | None = "png"
    round_images: bool | None = False


class StreamRequest(_Body):
    prompt: str | None = Field(None, max_length=32000, description="what to draw (or give plan)")
    plan: ScenePlan | None = Field(None, description="draw this plan instead of planning a prompt")
    reasoning: list[ReasoningStep] | None = None
    model: str | None = None
    mode: Mode | None = None
    seed: int | None = Field(0, ge=0, le=2**31 - 1)
    size: str | None = "auto"


class SessionRequest(_Body):
    prompt: str = Field(max_length=32000, description="the first turn: what to draw")
    name: str | None = Field(None, max_length=200)
    model: str | None = None
    mode: Literal["think", "reflect"] | None = None
    seed: int | None = Field(0, ge=0, le=2**31 - 1)
    size: str | None = "auto"
    stream: bool | None = False


class TurnRequest(_Body):
    instruction: str = Field(max_length=4000, description="what to change, e.g. 'make the car blue'")
    parent: int | None = Field(None, ge=1, le=2**31 - 1, description="branch: edit this earlier turn instead of the head")
    mode: Literal["think", "reflect"] | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    stream: bool | None = False


class BranchRequest(_Body):
    turn: int = Field(ge=1, le=2**31 - 1, description="the turn the next edit starts from")


class EditFields(_Body):
    prompt: str = Field(max_length=32000)
    model: str | None = None
    n: int | None = Field(1, ge=1, le=1, description="one edited image per request")
    size: str | None = "auto"
    response_format: Literal["b64_json", "url"] | None = None
    output_format: OutputFormat | None = "png"
    stream: bool | None = False
    partial_images: int | None = Field(0, ge=0, le=3)
    user: str | None = Field(None, max_length=256)
    mode: Literal["think", "reflect"] | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    plan: ScenePlan | None = Field(None, description="JSON: the plan of the image, when it carries none")
    round_images: bool | None = False


EDIT_FORM_SCHEMA = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["image", "prompt"],
        "properties": {
            "image": {"type": "string", "format": "binary",
                      "description": "PNG, JPEG or WebP (one; several as image[] mean composition)"},
            "image[]": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "mask": {"type": "string", "format": "binary",
                     "description": "PNG with alpha, same size: fully transparent pixels may change"},
            "prompt": {"type": "string", "description": "the instruction"},
            "model": {"type": "string"}, "n": {"type": "integer", "enum": [1]},
            "size": {"type": "string"}, "response_format": {"type": "string", "enum": ["b64_json", "url"]},
            "output_format": {"type": "string", "enum": ["png", "jpeg", "webp"]},
            "stream": {"type": "boolean"}, "partial_images": {"type": "integer", "minimum": 0, "maximum": 3},
            "mode": {"type": "string", "enum": ["think", "reflect"]}, "seed": {"type": "integer"},
            "plan": {"type": "string", "description": "JSON ScenePlan"}, "user": {"type": "string"}}}}}}}

class ImportFields(_Body):
    name: str | None = Field(None, max_length=200)
    model: str | None = None
    mode: Literal["think", "reflect"] | None = None


IMPORT_FORM_SCHEMA = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["image"],
        "properties": {"image": {"type": "string", "format": "binary"}, "name": {"type": "string"},
                       "model": {"type": "string"}, "mode": {"type": "string", "enum": ["think", "reflect"]}}}}}}}

DESCRIBE_FORM_SCHEMA = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["image"],
        "properties": {"image": {"type": "string", "format": "binary"}}}}}}}


# --- the guard: API key and body size, before any route reads a byte ---------------------------------------
class Guard:
    """ASGI middleware: 401 without the key (when one is set), 413 for a body over the limit (read at most
    limit + 1 bytes), then the body replayed to the app."""

    def __init__(self, app, config: ServeConfig) -> None:
        self.app, self.key, self.limit = app, config.api_key, config.max_upload_bytes

    async def _reply(self, send, status: int, body: dict, headers: list | None = None) -> None:
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                                *(headers or [])]})
        await send({"type": "http.response.body", "body": data})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if self.key and path.startswith("/v1/") and not path.startswith("/v1/files/"):
            auth = headers.get(b"authorization", b"").decode("latin-1")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not given or not secrets.compare_digest(given.encode(), self.key.encode()):
                return await self._reply(send, 401, error_body(
                    "Incorrect API key provided: send 'Authorization: Bearer KEY' with the server's key"
                    if given else "You didn't provide an API key: send 'Authorization: Bearer KEY'",
                    code="invalid_api_key"), [(b"www-authenticate", b"Bearer")])
        too_big = error_body(f"the request body is larger than the server's limit of {self.limit} bytes",
                             code="request_too_large")
        cl = headers.get(b"content-length")
        if cl is not None:
            try:
                if int(cl) > self.limit:
                    return await self._reply(send, 413, too_big)
            except ValueError:
                return await self._reply(send, 400, error_body("the Content-Length header is not a number"))
        chunks, total = [], 0
        while True:
            try:
                msg = await asyncio.wait_for(receive(), BODY_TIMEOUT_S)
            except TimeoutError:
                return await self._reply(send, 408, error_body(
                    f"the request body did not arrive within {BODY_TIMEOUT_S:g} s", code="request_timeout"))
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            total += len(chunk)
            if total > self.limit:
                return await self._reply(send, 413, too_big)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


# --- helpers ----------------------------------------------------------------------------------------------
def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def with_keepalive(job):
    """(name, data) events of a job; None every KEEPALIVE_S seconds of silence (an SSE comment keeps the
    connection open); raises JobFailed."""
    it = job.stream().__aiter__()
    nxt = asyncio.ensure_future(it.__anext__())
    try:
        while True:
            done, _ = await asyncio.wait({nxt}, timeout=KEEPALIVE_S)
            if not done:
                yield None
                continue
            try:
                ev = nxt.result()
            except StopAsyncIteration:
                return
            yield ev
            nxt = asyncio.ensure_future(it.__anext__())
    finally:
        if not nxt.done():
            nxt.cancel()


class Server:
    """The state behind the routes: config, worker pool, the sessions store (read side), the planner."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.files = config.data_dir / "files"
        self.sessions_dir = config.data_dir  # sessions.db + images/: the store `thinkdraw session --data` reads
        self.pool: Pool | None = None
        self._store = None
        self._store_lock = threading.Lock()
        self._planner = None
        self.models = {"thinkdraw": config.renderer, "thinkdraw-builtin": "builtin", "thinkdraw-sketch": "sketch"}

    def start(self) -> None:
        for d in (self.files, self.sessions_dir, self.config.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        for stale in self.config.uploads_dir.glob("*"):  # left by a server that was killed (its files only:
            with contextlib.suppress(OSError):             # a folder is another replica's, unlink refuses it)
                stale.unlink()
        self.sweep_files()
        c = self.config
        self.pool = Pool(c, {"renderer": c.renderer, "rounds": c.rounds, "weights": c.weights, "workers": c.workers,
                             "threads": c.threads, "preload": c.preload, "sessions_dir": str(self.sessions_dir),
                             "backends": c.backends})
        self.pool.start()

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        if self.config.instance:  # a replica's own uploads folder, empty once its jobs ended
            with contextlib.suppress(OSError):
                self.config.uploads_dir.rmdir()

    # --- argument checks --------------------------------------------------------------------------------
    def renderer_for(self, model: str | None) -> str:
        if model in (None, ""):
            return self.config.renderer
        if model not in self.models:
            raise ApiError(404, f"The model '{model}' does not exist; this server has {', '.join(self.models)} "
                                f"(GET /v1/models)", param="model", code="model_not_found")
        return self.models[model]

    def size_for(self, size: str | None, renderer: str) -> int | None:
        if size in (None, "", "auto"):
            return None
        m = re.fullmatch(r"(\d{1,5})x(\d{1,5})", size.strip())
        if renderer == "sketch":
            ok = m is not None and m[1] == m[2] and MIN_SIZE <= int(m[1]) <= MAX_SIZE
            supported = f"any square size from {MIN_SIZE}x{MIN_SIZE} to {MAX_SIZE}x{MAX_SIZE}, or auto"
        elif renderer == "diffusers":  # any multiple of 8 (auto: the model's own size)
            ok = m is not None and m[1] == m[2] and MIN_SIZE <= int(m[1]) <= MAX_SIZE and int(m[1]) % 8 == 0
            supported = f"a square multiple of 8 from {MIN_SIZE}x{MIN_SIZE} to {MAX_SIZE}x{MAX_SIZE}, or auto"
        else:
            ok = m is not None and m[1] == m[2] and int(m[1]) == 256
            supported = (f"256x256 or auto (model thinkdraw-sketch draws any square size from {MIN_SIZE}x{MIN_SIZE} "
                         f"to {MAX_SIZE}x{MAX_SIZE})")
        if not ok:
            raise ApiError(400, f"Invalid size '{size}' for the {renderer} renderer. Supported sizes: {supported}.",
                           param="size", code="invalid_size")
        return int(m[1])

    def mode_for(self, mode: str | None, renderer: str, edit: bool = False) -> str:
        mode = mode or (self.config.mode if not edit or self.config.mode in ("think", "reflect") else "reflect")
        if mode not in MODES:
            raise ApiError(400, f"unknown mode '{mode}'; choose one of {', '.join(MODES)}", param="mode")
        if renderer == "sketch" and mode == "direct":
            raise ApiError(400, "the sketch renderer draws plans; mode 'direct' (the prompt alone) needs model "
                                "thinkdraw-builtin", param="mode", code="unsupported_mode")
        return mode

    @staticmethod
    def prompt_ok(prompt: str | None, param: str = "prompt") -> str:
        if prompt is None or not prompt.strip():
            raise ApiError(400, f"'{param}' is empty: say what to draw" if param == "prompt" else
                           f"'{param}' is empty: say what to change", param=param, code="empty_prompt")
        return prompt

    def submit(self, kind: str, payload: dict, files: list[Path] | None = None, events: bool = False):
        payload["events"] = events
        try:
            return self.pool.submit(kind, payload, files=files)
        except Busy as e:
            for f in files or []:
                with contextlib.suppress(OSError):
                    f.unlink()
            raise _busy(e) from None
        except JobFailed as e:
            raise _from_failed(e) from None

    async def run(self, kind: str, payload: dict, files: list[Path] | None = None) -> dict:
        job = self.submit(kind, payload, files)
        try:
            return await job.result()
        except JobFailed as e:
            raise _from_failed(e) from None

    # --- results ----------------------------------------------------------------------------------------
    def sweep_files(self) -> int:
        """Remove served files older than ``files_ttl``; returns how many."""
        n = 0
        cutoff = time.time() - self.config.files_ttl
        for f in self.files.glob("*"):
            with contextlib.suppress(OSError):
                if f.stat().st_mtime < cutoff:
                    f.unlink()
                    n += 1
        return n

    def write_file(self, data: bytes, fmt: str) -> str:
        """Write bytes under data_dir/files with a random (unguessable) name; returns the name. Every 100th
        write sweeps files older than ``files_ttl``."""
        self._writes = getattr(self, "_writes", 0) + 1
        if self._writes % 100 == 0:
            self.sweep_files()
        name = f"{secrets.token_hex(16)}.{EXT[fmt]}"
        tmp = self.files / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.files / name)
        return name

    def item(self, img: dict, response_format: str | None, base_url: str, model: str) -> dict:
        out: dict[str, Any] = {}
        if response_format == "url":
            out["url"] = f"{base_url}/v1/files/{self.write_file(img['data'], img['format'])}"
        else:
            out["b64_json"] = b64(img["data"])
        out["revised_prompt"] = None
        for k, v in img.items():
            if k in ("data", "format"):
                continue
            if k == "rounds":
                v = [{**r, "png": b64(r["png"])} if "png" in r else r for r in v]
            out[k] = v
        out["model"] = model
        return out

    def images_response(self, result: dict, response_format: str | None, base_url: str, model: str,
                        fmt: str) -> dict:
        imgs = result["images"]
        return {"created": int(time.time()), "data": [self.item(i, response_format, base_url, model) for i in imgs],
                "background": "opaque", "output_format": fmt,
                "size": f"{imgs[0]['width']}x{imgs[0]['height']}" if imgs else None,
                "usage": _usage(imgs[0].get("prompt", "") if imgs else "")}

    # --- sessions (read side: SQLite, no model) ----------------------------------------------------------
    def store(self):
        from thinkdraw.session import SessionStore

        if self._store is None:
            self._store = SessionStore(self.sessions_dir)
        return self._store

    def session_call(self, fn):
        """Run ``fn(store)`` with the store's one connection, one thread at a time; SessionError -> 404/400."""
        from thinkdraw.session import SessionError

        with self._store_lock:
            try:
                return fn(self.store())
            except SessionError as e:
                msg = str(e)
                status = 404 if msg.startswith("no session") or " has no turn " in msg else 400
                raise ApiError(status, msg, param="session" if status == 404 else None,
                               code="not_found" if status == 404 else "invalid_move") from None

    def planner(self):
        from thinkdraw.think.base import get_planner, planner_from_settings

        if self._planner is None:
            b = self.config.backends
            self._planner = get_planner("rules") if b is None else planner_from_settings(b)
        return self._planner


def _usage(prompt: str) -> dict:
    words = len(prompt.split())
    return {"input_tokens": words, "input_tokens_details": {"image_tokens": 0, "text_tokens": words},
            "output_tokens": 0, "total_tokens": words}


def turn_json(t, base: str) -> dict:
    return {"id": t.id, "parent": t.parent, "kind": t.kind, "text": t.text, "mode": t.mode, "seed": t.seed,
            "renderer": t.renderer, "created": t.created, "plan": t.plan.model_dump(mode="json"),
            "reasoning": [s.model_dump() for s in t.reasoning.steps], "edit": t.edit, "focus": t.focus,
            "timings": t.timings, "extra": t.extra,
            "image_url": f"{base}/v1/sessions/{t.session}/turns/{t.id}/image"}


def session_json(store, sid: str, base: str) -> dict:
    from thinkdraw.session import Session

    s = Session(store, sid)
    turns = s.turns()
    head = store.head(sid)
    path = []
    if head is not None:
        by = {t.id: t for t in turns}
        n = head
        while n is not None:
            path.append(n)
            n = by[n].parent if n in by else None
    return {"id": sid, "name": s.name, "renderer": s.renderer, "mode": s.mode, "head": head, "history": path[::-1],
            "turns": [{**turn_json(t, base), "children": [c.id for c in turns if c.parent == t.id]} for t in turns]}


# --- the app ----------------------------------------------------------------------------------------------
def create_app(config: ServeConfig) -> FastAPI:
    srv = Server(config)
    Image.MAX_IMAGE_PIXELS = config.max_pixels  # Pillow's own bomb guard, at the server's limit
    MultiPartParser.spool_max_size = config.max_upload_bytes + 1  # uploads stay in memory: nothing outside data_dir

    @contextlib.asynccontextmanager
    async def lifespan(app):
        srv.start()
        try:
            yield
        finally:
            srv.stop()

    app = FastAPI(title="thinkdraw", version=__version__, lifespan=lifespan,
                  description="Reasoning-first image generation: the OpenAI Images API, the native plan / render / "
                              "describe / session API with SSE streams of stages, and a web page at /. See "
                              "docs/serve.md.")
    app.state.server = srv

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        return error_response(e.status, e.message, e.type, e.param, e.code, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        msg, param = _validation_message(e.errors())
        return error_response(400, msg, param=param, code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        if e.status_code == 404:
            return error_response(404, f"Unknown request URL: {request.method} {request.url.path}",
                                  code="unknown_url")
        if e.status_code == 405:
            return error_response(405, f"{request.method} is not allowed on {request.url.path}",
                                  code="method_not_allowed")
        detail = e.detail if isinstance(e.detail, str) else "the request was refused"
        return error_response(e.status_code, detail, type="invalid_request_error" if e.status_code < 500
                              else "server_error")

    @app.exception_handler(Exception)
    async def _internal(request: Request, e: Exception):
        return error_response(500, f"internal error ({type(e).__name__}); the server's log has the details",
                              type="server_error", code="internal_error")

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # --- OpenAI Images API ------------------------------------------------------------------------------
    @app.get("/v1/models", tags=["openai"])
    async def list_models():
        """The models this server draws with: thinkdraw (the server's renderer), thinkdraw-builtin, thinkdraw-sketch."""
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "thinkdraw",
                                            "renderer": r} for m, r in srv.models.items()]}

    @app.get("/v1/models/{model}", tags=["openai"])
    async def get_model(model: str):
        r = srv.renderer_for(model)
        return {"id": model, "object": "model", "created": 0, "owned_by": "thinkdraw", "renderer": r}

    @app.post("/v1/images/generations", tags=["openai"])
    async def generations(body: GenerationRequest, request: Request):
        """OpenAI's image generation, with thinkdraw's fields riding along: mode, seed, plan in; reasoning,
        plan, rounds (score, reflection) and timings out, per image."""
        renderer = srv.renderer_for(body.model)
        model = body.model or "thinkdraw"
        srv.prompt_ok(body.prompt)
        fmt = body.output_format or "png"
        if body.plan is not None:
            mode = srv.mode_for(body.mode, renderer)
            if mode == "direct":
                raise ApiError(400, "a plan is drawn in think, reflect or interleaved mode, not direct", param="mode")
            if body.size not in (None, "", "auto"):
                raise ApiError(400, "size comes from the plan's canvas when a plan is given", param="size")
            kind, payload = "render", {"plan": body.plan.model_dump(mode="json"), "mode": mode}
        else:
            mode = srv.mode_for(body.mode, renderer)
            kind, payload = "generate", {"prompt": body.prompt, "mode": mode,
                                         "size": srv.size_for(body.size, renderer)}
        payload.update(seed=body.seed or 0, n=body.n or 1, renderer=renderer, output_format=fmt,
                       round_images=bool(body.round_images))
        if body.stream:
            job = srv.submit(kind, payload, events=True)
            return StreamingResponse(openai_stream(job, "image_generation", body.partial_images or 0, fmt, model,
                                                   body.response_format, base(request)),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        result = await srv.run(kind, payload)
        return JSONResponse(srv.images_response(result, body.response_format, base(request), model, fmt))

    async def openai_stream(job, prefix: str, partial_images: int, fmt: str, model: str, response_format,
                            base_url: str):
        sent = 0
        try:
            async for ev in with_keepalive(job):
                if ev is None:
                    yield b": keep-alive\n\n"
                    continue
                name, data = ev
                if name == "partial_image" and sent < partial_images:
                    yield sse(f"{prefix}.partial_image", {
                        "type": f"{prefix}.partial_image", "b64_json": b64(data["png"]), "created_at": int(time.time()),
                        "size": "auto", "quality": "auto", "background": "opaque", "output_format": "png",
                        "partial_image_index": sent})
                    sent += 1
                elif name == "result":
                    for img in data["images"]:
                        item = srv.item(img, response_format, base_url, model)
                        yield sse(f"{prefix}.completed", {
                            **item, "type": f"{prefix}.completed", "b64_json": b64(img["data"]),
                            "created_at": int(time.time()), "size": f"{img['width']}x{img['height']}",
                            "quality": "auto", "background": "opaque", "output_format": fmt,
                            "usage": _usage(img.get("prompt", ""))})
        except JobFailed as e:
            yield sse("error", error_body(e.message, e.type, e.param, e.code) | {"status": e.status})
        except Exception:  # noqa: BLE001 - the stream ends with an error event, never a traceback
            yield sse("error", error_body("internal error while streaming", "server_error", code="internal_error"))

    @app.post("/v1/images/edits", tags=["openai"], openapi_extra=EDIT_FORM_SCHEMA)
    async def edits(request: Request):
        """OpenAI's image edit (multipart): ``image`` (several as ``image[]``: composition), optional ``mask``
        (PNG with alpha, same size: fully transparent pixels are the ones that may change), ``prompt`` the
        instruction. thinkdraw locates what the instruction names and redraws only there."""
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ApiError(400, "an edit is a multipart/form-data request with 'image' and 'prompt' fields",
                           code="invalid_content_type")
        form = await request.form(max_files=9, max_fields=64, max_part_size=1024 * 1024)
        images = [f for key in ("image", "image[]") for f in form.getlist(key)]
        fields = {}
        for k, v in form.multi_items():
            if k in ("image", "image[]", "mask"):
                continue
            if not isinstance(v, str):
                raise ApiError(400, f"'{k}' must be a text field, not a file", param=k)
            fields[k] = v
        if "plan" in fields:
            try:
                fields["plan"] = json.loads(fields["plan"])
            except ValueError:
                raise ApiError(400, "'plan' is not valid JSON", param="plan") from None
        try:
            body = EditFields.model_validate(fields)
        except ValidationError as e:
            msg, param = _validation_message(e.errors())
            raise ApiError(400, msg, param=param, code="invalid_value") from None
        srv.prompt_ok(body.prompt, "prompt")
        if not images:
            raise ApiError(400, "missing required parameter 'image' (a PNG, JPEG or WebP file)", param="image")
        if any(not isinstance(f, UploadFile) for f in images):
            raise ApiError(400, "'image' must be a file", param="image")
        renderer = srv.renderer_for(body.model)
        model = body.model or "thinkdraw"
        mode = srv.mode_for(body.mode, renderer, edit=True)
        if mode not in ("think", "reflect"):
            raise ApiError(400, f"edit modes are think and reflect, not '{mode}'", param="mode")
        if len(images) > 1:
            import importlib.util

            if importlib.util.find_spec("thinkdraw.edit.compose") is None:
                raise ApiError(400, "several images (composition) are not supported by this build; send one image",
                               param="image", code="unsupported")
        fmt = body.output_format or "png"
        datas = [await f.read() for f in images]
        mask = form.get("mask")
        mask_data = await mask.read() if isinstance(mask, UploadFile) else None
        if mask is not None and not isinstance(mask, UploadFile):
            raise ApiError(400, "'mask' must be a file", param="mask")
        paths: list[Path] = []
        try:
            infos = [await asyncio.to_thread(verify_image, d, config.max_pixels, "image") for d in datas]
            if mask_data is not None:
                mfmt, msize, mmode = await asyncio.to_thread(verify_image, mask_data, config.max_pixels, "mask")
                if msize != infos[0][1]:
                    raise UploadError(f"'mask' is {msize[0]}x{msize[1]}; it must be the image's size "
                                      f"{infos[0][1][0]}x{infos[0][1][1]}", param="mask", code="invalid_mask")
                if mfmt != "PNG" or mmode not in ("RGBA", "LA", "PA", "P", "La"):
                    raise UploadError("'mask' must be a PNG with an alpha channel (transparent = editable)",
                                      param="mask", code="invalid_mask")
            sz = srv.size_for(body.size, renderer)
            if sz is not None and infos[0][1] != (sz, sz):
                raise UploadError(f"size {body.size} differs from the image's {infos[0][1][0]}x{infos[0][1][1]}; an "
                                  f"edit keeps the image's size", param="size", code="invalid_size")
            paths = [save_upload(d, info[0], config.uploads_dir) for d, info in zip(datas, infos, strict=True)]
            mask_path = save_upload(mask_data, "PNG", config.uploads_dir) if mask_data is not None else None
        except UploadError as e:
            for p in paths:
                p.unlink(missing_ok=True)
            raise ApiError(e.status, str(e), param=e.param, code=e.code) from None
        files = paths + ([mask_path] if mask_path else [])
        payload = {"image_path": str(paths[0]) if len(paths) == 1 else [str(p) for p in paths],
                   "mask_path": str(mask_path) if mask_path else None, "instruction": body.prompt,
                   "seed": body.seed, "mode": mode, "renderer": renderer, "output_format": fmt,
                   "plan": body.plan.model_dump(mode="json") if body.plan else None,
                   "round_images": bool(body.round_images)}
        if body.stream:
            job = srv.submit("edit", payload, files, events=True)
            return StreamingResponse(edit_stream(job, body, fmt, model, base(request)),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        result = await srv.run("edit", payload, files)
        refused(result)
        return JSONResponse(srv.images_response(result, body.response_format, base(request), model, fmt))

    def refused(result: dict) -> None:
        img = result["images"][0]
        if not img.get("ok", True):
            raise ApiError(400, f"not edited ({img['kind'].replace('_', ' ')}): {img['message']}", param="prompt",
                           code=img["kind"] or "edit_refused")

    async def edit_stream(job, body, fmt, model, base_url):
        async for chunk in openai_stream(_RefusingJob(job), "image_edit", body.partial_images or 0, fmt, model,
                                         body.response_format, base_url):
            yield chunk

    class _RefusingJob:
        """A job whose refused edit ends as an error event (as the non-streaming route answers 400)."""

        def __init__(self, job) -> None:
            self.job = job

        async def stream(self):
            async for name, data in self.job.stream():
                if name == "result":
                    img = data["images"][0]
                    if not img.get("ok", True):
                        raise JobFailed(400, f"not edited ({img['kind'].replace('_', ' ')}): {img['message']}",
                                        type="invalid_request_error", code=img["kind"] or "edit_refused",
                                        param="prompt")
                yield name, data

    @app.get("/v1/files/{name}", tags=["openai"])
    async def files(name: str):
        """An image this server wrote for a ``response_format: url`` answer (random, unguessable names)."""
        if not FILE_NAME.match(name) or not (srv.files / name).is_file():
            raise ApiError(404, f"no such file '{name[:80]}'", param="name", code="not_found")
        return FileResponse(srv.files / name, media_type=MEDIA[name.rsplit(".", 1)[1]])

    # --- native API -------------------------------------------------------------------------------------
    @app.post("/v1/plans", tags=["native"])
    async def plans(body: PlanRequest):
        """Think only: the prompt's reasoning and scene plan, no drawing (milliseconds; no worker needed)."""
        from thinkdraw.errors import BackendError
        from thinkdraw.think import PlanningError

        srv.prompt_ok(body.prompt)
        try:
            reasoning, plan = await asyncio.to_thread(srv.planner().plan, body.prompt, body.seed or 0)
        except PlanningError as e:
            raise ApiError(400, str(e).splitlines()[0][:400], param="prompt", code="unplannable") from None
        except BackendError as e:  # the LLM planner's server failed twice
            raise ApiError(502, str(e).splitlines()[0][:400], code="backend_failed") from None
        return {"prompt": body.prompt, "reasoning": [s.model_dump() for s in reasoning.steps],
                "plan": plan.model_dump(mode="json"), "warnings": list(plan.warnings)}

    @app.post("/v1/render", tags=["native"])
    async def render(body: RenderRequest, request: Request):
        """Draw a plan (one from /v1/plans, edited by hand) in think, reflect or interleaved mode."""
        renderer = srv.renderer_for(body.model)
        mode = srv.mode_for(body.mode, renderer)
        fmt = body.output_format or "png"
        payload = {"plan": body.plan.model_dump(mode="json"), "mode": mode, "seed": body.seed or 0,
                   "n": body.n or 1, "renderer": renderer, "output_format": fmt,
                   "reasoning": [s.model_dump() for s in body.reasoning or []],
                   "round_images": bool(body.round_images)}
        result = await srv.run("render", payload)
        return JSONResponse(srv.images_response(result, body.response_format, base(request), body.model or "thinkdraw", fmt))

    @app.post("/v1/describe", tags=["native"], openapi_extra=DESCRIBE_FORM_SCHEMA)
    async def describe(request: Request):
        """Pixels -> scene plan (the critic's segmenter, verifier and text reader)."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(400, "describe is a multipart/form-data request with an 'image' file",
                           code="invalid_content_type")
        form = await request.form(max_files=1, max_fields=8)
        f = form.get("image")
        if not isinstance(f, UploadFile):
            raise ApiError(400, "missing required parameter 'image' (a PNG, JPEG or WebP file)", param="image")
        data = await f.read()
        try:
            fmt, _, _ = await asyncio.to_thread(verify_image, data, config.max_pixels, "image")
        except UploadError as e:
            raise ApiError(e.status, str(e), param=e.param, code=e.code) from None
        path = save_upload(data, fmt, config.uploads_dir)
        return await srv.run("describe", {"image_path": str(path)}, [path])

    @app.post("/v1/stream", tags=["native"])
    async def stream(body: StreamRequest, request: Request):
        """The stages as they happen (SSE): ``reasoning`` (each step), ``plan``, ``progress``, ``partial_image``
        (the drawing and each refine round), then ``result`` (image, rounds with their images, timings), or
        ``error``."""
        renderer = srv.renderer_for(body.model)
        mode = srv.mode_for(body.mode, renderer)
        if body.plan is not None:
            if mode == "direct":
                raise ApiError(400, "a plan is drawn in think, reflect or interleaved mode, not direct", param="mode")
            kind, payload = "render", {"plan": body.plan.model_dump(mode="json"),
                                       "reasoning": [s.model_dump() for s in body.reasoning or []]}
        else:
            srv.prompt_ok(body.prompt)
            kind, payload = "generate", {"prompt": body.prompt, "size": srv.size_for(body.size, renderer)}
        payload.update(mode=mode, seed=body.seed or 0, n=1, renderer=renderer, output_format="png",
                       round_images=True)
        job = srv.submit(kind, payload, events=True)
        return StreamingResponse(native_stream(job, body.model or "thinkdraw", base(request)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def native_stream(job, model: str, base_url: str, after=None):
        try:
            async for ev in with_keepalive(job):
                if ev is None:
                    yield b": keep-alive\n\n"
                    continue
                name, data = ev
                if name == "partial_image":
                    yield sse("partial_image", {"index": data["index"], "b64_json": b64(data["png"])})
                elif name == "result":
                    if after is not None:
                        yield sse("result", await after(data))
                    else:
                        yield sse("result", srv.item(data["images"][0], "b64_json", base_url, model))
                else:
                    yield sse(name, data)
        except ApiError as e:
            yield sse("error", error_body(e.message, e.type, e.param, e.code) | {"status": e.status})
        except JobFailed as e:
            yield sse("error", error_body(e.message, e.type, e.param, e.code) | {"status": e.status})
        except Exception:  # noqa: BLE001
            yield sse("error", error_body("internal error while streaming", "server_error", code="internal_error"))

    # --- sessions -----------------------------------------------------------------------------------------
    @app.get("/v1/sessions", tags=["sessions"])
    async def sessions_list():
        infos = await asyncio.to_thread(srv.session_call, lambda st: st.sessions())
        return {"object": "list", "data": [{"id": i.id, "name": i.name, "renderer": i.renderer, "mode": i.mode,
                                            "created": i.created, "updated": i.updated, "head": i.head,
                                            "turns": i.turns, "first": i.first} for i in infos]}

    @app.post("/v1/sessions", tags=["sessions"])
    async def sessions_create(body: SessionRequest, request: Request):
        """A new session; its first turn draws ``prompt``. ``stream: true``: SSE as /v1/stream, ending with the
        session."""
        srv.prompt_ok(body.prompt)
        renderer = srv.renderer_for(body.model)
        mode = srv.mode_for(body.mode, renderer, edit=True)
        payload = {"prompt": body.prompt, "name": body.name, "seed": body.seed or 0, "mode": mode,
                   "size": srv.size_for(body.size, renderer), "renderer": renderer}
        b = base(request)

        async def after(data):
            return await asyncio.to_thread(srv.session_call, lambda st: session_json(st, data["session"], b))
        if body.stream:
            job = srv.submit("session_create", payload, events=True)
            return StreamingResponse(native_stream(job, "thinkdraw", b, after), media_type="text/event-stream")
        data = await srv.run("session_create", payload)
        return await after(data)

    @app.post("/v1/sessions/import", tags=["sessions"], openapi_extra=IMPORT_FORM_SCHEMA)
    async def sessions_import(request: Request):
        """A new session whose first turn is an uploaded image (multipart ``image``; optional ``name``, ``mode``,
        ``model``): a PNG thinkdraw wrote keeps its plan, any other image is described from its pixels."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(400, "an import is a multipart/form-data request with an 'image' file",
                           code="invalid_content_type")
        form = await request.form(max_files=1, max_fields=8)
        f = form.get("image")
        if not isinstance(f, UploadFile):
            raise ApiError(400, "missing required parameter 'image' (a PNG, JPEG or WebP file)", param="image")
        fields = {k: v for k, v in form.multi_items() if k != "image" and isinstance(v, str)}
        try:
            body = ImportFields.model_validate(fields)
        except ValidationError as e:
            msg, param = _validation_message(e.errors())
            raise ApiError(400, msg, param=param, code="invalid_value") from None
        renderer = srv.renderer_for(body.model)
        mode = srv.mode_for(body.mode, renderer, edit=True)
        data = await f.read()
        try:
            fmt, _, _ = await asyncio.to_thread(verify_image, data, config.max_pixels, "image")
        except UploadError as e:
            raise ApiError(e.status, str(e), param=e.param, code=e.code) from None
        path = save_upload(data, fmt, config.uploads_dir)
        label = Path(f.filename or "").name[:120] or "an image"
        res = await srv.run("session_import", {"image_path": str(path), "mode": mode, "renderer": renderer,
                                               "name": body.name, "label": label}, [path])
        b = base(request)
        return await asyncio.to_thread(srv.session_call, lambda st: session_json(st, res["session"], b))

    @app.get("/v1/sessions/{sid}", tags=["sessions"])
    async def sessions_get(sid: str, request: Request):
        b = base(request)
        return await asyncio.to_thread(srv.session_call, lambda st: session_json(st, sid, b))

    @app.delete("/v1/sessions/{sid}", tags=["sessions"])
    async def sessions_delete(sid: str):
        def rm(st):
            from thinkdraw.session import Session

            Session(st, sid)
            st.delete_session(sid)
        await asyncio.to_thread(srv.session_call, rm)
        return {"id": sid, "deleted": True}

    @app.post("/v1/sessions/{sid}/turns", tags=["sessions"])
    async def sessions_turn(sid: str, body: TurnRequest, request: Request):
        """An edit turn from the head (or from ``parent``: a branch). A refused instruction adds no turn: 400."""
        srv.prompt_ok(body.instruction, "instruction")
        b = base(request)
        await asyncio.to_thread(srv.session_call, lambda st: st.turn(sid, body.parent) if body.parent else
                                session_json(st, sid, b))  # 404 before queueing
        payload = {"session": sid, "instruction": body.instruction, "parent": body.parent, "mode": body.mode,
                   "seed": body.seed}

        async def after(data):
            if not data["ok"]:
                raise ApiError(400, f"not edited ({data['kind'].replace('_', ' ')}): {data['message']}",
                               param="instruction", code=data["kind"] or "edit_refused")
            return await asyncio.to_thread(srv.session_call, lambda st: session_json(st, sid, b))
        if body.stream:
            job = srv.submit("session_turn", payload, events=True)
            return StreamingResponse(native_stream(job, "thinkdraw", b, after), media_type="text/event-stream")
        return await after(await srv.run("session_turn", payload))

    @app.get("/v1/sessions/{sid}/turns/{n}", tags=["sessions"])
    async def sessions_turn_get(sid: str, request: Request, n: int = TURN):
        b = base(request)
        return await asyncio.to_thread(srv.session_call, lambda st: turn_json(st.turn(sid, n), b))

    @app.get("/v1/sessions/{sid}/turns/{n}/image", tags=["sessions"])
    async def sessions_turn_image(sid: str, n: int = TURN):
        """The turn's PNG, carrying its plan (thinkdraw edit / inspect read it like any image thinkdraw wrote)."""
        from thinkdraw.plan.pngmeta import encode_image

        def png(st):
            t = st.turn(sid, n)
            return encode_image(t.image, "PNG", t.plan, prompt=t.text, **t.metadata())[0]
        data = await asyncio.to_thread(srv.session_call, png)
        return Response(data, media_type="image/png",
                        headers={"Content-Disposition": f'inline; filename="{sid}-turn{n}.png"'})

    def _move(sid: str, fn):
        async def go(request: Request):
            b = base(request)

            def act(st):
                from thinkdraw.session import Session

                fn(Session(st, sid))
                return session_json(st, sid, b)
            return await asyncio.to_thread(srv.session_call, act)
        return go

    @app.post("/v1/sessions/{sid}/undo", tags=["sessions"])
    async def sessions_undo(sid: str, request: Request):
        """Move the head to its parent (the undone turn stays in the tree)."""
        return await _move(sid, lambda s: s.undo())(request)

    @app.post("/v1/sessions/{sid}/redo", tags=["sessions"])
    async def sessions_redo(sid: str, request: Request):
        return await _move(sid, lambda s: s.redo())(request)

    @app.post("/v1/sessions/{sid}/branch", tags=["sessions"])
    async def sessions_branch(sid: str, body: BranchRequest, request: Request):
        """Make an earlier turn the head: the next turn starts a new branch from it."""
        return await _move(sid, lambda s: s.branch(body.turn))(request)

    # --- health, page -------------------------------------------------------------------------------------
    @app.get("/healthz", tags=["server"])
    async def healthz():
        st = srv.pool.status() if srv.pool else {"workers": []}
        return {"ok": True, "version": __version__, "ready": all(w["ready"] for w in st["workers"]), **st,
                "auth": bool(config.api_key), "renderer": config.renderer, "mode": config.mode,
                **({"replica": config.instance} if config.instance else {})}

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return _Wrapped(app, Guard(app, config))


class _Wrapped:
    """The guarded ASGI app, with the FastAPI app's attributes (openapi, routes, state) reachable."""

    def __init__(self, app: FastAPI, guarded: Guard) -> None:
        self.fastapi = app
        self._guarded = guarded

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.fastapi(scope, receive, send)
        return await self._guarded(scope, receive, send)

    def __getattr__(self, item):
        return getattr(self.fastapi, item)
