"""``thinkdraw serve --ray``: the same server as a Ray Serve deployment (the ``ray`` extra; docs/scale.md).

    pip install -e ".[serve,ray]"
    thinkdraw serve --ray                                       # a local Ray on this machine, one replica
    thinkdraw serve --ray=auto --min-replicas 1 --max-replicas 8 --num-cpus 4   # a cluster (ray start)

One code path: each replica is an ingress deployment around the app of ``serve/app.py`` (built in the replica
by ``create_app``, never pickled), so the routes, payloads and errors are those of ``thinkdraw serve``. Inside
a replica the app runs as it does anywhere: its lifespan starts the worker pool (``--workers`` processes, each
with one Engine loaded once), its bounded queue answers 429 with Retry-After, a dead worker is restarted.
Ray Serve adds what a cluster needs: its HTTP proxy on every node, a router that sends each request to a
replica with the fewest requests in flight, replicas placed by ``--num-cpus``, and autoscaling between
``--min-replicas`` and ``--max-replicas`` on the requests in flight per replica.

Ray is imported here only, and only when ``--ray`` is asked for.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinkdraw.serve.config import ServeConfig

APP_NAME = "thinkdraw"
# Serve gives its HTTP proxy 5 s to say it is ready (3 tries): on a busy 2-core machine its start takes longer,
# and Serve then kills it and the deployment fails. A local Ray gets more time (what is set already is kept).
LOCAL_PROXY_TIMEOUTS = {"RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60", "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S": "60"}


class RayMissing(ImportError):
    pass


def import_serve():
    """``(ray, ray.serve)``, or RayMissing with one line naming the extra."""
    try:
        import ray
        from ray import serve
    except ImportError as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise RayMissing(f"thinkdraw serve --ray needs the ray extra: pip install -e \".[ray]\" (or pip install "
                         f"\"ray[serve]\") ({first})") from None
    return ray, serve


class RayOptions(BaseModel):
    """How the deployment is placed and scaled. ``replicas`` fixes the count; ``min_replicas`` and
    ``max_replicas`` (either given) make Ray Serve autoscale between them instead."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(None, description="None: a local Ray; 'auto' or ray://HOST:PORT: a cluster")
    replicas: int | None = Field(None, ge=1, le=10000)
    min_replicas: int | None = Field(None, ge=0, le=10000)
    max_replicas: int | None = Field(None, ge=1, le=10000)
    num_cpus: float = Field(1.0, gt=0, le=1024, description="CPUs Ray reserves per replica")
    threads: int | None = Field(None, ge=1, le=1024, description="torch threads per worker; None: num_cpus / workers")

    @model_validator(mode="after")
    def _check(self):
        auto = self.min_replicas is not None or self.max_replicas is not None
        if auto and self.replicas is not None:
            raise ValueError("give --replicas N (a fixed count) or --min-replicas/--max-replicas (autoscaling), "
                             "not both")
        lo, hi = self.min_replicas, self.max_replicas
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"--min-replicas {lo} is above --max-replicas {hi}")
        return self

    @property
    def autoscaling(self) -> bool:
        return self.min_replicas is not None or self.max_replicas is not None

    def bounds(self) -> tuple[int, int]:
        """(min, max) replicas; a fixed count is both."""
        if not self.autoscaling:
            n = self.replicas or 1
            return n, n
        lo = self.min_replicas if self.min_replicas is not None else 1
        hi = self.max_replicas if self.max_replicas is not None else max(lo, 1)
        return lo, max(hi, lo, 1)

    def describe(self) -> str:
        lo, hi = self.bounds()
        count = f"{lo} replica(s)" if not self.autoscaling else f"{lo}-{hi} replicas (autoscaling)"
        return f"Ray Serve, {count}, {self.num_cpus:g} CPU(s) each"


def replica_config(config: ServeConfig, opts: RayOptions) -> dict:
    """The ServeConfig fields a replica starts from (plain values: they travel to every node)."""
    d = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    d["data_dir"] = str(config.data_dir)
    d["threads"] = opts.threads or config.threads or max(1, math.floor(opts.num_cpus / config.workers))
    return d


class ThinkdrawReplica:
    """One replica: the app of ``serve/app.py`` with its own worker pool and its own uploads folder."""

    def __init__(self, config: dict) -> None:
        self.config = ServeConfig(**{**config, "instance": f"replica-{secrets.token_hex(4)}"})

    def __serve_build_asgi_app__(self):
        from thinkdraw.serve.app import create_app

        return create_app(self.config)


def build_app(config: ServeConfig, opts: RayOptions):
    """The Ray Serve application (``serve.run`` it): ThinkdrawReplica as an ingress deployment."""
    _, serve = import_serve()
    lo, hi = opts.bounds()
    # every job a replica's pool may hold, plus room for the routes that need no worker (health, plans,
    # files, sessions): past that Ray Serve queues; up to it the app's own queue answers 429 as it always does
    per_replica = config.workers * (1 + config.queue)
    kw: dict[str, Any] = {"name": "thinkdraw", "max_ongoing_requests": per_replica + 16,
                          "ray_actor_options": {"num_cpus": opts.num_cpus},
                          "graceful_shutdown_timeout_s": 10,
                          "logging_config": {"log_level": "WARNING", "enable_access_log": False}}
    if opts.autoscaling:
        kw["autoscaling_config"] = {"min_replicas": lo, "max_replicas": hi, "initial_replicas": max(lo, 1),
                                    "target_ongoing_requests": 2 * config.workers}
    else:
        kw["num_replicas"] = lo
    deployment = serve.deployment(**kw)(serve.ingress()(ThinkdrawReplica))
    return deployment.bind(replica_config(config, opts))


class RayServer:
    """Ray (local or a cluster), Serve's HTTP proxy on ``config.host:config.port``, the app deployed;
    ``stop`` removes what it started."""

    def __init__(self, config: ServeConfig, opts: RayOptions, init_kwargs: dict | None = None) -> None:
        self.config, self.opts, self.init_kwargs = config, opts, init_kwargs or {}
        self.started_ray = False

    def start(self) -> None:
        ray, serve = import_serve()
        app = build_app(self.config, self.opts)  # before ray.init: a bad option costs no cluster start
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "ignore_reinit_error": True, "log_to_driver": True}
            if self.opts.address:
                kw["address"] = self.opts.address
            else:  # a local Ray: a small object store, no dashboard (a laptop or a CI runner)
                kw["object_store_memory"] = 256 * 2**20
                for name, seconds in LOCAL_PROXY_TIMEOUTS.items():  # read by Serve's controller, which
                    os.environ.setdefault(name, seconds)            # inherits this environment
            kw.update(self.init_kwargs)
            ray.init(**kw)
            self.started_ray = True
        try:
            serve.start(http_options={"host": self.config.host, "port": self.config.port},
                        logging_config={"log_level": "WARNING", "enable_access_log": False})
            serve.run(app, name=APP_NAME, route_prefix="/")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        ray, serve = import_serve()
        if not ray.is_initialized():
            return
        try:
            if self.started_ray:
                serve.shutdown()
            else:  # a cluster's Serve may hold other applications: remove ours only
                serve.delete(APP_NAME)
        finally:
            if self.started_ray:
                ray.shutdown()
                self.started_ray = False
