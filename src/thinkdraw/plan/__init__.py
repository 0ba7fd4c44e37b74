"""The data model every stage meets in (the layout solver that places plans lives in world/layout.py)."""

from thinkdraw.plan.schema import (
    SCHEMA_VERSION,
    Attributes,
    Background,
    Box,
    Canvas,
    Check,
    Critique,
    EditOperation,
    EditPlan,
    Entity,
    Lighting,
    PlanOutput,
    Reasoning,
    ReasoningStep,
    Relation,
    ScenePlan,
    TextBlock,
    box_center,
    box_iou,
    from_got,
    from_pixels_xywh,
    to_got,
    to_pixels_xywh,
)

__all__ = [
    "SCHEMA_VERSION", "Attributes", "Background", "Box", "Canvas", "Check", "Critique", "EditOperation",
    "EditPlan", "Entity", "Lighting", "PlanOutput", "Reasoning", "ReasoningStep", "Relation", "ScenePlan",
    "TextBlock", "box_center", "box_iou", "from_got", "from_pixels_xywh", "to_got", "to_pixels_xywh",
]
