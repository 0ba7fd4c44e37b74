"""The `vlm` critic: a vision-language model on an OpenAI-compatible chat server judges the image (TwiG / IRG).

    critic = VLMCritic(Endpoint(url="http://localhost:11434/v1", model="qwen2.5vl:7b"))
    critique = critic.check(image, plan)

From the plan it writes the same checks as the builtin critic (presence and colour per entity, count per
group, position or relation per relation, absence per negative, exact text per text block), each with an id,
and asks in one request (the image as a PNG data URL, structured output as for the LLM planner) for a
verdict per check (passed, what it sees, where: a box on the 0..1000 grid), a 0..100 score and a written
reflection. The Critique's score is that score / 100 and its evidence the share of checks passed; the failed
regions are the planned boxes of what failed plus the boxes where the model saw it. Unlike the builtin
critic it can judge things outside the built-in world, so nothing is left unchecked. Failures are the
client's (backends/openai_compat.py): one retry with the error fed back, then a BackendError.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from thinkdraw.config import Endpoint, Settings
from thinkdraw.plan.schema import Check, Critique, ScenePlan, from_got, to_got
from thinkdraw.plan.words import with_article

SCHEMA_NAME = "thinkdraw_critique"
MAX_SIDE = 1024  # the image is sent at most this large (longer side)


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    passed: bool
    observed: str = Field("", description="what the image shows for this check, in a few words")
    box: list[int] | None = Field(None, description="where that is, [x0, y0, x1, y1] on a 0..1000 grid")


class VLMAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    checks: list[Verdict]
    score: float = Field(ge=0, le=100, description="how well the image matches the plan, 0..100")
    reflection: str = Field(description="what is wrong and how to fix it, or that everything is right")


def answer_schema() -> dict:
    return VLMAnswer.model_json_schema()


SYSTEM = """You are the critic of thinkdraw, an image generator. You see one generated image and a numbered list of
facts the image must show. Judge each fact by what is visible, strictly: a thing must be recognisable as its kind.
Boxes are [x0, y0, x1, y1] on a 0..1000 grid of the image, origin top-left. Answer with one JSON object:
{"checks": [{"id", "passed", "observed", "box"}], "score", "reflection"}: one verdict for every fact id, in order;
"observed" says in a few words what you see; "box" is where the thing you judged is in the image (null if it is
nowhere); "score" is 0..100 for how well the whole image matches; "reflection" says what is wrong and how to fix
it (or that everything is right)."""


def _a(noun: str) -> str:
    return with_article(noun)


def _desc(e) -> str:
    color = e.attributes.color
    return f"{color} {e.noun}" if color else e.noun


def plan_checks(plan: ScenePlan) -> list[dict[str, Any]]:
    """The facts to judge: ``{id, kind, target, expected, question, boxes}`` (boxes: where the plan put it)."""
    out: list[dict[str, Any]] = []

    def add(kind: str, target: str, expected: Any, question: str, boxes: list) -> None:
        out.append({"id": f"c{len(out) + 1}", "kind": kind, "target": target, "expected": expected,
                    "question": question, "boxes": [tuple(b) for b in boxes if b is not None]})

    groups: dict[str, list] = {}
    for e in plan.entities:
        where = f" around {list(to_got(e.box))}" if e.box else ""
        add("presence", e.id, e.category or e.noun, f"There is {_a(e.noun)} ({e.id}){where}.", [e.box])
        if e.attributes.color and not e.attributes.default_color:
            add("color", e.id, e.attributes.color, f"The {e.noun} ({e.id}) is {e.attributes.color}.", [e.box])
        if e.group:
            groups.setdefault(e.group, []).append(e)
    for g, members in groups.items():
        if len(members) > 1:
            add("count", g, len(members), f"There are exactly {len(members)} {members[0].noun}s ({g}).",
                [m.box for m in members])
    for r in plan.relations:
        subj = plan.members(r.subject)
        obj = plan.members(r.object)
        sn = _desc(subj[0]) if subj else r.subject
        on = _desc(obj[0]) if obj else r.object
        pred = r.predicate.replace("_", " ")
        tail = f" and the {_desc(plan.members(r.object2)[0]) if plan.members(r.object2 or '') else r.object2}" \
            if r.object2 else ""
        kind = "position" if r.predicate in ("left_of", "right_of", "above", "below") else "relation"
        add(kind, f"{r.subject} {r.predicate} {r.object}", r.predicate,
            f"The {sn} ({r.subject}) is {pred} the {on} ({r.object}){tail}.", [m.box for m in subj])
    for n in plan.negatives:
        add("absence", n, "absent", f"There is no {n} anywhere in the image.", [])
    for t in plan.texts:
        on = f" on the {plan.entity(t.on).noun}" if t.on else ""
        add("text", t.id, t.content, f"The text{on} reads exactly {t.content!r}, letter for letter.", [t.box])
    return out


def data_url(image: Image.Image) -> str:
    im = image.convert("RGB")
    if max(im.size) > MAX_SIDE:
        im = im.copy()
        im.thumbnail((MAX_SIDE, MAX_SIDE))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class VLMCritic:
    """Critic protocol: ``check(image, plan) -> Critique`` through an OpenAI-compatible vision chat server."""

    name = "vlm"

    def __init__(self, endpoint: Endpoint | None = None) -> None:
        self.endpoint = endpoint or Endpoint()
        self._client = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> VLMCritic:
        if settings is None:
            from thinkdraw.config import resolve

            settings = resolve()
        return cls(settings.vlm)

    @property
    def client(self):
        if self._client is None:
            from thinkdraw.backends.openai_compat import ChatClient

            self._client = ChatClient(self.endpoint, role="VLM critic", flag="--vlm")
        return self._client

    def check(self, image: Image.Image, plan: ScenePlan) -> Critique:
        facts = plan_checks(plan)
        listing = "\n".join(f"{f['id']} ({f['kind']}): {f['question']}" for f in facts) or "(no facts: judge the "\
            "image against the prompt alone)"
        text = f"The prompt was: {plan.prompt!r}.\nFacts to judge:\n{listing}"
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": [{"type": "text", "text": text},
                                                 {"type": "image_url", "image_url": {"url": data_url(image)}}]}]
        ids = [f["id"] for f in facts]

        def parse(obj: Any) -> VLMAnswer:
            ans = VLMAnswer.model_validate(obj)
            got = [v.id for v in ans.checks]
            missing = [i for i in ids if i not in got]
            if missing:
                raise ValueError(f"no verdict for {', '.join(missing)}: give one for every fact id")
            return ans

        ans, _notes = self.client.chat_json(messages, answer_schema(), SCHEMA_NAME, parse)
        return to_critique(facts, ans)


def _box(b: list[int] | None):
    if not b or len(b) != 4:
        return None
    try:
        x0, y0, x1, y1 = (min(max(int(v), 0), 1000) for v in b)
        return from_got((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    except (ValueError, TypeError):
        return None  # an empty box: the model did not say where


def to_critique(facts: list[dict[str, Any]], ans: VLMAnswer) -> Critique:
    by_id = {v.id: v for v in ans.checks}
    checks: list[Check] = []
    regions: list = []
    for f in facts:
        v = by_id[f["id"]]
        seen = _box(v.box)
        planned = f["boxes"]
        box = planned[0] if len(planned) == 1 else seen
        checks.append(Check(kind=f["kind"], target=f["target"], expected=f["expected"], observed=v.observed,
                            passed=v.passed, box=box))
        if not v.passed:
            for b in [*planned, seen]:
                if b is not None and tuple(b) not in {tuple(r) for r in regions}:
                    regions.append(b)
    passed = sum(c.passed for c in checks)
    return Critique(checks=checks, score=round(ans.score / 100, 4),
                    evidence=passed / len(checks) if checks else 1.0, reflection=ans.reflection.strip(),
                    failed_regions=regions)
