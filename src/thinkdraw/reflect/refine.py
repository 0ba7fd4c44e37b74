"""From a critique to a repair: the failed checks become edit operations on the plan and a mask.

``critique_to_edit(critique, plan) -> EditPlan``: one operation per failed check (SLD's detect, diff,
then add / remove / move / recolor / retext under masks), ``result`` the plan the repaired image must
match (the original plan: reflection repairs the drawing, not the intent) and ``mask`` the regions to
redraw: the planned boxes of what is wrong plus, for things drawn where they should not be (extra
objects, excluded objects, an object found away from its place), the boxes where they were seen.
"""

from __future__ import annotations

from thinkdraw.plan.schema import Critique, EditOperation, EditPlan, ScenePlan


def critique_to_edit(critique: Critique, plan: ScenePlan) -> EditPlan:
    ops: list[EditOperation] = []
    for c in critique.checks:
        if c.passed:
            continue
        if c.kind == "presence":
            moved = isinstance(c.observed, str) and c.observed.startswith("found elsewhere")
            ops.append(EditOperation(op="move" if moved else "add", target=c.target,
                                     params={"category": c.expected, "box": c.box}))
        elif c.kind == "color":
            ops.append(EditOperation(op="recolor", target=c.target, params={"color": c.expected, "seen": c.observed}))
        elif c.kind == "count":
            ops.append(EditOperation(op="add" if c.box is not None else "remove", target=c.target,
                                     params={"expected": c.expected, "seen": c.observed}))
        elif c.kind in ("position", "relation"):
            ops.append(EditOperation(op="move", target=c.target.split()[0], params={"relation": c.target}))
        elif c.kind == "absence":
            ops.append(EditOperation(op="remove", target=c.target, params={"seen": c.observed}))
        elif c.kind == "text":
            ops.append(EditOperation(op="retext", target=c.target, params={"content": c.expected, "read": c.observed}))
    return EditPlan(instruction=critique.reflection, operations=ops, result=plan, mask=list(critique.failed_regions))


def describe(edit: EditPlan) -> str:
    """One line a person can read: "add apple_2; recolor bird_1 to green; retext text_1 to 'OPEN'"."""
    parts = []
    for o in edit.operations:
        if o.op == "recolor":
            parts.append(f"recolor {o.target} to {o.params.get('color')}")
        elif o.op == "retext":
            parts.append(f"rewrite {o.target} as {o.params.get('content')!r}")
        else:
            parts.append(f"{o.op} {o.target}")
    return "; ".join(parts) if parts else "nothing to repair"
