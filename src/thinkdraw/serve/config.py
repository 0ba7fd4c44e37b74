"""What a server is started with, and the rule for binding: loopback freely, anything else only with a key."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def default_data_dir() -> Path:
    """thinkdraw's data folder, the one ``thinkdraw session`` uses (``$THINKDRAW_DATA``, else e.g.
    ``~/.local/share/thinkdraw``): sessions made in the browser are the CLI's sessions too."""
    from thinkdraw.session import default_data_dir as sessions_dir

    return sessions_dir()


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # worker processes, each with its own models (loaded once, at its start)
    api_key: str | None = None  # Bearer key; required for a non-loopback host
    data_dir: Path = field(default_factory=default_data_dir)
    renderer: str = "builtin"  # what model "thinkdraw" draws with
    mode: str = "reflect"  # the mode of a request that names none
    rounds: int = 2  # reflect: at most this many redraw rounds
    weights: str | None = None
    queue: int = 8  # jobs waiting per worker (beside the one it runs); beyond: 429
    max_upload_mb: float = 16.0  # a request body larger than this: 413
    max_pixels: int = 4096 * 4096  # an uploaded image with more pixels (a decompression bomb): 400
    job_timeout: float = 600.0  # a job running longer: its client gets 504, its worker is restarted
    files_ttl: float = 3600.0  # seconds a url answer's file is kept (OpenAI's image URLs last an hour)
    preload: bool = True  # load the default renderer's models when a worker starts
    # the planner, critic and renderers' settings (thinkdraw.config.Settings, resolved from flags, environment and
    # config file, as for every command); None: the rules planner, the builtin critic, no [diffusers] settings
    backends: Any = None
    threads: int | None = None  # torch threads per worker; None: this machine's cores / workers
    instance: str | None = None  # several servers on one data dir (Ray Serve replicas): each its own uploads/NAME

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.workers < 1 or self.queue < 0 or (self.threads is not None and self.threads < 1):
            raise ValueError("workers must be >= 1, queue >= 0 and threads >= 1")

    @property
    def uploads_dir(self) -> Path:
        """Where verified uploads wait for their job (wiped at start: a server's own folder only)."""
        return self.data_dir / "uploads" / self.instance if self.instance else self.data_dir / "uploads"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; False for 0.0.0.0, :: and every other address or name."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse (ValueError, one line) to bind a non-loopback address without an API key."""
    if not is_loopback(host) and not api_key:
        raise ValueError(f"refusing to serve on {host}: it is not a loopback address, so it needs an API key "
                         f"(--api-key KEY or $THINKDRAW_API_KEY); clients then send 'Authorization: Bearer KEY'")
