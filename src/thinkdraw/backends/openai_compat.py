"""A small client for OpenAI-compatible chat completions that must answer with one JSON object.

    client = ChatClient(endpoint, role="LLM planner")
    value, notes = client.chat_json(messages, schema, "thinkdraw_plan", parse)

One request asks for structured output (``response_format`` of type ``json_schema`` with ``schema``); a server
that refuses it (HTTP 400, 422 or 501 to that request) is asked again at once for plain JSON, the schema then
written into the system message (and it stays in plain mode). What comes back is decoded (code fences and
``<think>`` blocks stripped) and handed to ``parse``, which raises ValueError for anything it cannot use.
Every failure (no answer in time, HTTP 4xx/5xx, a refusal, invalid JSON, ``parse`` rejecting it) gets one
retry: an answer that was wrong is sent back with what was wrong with it. A second failure is a
``BackendError`` of one line; a server that cannot be reached at all is one at once. ``notes`` says what
happened (plain-JSON fallback, the retry and why) so callers can put it in their reasoning.

httpx is imported only when a request is made (the ``llm`` extra): importing this module costs nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from thinkdraw.config import Endpoint
from thinkdraw.errors import BackendError

T = TypeVar("T")
FALLBACK_STATUS = (400, 422, 501)  # a structured request refused with one of these: ask for plain JSON
MAX_FEEDBACK_CHARS = 6000  # of a wrong answer sent back with the retry
INSTALL = "pip install 'thinkdraw[llm]' (it needs httpx)"


class _Failure(Exception):
    """One attempt failed: ``text`` says why; ``answer`` is the model's wrong answer (fed back), if any."""

    def __init__(self, text: str, answer: str | None = None) -> None:
        super().__init__(text)
        self.text, self.answer = _one_line(text), answer


def _one_line(text: str, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def normalize_url(url: str) -> str:
    """The API base: ``http://host:port/v1`` (a bare ``http://host:port`` gets ``/v1``; a trailing
    ``/chat/completions`` is dropped)."""
    u = url.strip().rstrip("/")
    if not re.match(r"^https?://", u):
        raise BackendError(f"the LLM URL {url!r} must start with http:// or https:// "
                           f"(e.g. http://localhost:11434/v1 for Ollama)")
    for tail in ("/chat/completions", "/completions", "/models"):
        if u.endswith(tail):
            u = u[: -len(tail)]
    if urlsplit(u).path in ("", "/"):
        u += "/v1"
    return u


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _httpx():
    try:
        import httpx
    except ImportError as e:
        raise BackendError(f"the LLM and VLM backends need an HTTP client: {INSTALL}") from e
    return httpx


def _error_text(r) -> str:
    """The server's own words for an HTTP error (OpenAI's {"error": {"message"}} shape, or the body)."""
    try:
        d = r.json()
        if isinstance(d, dict):
            e = d.get("error", d.get("detail", d.get("message")))
            if isinstance(e, dict):
                e = e.get("message") or e
            return _one_line(e if isinstance(e, str) else json.dumps(e), 200)
    except ValueError:
        pass
    return _one_line(r.text or r.reason_phrase or "", 200)


def decode_json(content: str) -> Any:
    """The JSON object in a model's answer: ``<think>...</think>`` and code fences stripped, else the span from
    the first ``{`` to the last ``}``. ValueError when there is none."""
    s = re.sub(r"<think>.*?</think>", "", content, flags=re.S).strip()
    m = re.search(r"```(?:json)?\s*(.*?)```", s, flags=re.S)
    if m:
        s = m.group(1).strip()
    try:
        return json.loads(s)
    except json.JSONDecodeError as e:
        a, b = s.find("{"), s.rfind("}")
        if a >= 0 and b > a and (a, b) != (0, len(s) - 1):
            try:
                return json.loads(s[a: b + 1])
            except json.JSONDecodeError:
                pass
        raise ValueError(f"the answer is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from e


def validation_text(e: Exception, limit: int = 6) -> str:
    """A pydantic ValidationError (or any ValueError) as one line: ``loc: message; ...``."""
    errs = getattr(e, "errors", None)
    if callable(errs):
        try:
            items = errs()
        except Exception:  # noqa: BLE001 - fall back to the plain text
            items = None
        if items:
            parts = [f"{'.'.join(str(x) for x in it.get('loc', ())) or 'answer'}: {it.get('msg')}"
                     for it in items[:limit]]
            more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
            return _one_line("schema violation: " + "; ".join(parts) + more, 600)
    return _one_line(str(e), 600)


class ChatClient:
    def __init__(self, endpoint: Endpoint, role: str = "LLM", flag: str = "--llm") -> None:
        if not endpoint.url:
            raise BackendError(f"the {role} has no server URL: pass {flag}-url, set THINKDRAW_"
                               f"{flag.strip('-').upper()}_URL or url in the config file's [{flag.strip('-')}] "
                               f"table (docs/backends.md)")
        if not endpoint.model:
            raise BackendError(f"the {role} has no model name: pass {flag}-model, set THINKDRAW_"
                               f"{flag.strip('-').upper()}_MODEL or model in the config file's "
                               f"[{flag.strip('-')}] table (docs/backends.md)")
        self.endpoint = endpoint
        self.role = role
        self.base = normalize_url(endpoint.url)
        self.structured = endpoint.structured
        self.requests = 0
        self._client = None

    @property
    def where(self) -> str:
        return f"{self.endpoint.model} at {self.base}"

    def _http(self):
        if self._client is None:
            httpx = _httpx()
            headers = {"Content-Type": "application/json"}
            if self.endpoint.api_key:
                headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
            # proxies from the environment are for remote servers: a local one is reached directly
            self._client = httpx.Client(timeout=httpx.Timeout(self.endpoint.timeout), headers=headers,
                                        trust_env=not is_loopback(self.base))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _post(self, body: dict) -> Any:
        httpx = _httpx()
        self.requests += 1
        try:
            return self._http().post(self.base + "/chat/completions", json=body)
        except httpx.TimeoutException as e:
            raise _Failure(f"no answer within {self.endpoint.timeout:g} s") from e
        except httpx.ConnectError as e:
            raise BackendError(f"the {self.role} cannot reach {self.base}: {_one_line(e, 120)} (is the server "
                               f"running? for Ollama: ollama serve; thinkdraw doctor checks it)") from e
        except httpx.HTTPError as e:
            raise _Failure(f"{type(e).__name__}: {e}") from e

    def _send(self, messages: list[dict], schema: dict, name: str, notes: list[str], seed: int | None) -> str:
        body: dict[str, Any] = {"model": self.endpoint.model, "temperature": self.endpoint.temperature,
                                "stream": False}
        if seed is not None:
            body["seed"] = seed
        if self.structured:
            body["messages"] = messages
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": name, "schema": schema, "strict": False}}
            r = self._post(body)
            if r.status_code in FALLBACK_STATUS:
                notes.append(f"the server refused response_format json_schema (HTTP {r.status_code}: "
                             f"{_error_text(r)}); asked for plain JSON instead")
                self.structured = False
                body.pop("response_format")
        if not self.structured:
            body["messages"] = plain_messages(messages, schema)
            r = self._post(body)
        if r.status_code >= 400:
            hint = ""
            if r.status_code == 404:
                hint = f" (is the model {self.endpoint.model!r} there? for Ollama: ollama pull {self.endpoint.model})"
            elif r.status_code in (401, 403):
                hint = " (check the API key: --llm-api-key or THINKDRAW_LLM_API_KEY)"
            raise _Failure(f"HTTP {r.status_code} from the server: {_error_text(r)}{hint}")
        try:
            data = r.json()
            choice = data["choices"][0]
            msg = choice["message"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise _Failure(f"the answer is not a chat completion: {_one_line(r.text, 160)}") from e
        refusal = msg.get("refusal")
        if refusal:
            raise _Failure(f"the model refused: {refusal}", answer=None)
        if choice.get("finish_reason") == "content_filter":
            raise _Failure("the server's content filter stopped the answer")
        content = msg.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not content or not str(content).strip():
            raise _Failure("the answer is empty")
        return str(content)

    def chat_json(self, messages: list[dict], schema: dict, name: str, parse: Callable[[Any], T],
                  seed: int | None = None) -> tuple[T, list[str]]:
        """Ask, decode, ``parse``; one retry with the error fed back; BackendError after the second failure."""
        notes: list[str] = []
        errors: list[str] = []
        msgs = list(messages)
        for attempt in range(2):
            answer = None
            try:
                answer = self._send(msgs, schema, name, notes, seed)
                return parse(decode_json(answer)), notes
            except _Failure as e:
                err, answer = e.text, e.answer
            except BackendError:
                raise
            except ValueError as e:
                err = validation_text(e)
            errors.append(err)
            if attempt == 0:
                notes.append(f"retried once after: {err}")
                msgs = list(messages)
                if answer is not None:
                    msgs += [{"role": "assistant", "content": answer[:MAX_FEEDBACK_CHARS]},
                             {"role": "user", "content": f"That answer cannot be used: {err}. Answer again with "
                                                         f"only the corrected JSON object."}]
                elif err.startswith("the model refused"):
                    msgs += [{"role": "user", "content": "This is a request to plan or check a harmless drawing. "
                                                         "Answer with only the JSON object."}]
        first = f" (first try: {errors[0]})" if errors[0] != errors[1] else ""
        raise BackendError(f"the {self.role} ({self.where}) failed twice: {errors[1]}{first}")


def plain_messages(messages: list[dict], schema: dict) -> list[dict]:
    """The messages with the schema written into the system message, for servers without structured output."""
    rule = ("\n\nAnswer with one JSON object that follows this JSON schema, and nothing else: no prose, no code "
            "fences.\nJSON schema:\n" + json.dumps(schema, separators=(",", ":")))
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0]["content"] += rule
    else:
        out.insert(0, {"role": "system", "content": rule.strip()})
    return out


def list_models(endpoint: Endpoint, timeout: float = 2.0) -> list[str]:
    """The model ids the server lists (``GET /models``), within ``timeout`` seconds; BackendError otherwise."""
    httpx = _httpx()
    base = normalize_url(endpoint.url or "")
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), headers=headers, trust_env=not is_loopback(base)) as c:
            r = c.get(base + "/models")
    except httpx.TimeoutException as e:
        raise BackendError(f"{base} did not answer within {timeout:g} s") from e
    except httpx.HTTPError as e:
        raise BackendError(f"cannot reach {base}: {_one_line(e, 120)}") from e
    if r.status_code >= 400:
        raise BackendError(f"{base}/models answered HTTP {r.status_code}: {_error_text(r)}")
    try:
        return [str(m.get("id")) for m in r.json().get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError) as e:
        raise BackendError(f"{base}/models did not answer with a model list") from e
