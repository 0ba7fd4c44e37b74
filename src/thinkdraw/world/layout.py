"""The layout solver: entities + relations + world knowledge -> boxes.

``solve_layout(plan, seed)`` places every entity whose ``box`` is None and every text block, and
validates / repairs entities that arrive with boxes (from a user or an LLM). It never fails silently:
what it could not satisfy is listed in ``LayoutResult.unsatisfied`` and in ``plan.warnings``.

How it works (all boxes in 0..1 of the canvas, origin top-left):
1. Sizes: the category's typical width x size word (small/medium/large), its aspect, shrunk when crowded;
   text carriers (signs) widen until their string fits at a legible size.
2. Support: "on"/"in"/"under" an entity stacks the subject on (in, under) it; otherwise the habitat
   decides: sky things float in the sky band, fish swim in the water band, boats sit on the water line,
   grounded things stand on a ground line (gravity: their bottom edge touches it), shapes are free.
3. Vertical order: above/below relations are layered (longest path in their DAG) into rows per zone;
   rows of grounded things are ground lines receding towards the horizon.
4. Horizontal order: left_of/right_of/between/next_to become a DAG; a topological order (ties broken
   by a seeded permutation) gives each entity a slot, and each row is spread without overlap.
5. Stacked things are placed on their support; text goes inside its carrier's text area.
6. Verification checks every constraint with a clear margin; a relation that still fails gets a
   fallback (the pair moves to the free zone) and is re-checked; what still fails is reported.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from thinkdraw.plan.schema import Entity, ScenePlan, TextBlock, box_center, box_overlap
from thinkdraw.world.font import fit_font_size, text_extent
from thinkdraw.world.vocab import (
    BACKGROUNDS,
    CATEGORIES,
    DEFAULT_TEXT_AREA,
    MAX_FONT_PX_256,
    MIN_FONT_PX_256,
    OPEN_HABITAT_HINTS,
    SIZES,
    TEXT_AREAS,
)

MARGIN = 0.05  # "clearly left of": centres differ by at least this much of the canvas
EDGE = 0.03  # keep boxes this far from the canvas edge
GAP = 0.025  # horizontal gap between neighbours in a row
OPEN_WIDTH = 0.22  # typical width of an open-vocabulary noun
# A large (big, huge, giant) thing is big in the picture, not only for its kind: at least this share of the
# canvas width. 1.4 times a cup's width is 0.15, less than a medium moon's 0.18, and a blind rater read "a huge
# cup and two moons" and "a large pink cup" beside a poster as unmet (2 of 30 seed-61 prompts, docs/plan.md).
LARGE_MIN_WIDTH = 0.25
STACK_PREDICATES = ("on", "in", "under")
HORIZONTAL = ("left_of", "right_of", "between", "next_to", "near")
VERTICAL = ("above", "below")


@dataclass
class LayoutResult:
    plan: ScenePlan
    unsatisfied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# knowledge helpers
# ------------------------------------------------------------------------------------------------
def habitat(e: Entity) -> str:
    if e.category in CATEGORIES:
        return CATEGORIES[e.category].habitat
    return OPEN_HABITAT_HINTS.get(e.noun, "ground")


def is_grounded(e: Entity) -> bool:
    if e.category in CATEGORIES:
        return CATEGORIES[e.category].grounded
    return habitat(e) in ("ground", "table", "surface")


def base_size(e: Entity, plan: ScenePlan) -> tuple[float, float]:
    """(width, height) in canvas fractions before crowding."""
    cat = CATEGORIES.get(e.category or "")
    w = cat.width if cat else OPEN_WIDTH
    aspect = cat.aspect if cat else 1.0
    w *= SIZES.get(e.attributes.size or "medium", 1.0)
    if e.attributes.size == "large":
        w = max(w, LARGE_MIN_WIDTH)
    h = w * aspect * plan.canvas.width / plan.canvas.height
    if h > 0.6:
        w, h = w * 0.6 / h, 0.6
    return w, h


def text_area(e: Entity) -> tuple[float, float, float, float]:
    return TEXT_AREAS.get(e.category or "", DEFAULT_TEXT_AREA)


def _font_px(plan: ScenePlan, px256: int) -> int:
    return max(6, round(px256 * plan.canvas.height / 256))


# ------------------------------------------------------------------------------------------------
# graph helpers
# ------------------------------------------------------------------------------------------------
def _expand(plan: ScenePlan, ref: str) -> list[str]:
    return [m.id for m in plan.members(ref)]


def _member_index(plan: ScenePlan) -> Callable[[str], list[str]]:
    """``_expand`` for many lookups: the ids an entity id or group name stands for, from one pass over the
    entities (``plan.members`` is a scan per call). Build it where the entities' ids and groups are fixed."""
    by_id: dict[str, list[str]] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    for e in plan.entities:
        by_id.setdefault(e.id, []).append(e.id)
        if e.group:
            groups[e.group].append(e.id)
    return lambda ref: list(by_id.get(ref) or groups.get(ref, ()))


def _layers(nodes: list[str], edges: set[tuple[str, str]], dropped: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering of a DAG (u above v -> layer(u) < layer(v)); edges closing a cycle are dropped.

    Edges are taken in sorted order; one is dropped when its head already reaches its tail. Reachability is
    kept as a transitive closure in bitsets, so each edge costs O(nodes) big-int operations instead of a
    graph walk (a walk per edge made this quadratic in the number of edges).
    """
    succ: dict[str, list[str]] = defaultdict(list)
    kept: set[tuple[str, str]] = set()
    bit: dict[str, int] = {}
    reach: list[int] = []  # reach[k]: bitset of the nodes reachable from node k (itself included)

    def index(n: str) -> int:
        if n not in bit:
            bit[n] = len(reach)
            reach.append(1 << bit[n])
        return bit[n]

    for u, v in sorted(edges):
        iu, iv = index(u), index(v)
        if reach[iv] >> iu & 1:  # v reaches u (or v is u): u -> v would close a cycle
            dropped.append((u, v))
            continue
        succ[u].append(v)
        kept.add((u, v))
        add = reach[iv]
        for k in range(len(reach)):
            if reach[k] >> iu & 1:  # k reaches u, so now it reaches everything v reaches
                reach[k] |= add
    layer = {n: 0 for n in nodes}
    for n in _toposort(nodes, kept, {n: i for i, n in enumerate(nodes)}):
        for v in succ[n]:
            layer[v] = max(layer[v], layer[n] + 1)
    return layer


def _toposort(nodes: list[str], edges: set[tuple[str, str]], prio: dict[str, float]) -> list[str]:
    """Kahn's order, the lowest priority first among the ready nodes (ties: the first made ready)."""
    indeg = {n: 0 for n in nodes}
    succ: dict[str, list[str]] = defaultdict(list)
    for u, v in edges:
        if u in indeg and v in indeg:
            succ[u].append(v)
            indeg[v] += 1
    seq = 0
    ready: list[tuple[float, int, str]] = []
    for n in sorted((n for n in nodes if indeg[n] == 0), key=lambda n: prio[n]):
        ready.append((prio[n], seq, n))
        seq += 1
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        n = heapq.heappop(ready)[2]
        out.append(n)
        for v in succ[n]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, (prio[v], seq, v))
                seq += 1
    placed = set(out)
    out.extend(n for n in nodes if n not in placed)  # cycles: keep the rest in priority order
    return out


def _spread(items: list[tuple[str, float, float]], lo: float, hi: float) -> dict[str, float]:
    """Place centres for (id, desired_centre, width), order kept, no overlap, inside [lo, hi]."""
    xs = [c for _, c, _ in items]
    ws = [w for _, _, w in items]
    n = len(items)
    for _ in range(3):
        for i in range(n):  # push right
            left = lo + ws[i] / 2 if i == 0 else xs[i - 1] + (ws[i - 1] + ws[i]) / 2 + GAP
            xs[i] = max(xs[i], left)
        for i in reversed(range(n)):  # push left
            right = hi - ws[i] / 2 if i == n - 1 else xs[i + 1] - (ws[i + 1] + ws[i]) / 2 - GAP
            xs[i] = min(xs[i], right)
    return {items[i][0]: xs[i] for i in range(n)}


# ------------------------------------------------------------------------------------------------
# the solver
# ------------------------------------------------------------------------------------------------
def solve_layout(plan: ScenePlan, seed: int = 0) -> LayoutResult:
    """Return a copy of ``plan`` with every entity and text block placed, plus what could not be satisfied."""
    plan = plan.model_copy(deep=True)
    res = LayoutResult(plan=plan)
    if not plan.entities and not plan.texts:
        return res
    given = {e.id for e in plan.entities if e.box is not None}
    if given and len(given) == len(plan.entities):
        _repair(plan, res)
    else:
        _place_all(plan, res, seed, keep=given)
    _place_texts(plan, res)
    res.unsatisfied = check_layout(plan)
    _fallback(plan, res)
    res.unsatisfied = check_layout(plan)
    said = set(plan.warnings)  # a set: one membership test per failure (a list scan made this quadratic)
    for u in res.unsatisfied:
        w = f"layout: could not satisfy {u}"
        if w not in said:
            said.add(w)
            plan.warnings.append(w)
    return res


def _supports(plan: ScenePlan) -> dict[str, tuple[str, str]]:
    """subject id -> (predicate, support id) for stacked entities (first stacking relation wins)."""
    expand = _member_index(plan)
    out: dict[str, tuple[str, str]] = {}
    for r in plan.relations:
        if r.predicate not in STACK_PREDICATES:
            continue
        objs = expand(r.object)
        if not objs:
            continue
        for i, s in enumerate(expand(r.subject)):
            if s not in out and s not in objs:
                out[s] = (r.predicate, objs[i % len(objs)])
    # break support cycles (a on b on a)
    for s in list(out):
        seen, cur = {s}, out[s][1]
        while cur in out:
            if cur in seen:
                del out[s]
                break
            seen.add(cur)
            cur = out[cur][1]
    return out


def _zone(e: Entity, plan: ScenePlan) -> str:
    hab = habitat(e)
    lower = BACKGROUNDS[plan.background.kind].lower
    if hab == "sky":
        return "air"
    if hab == "water":
        return "water"
    if hab == "surface":
        return "surface" if lower == "water" else "ground"
    if hab == "free":
        return "free"
    return "ground"


def _bands(plan: ScenePlan) -> dict[str, tuple[float, float]]:
    H = BACKGROUNDS[plan.background.kind].horizon
    top_line = min(H + 0.1, 0.7) if H < 0.95 else 0.55
    return {
        "air": (0.03, max(0.3, min(H, 0.62) - 0.03)),
        "water": (min(H + 0.06, 0.7), 0.97),
        "free": (0.05, 0.95),
        "ground": (top_line, 0.96),  # range of ground lines (bottom edges)
        "surface": (H + 0.05, H + 0.05),
    }


def _place_all(plan: ScenePlan, res: LayoutResult, seed: int, keep: set[str]) -> None:
    rng = random.Random(seed)
    ents = {e.id: e for e in plan.entities}
    stacked = _supports(plan)
    top = [e.id for e in plan.entities if e.id not in stacked]
    zone = {i: _zone(ents[i], plan) for i in top}
    shapes = {i for i, z in zone.items() if z == "free"}
    if len(shapes) < len(zone):  # shapes in a scene with things: they float in the sky band ...
        zone = {i: ("air" if z == "free" else z) for i, z in zone.items()}
    size = {e.id: base_size(e, plan) for e in plan.entities}
    _widen_carriers(plan, size)

    vedges, hedges, soft = _relation_edges(plan, {e: _root(e, stacked) for e in ents}, zone)
    for s, o in soft:  # ... unless they stand next to something: then they share its zone
        for a, b in ((s, o), (o, s)):
            if a in shapes and b in zone and zone[b] != "air" and b not in shapes:
                zone[a] = zone[b]
    for s, o in soft:  # next_to: pick a side unless already ordered
        if (s, o) not in hedges and (o, s) not in hedges:
            hedges.add((s, o) if rng.random() < 0.5 else (o, s))
    # vertical layering among top-level entities
    _reconcile_zones(vedges, zone, res)
    dropped: list[tuple[str, str]] = []
    vlayer = _layers(top, {(u, v) for u, v in vedges if u in zone and v in zone}, dropped)
    for u, v in dropped:
        res.notes.append(f"vertical cycle: dropped '{u} above {v}'")

    # horizontal order: topological with a seeded permutation as tie-break (groups stay together)
    perm = {i: k + rng.random() * 0.5 for k, i in enumerate(top)}
    hcycle: list[tuple[str, str]] = []
    _layers(top, {(u, v) for u, v in hedges if u in zone and v in zone}, hcycle)
    hkept = {(u, v) for u, v in hedges if u in zone and v in zone and (u, v) not in hcycle}
    order = _toposort(top, hkept, perm)
    for u, v in hcycle:
        res.notes.append(f"horizontal cycle: dropped '{u} left of {v}'")
    desired = _horizontal_targets(order, soft, vedges, hkept, size, zone)
    for i in top:  # absolute positions named in the prompt
        p = getattr(ents[i].attributes, "position", None)
        if p in ("left", "right", "center"):
            desired[i] = {"left": 0.2, "right": 0.8, "center": 0.5}[p]

    rows = _rows(order, zone, vlayer, size)
    boxes = _row_boxes(plan, rows, desired, size)
    _arrange(plan, boxes, zone, rng, res)
    _depth(plan, boxes, zone, res)
    _lower_towers(stacked, size, boxes, zone)
    _stack(plan, stacked, size, boxes, res)
    for e in plan.entities:
        if e.id in keep:
            continue
        e.box = _clip(boxes[e.id])


def _relation_edges(plan: ScenePlan, root: dict[str, str], zone: dict[str, str]
                    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]], list[tuple[str, str]]]:
    """Relations between top-level entities (stacked ones act through their root support) as ordering edges:
    vertical (u above v), horizontal (u left of v) and soft (next to, near, behind, in front of) pairs."""
    expand = _member_index(plan)
    vedges: set[tuple[str, str]] = set()
    hedges: set[tuple[str, str]] = set()
    soft: list[tuple[str, str]] = []
    for r in plan.relations:
        subs = [root[s] for s in expand(r.subject)]
        objs = [root[o] for o in expand(r.object)]
        pairs = [(s, o) for s in subs for o in objs if s != o]
        if r.predicate == "above":
            vedges.update(pairs)
        elif r.predicate == "below":
            vedges.update((o, s) for s, o in pairs)
        elif r.predicate == "under" and any(zone.get(o) != "ground" for _, o in pairs):
            pass  # flexible "under" is handled as stacking below the object (see _stack)
        elif r.predicate == "left_of":
            hedges.update(pairs)
        elif r.predicate == "right_of":
            hedges.update((o, s) for s, o in pairs)
        elif r.predicate == "between" and r.object2:
            o2 = [root[o] for o in expand(r.object2)]
            hedges.update((o, s) for s in subs for o in objs if s != o)
            hedges.update((s, o) for s in subs for o in o2 if s != o)
        elif r.predicate in ("next_to", "near", "behind", "in_front_of"):
            soft.extend(pairs)
    return vedges, hedges, soft


def _horizontal_targets(order: list[str], soft: list[tuple[str, str]], vedges: set[tuple[str, str]],
                        hkept: set[tuple[str, str]], size: dict[str, tuple[float, float]],
                        zone: dict[str, str]) -> dict[str, float]:
    """Desired x centre per entity: evenly spaced in order, next-to pulled beside its reference, and a thing
    above / below another (in another zone, with no side given) moved halfway over it."""
    n = len(order)
    desired = {i: (k + 0.5) / n for k, i in enumerate(order)}
    pos = {i: k for k, i in enumerate(order)}
    for s, o in soft:  # next_to / near: pull the subject beside its reference
        if s in pos and o in pos:
            side = 1 if pos[s] > pos[o] else -1
            desired[s] = desired[o] + side * ((size[s][0] + size[o][0]) / 2 + 2 * GAP)
    above: dict[str, list[str]] = defaultdict(list)
    for u, v in vedges:  # "above"/"below": stack over the reference unless told a side
        if u in pos and v in pos and (u, v) not in hkept and (v, u) not in hkept and zone[u] != zone[v]:
            above[u].append(v)
            above[v].append(u)
    sided = {u for u, _ in hkept} | {v for _, v in hkept}
    base = dict(desired)
    for u, refs in above.items():
        if u not in sided:
            desired[u] = 0.5 * base[u] + 0.5 * sum(base[r] for r in refs) / len(refs)
    return desired


def _rows(order: list[str], zone: dict[str, str], vlayer: dict[str, int],
          size: dict[str, tuple[float, float]]) -> dict[str, list[list[str]]]:
    """Rows per zone, one per vertical layer, ids in x order; a row that cannot fit is split (up to 3) and
    shrunk to fit (``size`` is updated)."""
    rows: dict[str, list[list[str]]] = defaultdict(list)
    avail = 1 - 2 * EDGE
    for zname in ("air", "free", "water", "surface", "ground"):
        by_layer: dict[int, list[str]] = defaultdict(list)
        for i in order:
            if zone[i] == zname:
                by_layer[vlayer[i]].append(i)
        for lay in sorted(by_layer):
            ids = by_layer[lay]
            need = sum(size[i][0] for i in ids) + GAP * (len(ids) - 1)
            k = 1
            if need > avail and len(ids) >= 4 and zname != "surface":
                k = min(3, int(need / (avail * 0.95)) + 1)
            for sub in range(k):
                part = ids[sub::k]
                need = sum(size[i][0] for i in part) + GAP * (len(part) - 1)
                if need > avail:
                    f = avail / need
                    for i in part:
                        size[i] = (size[i][0] * f, size[i][1] * f)
                rows[zname].append(part)
    return rows


def _row_boxes(plan: ScenePlan, rows: dict[str, list[list[str]]], desired: dict[str, float],
               size: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float, float, float]]:
    """Boxes for the rows: spread without overlap along x; grounded rows stand on ground lines receding to the
    horizon (gravity), boats sit on the water line, other zones split their band into row slots."""
    ents = {e.id: e for e in plan.entities}
    bands = _bands(plan)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for zname, zrows in rows.items():
        R = len(zrows)
        lo, hi = bands[zname]
        for r, ids in enumerate(zrows):
            off = (0.5 / max(len(ids), 1)) * (r % 2) * 0.5  # stagger back rows a little
            xs = _spread([(i, desired[i] + off, size[i][0]) for i in ids], EDGE, 1 - EDGE)
            for i in ids:
                w, h = size[i]
                if zname in ("ground", "surface"):
                    step = (hi - lo) / (R - 1) if R > 1 else 0.0
                    line = hi - (R - 1 - r) * step if R > 1 else lo + 0.75 * (hi - lo)
                    if zname == "surface":
                        line = lo + h * 0.25  # a boat sits a little into the water
                    if R > 1 and h > step * 1.2:  # rows receding to the horizon: keep them countable
                        w, h = w * step * 1.2 / h, step * 1.2
                    h = min(h, line - 0.02)
                    y0, y1 = line - h, line
                    ents[i].supported_by = "water" if zname == "surface" else (
                        "table" if plan.background.kind == "table" else "ground")
                    ents[i].z = r
                else:
                    rh = (hi - lo) / R
                    if h > rh * 0.92:
                        w, h = w * rh * 0.92 / h, rh * 0.92
                    cy = lo + (r + 0.5) * rh
                    y0, y1 = cy - h / 2, cy + h / 2
                    ents[i].supported_by = "water" if zname == "water" else (
                        "air" if zname == "air" else None)
                x0 = min(max(xs[i] - w / 2, EDGE / 2), 1 - EDGE / 2 - w)
                boxes[i] = (x0, y0, x0 + w, y1)
    return boxes


_ZONE_RANK = {"air": 0, "free": 1, "surface": 2, "water": 3, "ground": 4}


def _reconcile_zones(vedges: set[tuple[str, str]], zone: dict[str, str], res: LayoutResult) -> None:
    """'u above v' against the zones' natural order (a frisbee below a horse): move a zone so it can hold."""
    for u, v in sorted(vedges):
        if u not in zone or v not in zone or "free" in (zone[u], zone[v]):
            continue
        if _ZONE_RANK[zone[u]] <= _ZONE_RANK[zone[v]]:
            continue
        if zone[v] == "air":
            res.notes.append(f"{v} comes down from the {zone[v]} to the {zone[u]} to be below {u}")
            zone[v] = zone[u]
        elif zone[u] == "air":
            continue
        else:
            res.notes.append(f"{u} and {v} are placed freely so that {u} can be above {v}")
            zone[u] = zone[v] = "free"


def _root(eid: str, stacked: dict[str, tuple[str, str]]) -> str:
    while eid in stacked:
        eid = stacked[eid][1]
    return eid


def _stack(plan: ScenePlan, stacked: dict[str, tuple[str, str]], size: dict[str, tuple[float, float]],
           boxes: dict[str, tuple[float, float, float, float]], res: LayoutResult) -> None:
    """Place entities that are on / in / under another one, supports first."""
    ents = {e.id: e for e in plan.entities}
    by_support: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s, (pred, o) in stacked.items():
        by_support[(pred, o)].append(s)
    done: set[str] = set()

    def depth(eid: str) -> int:  # how many supports below: supports are placed before what rests on them
        d = 0
        while eid in stacked and d <= len(stacked):
            eid, d = stacked[eid][1], d + 1
        return d

    bg = BACKGROUNDS.get(plan.background.kind)
    ground = _bands(plan)["ground"] if bg is not None and bg.lower in ("ground", "table", "floor") else None
    pending = sorted(by_support, key=lambda key: depth(key[1]))
    guard = 0
    while pending and guard < 100 + 2 * len(by_support):
        guard += 1
        pred, o = pending.pop(0)
        if o not in boxes:
            pending.append((pred, o))
            continue
        subs = by_support[(pred, o)]
        ox0, oy0, ox1, oy1 = boxes[o]
        ow, oh = ox1 - ox0, oy1 - oy0
        k = len(subs)
        slot, x_start = ow / k, ox0
        if pred == "under" and k > 1:
            # a row under a narrow thing may reach past its sides (each end one still overlapping it, which is
            # what "under" asks): 3 cars under a balloon were squeezed into its width, 9 px each (seed 53)
            wn = max(size[s][0] * min(1.0, 0.75 * oh / size[s][1]) for s in subs)  # as wide as it will be
            # an end one (0.9 of its slot wide) still overlaps the thing by 0.01 while slot < reach
            reach = (0.5 * ow - 0.01) / (0.5 * k - 0.95)
            slot = min(max(ow / k, min(wn / 0.9, reach)), 1.0 / k)
            x_start = min(max(0.0, 0.5 * (ox0 + ox1) - 0.5 * k * slot), 1.0 - k * slot)
        for j, s in enumerate(subs):
            w, h = size[s]
            f = min(1.0, slot * 0.9 / w)
            if pred == "in":
                f = min(f, 0.7 * ow / w, 0.7 * oh / h)
            if pred == "under":
                f = min(f, 0.75 * oh / h)
            w, h = max(w * f, 0.01), max(h * f, 0.01)  # a deep chain of "in" must not shrink to nothing
            cx = x_start + slot * (j + 0.5)
            ocat = CATEGORIES.get(ents[o].category or "")
            if pred == "on" and ocat is not None and (ocat.carries_text or ocat.name == "tree"):
                # printed on a poster / sign / banner, perched in a tree's crown: inside the box, drawn over it
                f2 = min(1.0, 0.45 * ow / w, (0.35 if ocat.name == "tree" else 0.45) * oh / h)
                w, h = w * f2, h * f2
                y1 = oy0 + (0.42 if ocat.name == "tree" else 0.62) * oh + (j % 2) * 0.08 * oh * (ocat.name == "tree")
                ents[s].supported_by = o
            elif pred == "on":
                y1 = oy0 + 0.01
                y0 = max(0.0, y1 - h)
                ents[s].supported_by = o
            elif pred == "in":
                y1 = oy1 - 0.1 * oh
                y0 = y1 - h
                ents[s].supported_by = o
            else:  # under
                if is_grounded(ents[s]) and is_grounded(ents[o]):
                    y1 = oy1
                    ents[s].supported_by = ents[o].supported_by
                elif is_grounded(ents[s]) and ground is not None and oy1 < ground[0]:
                    # a cup under a cloud stands on the ground below it, not hanging in the air under it
                    y1 = max(min(oy1 + 0.03 + h, 0.97), 0.5 * (ground[0] + ground[1]))
                    ents[s].supported_by = "table" if plan.background.kind == "table" else "ground"
                else:
                    y0 = min(oy1 + 0.03, 0.97 - h)
                    y1 = y0 + h
            y0 = y1 - h
            ents[s].z = ents[o].z + 1
            boxes[s] = (cx - w / 2, y0, cx + w / 2, y1)
            done.add(s)
    if pending:
        res.notes.append("could not resolve some stacking supports")


def _arrange(plan: ScenePlan, boxes: dict[str, tuple[float, float, float, float]], zone: dict[str, str],
             rng: random.Random, res: LayoutResult) -> None:
    """Arrangements named in the prompt (``attributes.arrangement``) reshape their group's boxes:
    a row is one line (shrunk to fit), a circle puts the members on a ring, scattered members get seeded
    random places across their zone without overlapping."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in plan.entities:
        a = e.attributes.arrangement
        if a in ("row", "circle", "scatter") and e.id in boxes and e.id in zone:
            groups[(a, e.group or a)].append(e.id)
    bands = _bands(plan)
    for (kind, _g), ids in groups.items():
        if len(ids) < 2:
            continue
        ids.sort(key=lambda i: box_center(boxes[i])[0])
        z = zone[ids[0]]
        ground = z in ("ground", "surface")
        ws = [boxes[i][2] - boxes[i][0] for i in ids]
        hs = [boxes[i][3] - boxes[i][1] for i in ids]
        if kind == "row":
            total = sum(ws) + GAP * (len(ids) + 1)
            f = min(1.0, (1 - 2 * EDGE) / total)
            ws, hs = [w * f for w in ws], [h * f for h in hs]
            bottom = max(boxes[i][3] for i in ids)
            cy = sum(box_center(boxes[i])[1] for i in ids) / len(ids)
            x = 0.5 - (sum(ws) + GAP * (len(ids) - 1)) / 2
            for i, w, h in zip(ids, ws, hs, strict=True):
                y1 = bottom if ground else cy + h / 2
                boxes[i] = (x, y1 - h, x + w, y1)
                x += w + GAP
        elif kind == "circle":
            n = len(ids)
            lo, hi = (max(bands["ground"][0] - 0.1, 0.3), 0.97) if ground else (
                bands["air"] if z == "air" else (0.05, 0.95))
            r = min(0.3, (hi - lo) / 2 - max(hs) / 2 - 0.01)
            r = max(r, 0.12)
            f = min(1.0, 0.8 * 2 * math.pi * r / n / max(max(ws), max(hs)))
            ws, hs = [w * f for w in ws], [h * f for h in hs]
            cy = min(max((lo + hi) / 2, r + max(hs) / 2 + 0.02), 0.98 - r - max(hs) / 2)
            for k, (i, w, h) in enumerate(zip(ids, ws, hs, strict=True)):
                ang = -math.pi / 2 + 2 * math.pi * k / n
                cx, cyk = 0.5 + r * math.cos(ang), cy + r * math.sin(ang)
                boxes[i] = (cx - w / 2, cyk - h / 2, cx + w / 2, cyk + h / 2)
            res.notes.append(f"{_g} arranged on a circle of radius {r:.2f}")
        else:  # scatter
            lo, hi = (bands["ground"][0], 0.96) if ground else (bands["air"] if z == "air" else (0.05, 0.95))
            room = (1 - 2 * EDGE) * max(hi - lo, 0.2)  # scattered things fill at most a third of their zone
            f = min(1.0, math.sqrt(0.33 * room / max(sum(w * h for w, h in zip(ws, hs, strict=True)), 1e-9)))
            ws, hs = [w * f for w in ws], [h * f for h in hs]
            placed: list[tuple[float, float, float, float]] = []
            for i, w, h in zip(ids, ws, hs, strict=True):
                best = None
                for _ in range(40):
                    x0 = rng.uniform(EDGE, max(EDGE, 1 - EDGE - w))
                    yb = rng.uniform(lo, hi) if ground else rng.uniform(lo, max(lo, hi - h))
                    b = (x0, yb - h, x0 + w, yb) if ground else (x0, yb, x0 + w, yb + h)
                    worst = max((box_overlap(b, q) / min(_area(b), _area(q)) for q in placed), default=0.0)
                    if best is None or worst < best[0]:
                        best = (worst, b)
                    if worst < 0.05:
                        break
                assert best is not None
                placed.append(best[1])
                boxes[i] = best[1]


def _depth(plan: ScenePlan, boxes: dict[str, tuple[float, float, float, float]], zone: dict[str, str],
           res: LayoutResult) -> None:
    """Depth and cover. "A in front of B": A is nearer, so lower on the canvas, a little larger, drawn later and
    partly covering B; "behind" is the reverse. "A covering half of B": A is drawn over about half of B."""
    expand = _member_index(plan)
    ents = {e.id: e for e in plan.entities}
    for r in plan.relations:
        if r.predicate not in ("in_front_of", "behind", "covering"):
            continue
        objs = [o for o in expand(r.object) if o in boxes]
        subs = [s for s in expand(r.subject) if s in boxes and s not in objs]
        if not objs or not subs:
            continue
        o = objs[0]
        ox0, oy0, ox1, oy1 = boxes[o]
        ow, oh = ox1 - ox0, oy1 - oy0
        for k, s in enumerate(subs):
            x0, y0, x1, y1 = boxes[s]
            w, h = x1 - x0, y1 - y0
            side = 1 if (x0 + x1) / 2 >= (ox0 + ox1) / 2 else -1
            if r.predicate == "covering":
                fv = min(h, oh) / oh
                fh = min(1.0, 0.5 / fv)
                if w < fh * ow:
                    w, h = fh * ow * 1.05, h * fh * ow * 1.05 / w
                cy = (oy0 + oy1) / 2
                nx0 = ox1 - fh * ow if side > 0 else ox0 + fh * ow - w
                boxes[s] = _clip((nx0, cy - h / 2, nx0 + w, cy + h / 2))
                ents[s].z = max(ents[s].z, ents[o].z + 1)
                res.notes.append(f"{s} covers about half of {o}")
                continue
            front = r.predicate == "in_front_of"
            if front and zone.get(s) in ("ground", "surface"):
                w, h = w * 1.1, h * 1.1
            dy = (0.06 + 0.03 * k) * (1 if front else -1)
            cx = (ox0 + ox1) / 2 + side * (0.35 * ow + 0.1 * w) + side * k * w * 0.6
            ny1 = min(max(oy1 + dy, h + 0.02), 0.985)
            boxes[s] = _clip((cx - w / 2, ny1 - h, cx + w / 2, ny1))
            if front:
                ents[s].z = max(ents[s].z, ents[o].z + 1)
            else:
                ents[o].z = max(ents[o].z, ents[s].z + 1)
            res.notes.append(f"{s} {'in front of' if front else 'behind'} {o}: "
                             f"{'lower and drawn over it' if front else 'higher and drawn under it'}")


def _lower_towers(stacked: dict[str, tuple[str, str]], size: dict[str, tuple[float, float]],
                  boxes: dict[str, tuple[float, float, float, float]], zone: dict[str, str]) -> None:
    """A stack that would run off the top of the canvas starts lower, when its base is free to move."""
    height: dict[str, float] = defaultdict(float)
    for s, (pred, _o) in stacked.items():
        if pred == "on":
            height[_root(s, stacked)] += size[s][1]
    for root, hgt in height.items():
        if root not in boxes or zone.get(root) in ("ground", "surface", "water"):
            continue
        b = boxes[root]
        shift = min(max(EDGE - (b[1] - hgt), 0.0), 0.97 - b[3])
        if shift > 0:
            boxes[root] = (b[0], b[1] + shift, b[2], b[3] + shift)


def _widen_carriers(plan: ScenePlan, size: dict[str, tuple[float, float]]) -> None:
    """Make a sign (any text carrier) wide enough for its string at a legible font size."""
    W, H = plan.canvas.width, plan.canvas.height
    lines: dict[str, list[TextBlock]] = defaultdict(list)
    for t in plan.texts:
        if t.on:
            lines[t.on].append(t)
    for eid, ts in lines.items():
        e = plan.entity(eid)
        ax0, ay0, ax1, ay1 = text_area(e)
        px = _font_px(plan, MIN_FONT_PX_256 + 6)
        need_w = max(text_extent(t.content, px)[0] for t in ts) * 1.15 / W / (ax1 - ax0)
        need_h = len(ts) * px * 1.4 / H / (ay1 - ay0)
        w, h = size[eid]
        f = max(1.0, need_h / h)  # taller for more lines, then wider (a longer board) for longer strings
        w, h = max(w * f, need_w), h * f
        size[eid] = (min(w, 0.96), min(h, 0.7))


def _place_texts(plan: ScenePlan, res: LayoutResult) -> None:
    """Text boxes sized so the exact string fits the font, inside the carrier's text area."""
    W, H = plan.canvas.width, plan.canvas.height
    max_px = _font_px(plan, MAX_FONT_PX_256)
    groups: dict[str | None, list[TextBlock]] = defaultdict(list)
    for t in plan.texts:
        groups[t.on].append(t)
    for on, ts in groups.items():
        if on is not None:
            e = plan.entity(on)
            assert e.box is not None
            bx0, by0, bx1, by1 = e.box
            ax0, ay0, ax1, ay1 = text_area(e)
            area = (bx0 + ax0 * (bx1 - bx0), by0 + ay0 * (by1 - by0), bx0 + ax1 * (bx1 - bx0), by0 + ay1 * (by1 - by0))
        else:
            used = max((b.box[3] for b in plan.entities if b.box and b.box[1] < 0.3), default=0.0)
            y0 = 0.03 if used < 0.2 else min(used + 0.02, 0.8)
            area = (0.05, y0, 0.95, min(y0 + 0.22, 0.98))
        aw, ah = (area[2] - area[0]) * W, (area[3] - area[1]) * H / len(ts)
        for k, t in enumerate(ts):
            if t.box is not None and on is None:
                continue
            px = min(max_px, fit_font_size(t.content, aw * 0.97, ah * 0.8, lo=4, hi=max_px))
            tw, th = text_extent(t.content, px)
            th = th or px  # no ink (a string of spaces): a box one line tall, never an empty one
            tw, th = min(tw + 0.03 * aw + 2, aw) / W, (th * 1.3) / H
            cx = (area[0] + area[2]) / 2
            cy = area[1] + (k + 0.5) * (area[3] - area[1]) / len(ts)
            t.box = _clip((cx - tw / 2, cy - th / 2, cx + tw / 2, cy + th / 2))


def _clip(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = b
    w, h = min(max(x1 - x0, 0.005), 1.0), min(max(y1 - y0, 0.005), 1.0)  # never an empty box (deep chains)
    x0 = min(max(x0, 0.0), 1.0 - w)
    y0 = min(max(y0, 0.0), 1.0 - h)
    return (round(x0, 4), round(y0, 4), round(x0 + w, 4), round(y0 + h, 4))


# ------------------------------------------------------------------------------------------------
# verification, repair, fallback
# ------------------------------------------------------------------------------------------------
def relation_holds(pred: str, a: tuple[float, ...], b: tuple[float, ...], c: tuple[float, ...] | None = None,
                   margin: float = MARGIN) -> bool:
    """Does box ``a`` stand in relation ``pred`` to box ``b`` (and ``c`` for between)?"""
    (ax, ay), (bx, by) = box_center(a), box_center(b)  # type: ignore[arg-type]
    if pred == "left_of":
        return bx - ax >= margin
    if pred == "right_of":
        return ax - bx >= margin
    if pred == "above":
        return by - ay >= margin
    if pred == "below":
        return ay - by >= margin
    if pred == "on":
        return abs(a[3] - b[1]) <= 0.03 and a[0] < b[2] and a[2] > b[0]
    if pred == "in":
        return a[0] >= b[0] - 0.01 and a[2] <= b[2] + 0.01 and a[1] >= b[1] - 0.01 and a[3] <= b[3] + 0.01
    if pred == "under":
        return ay > by and a[0] < b[2] and a[2] > b[0]
    if pred == "between" and c is not None:
        cx = box_center(c)[0]  # type: ignore[arg-type]
        return min(bx, cx) + margin <= ax <= max(bx, cx) - margin
    if pred in ("next_to", "near"):
        gap = max(b[0] - a[2], a[0] - b[2], 0.0)
        return gap <= 0.3 and abs(ay - by) <= 0.4
    return True  # behind / in_front_of are z-order only


def check_layout(plan: ScenePlan) -> list[str]:
    """Every constraint the plan's boxes break, in words (empty when all hold)."""
    expand = _member_index(plan)
    out: list[str] = []
    ents = {e.id: e for e in plan.entities}
    for e in plan.entities:
        if e.box is None:
            out.append(f"{e.id} has no box")
    if out:
        return out
    for r in plan.relations:
        c = None
        objs2 = expand(r.object2) if r.object2 else [None]
        for s in expand(r.subject):
            for o in expand(r.object):
                for o2 in objs2:
                    if s == o:
                        continue
                    c = ents[o2].box if o2 else None
                    if r.predicate in ("on", "in", "under") and ents[s].supported_by not in (o, None) and \
                            r.predicate != "under":
                        continue  # several supports named: only the chosen one must hold
                    if not relation_holds(r.predicate, ents[s].box, ents[o].box, c):  # type: ignore[arg-type]
                        ref = f"{o} and {o2}" if o2 else o
                        out.append(f"{s} {r.predicate.replace('_', ' ')} {ref}")
    min_px = _font_px(plan, MIN_FONT_PX_256)
    for t in plan.texts:
        if t.box is not None:
            px = fit_font_size(t.content, (t.box[2] - t.box[0]) * plan.canvas.width,
                               (t.box[3] - t.box[1]) * plan.canvas.height, lo=1)
            if px < min_px:
                out.append(f"text {t.content!r} fits only at {px}px (legible from {min_px}px)")
    stacked = set(_supports(plan))
    bands = _bands(plan)
    H = BACKGROUNDS[plan.background.kind].horizon
    tops = [e for e in plan.entities if e.id not in stacked]
    z_related = _z_related_pairs(plan)
    for i, a in enumerate(tops):
        for b in tops[i + 1:]:
            ov = box_overlap(a.box, b.box)  # type: ignore[arg-type]
            small = min(_area(a.box), _area(b.box))  # type: ignore[arg-type]
            if small > 0 and ov / small > 0.25 and (a.id, b.id) not in z_related:
                out.append(f"{a.id} overlaps {b.id} ({ov / small:.0%})")
    in_vertical = _in_vertical_relation(plan)
    for e in tops:
        z = _zone(e, plan)
        assert e.box is not None
        if z == "ground" and e.supported_by in ("ground", "table") and not (bands["ground"][0] - 0.12 <= e.box[3] <= 0.995):
            out.append(f"{e.id} floats (gravity: its bottom should touch the ground)")
        if z == "air" and e.category in CATEGORIES and box_center(e.box)[1] > max(H, 0.5) and e.id not in in_vertical:
            out.append(f"{e.id} is not in the sky")
    return out


def _area(b: tuple[float, ...]) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def _z_related_pairs(plan: ScenePlan) -> set[tuple[str, str]]:
    """Entity pairs (both orders) that a depth or stacking relation lets overlap: behind, in front of, on, in, under."""
    expand = _member_index(plan)
    pairs: set[tuple[str, str]] = set()
    for r in plan.relations:
        if r.predicate in ("behind", "in_front_of", "on", "in", "under"):
            objs = expand(r.object)
            for s in expand(r.subject):
                for o in objs:
                    pairs.update(((s, o), (o, s)))
    return pairs


def _in_vertical_relation(plan: ScenePlan) -> set[str]:
    """Ids of entities named (as subject or object) in an above / below relation."""
    expand = _member_index(plan)
    return {eid for r in plan.relations if r.predicate in VERTICAL
            for eid in expand(r.subject) + expand(r.object)}


def _fallback(plan: ScenePlan, res: LayoutResult) -> None:
    """Relations that still fail: move the subject to satisfy the relation against its reference."""
    expand = _member_index(plan)
    ents = {e.id: e for e in plan.entities}
    for r in plan.relations:
        if r.predicate not in HORIZONTAL + VERTICAL:
            continue
        for s in expand(r.subject):
            for o in expand(r.object):
                a, b = ents[s].box, ents[o].box
                if s == o or a is None or b is None or r.predicate == "between":
                    continue
                if relation_holds(r.predicate, a, b):
                    continue
                w, h = a[2] - a[0], a[3] - a[1]
                bx, by = box_center(b)
                if r.predicate in ("left_of", "right_of"):
                    side = -1 if r.predicate == "left_of" else 1
                    cx = bx + side * max((b[2] - b[0]) / 2 + w / 2 + GAP, MARGIN + 0.01)
                    cx = min(max(cx, w / 2), 1 - w / 2)
                    ents[s].box = _clip((cx - w / 2, a[1], cx + w / 2, a[3]))
                elif r.predicate in VERTICAL:
                    side = -1 if r.predicate == "above" else 1
                    cy = by + side * max((b[3] - b[1]) / 2 + h / 2 + 0.02, MARGIN + 0.01)
                    cy = min(max(cy, h / 2), 1 - h / 2)
                    ents[s].box = _clip((a[0], cy - h / 2, a[2], cy + h / 2))
                    if is_grounded(ents[s]) and ents[s].supported_by in ("ground", "table"):
                        res.notes.append(f"{s} lifted off its support to stay {r.predicate} {o}")
                        ents[s].supported_by = "air"
                res.notes.append(f"moved {s} to satisfy '{r.predicate}' {o}")


def _repair(plan: ScenePlan, res: LayoutResult) -> None:
    """Validate a plan that arrived with boxes; repair gravity and swapped relations, say what changed."""
    expand = _member_index(plan)
    bands = _bands(plan)
    stacked = _supports(plan)
    for e in plan.entities:
        assert e.box is not None
        x0, y0, x1, y1 = e.box
        if x1 - x0 < 0.02 or y1 - y0 < 0.02:
            cx, cy = box_center(e.box)
            e.box = _clip((cx - 0.02, cy - 0.02, cx + 0.02, cy + 0.02))
            res.notes.append(f"enlarged {e.id}: box was too small to draw")
        if e.id in stacked:
            continue
        z = _zone(e, plan)
        if z == "ground" and e.supported_by in (None, "ground", "table") and is_grounded(e):
            lo, hi = bands["ground"]
            b = e.box
            if not (lo - 0.12 <= b[3] <= 0.995):
                line = min(max(b[3], lo), hi)
                h = min(b[3] - b[1], line - 0.01)
                e.box = _clip((b[0], line - h, b[2], line))
                e.supported_by = "table" if plan.background.kind == "table" else "ground"
                res.notes.append(f"moved {e.id} to stand on the {e.supported_by} (gravity)")
    ents = {e.id: e for e in plan.entities}
    for r in plan.relations:
        if r.predicate not in ("left_of", "right_of", "above", "below"):
            continue
        for s in expand(r.subject):
            for o in expand(r.object):
                a, b = ents[s].box, ents[o].box
                if s == o or relation_holds(r.predicate, a, b):  # type: ignore[arg-type]
                    continue
                if r.predicate in ("left_of", "right_of") and relation_holds(
                        "right_of" if r.predicate == "left_of" else "left_of", a, b):  # type: ignore[arg-type]
                    dx = box_center(b)[0] - box_center(a)[0]  # type: ignore[arg-type]
                    ents[s].box = _clip((a[0] + dx, a[1], a[2] + dx, a[3]))  # type: ignore[index]
                    ents[o].box = _clip((b[0] - dx, b[1], b[2] - dx, b[3]))  # type: ignore[index]
                    res.notes.append(f"swapped {s} and {o} horizontally to satisfy '{r.predicate}'")
