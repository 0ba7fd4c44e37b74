"""The Critic protocol: an image and the plan it was drawn from in, a Critique out. Backends are plugins
chosen by name, like planners (think/base.py) and renderers (draw/base.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PIL import Image

from thinkdraw.plan.schema import Critique, ScenePlan


@runtime_checkable
class Critic(Protocol):
    name: str

    def check(self, image: Image.Image, plan: ScenePlan) -> Critique:
        """One check per planned fact (presence, colour, count, position, absence, text), a score in 0..1,
        a reflection a person can read and the regions that failed."""
        ...


class UnknownCriticError(ValueError):
    pass


_CRITICS: dict[str, Callable[..., Critic]] = {}


def register_critic(name: str, factory: Callable[..., Critic]) -> None:
    """``factory(weights=None)`` builds the critic; ``weights`` is a weights folder (or None)."""
    _CRITICS[name] = factory


def get_critic(name: str = "builtin", weights: str | None = None) -> Critic:
    _load_builtin()
    if name not in _CRITICS:
        raise UnknownCriticError(f"unknown critic {name!r}; available: {', '.join(sorted(_CRITICS))}")
    return _CRITICS[name](weights=weights)


def critic_from_settings(settings) -> str | Critic:
    """The critic the resolved settings name (``thinkdraw.config.resolve``): the vlm critic with their endpoint,
    else the name (the Engine builds a named critic on first use: think and direct modes never load it)."""
    if settings.critic == "vlm":
        from thinkdraw.reflect.vlm import VLMCritic

        return VLMCritic.from_settings(settings)
    _load_builtin()
    if settings.critic not in _CRITICS:
        raise UnknownCriticError(f"unknown critic {settings.critic!r}; available: {', '.join(sorted(_CRITICS))}")
    return settings.critic


def critic_names() -> list[str]:
    _load_builtin()
    return sorted(_CRITICS)


def _load_builtin() -> None:
    if "builtin" not in _CRITICS:
        def _builtin(weights: str | None = None) -> Critic:
            from thinkdraw.reflect.builtin import BuiltinCritic

            return BuiltinCritic(weights=weights)

        register_critic("builtin", _builtin)
    if "vlm" not in _CRITICS:
        def _vlm(weights: str | None = None) -> Critic:  # no weights: a server (settings: env and config file)
            from thinkdraw.reflect.vlm import VLMCritic

            return VLMCritic.from_settings()

        register_critic("vlm", _vlm)
