"""The `llm` planner: any OpenAI-compatible chat-completions server writes the plan; the layout solver checks it.

    planner = LLMPlanner(Endpoint(url="http://localhost:11434/v1", model="qwen2.5:7b"), fallback="rules")
    reasoning, plan = planner.plan("two red apples left of a blue cup")

One request per prompt asks for the object ``thinkdraw plan --json`` prints, ``{"prompt", "reasoning":
[{"stage", "text"}], "plan": {...}}``, as structured output (``response_format`` json_schema; plain JSON for
servers without it: backends/openai_compat.py). Boxes are optional. The answer is validated (pydantic, the
ScenePlan's own rules), normalised to the world (categories, colours, supports, the canvas) and laid out by
the layout solver, which places what has no box and repairs what it can (gravity, swapped relations, text
fit); when the LLM's boxes still break constraints (overlaps, relations) the solver re-places the offending
things, or all of them, from the relations, whichever leaves fewer broken. The reasoning says who planned,
what was normalised and what the solver changed. Failures get one retry with the error fed back, then a
``BackendError``; ``fallback="rules"`` plans with the rules planner instead and says so.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from thinkdraw.config import Endpoint, Settings
from thinkdraw.errors import BackendError
from thinkdraw.plan.schema import (
    SUPPORT_SURFACES,
    Canvas,
    PlanOutput,
    Reasoning,
    ReasoningStep,
    ScenePlan,
    to_got,
)
from thinkdraw.think.rules import (
    MAX_ENTITIES,
    MAX_PROMPT_CHARS,
    MAX_TEXT_BLOCKS,
    PlanningError,
    category_of,
    color_of,
    plan_prompt,
)
from thinkdraw.world.layout import LayoutResult, solve_layout
from thinkdraw.world.vocab import BACKGROUND_KINDS, CATEGORIES, COLOR_NAMES, STYLES, TIMES

SCHEMA_NAME = "thinkdraw_plan"
EXAMPLE_PROMPT = "two red apples left of a blue cup"


def plan_schema() -> dict:
    """The JSON schema of the answer: the object ``thinkdraw plan --json`` prints (PlanOutput)."""
    return PlanOutput.model_json_schema()


@lru_cache(maxsize=1)
def system_prompt() -> str:
    reasoning, plan = plan_prompt(EXAMPLE_PROMPT)
    example = PlanOutput(prompt=EXAMPLE_PROMPT, reasoning=reasoning.steps, plan=plan)
    ex = json.dumps(example.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))
    return f"""You are the planner of thinkdraw, an image generator that draws a picture from a scene plan.
Read the user's prompt, think it through, and answer with one JSON object {{"prompt", "reasoning", "plan"}}:
- "prompt": the user's prompt, unchanged.
- "reasoning": your steps, each {{"stage", "text"}} with stage one of parse, constraints, plan, layout, text, physics:
  what must be drawn (every count, colour, relation, exact text, and what must not appear), the background
  and time of day and why, where each thing goes, what rests on what.
- "plan": the scene plan:
  - one entity per drawn thing: "three apples" is apple_1, apple_2, apple_3 sharing "group": "apple"; ids unique.
  - "noun": singular, any noun. "category": one of {", ".join(CATEGORIES)} when the thing is one of them,
    else null (it is drawn as a placeholder).
  - "attributes": "color" one of {", ".join(COLOR_NAMES)} (or null), "size" small, medium or large (or null).
  - "box": [x0, y0, x1, y1] in 0..1 of the canvas, origin top-left, x0 < x1, y0 < y1, or null to let the
    layout solver place it. Grounded things stand on the ground (their bottom edge low in the picture).
  - "supported_by": the id of the entity it rests on, or one of {", ".join(SUPPORT_SURFACES)}.
  - "relations": {{"subject", "predicate", "object"}} between entity ids or group names; predicates: left_of,
    right_of, above, below, on, under, in, next_to, between (needs "object2"), near, behind, in_front_of, covering.
  - "texts": every string to be written, letter for letter, with "on" the id of the entity carrying it
    (a sign, banner, poster) or null.
  - "negatives": nouns that must not appear. "background": kind one of {", ".join(BACKGROUND_KINDS)}, time
    one of {", ".join(TIMES)}; "style" one of {", ".join(STYLES)}.
Example, for the prompt "{EXAMPLE_PROMPT}":
{ex}"""


class LLMPlanner:
    """Planner protocol: ``plan(prompt, seed) -> (Reasoning, ScenePlan)`` through an OpenAI-compatible server."""

    name = "llm"

    def __init__(self, endpoint: Endpoint | None = None, fallback: str | None = None,
                 canvas: Canvas | None = None) -> None:
        if fallback not in (None, "rules"):
            raise ValueError(f"unknown fallback {fallback!r}: the one fallback is 'rules'")
        self.endpoint = endpoint or Endpoint()
        self.fallback = fallback
        self.canvas = canvas or Canvas()
        self._client = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LLMPlanner:
        """From flags/env/config already resolved (default: the environment and the config file)."""
        if settings is None:
            from thinkdraw.config import resolve

            settings = resolve()
        return cls(settings.llm, fallback=settings.fallback)

    @property
    def client(self):
        if self._client is None:
            from thinkdraw.backends.openai_compat import ChatClient

            self._client = ChatClient(self.endpoint, role="LLM planner")
        return self._client

    def plan(self, prompt: str, seed: int = 0) -> tuple[Reasoning, ScenePlan]:
        if prompt is None or not prompt.strip():
            raise PlanningError("empty prompt: say what to draw, e.g. 'a red apple left of a blue cup'")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise PlanningError(f"prompt too long: {len(prompt)} characters, the limit is {MAX_PROMPT_CHARS}")
        prompt = " ".join(prompt.split())
        try:
            return self._plan(prompt, seed)
        except BackendError as e:
            if self.fallback != "rules":
                raise
            rs, plan = plan_prompt(prompt, seed=seed, canvas=self.canvas)
            why = str(e)
            rs.steps.insert(0, ReasoningStep(stage="plan", text=f"The LLM planner failed: {why}. Planned by the "
                                                                f"rules planner instead (fallback rules)."))
            plan.warnings.append(f"planned by the rules planner: the LLM planner failed ({why})")
            return rs, plan

    def _plan(self, prompt: str, seed: int) -> tuple[Reasoning, ScenePlan]:
        client = self.client
        messages = [{"role": "system", "content": system_prompt()}, {"role": "user", "content": prompt}]
        sent = client.requests
        (out, checked, res, layout_text), notes = client.chat_json(
            messages, plan_schema(), SCHEMA_NAME, lambda obj: self._accept(obj, prompt, seed), seed=seed)
        rs = Reasoning()
        n = client.requests - sent
        how = "structured output (json_schema)" if client.structured else "plain JSON"
        rs.add("plan", f"Planned by the LLM {client.where}: {how}, {n} request{'s' if n != 1 else ''}"
                       + "".join(f"; {x}" for x in notes) + ".")
        rs.steps += out.reasoning
        if checked:
            rs.add("plan", "Checked the LLM's plan against the world: " + "; ".join(checked) + ".")
        rs.add("layout", layout_text)
        return rs, res.plan

    def _accept(self, obj: Any, prompt: str, seed: int) -> tuple[PlanOutput, list[str], LayoutResult, str]:
        """Validate, normalise and lay out one answer; ValueError (fed back to the LLM) when it cannot be used."""
        if isinstance(obj, dict) and "plan" not in obj and "entities" in obj:
            raise ValueError("the answer is a bare plan: wrap it as {\"prompt\", \"reasoning\", \"plan\"}")
        out = PlanOutput.model_validate(obj)
        plan = out.plan
        notes = normalise(plan, prompt, self.canvas)
        if not plan.entities and not plan.texts:
            raise ValueError("the plan draws nothing: it has no entities and no texts")
        if len(plan.entities) > MAX_ENTITIES:
            raise ValueError(f"the plan has {len(plan.entities)} entities; at most {MAX_ENTITIES}")
        if len(plan.texts) > MAX_TEXT_BLOCKS:
            raise ValueError(f"the plan has {len(plan.texts)} text blocks; at most {MAX_TEXT_BLOCKS}")
        res, text = lay_out(plan, seed)
        return out, notes, res, text


def normalise(plan: ScenePlan, prompt: str, canvas: Canvas) -> list[str]:
    """Bring an LLM's plan into the world in place (prompt, canvas, categories, colours, supports); the notes."""
    notes: list[str] = []
    if plan.prompt != prompt:
        plan.prompt = prompt
    if (plan.canvas.width, plan.canvas.height) != (canvas.width, canvas.height):
        notes.append(f"canvas {plan.canvas.width}x{plan.canvas.height} -> {canvas.width}x{canvas.height} (the "
                     f"renderer's)")
        plan.canvas = canvas.model_copy()
    ids = {e.id for e in plan.entities}
    for e in plan.entities:
        if e.category is not None and e.category not in CATEGORIES:
            new = category_of(e.category) or category_of(e.noun)
            notes.append(f"{e.id}: category {e.category!r} is not a world category"
                         + (f": {new!r}" if new else ": none (drawn as a placeholder)"))
            e.category = new
        elif e.category is None and category_of(e.noun):
            e.category = category_of(e.noun)
            notes.append(f"{e.id}: the {e.noun} is the world category {e.category!r}")
        c = e.attributes.color
        if c is not None and c not in COLOR_NAMES:
            new = color_of(c)
            if new in COLOR_NAMES:
                notes.append(f"{e.id}: colour {c!r} -> {new!r}")
                e.attributes.color = new
            else:
                notes.append(f"{e.id}: colour {c!r} is not a world colour (kept; the builtin renderer may not draw it)")
        if e.supported_by is not None and e.supported_by not in ids and e.supported_by not in SUPPORT_SURFACES:
            notes.append(f"{e.id}: supported_by {e.supported_by!r} is neither an entity nor a surface: dropped")
            e.supported_by = None
        elif e.supported_by == e.id:
            notes.append(f"{e.id}: cannot rest on itself: supported_by dropped")
            e.supported_by = None
    return notes


def _got(b) -> str:
    return str(list(to_got(b)))


def lay_out(plan: ScenePlan, seed: int = 0) -> tuple[LayoutResult, str]:
    """The layout solver on an LLM's plan, and what it changed in words. When the LLM's boxes still break
    constraints after the solver's repair, the offending things (then all) are re-placed from the relations;
    the result with the fewest broken constraints wins (ties: the one keeping more of the LLM's boxes)."""
    given = {e.id: e.box for e in plan.entities}
    given_t = {t.id: t.box for t in plan.texts}
    tries: list[tuple[str, LayoutResult, int]] = []
    res = _solve(plan, seed)
    tries.append(("", res, sum(b is not None for b in given.values())))
    if res.unsatisfied and any(b is not None for b in given.values()):
        ids = [e.id for e in plan.entities]
        bad = []
        for u in res.unsatisfied:
            head = u.split()[0]
            if head in given and given[head] is not None and head not in bad:
                bad.append(head)
            if " overlaps " in u:
                other = u.split(" overlaps ")[1].split()[0]
                if other in given and given[other] is not None and other not in bad and head not in bad:
                    bad.append(other)
        if bad and len(bad) < len([i for i in ids if given[i] is not None]):
            tries.append((f"re-placed {', '.join(bad)} from the relations (their boxes broke constraints)",
                          _solve(_without_boxes(plan, set(bad)), seed), len(ids) - len(bad)))
        tries.append(("placed every thing from the relations (the LLM's boxes broke constraints)",
                      _solve(_without_boxes(plan, set(ids)), seed), 0))
    how, res, _ = min(tries, key=lambda t: (len(t[1].unsatisfied), -t[2]))
    kept, placed, moved = [], [], []
    for e in res.plan.entities:
        b0 = given.get(e.id)
        if b0 is None:
            placed.append(f"{e.id} at {_got(e.box)}")
        elif max(abs(x - y) for x, y in zip(b0, e.box, strict=True)) > 0.002:
            moved.append(f"{e.id} {_got(b0)} -> {_got(e.box)}")
        else:
            kept.append(e.id)
    for t in res.plan.texts:
        b0 = given_t.get(t.id)
        if b0 is None:
            placed.append(f"text {t.id} at {_got(t.box)}")
        elif max(abs(x - y) for x, y in zip(b0, t.box, strict=True)) > 0.002:
            moved.append(f"text {t.id} {_got(b0)} -> {_got(t.box)} (fitted to its string)")
    parts = []
    if how:
        first = tries[0][1]
        repaired = f" (after the solver's repairs: {'; '.join(first.notes)})" if first.notes else ""
        parts.append(f"the LLM's boxes broke {'; '.join(first.unsatisfied[:6])}{repaired}: {how}")
    if kept:
        parts.append(f"kept {len(kept)} box{'es' if len(kept) != 1 else ''} as given ({', '.join(kept)})")
    if placed:
        parts.append("placed " + ", ".join(placed))
    if moved:
        parts.append("moved " + ", ".join(moved))
    if res.notes:
        parts.append("solver: " + "; ".join(res.notes))
    text = ("Layout solver on the LLM's plan (boxes on the 0..1000 grid): " + "; ".join(parts or ["no changes"])
            + ". Unsatisfied: " + ("; ".join(res.unsatisfied) if res.unsatisfied else "none") + ".")
    return res, text


def _without_boxes(plan: ScenePlan, ids: set[str]) -> ScenePlan:
    p = plan.model_copy(deep=True)
    for e in p.entities:
        if e.id in ids:
            e.box = None
    return p


def _solve(plan: ScenePlan, seed: int) -> LayoutResult:
    try:
        return solve_layout(plan, seed=seed)
    except (ValueError, KeyError, AssertionError, IndexError, TypeError) as e:
        raise ValueError(f"the layout solver cannot place this plan: {type(e).__name__}: {e}") from e
