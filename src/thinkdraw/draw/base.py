"""The Renderer protocol: a plan in, pixels out. Backends are plugins chosen by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from thinkdraw.plan.schema import ScenePlan

ProgressCallback = Callable[[int, int], None]
"""``callback(step, total)`` called as drawing proceeds."""


@dataclass
class DrawResult:
    image: Image.Image
    instance_mask: np.ndarray | None = None  # HxW uint16: 0 background, i+1 = plan.entities[i]
    category_mask: np.ndarray | None = None  # HxW uint8: see thinkdraw.world.render.CATEGORY_IDS
    info: dict = field(default_factory=dict)


@runtime_checkable
class Renderer(Protocol):
    name: str
    refine_steps: int | None
    """The sampling steps a reflect round's masked redraw needs (None: the renderer's default steps). The
    Engine asks for this number (``Engine(refine_steps=N)`` overrides it); a renderer draws the steps it is
    asked for and never raises or lowers them silently."""

    def draw(
        self,
        plan: ScenePlan,
        seed: int = 0,
        mask: np.ndarray | None = None,
        init: Image.Image | None = None,
        progress: ProgressCallback | None = None,
        mode: str = "think",
        steps: int | None = None,
    ) -> DrawResult:
        """Draw ``plan`` (``mode="direct"``: its prompt alone). With ``mask`` and ``init``: redraw only the
        masked pixels of ``init``, keeping the rest bit for bit. ``steps``: sampling steps for backends that
        iterate (None: the backend's default); others ignore it."""
        ...


def check_draw_args(name: str, plan: ScenePlan, mode: str, steps: int | None, default_steps: int,
                    mask, init) -> int:
    """The argument checks every latent renderer makes (one clear error each); returns the steps to run."""
    if mode not in ("think", "direct"):
        raise ValueError(f"unknown mode {mode!r}: use 'think' or 'direct'")
    W, H = plan.canvas.width, plan.canvas.height
    if W % 32 or H % 32:
        raise ValueError(f"the {name} renderer needs a canvas that is a multiple of 32 px, got {W}x{H}")
    if W != H:
        raise ValueError(f"the {name} renderer draws square canvases")
    n_steps = default_steps if steps is None else int(steps)
    if n_steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if (mask is None) != (init is None):
        raise ValueError("masked regeneration needs both mask and init")
    return n_steps


def refine_steps_of(renderer) -> int | None:
    """What ``renderer`` says a refine round needs (its ``refine_steps``; None: its default steps). A renderer
    written before the attribute existed has none: its default steps, as before."""
    n = getattr(renderer, "refine_steps", None)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"the {getattr(renderer, 'name', type(renderer).__name__)} renderer's refine_steps must "
                         f"be a whole number of steps >= 1 or None, not {n!r}")
    return n


class UnknownBackendError(ValueError):
    pass


_RENDERERS: dict[str, Callable[..., Renderer]] = {}


def register_renderer(name: str, factory: Callable[..., Renderer]) -> None:
    """``factory(weights=None)`` builds the renderer; ``weights`` is a weights folder (or None)."""
    _RENDERERS[name] = factory


def get_renderer(name: str, weights: str | None = None, **options) -> Renderer:
    """``options`` (such as ``model=`` for diffusers) go to the factory; a renderer that takes none refuses them."""
    _load_builtin()
    if name not in _RENDERERS:
        raise UnknownBackendError(f"unknown renderer {name!r}; available: {', '.join(sorted(_RENDERERS))}")
    options = {k: v for k, v in options.items() if v is not None}
    if options:
        import inspect

        params = inspect.signature(_RENDERERS[name]).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            bad = [k for k in options if k not in params]
            if bad:
                raise UnknownBackendError(f"the {name} renderer takes no {', '.join(bad)} (--model is for "
                                          f"--renderer diffusers)")
    return _RENDERERS[name](weights=weights, **options)


def renderer_from_settings(settings, name: str | None = None, weights: str | None = None) -> Renderer:
    """The renderer the resolved settings name (``thinkdraw.config.resolve``: flags over environment over the
    config file), or the renderer ``name`` built with the same settings (a server's per-request renderer, a
    session's own). The diffusers renderer gets the ``[diffusers]`` table, its ``model`` resolved from
    ``--model``, ``$THINKDRAW_DIFFUSERS_MODEL`` or the file. ``--model`` given with another renderer is refused."""
    if name is None:
        name = settings.renderer
        if name != "diffusers" and settings.sources.get("diffusers.model") == "--model":
            raise UnknownBackendError(f"the {name} renderer takes no model (--model is for --renderer diffusers)")
    if name != "diffusers":
        return get_renderer(name, weights=weights)
    return get_renderer(name, weights=weights, **dict(settings.diffusers))


def renderer_names() -> list[str]:
    _load_builtin()
    return sorted(_RENDERERS)


def _load_builtin() -> None:
    if "sketch" not in _RENDERERS:
        from thinkdraw.draw.sketch import SketchRenderer

        register_renderer("sketch", lambda weights=None: SketchRenderer())  # draws with the world: no weights
    if "builtin" not in _RENDERERS:
        def _builtin(weights: str | None = None) -> Renderer:
            from thinkdraw.draw.builtin import BuiltinRenderer

            return BuiltinRenderer(weights=weights)

        register_renderer("builtin", _builtin)

        def _scene(weights: str | None = None) -> Renderer:
            from thinkdraw.draw.scene import SceneRenderer

            return SceneRenderer(weights=weights)

        register_renderer("scene", _scene)  # the former builtin: the whole scene at once (blobs), for comparison

    if "diffusers" not in _RENDERERS:
        def _diffusers(weights: str | None = None, model: str | None = None, **options) -> Renderer:
            # the diffusers extra is imported here only, when this renderer is asked for
            import inspect

            from thinkdraw.draw.diffusers_renderer import DiffusersRenderer

            known = [k for k in inspect.signature(DiffusersRenderer).parameters if k not in ("pipeline", "weights")]
            bad = sorted(set(options) - set(known))
            if bad:
                raise UnknownBackendError(f"the diffusers renderer has no setting {', '.join(bad)} ([diffusers] in "
                                          f"the config file takes {', '.join(known)})")
            return DiffusersRenderer(model=model, **options)

        register_renderer("diffusers", _diffusers)
