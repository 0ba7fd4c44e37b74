"""Describe: pixels -> ScenePlan, with the bundled critic's networks and its text reader (no plan needed).

  things      the segmenter's category map (a 128x128 grid): for each world category, its 4-connected blobs
              of object pixels of at least MIN_CELLS cells; each blob's box goes to the box verifier, which
              confirms (or corrects) the category and names the colour; blobs it calls "nothing" are dropped
  texts       the segmenter's text pixels: inside a thing that carries text (sign, banner, poster) one line
              per thing, elsewhere lines found by joining letters along rows; each line's box (padded the
              way the layout pads a text box) is read by the critic's text reader
  background  the world's 18 backgrounds (6 kinds x 3 times of day) compared with the pixels the segmenter
              calls background: the closest one
  the rest    sizes from the box against the category's usual width, support from where the category
              lives (the ground, the table, the water, the air), groups for several things of one kind

``describe_image(image, critic)`` -> (ScenePlan, Reasoning). ``critic`` must offer ``segment(image)`` and
``verify(image, boxes)`` (the builtin critic does); its ``reader`` (or the bundled one) reads the texts.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from thinkdraw.edit.geometry import habitat, is_grounded
from thinkdraw.pixels import components
from thinkdraw.plan.schema import (
    Attributes,
    Background,
    Canvas,
    Entity,
    Reasoning,
    ScenePlan,
    TextBlock,
    box_overlap,
    to_got,
)
from thinkdraw.world.vocab import BACKGROUND_KINDS, CATEGORIES, CATEGORY_NAMES, COLOR_NAMES, TIMES

MIN_CELLS = 12  # of the 128x128 map: smaller blobs are noise
TEXT_ID = len(CATEGORY_NAMES) + 1  # the segmenter's text class
VERIFY_KEEP = 0.3  # a blob is kept when the verifier gives its category this much, or names it first
SPLIT_FACTOR = 1.5  # a blob wider or taller than this many times its kind's usual size is tried in pieces
EDGE_STEP = 40.0  # a brightness step (0-255) between neighbouring pixels that marks an outline
# drawn in two colours (a kite's alternate quarters and bows): the segmenter's colour map, which gives every
# pixel of a thing that thing's colour, names it better than the box verifier (9 of 11 held-out kites
# against 7 of 11), which often names the second colour
TWO_TONE = {"kite"}


def load_describer(weights: str | None = None):
    """The builtin critic's networks (segmenter, text reader when its weights are installed) with describe's own
    box verifier: the critic's was trained to call a blob of a thing's colour "nothing" (issue 11), and from
    the loosely cut boxes of the segmenter's blobs it then drops real things (sketch renders, seed 2: recall
    0.902 against 0.955 with the verifier trained without blob negatives, `describer.safetensors`)."""
    from thinkdraw.models.bundled import load_describer_verifier
    from thinkdraw.reflect.builtin import BuiltinCritic

    verifier = load_describer_verifier(folder=weights)
    try:
        return BuiltinCritic(verifier=verifier, weights=weights)
    except Exception:  # noqa: BLE001 - the text reader's weights missing: describe reads no text, says so
        return BuiltinCritic(verifier=verifier, weights=weights, ocr=False)


def _reader(critic):
    r = getattr(critic, "reader", None)
    if r is not None and hasattr(r, "read_with_confidence"):
        return r
    try:
        from thinkdraw.models.bundled import load_reader

        return load_reader().eval()
    except Exception:  # noqa: BLE001
        return None


def _background(img: np.ndarray, bg_mask: np.ndarray) -> tuple[str, str, float]:
    from thinkdraw.pixels import background_of

    H, W = img.shape[:2]
    best = None
    if bg_mask.sum() < 50:
        bg_mask = np.ones_like(bg_mask)
    for kind in BACKGROUND_KINDS:
        for time in TIMES:
            ref = background_of(ScenePlan(canvas=Canvas(width=W, height=H),
                                          background=Background(kind=kind, time=time)), W, H)
            d = float(np.median(np.abs(ref[bg_mask] - img[bg_mask]).sum(-1)))
            if best is None or d < best[2]:
                best = (kind, time, d)
    return best  # type: ignore[return-value]


def _size(cat: str, box) -> str | None:
    c = CATEGORIES.get(cat)
    if c is None:
        return None
    r = (box[2] - box[0]) / c.width
    return "small" if r < 0.82 else "large" if r > 1.22 else None


def _dilate_rows(m: np.ndarray, k: int) -> np.ndarray:
    out = m.copy()
    for d in range(1, k + 1):
        out[:, d:] |= m[:, :-d]
        out[:, :-d] |= m[:, d:]
    out[1:] |= m[:-1]
    out[:-1] |= m[1:]
    return out


def describe_image(image: Image.Image, critic) -> tuple[ScenePlan, Reasoning]:
    img = image.convert("RGB")
    W, H = img.size
    arr = np.asarray(img, np.float32)
    pc, po = critic.segment(img)
    S = pc.shape[1]
    am = pc.argmax(0)
    reasoning = Reasoning()
    # things: blobs per category, confirmed by the verifier; a blob far bigger than one of its kind (touching
    # signs, posters side by side) is also cut along the drawing's outlines, and the pieces replace it when
    # the verifier confirms every one
    blobs = []
    pieces: dict[int, list[int]] = {}
    edges = None
    for k, cat in enumerate(CATEGORY_NAMES, start=1):
        for x0, y0, x1, y1, n in components(am == k, MIN_CELLS):
            box = (x0 / S, y0 / S, x1 / S, y1 / S)
            blobs.append((cat, box, n))
            if _too_big(cat, box):
                edges = _edges(arr, S) if edges is None else edges
                sub = (am == k)[y0:y1, x0:x1] & ~edges[y0:y1, x0:x1]
                parts = _pieces(components(sub, 1), n)
                if len(parts) >= 2:
                    i = len(blobs) - 1
                    pieces[i] = []
                    for px0, py0, px1, py1, pn in parts:  # grown back by the outline cut away
                        pieces[i].append(len(blobs))
                        blobs.append((cat, (max(0, x0 + px0 - 1) / S, max(0, y0 + py0 - 1) / S,
                                            min(S, x0 + px1 + 1) / S, min(S, y0 + py1 + 1) / S), pn))
    vc, vo = critic.verify(img, [b for _, b, _ in blobs]) if blobs else (np.zeros((0, 27)), np.zeros((0, 12)))
    skip = {j for js in pieces.values() for j in js}
    for i, js in pieces.items():
        k = CATEGORY_NAMES.index(blobs[i][0]) + 1
        sure = [j for j in js if vc[j][k] >= VERIFY_KEEP or int(vc[j].argmax()) == k]
        whole = vc[i][k] >= VERIFY_KEEP or int(vc[i].argmax()) == k
        if len(sure) == len(js) or (sure and not whole):  # all pieces confirmed, or only some and not the whole
            skip.add(i)
            skip -= set(sure)
    found = []
    dropped = 0
    for idx, ((cat, box, n), p, q) in enumerate(zip(blobs, vc, vo, strict=True)):
        if idx in skip:
            continue
        k = CATEGORY_NAMES.index(cat) + 1
        top = int(p.argmax())
        if p[k] >= VERIFY_KEEP or top == k:
            name = cat
        elif top != 0 and p[top] >= 0.5:
            name = CATEGORY_NAMES[top - 1]
        else:
            dropped += 1
            continue
        ci = int(q[1:].argmax()) + 1
        if name in TWO_TONE:
            ci = _segmenter_color(po, am == CATEGORY_NAMES.index(name) + 1, box, S) or ci
        found.append((name, box, COLOR_NAMES[ci - 1], n))
    # two blobs of one kind inside each other (a fragment): keep the bigger
    found.sort(key=lambda f: -f[3])
    kept = []
    for f in found:
        if any(g[0] == f[0] and _inside(f[1], g[1]) for g in kept):
            continue
        # a small blob of another kind stuck to a bigger thing's box is a misread part of it
        if any(g[0] != f[0] and f[3] < 0.5 * g[3] and box_overlap(f[1], g[1]) > 0.3 * _area(f[1]) for g in kept):
            dropped += 1
            continue
        kept.append(f)
    kept.sort(key=lambda f: ((f[1][0] + f[1][2]) / 2, f[1][1]))
    counts: dict[str, int] = {}
    for f in kept:
        counts[f[0]] = counts.get(f[0], 0) + 1
    bg_kind, bg_time, bg_d = _background(arr, np.kron(am == 0, np.ones((H // S, W // S), bool))
                                         if H % S == 0 and W % S == 0 else np.ones((H, W), bool))
    entities = []
    seen: dict[str, int] = {}
    for cat, box, color, _ in kept:
        seen[cat] = seen.get(cat, 0) + 1
        c = CATEGORIES[cat]
        e = Entity(id=f"{cat}_{seen[cat]}", noun=cat, category=cat, group=cat if counts[cat] > 1 else None,
                   attributes=Attributes(color=color, size=_size(cat, box), default_color=False), box=box)
        hab = habitat(e)
        e.supported_by = ("air" if not is_grounded(e) else "water" if hab == "surface" and bg_kind == "sea"
                          else "table" if bg_kind == "table" else "ground")
        del c
        entities.append(e)
    for e in entities:  # a thing drawn inside a bigger one is in front of it
        e.z = sum(1 for o in entities if o is not e and _inside(e.box, o.box))
    # texts
    texts = []
    text_px = am == TEXT_ID
    reader = _reader(critic)
    carriers = [e for e in entities if CATEGORIES[e.category].carries_text]
    free = text_px.copy()
    lines: list[tuple[tuple[float, float, float, float], str | None]] = []
    for e in carriers:
        x0, y0, x1, y1 = (int(e.box[0] * S), int(e.box[1] * S), int(np.ceil(e.box[2] * S)), int(np.ceil(e.box[3] * S)))
        m = np.zeros_like(text_px)
        m[y0:y1, x0:x1] = text_px[y0:y1, x0:x1]
        free[y0:y1, x0:x1] = False
        if m.sum() >= 4:
            ys, xs = np.nonzero(m)
            lines.append(((xs.min() / S, ys.min() / S, (xs.max() + 1) / S, (ys.max() + 1) / S), e.id))
    for x0, y0, x1, y1, _n in components(_dilate_rows(free, 3), 8):
        if (free[y0:y1, x0:x1]).sum() >= 4:
            lines.append(((x0 / S, y0 / S, x1 / S, y1 / S), None))
    if lines and reader is None:
        reasoning.add("describe", f"{len(lines)} line(s) of text seen, not read: the text reader's weights are not "
                                  f"installed.")
    elif lines:
        from thinkdraw.models.reader import crop_text

        boxes = [_text_box(b) for b, _ in lines]
        reads = reader.read_with_confidence([crop_text(img, b) for b in boxes])
        for (_b, on), box, (content, conf) in zip(lines, boxes, reads, strict=True):
            content = content.strip()
            if not content:
                continue
            texts.append(TextBlock(id=f"text_{len(texts) + 1}", content=content, box=box, on=on))
            reasoning.add("describe", f"Text {content!r}" + (f" on {on}" if on else "") +
                          f" at {list(to_got(box))} (reader confidence {conf:.2f}).")
    plan = ScenePlan(canvas=Canvas(width=W, height=H), background=Background(kind=bg_kind, time=bg_time),
                     entities=entities, texts=texts)
    from thinkdraw.edit.apply import state_prompt

    plan.prompt = state_prompt(plan)
    reasoning.add("describe", f"Seen {len(entities)} thing(s) with the segmenter and the box verifier"
                              + (f" ({dropped} blob(s) the verifier called nothing were dropped)" if dropped else "")
                              + ": " + (", ".join(f"{e.id} ({e.attributes.color}, {list(to_got(e.box))})"
                                                   for e in entities) or "none") + ".")
    reasoning.add("describe", f"Background: {bg_kind} at {bg_time} (the closest of the world's "
                              f"{len(BACKGROUND_KINDS) * len(TIMES)} backgrounds; median difference {bg_d:.0f}).")
    reasoning.add("describe", f"So the image shows {plan.prompt}.")
    return plan, reasoning


def _too_big(cat: str, box) -> bool:
    """A blob much bigger than one thing of its kind at its largest: perhaps several touching ones."""
    c = CATEGORIES.get(cat)
    if c is None:
        return False
    w, h = c.width * SPLIT_FACTOR, c.width * c.aspect * SPLIT_FACTOR
    return (box[2] - box[0]) > w or (box[3] - box[1]) > h


def _pieces(parts: list, n: int) -> list:
    """The big pieces of a blob cut along outlines (each >= 15% of it), each grown by the small bits (posts,
    legs) under it (else over it)."""
    big = [list(p) for p in parts if p[4] >= 0.15 * n and p[4] >= MIN_CELLS]
    for x0, y0, x1, y1, m in parts:
        if m >= 0.15 * n or not big:
            continue
        cx = (x0 + x1) / 2
        under = [b for b in big if b[0] <= cx <= b[2]]
        if not under:
            continue
        above = [b for b in under if b[3] <= y0 + 1]  # a post hangs from the board over it
        b = min(above or under, key=lambda b: min(abs(y0 - b[3]), abs(b[1] - y1)))
        b[0], b[1], b[2], b[3], b[4] = min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1), b[4] + m
    return [tuple(b) for b in big]


def _edges(arr: np.ndarray, S: int) -> np.ndarray:
    """The drawing's outlines on the segmenter's S x S grid: cells holding a strong brightness step."""
    g = arr.mean(-1)
    e = np.zeros(g.shape, bool)
    e[:, 1:] |= np.abs(np.diff(g, axis=1)) > EDGE_STEP
    e[1:, :] |= np.abs(np.diff(g, axis=0)) > EDGE_STEP
    H, W = e.shape
    if H % S or W % S:
        ys = (np.arange(S) * H) // S
        xs = (np.arange(S) * W) // S
        return e[np.ix_(ys, xs)]
    return e.reshape(S, H // S, S, W // S).any(axis=(1, 3))


def _segmenter_color(po: np.ndarray, mask: np.ndarray, box, S: int) -> int | None:
    """The colour the segmenter's colour map gives the thing's own cells in ``box`` (1-based), or None."""
    x0, y0, x1, y1 = (int(box[0] * S), int(box[1] * S), int(np.ceil(box[2] * S)), int(np.ceil(box[3] * S)))
    m = np.zeros_like(mask)
    m[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
    if not m.any() or po.shape[0] != len(COLOR_NAMES) + 1:
        return None
    return int(po[1:, m].mean(1).argmax()) + 1


def _area(b) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def _inside(a, b, tol: float = 0.02) -> bool:
    return a[0] >= b[0] - tol and a[1] >= b[1] - tol and a[2] <= b[2] + tol and a[3] <= b[3] + tol and a != b


def _text_box(b) -> tuple[float, float, float, float]:
    """The glyphs' extent grown the way the layout sizes a text box around its string."""
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    px, py = 0.02 * w + 1 / 256, 0.15 * h
    return (max(0.0, x0 - px), max(0.0, y0 - py), min(1.0, x1 + px), min(1.0, y1 + py))
