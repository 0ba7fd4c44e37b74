"""An LLM reads the edit instruction: the same intents as ``parse_instruction``, through the LLM planner's client.

    parser = LLMInstructionParser(Endpoint(url="http://localhost:11434/v1", model="qwen2.5:7b"))
    Engine(edit_parser=parser).edit("boat.png", "could you give the boat a red paint job")

One request per instruction (structured output, the same retry and errors as the planner: see
backends/openai_compat.py) turns the instruction and a summary of the image's plan into a list of intents
``{op, ref, ...parameters}``. Locating what ``ref`` names, planning the edit and the mask stay the rules'
(edit/apply.py and edit/refs.py): the LLM only reads the words, so a reference that names nothing is still
refused with an explanation, never guessed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinkdraw.config import Endpoint, Settings
from thinkdraw.edit.instruct import STYLE_WORDS, Intent
from thinkdraw.edit.refs import inventory
from thinkdraw.plan.schema import ScenePlan, to_got
from thinkdraw.think.rules import color_of
from thinkdraw.world.vocab import BACKGROUND_KINDS, COLOR_NAMES, LIGHT_DIRECTIONS, TIMES

SCHEMA_NAME = "thinkdraw_edit"
Op = Literal["add", "remove", "recolor", "move", "resize", "replace", "retext", "count", "more", "keep_only",
             "time", "background", "style", "light", "bgcolor"]
NEEDS = {"add": ("np",), "recolor": ("color",), "move": ("where",), "resize": ("size",), "replace": ("np",),
         "retext": ("content",), "count": ("n",), "more": ("n",), "time": ("time",), "background": ("kind",),
         "style": ("style",), "light": ("direction",), "bgcolor": ("color",)}
TARGETED = ("remove", "recolor", "move", "resize", "replace", "count", "more", "keep_only")


class LLMIntent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Op
    ref: str | None = Field(None, description="the words naming the thing changed, as the instruction says them "
                                              "('the car', 'the left apple', 'it'); null for a new thing or the scene")
    color: str | None = None
    content: str | None = Field(None, description="retext: the new text, letter for letter")
    np: str | None = Field(None, description="add / replace: the new thing as a noun phrase ('a red ball')")
    where: str | None = Field(None, description="add / move / more: where, as words ('next to the cup', 'to the left')")
    size: str | None = Field(None, description="resize: bigger, smaller, small, medium, large, twice as big, ...")
    n: int | None = Field(None, ge=0, le=12)
    time: str | None = None
    kind: str | None = Field(None, description="background kind")
    style: str | None = None
    direction: str | None = None
    what: str | None = Field(None, description="bgcolor: sky, background, grass, sea, wall, ...")

    @model_validator(mode="after")
    def _complete(self) -> LLMIntent:
        missing = [k for k in NEEDS.get(self.op, ()) if getattr(self, k) in (None, "")]
        if missing:
            raise ValueError(f"op {self.op!r} needs {', '.join(missing)}")
        if self.op in TARGETED and not self.ref:
            raise ValueError(f"op {self.op!r} needs ref: the words naming what it changes")
        for k in ("color",):
            v = getattr(self, k)
            if v is not None:
                c = color_of(v.lower()) or v.lower()
                if c not in COLOR_NAMES:
                    raise ValueError(f"color {v!r} is not one of {', '.join(COLOR_NAMES)}")
                self.color = c
        for k, allowed in (("time", TIMES), ("kind", BACKGROUND_KINDS), ("direction", LIGHT_DIRECTIONS)):
            v = getattr(self, k)
            if v is not None and v not in allowed:
                raise ValueError(f"{k} {v!r} is not one of {', '.join(allowed)}")
        if self.style is not None and self.style.lower() not in STYLE_WORDS:
            raise ValueError(f"style {self.style!r} is not one of {', '.join(sorted(set(STYLE_WORDS.values())))}")
        return self


class LLMEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intents: list[LLMIntent] = Field(min_length=1)


SYSTEM = f"""You read image-editing instructions for thinkdraw. The image holds the things listed by the user
(ids, nouns, colours, boxes on a 0..1000 grid). Split the instruction into changes, in order, and answer with one
JSON object {{"intents": [...]}}, each intent {{"op", "ref", ...}}:
- add (np, where), remove, recolor (color), move (where), resize (size), replace (np: the new thing),
  retext (content: the new text letter for letter; ref: the thing carrying it), count (n: how many to keep or
  have), more (n: how many more, where), keep_only (ref: what stays), time ({", ".join(TIMES)}),
  background (kind: {", ".join(BACKGROUND_KINDS)}), style (style), light (direction: {", ".join(LIGHT_DIRECTIONS)}),
  bgcolor (color, what: sky, background, grass, sea, wall).
- "ref": the words naming the thing as the instruction says them ("the car", "the left apple", "it"); null for
  a new thing or the whole scene. Colours: {", ".join(COLOR_NAMES)}. Leave out the fields an op does not use."""


def _summary(plan: ScenePlan) -> str:
    lines = [f"The image: {inventory(plan)}; background {plan.background.kind}, {plan.background.time}, style "
             f"{plan.style}."]
    for e in plan.entities:
        color = f"{e.attributes.color} " if e.attributes.color else ""
        lines.append(f"- {e.id}: {color}{e.noun}" + (f" at {list(to_got(e.box))}" if e.box else ""))
    for t in plan.texts:
        lines.append(f"- {t.id}: the text {t.content!r}" + (f" on {t.on}" if t.on else ""))
    return "\n".join(lines)


def to_intent(x: LLMIntent) -> Intent:
    params: dict[str, Any] = {}
    if x.op == "add":
        params = {"np": x.np, "where": x.where}
    elif x.op in ("recolor",):
        params = {"color": x.color}
    elif x.op == "move":
        params = {"where": x.where.lower()}
    elif x.op == "resize":
        params = {"size": " ".join(x.size.lower().split()), "adv": ""}
    elif x.op == "replace":
        params = {"np": x.np}
    elif x.op == "retext":
        params = {"content": x.content}
    elif x.op == "count":
        params = {"n": x.n, "set": True}
    elif x.op == "more":
        params = {"n": x.n, "where": x.where}
    elif x.op == "time":
        params = {"time": x.time}
    elif x.op == "background":
        params = {"kind": x.kind}
    elif x.op == "style":
        params = {"style": STYLE_WORDS[x.style.lower()]}
    elif x.op == "light":
        params = {"direction": x.direction}
    elif x.op == "bgcolor":
        params = {"color": x.color, "what": x.what or "background"}
    clause = " ".join(str(v) for v in (x.op, x.ref, *params.values()) if v not in (None, "", True))
    ref = None if x.op == "add" else (x.ref or "the text") if x.op == "retext" else x.ref
    return Intent(x.op, ref, params, clause=clause)


class LLMInstructionParser:
    """``parser(instruction, plan) -> list[Intent]`` for ``plan_edit(parser=...)`` / ``Engine(edit_parser=...)``."""

    name = "llm"

    def __init__(self, endpoint: Endpoint | None = None) -> None:
        self.endpoint = endpoint or Endpoint()
        self._client = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LLMInstructionParser:
        if settings is None:
            from thinkdraw.config import resolve

            settings = resolve()
        return cls(settings.llm)

    def __call__(self, instruction: str, plan: ScenePlan) -> list[Intent]:
        if self._client is None:
            from thinkdraw.backends.openai_compat import ChatClient

            self._client = ChatClient(self.endpoint, role="LLM edit parser")
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"{_summary(plan)}\n\nInstruction: {instruction}"}]
        edit, _notes = self._client.chat_json(messages, LLMEdit.model_json_schema(), SCHEMA_NAME,
                                              LLMEdit.model_validate)
        return [to_intent(x) for x in edit.intents]
