"""THINK: planners turn a prompt into a reasoning trace and a ScenePlan."""

from thinkdraw.think.base import Planner, get_planner, register_planner
from thinkdraw.think.rules import PlanningError, RulesPlanner, plan_prompt

__all__ = ["Planner", "PlanningError", "RulesPlanner", "get_planner", "plan_prompt", "register_planner"]
