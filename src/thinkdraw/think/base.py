"""The Planner protocol: prompt in, (Reasoning, ScenePlan) out. Backends are plugins chosen by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from thinkdraw.plan.schema import Reasoning, ScenePlan


@runtime_checkable
class Planner(Protocol):
    name: str

    def plan(self, prompt: str, seed: int = 0) -> tuple[Reasoning, ScenePlan]: ...


_PLANNERS: dict[str, Callable[[], Planner]] = {}


def register_planner(name: str, factory: Callable[[], Planner]) -> None:
    _PLANNERS[name] = factory


def planner_from_settings(settings) -> Planner:
    """The planner the resolved settings name (``thinkdraw.config.resolve``): the llm planner with their
    endpoint and fallback, else the named one."""
    if settings.planner == "llm":
        from thinkdraw.think.llm import LLMPlanner

        return LLMPlanner.from_settings(settings)
    return get_planner(settings.planner)


def get_planner(name: str = "rules") -> Planner:
    if "rules" not in _PLANNERS:
        from thinkdraw.think.rules import RulesPlanner

        register_planner("rules", RulesPlanner)
    if "llm" not in _PLANNERS:
        def _llm() -> Planner:  # settings from the environment and the config file (docs/backends.md)
            from thinkdraw.think.llm import LLMPlanner

            return LLMPlanner.from_settings()

        register_planner("llm", _llm)
    if name not in _PLANNERS:
        raise ValueError(f"unknown planner {name!r}; available: {', '.join(sorted(_PLANNERS))}")
    return _PLANNERS[name]()
