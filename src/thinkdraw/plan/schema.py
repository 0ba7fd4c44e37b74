"""The data model every stage speaks: ScenePlan, Entity, TextBlock, Relation, Reasoning, Critique, EditPlan.

Coordinates: a box is ``[x0, y0, x1, y1]`` in 0..1 of the canvas, origin top-left, x0 < x1, y0 < y1.
Converters to GoT's 0..1000 grid and to pixel ``[x, y, w, h]`` live at the end of this module.
All models are pydantic v2, JSON-serialisable and JSON-schema exportable (``ScenePlan.model_json_schema()``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = "1.0"

_EPS = 1e-9


def _check_box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = b
    for v in b:
        if not (-_EPS <= v <= 1 + _EPS):
            raise ValueError(f"box coordinates must lie in 0..1, got {list(b)}")
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"box must have x0 < x1 and y0 < y1, got {list(b)}")
    return (min(max(x0, 0.0), 1.0), min(max(y0, 0.0), 1.0), min(max(x1, 0.0), 1.0), min(max(y1, 0.0), 1.0))


Box = Annotated[tuple[float, float, float, float], AfterValidator(_check_box)]
"""``[x0, y0, x1, y1]`` in 0..1 of the canvas, origin top-left."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Canvas(_Model):
    width: int = Field(256, ge=16, le=4096)
    height: int = Field(256, ge=16, le=4096)


class Background(_Model):
    kind: Literal["sky", "grass", "sea", "table", "wall", "plain"] = "grass"
    time: Literal["day", "sunset", "night"] = "day"
    colors: list[str] = Field(default_factory=list, description="named colors overriding the default palette")


class Lighting(_Model):
    direction: Literal["left", "right", "top", "none"] = "left"


class Attributes(_Model):
    model_config = ConfigDict(extra="allow", validate_assignment=True)
    color: str | None = None
    size: Literal["small", "medium", "large"] | None = None
    material: str | None = None
    default_color: bool = Field(False, description="the color is the category's usual one (world knowledge), "
                                "not named in the prompt; critics and scorers need not check it")
    position: str | None = Field(
        None, description="absolute position named in the prompt ('on the left')")
    arrangement: Literal["row", "circle", "stack", "scatter", "column"] | None = Field(
        None, description="how the entity's group is laid out ('in a row', 'in a circle', 'scattered')")


Support = str  # an entity id, or one of "ground", "table", "water", "air"
SUPPORT_SURFACES = ("ground", "table", "water", "air")


class Entity(_Model):
    id: str = Field(min_length=1)
    noun: str = Field(min_length=1, description="singular form, open vocabulary")
    category: str | None = Field(None, description="world category, or null when the world has none")
    group: str | None = Field(None, description="shared by the instances of one counted mention")
    attributes: Attributes = Field(default_factory=Attributes)
    box: Box | None = None
    z: int = 0
    supported_by: Support | None = None


class TextBlock(_Model):
    id: str = Field(min_length=1)
    content: str = Field(min_length=1, description="the exact string, letter for letter")
    box: Box | None = None
    font: str = "DejaVuSans-Bold"
    color: str = "black"
    on: str | None = Field(None, description="id of the entity carrying the text (a sign), or null")


Predicate = Literal[
    "left_of", "right_of", "above", "below", "on", "under", "in", "next_to", "between", "near", "behind",
    "in_front_of", "covering",
]


class Relation(_Model):
    subject: str = Field(description="entity id or group name")
    predicate: Predicate
    object: str = Field(description="entity id or group name")
    object2: str | None = Field(None, description="second reference, for 'between'")

    @model_validator(mode="after")
    def _between_needs_two(self) -> Relation:
        if self.predicate == "between" and not self.object2:
            raise ValueError("relation 'between' needs object2")
        return self


Stage = Literal["parse", "plan", "constraints", "layout", "text", "physics", "reflect", "interleave", "edit",
               "locate", "final", "describe"]  # edit: locate, plan the edit (edit), final state; describe


class ReasoningStep(_Model):
    stage: Stage
    text: str


class Reasoning(_Model):
    steps: list[ReasoningStep] = Field(default_factory=list)

    def add(self, stage: Stage, text: str) -> None:
        self.steps.append(ReasoningStep(stage=stage, text=text))

    def render(self) -> str:
        return "\n".join(f"[{s.stage}] {s.text}" for s in self.steps)


class ScenePlan(_Model):
    version: str = SCHEMA_VERSION
    prompt: str = ""
    canvas: Canvas = Field(default_factory=Canvas)
    style: str = "flat"
    background: Background = Field(default_factory=Background)
    lighting: Lighting = Field(default_factory=Lighting)
    palette: list[str] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    texts: list[TextBlock] = Field(default_factory=list)
    negatives: list[str] = Field(default_factory=list, description="nouns that must not appear")
    warnings: list[str] = Field(default_factory=list, description="what the plan could not honour, said aloud")

    @field_validator("version")
    @classmethod
    def _known_version(cls, v: str) -> str:
        if v.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ValueError(f"unsupported plan version {v!r}; this thinkdraw reads {SCHEMA_VERSION}")
        return v

    @model_validator(mode="after")
    def _ids_resolve(self) -> ScenePlan:
        ids = [e.id for e in self.entities]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate entity ids: {sorted(dup)}")
        names = set(ids) | {e.group for e in self.entities if e.group}
        for r in self.relations:
            for ref in (r.subject, r.object, r.object2):
                if ref is not None and ref not in names:
                    raise ValueError(f"relation {r.predicate} refers to unknown entity or group {ref!r}")
        for t in self.texts:
            if t.on is not None and t.on not in ids:
                raise ValueError(f"text {t.id!r} is on unknown entity {t.on!r}")
        return self

    def entity(self, eid: str) -> Entity:
        for e in self.entities:
            if e.id == eid:
                return e
        raise KeyError(eid)

    def members(self, ref: str) -> list[Entity]:
        """Entities named by ``ref``: an entity id, or every member of a group."""
        hit = [e for e in self.entities if e.id == ref]
        return hit or [e for e in self.entities if e.group == ref]


class Check(_Model):
    kind: Literal["presence", "absence", "count", "color", "position", "relation", "text", "size"]
    target: str
    expected: Any = None
    observed: Any = None
    passed: bool
    box: Box | None = None
    confidence: float = Field(1.0, ge=0, le=1)


class Critique(_Model):
    checks: list[Check] = Field(default_factory=list)
    score: float = Field(0.0, ge=0, le=1)
    # graded support for the plan's facts in 0..1 (a missing thing half drawn counts for something); it tells
    # apart rounds with the same score; None when the critic gives none
    evidence: float | None = Field(None, ge=0, le=1)
    reflection: str = ""
    failed_regions: list[Box] = Field(default_factory=list)
    unchecked: list[str] = Field(default_factory=list, description="ids of planned things the critic cannot "
                                 "judge (outside the built-in world: drawn as placeholders)")


class EditOperation(_Model):
    op: Literal["add", "remove", "recolor", "move", "resize", "replace", "retext", "restyle", "background"]
    target: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class EditPlan(_Model):
    instruction: str = ""
    operations: list[EditOperation] = Field(default_factory=list)
    result: ScenePlan | None = None
    mask: list[Box] = Field(default_factory=list, description="regions to redraw; everything else is kept")


class PlanOutput(_Model):
    """What ``thinkdraw plan --json`` prints: one object per prompt."""

    prompt: str
    reasoning: list[ReasoningStep]
    plan: ScenePlan


# ---------------------------------------------------------------------------------------------
# Box converters
# ---------------------------------------------------------------------------------------------
def to_got(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """0..1 box -> GoT's 0..1000 integer grid ((x1,y1),(x2,y2) flattened)."""
    return tuple(int(round(v * 1000)) for v in box)  # type: ignore[return-value]


def from_got(grid: tuple[int, int, int, int] | list[int]) -> tuple[float, float, float, float]:
    return _check_box(tuple(v / 1000.0 for v in grid))  # type: ignore[arg-type]


def to_pixels_xywh(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """0..1 box -> LMD-style pixel ``[x, y, w, h]``."""
    x0, y0, x1, y1 = box
    px0, py0 = int(round(x0 * width)), int(round(y0 * height))
    return (px0, py0, int(round(x1 * width)) - px0, int(round(y1 * height)) - py0)


def from_pixels_xywh(xywh: tuple[int, int, int, int] | list[int], width: int, height: int) -> tuple[float, ...]:
    x, y, w, h = xywh
    return _check_box((x / width, y / height, (x + w) / width, (y + h) / height))


def box_center(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection area."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy
