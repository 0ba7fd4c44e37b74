"""SERVE: thinkdraw over HTTP (``thinkdraw serve``; docs/serve.md).

One FastAPI app: the OpenAI Images API (``/v1/images/generations``, ``/v1/images/edits``, streamed partial
images, OpenAI's error shape), the native API (plans, render, describe, sessions, an SSE stream of stages)
and a static web page at ``/``. Behind the ``serve`` extra (``pip install -e ".[serve]"``): nothing here
imports FastAPI or loads a model until :func:`create_app` is called; models load in the worker processes.
"""

from __future__ import annotations

from thinkdraw.serve.config import ServeConfig, check_bind, is_loopback

__all__ = ["ServeConfig", "check_bind", "create_app", "is_loopback"]


def create_app(config: ServeConfig | None = None):
    """The FastAPI app (imports the ``serve`` extra; raises ImportError naming it when it is missing)."""
    from thinkdraw.serve.app import create_app as _create

    return _create(config or ServeConfig())
