"""The `builtin` critic: our trained segmenter (where object pixels are), our box verifier (what a planned box
holds: category and colour) and our text reader (models/reader.py: a small CRNN trained on the world's font,
which reads the single line in each planned text box). All three are bundled safetensors: the critic needs
nothing beyond pip. Tesseract stays the eval scorer's independent reader (eval/fidelity.py); the critic uses
it only when asked (``reader="tesseract"``, for comparison).

``BuiltinCritic().check(image, plan) -> Critique`` with one check per planned fact:
  presence  each entity: enough object pixels inside its box, and the verifier sees its category there
  color     each entity with a colour: the verifier's colour for its box
  count     each counted group: members found in place, plus extra blobs of the category elsewhere
  position  each left_of/right_of/above/below relation: centroids, 0.05 of the canvas apart
  absence   each negative that is a world category: no unplanned object the verifier takes for it
  text      each text block: the reader's line in its box (padded by 3 px) is the exact string
and a short reflection a person can read. Without a verifier (``verifier=False``) categories and colours
are read from the segmenter's maps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from thinkdraw.pixels import (
    OCR_SCALES,
    TEXT_PAD,
    box_px,
    boxes_mask,
    components,
    crop_box,
    point_relation_holds,
    require_tesseract,
    tesseract_line,
)
from thinkdraw.plan.schema import Check, Critique, ScenePlan
from thinkdraw.plan.words import with_article
from thinkdraw.world.vocab import CATEGORIES, CATEGORY_NAMES, CATEGORY_SYNONYMS, COLOR_NAMES

PRESENT_FILL = 0.15  # share of the box that must be object (not background) pixels
CATEGORY_SHARE = 0.3  # share of those object pixels' category probability that must be the planned category
CATEGORY_TOPK = 5  # ... or the planned category is among the box's most likely categories
ABSENT_AREA = 0.003  # share of the canvas: a blob of a negated category at least this big is a violation
VERIFY_SHARE = 0.2  # with the box verifier: its probability of the planned category must reach this, while
# its likeliest answer is not "nothing" (a smear whose likeliest answer was "nothing" passed on a 0.2-0.54 share:
# smear recall 0.933 -> 0.947 on bench_critic --n 300, 0.925 -> 0.939 with --seed 5; docs/reflect.md) ...
VERIFY_TOPK = 1  # ... or the planned category is its likeliest answer (2, its two likeliest, let most blurs
# and many hulls through: docs/reflect.md has the figures)
ABSENT_SHARE = 0.5  # an unplanned object is the excluded category when the verifier says so this surely
MARGIN = 0.05


def _a(noun: str) -> str:
    """'a ball', 'an apple' ('nothing' stays as it is)."""
    if noun in ("nothing", "unknown thing"):
        return noun
    return with_article(noun)


def _where(box) -> str:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    h = "left" if cx < 0.38 else "right" if cx > 0.62 else "centre"
    v = "top" if cy < 0.38 else "bottom" if cy > 0.62 else "middle"
    return {"centre": f"{v}" if v != "middle" else "centre"}.get(h, f"{v} {h}" if v != "middle" else h)


@dataclass
class _Look:
    """One image seen by the critic's networks against one plan, and the checks written so far."""

    image: Image.Image
    plan: ScenePlan
    pc: np.ndarray  # segmenter: category probabilities (C, S, S), 0 = background
    po: np.ndarray  # segmenter: colour probabilities (K, S, S)
    S: int
    vc: np.ndarray | None  # verifier: category probabilities per judged box (0 = nothing)
    vo: np.ndarray | None  # verifier: colour probabilities per judged box
    vrow: dict[str, int]  # entity id -> its row in vc / vo
    fg: np.ndarray  # anything but background
    claimed: np.ndarray  # cells inside some planned box (padded)
    checks: list[Check] = field(default_factory=list)
    soft: dict[int, float] = field(default_factory=dict)  # check index -> graded evidence (default: passed)
    found: dict[str, tuple[float, float] | None] = field(default_factory=dict)  # where each thing was seen
    present: dict[str, bool] = field(default_factory=dict)  # entity id -> its presence check passed
    phrases: list[str] = field(default_factory=list)
    extra_regions: list[tuple[float, float, float, float]] = field(default_factory=list)

    def add(self, check: Check, soft: float | None = None) -> int:
        self.checks.append(check)
        if soft is not None:
            self.soft[len(self.checks) - 1] = soft
        return len(self.checks) - 1

    def critique(self) -> Critique:
        checks, plan, phrases = self.checks, self.plan, list(self.phrases)
        score = sum(c.passed for c in checks) / len(checks) if checks else 1.0
        evidence = (sum(self.soft.get(i, float(c.passed)) for i, c in enumerate(checks)) / len(checks)
                    if checks else 1.0)
        # things outside the world: drawn as placeholders, never counted as a success
        unchecked = [e.id for e in plan.entities if e.category not in CATEGORIES]
        for e in plan.entities:
            if e.category not in CATEGORIES:
                phrases.append(f"the {e.noun} ({e.id}) is outside the built-in world: drawn as a placeholder, "
                               f"not checked")
        if phrases:
            reflection = "; ".join(phrases) + "."
        else:
            reflection = "everything planned is there." if checks else "there is nothing the critic can check."
        failed = [c.box for c in checks if not c.passed and c.box is not None] + self.extra_regions
        return Critique(checks=checks, score=score, evidence=evidence,
                        reflection=reflection[:1].upper() + reflection[1:], failed_regions=failed,
                        unchecked=unchecked)


class BuiltinCritic:
    name = "builtin"

    def __init__(self, path: str | None = None, segmenter=None, ocr: bool = True, verifier=None,
                 verifier_path: str | None = None, reader=None, reader_path: str | None = None,
                 weights: str | None = None) -> None:
        """``path``/``segmenter``: the segmenter (default: the bundled one); ``verifier_path``/``verifier``: the
        box verifier (default: the bundled one; ``verifier=False`` judges categories and colours from the
        segmenter's maps alone); ``reader_path``/``reader``: the text reader (default: the bundled one;
        ``reader="tesseract"`` reads with the Tesseract binary instead, for comparison); ``ocr=False``: no
        text checks; ``weights``: a weights folder for the networks it holds (see models/weights.py)."""
        from thinkdraw.models.bundled import load_reader, load_segmenter, load_verifier, set_threads

        set_threads()
        # channels-last: the segmenter runs in 15 ms instead of 22 on 2 CPU cores
        self.model = (segmenter or load_segmenter(path, weights)).eval().to(memory_format=torch.channels_last)
        self.verifier = None if verifier is False else (verifier or load_verifier(verifier_path, weights)).eval()
        self._ocr_cache: dict[tuple[bytes, str], tuple[str, float]] = {}
        self.use_ocr = ocr
        self.reader = None
        if ocr and reader == "tesseract":
            require_tesseract()  # one clear line when it is missing; the default reader needs nothing
            self.reader = "tesseract"
        elif ocr:
            self.reader = (reader or load_reader(reader_path, weights)).eval()

    @torch.inference_mode()
    def verify(self, image, boxes) -> tuple[np.ndarray, np.ndarray]:
        """The box verifier on each box: (category probabilities N x 27, 0 = nothing; colour N x 12)."""
        from thinkdraw.models.verifier import crop_square, to_input

        if not boxes:
            return np.zeros((0, 27), np.float32), np.zeros((0, 12), np.float32)
        arr = np.asarray(image.convert("RGB"))
        c = self.verifier.config
        x = to_input(np.stack([crop_square(arr, b, c.size, c.pad) for b in boxes]))
        lc, lo = self.verifier(x)
        return lc.softmax(1).numpy(), lo.softmax(1).numpy()

    @torch.inference_mode()
    def segment(self, image) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel probabilities: categories (C,S,S) and colours (K,S,S) at the segmenter's resolution."""
        x = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32).transpose(2, 0, 1).copy())[None]
        lc, lo = self.model((x / 127.5 - 1.0).contiguous(memory_format=torch.channels_last))
        return lc[0].softmax(0).numpy(), lo[0].softmax(0).numpy()

    def check(self, image, plan: ScenePlan) -> Critique:
        """One check per planned fact, each kind in its own function over one shared look at the image."""
        look = self._look(image, plan)
        for e in plan.entities:
            if e.box is not None and e.category in CATEGORIES:
                self._check_presence(look, e)
                self._check_color(look, e)
        self._check_counts(look)
        self._check_positions(look)
        self._check_absences(look)
        if self.use_ocr:
            self._check_texts(look)
        return look.critique()

    def _look(self, image, plan: ScenePlan) -> _Look:
        """What the networks see, once per image: the segmenter's maps, the verifier on every planned box."""
        pc, po = self.segment(image)
        S = pc.shape[1]
        vc = vo = None
        vrow: dict[str, int] = {}
        if self.verifier is not None:
            judged = [e for e in plan.entities if e.box is not None and e.category in CATEGORIES]
            vrow = {e.id: i for i, e in enumerate(judged)}
            vc, vo = self.verify(image, [e.box for e in judged])
        claimed = boxes_mask([e.box for e in plan.entities if e.box is not None], S, S, pad=2)
        return _Look(image=image, plan=plan, pc=pc, po=po, S=S, vc=vc, vo=vo, vrow=vrow, fg=pc[0] < 0.5,
                     claimed=claimed)

    def _check_presence(self, look: _Look, e) -> None:
        """The entity is there (enough object pixels in its box) and looks like its category; where it is."""
        pc, S = look.pc, look.S
        cid = CATEGORY_NAMES.index(e.category) + 1
        x0, y0, x1, y1 = box_px(e.box, S, S)
        m = look.fg[y0:y1, x0:x1]
        fill = float(m.mean())
        # the plan says what should be here: the expected category must be well represented among the
        # object pixels of the box (generated objects are blurrier than the world's, so its share, not
        # a per-pixel argmax, decides)
        if look.vc is not None:
            share, rank, top = _verifier_evidence(look.vc[look.vrow[e.id]], cid)
            # a share of the planned category is enough between categories (a ball that is a little like an
            # apple), never against "nothing": what the verifier takes first for no thing is a blob
            cat_ok = (share >= VERIFY_SHARE and top != "nothing") or rank < VERIFY_TOPK
        else:
            share, rank, top = _category_evidence(pc, m, (x0, y0, x1, y1), cid)
            cat_ok = share >= CATEGORY_SHARE or rank < CATEGORY_TOPK
        ok = fill >= PRESENT_FILL and cat_ok
        look.present[e.id] = ok
        observed = f"{fill:.0%} of its box filled, {share:.0%} {e.category}" + (
            f" (mostly {top})" if top != e.category else "")
        conf = float(min(1.0, abs(fill - PRESENT_FILL) / PRESENT_FILL))
        soft = None
        if not ok:
            # graded: how much of the box is filled, how likely its category, and (for a stated colour,
            # which is not checked while the thing itself fails) how much of the planned colour it has
            ref = VERIFY_SHARE if look.vc is not None else CATEGORY_SHARE
            parts = [min(1.0, fill / PRESENT_FILL), min(1.0, share / ref)]
            if look.vo is not None and e.attributes.color in COLOR_NAMES:
                pk = look.vo[look.vrow[e.id], 1:]
                parts.append(float(pk[COLOR_NAMES.index(e.attributes.color)] / max(1e-9, float(pk.max()))))
            soft = sum(parts) / len(parts)
        k = look.add(Check(kind="presence", target=e.id, expected=e.category, observed=observed, passed=ok,
                           box=e.box, confidence=conf), soft)
        if fill >= PRESENT_FILL:
            # where the thing is (for counts and relations), whatever the verdict on what it is
            w = (0.25 + pc[cid, y0:y1, x0:x1]) * m
            ys, xs = np.mgrid[y0:y1, x0:x1]
            look.found[e.id] = (float((xs * w).sum() / w.sum() + 0.5) / S, float((ys * w).sum() / w.sum() + 0.5) / S)
            if not ok:
                look.phrases.append(f"the {e.noun} ({e.id}) does not look like {_a(e.category)} (more like "
                                    f"{_a(top)}) at the {_where(e.box)}")
            return
        # not there: is it somewhere else? a blob of its category outside every planned box
        elsewhere = self._confirm(look.image, _blobs((pc[cid] > 0.5) & ~look.claimed,
                                                     min_cells=max(4, (x1 - x0) * (y1 - y0) // 3)), cid, S)
        if elsewhere and e.group is None:
            b = max(elsewhere, key=lambda b: b[4])
            box = (b[0] / S, b[1] / S, b[2] / S, b[3] / S)
            look.found[e.id] = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            look.extra_regions.append(box)
            look.phrases.append(f"the {e.noun} ({e.id}) is at the {_where(box)} instead of the {_where(e.box)}")
            look.checks[k] = look.checks[k].model_copy(update={"observed": f"found elsewhere, at the {_where(box)}"})
        else:
            look.found[e.id] = None
            look.phrases.append(f"the {e.noun} ({e.id}) is missing at the {_where(e.box)}")

    def _check_color(self, look: _Look, e) -> None:
        """A thing that is there has its planned colour (the verifier's colour for its box)."""
        if e.attributes.color not in COLOR_NAMES or not look.present.get(e.id):
            return
        if look.vo is not None:
            hist = look.vo[look.vrow[e.id], 1:]
        else:
            cid = CATEGORY_NAMES.index(e.category) + 1
            x0, y0, x1, y1 = box_px(e.box, look.S, look.S)
            wts = (look.pc[cid, y0:y1, x0:x1] * look.fg[y0:y1, x0:x1])[None]
            hist = (look.po[1:, y0:y1, x0:x1] * wts).reshape(len(COLOR_NAMES), -1).sum(1)
        seen = COLOR_NAMES[int(hist.argmax())] if hist.sum() else None
        cshare = float(hist.max() / max(1e-9, hist.sum()))
        good = seen == e.attributes.color
        want = float(hist[COLOR_NAMES.index(e.attributes.color)] / max(1e-9, hist.sum()))
        look.add(Check(kind="color", target=e.id, expected=e.attributes.color, observed=seen, passed=good, box=e.box,
                       confidence=cshare), 1.0 if good else min(1.0, want / max(1e-9, float(hist.max()))))
        if not good:
            look.phrases.append(f"the {e.noun} ({e.id}) is {seen} instead of {e.attributes.color}")

    def _check_counts(self, look: _Look) -> None:
        """Each counted group: its members found in place, and no extra blob of its category elsewhere."""
        groups: dict[str, list] = {}
        for e in look.plan.entities:
            if e.group and e.category in CATEGORIES:
                groups.setdefault(e.group, []).append(e)
        for g, members in groups.items():
            inplace = sum(look.found.get(e.id) is not None for e in members)
            blobs = self._extra(look.pc, look.claimed, members, look.S)
            cidg = CATEGORY_NAMES.index(members[0].category) + 1
            blobs = self._confirm(look.image, blobs, cidg, look.S, boxes=blobs)
            extra = len(blobs)
            look.extra_regions += blobs
            n = inplace + extra
            ok = inplace == len(members) and extra == 0
            missing = [e.box for e in members if look.found.get(e.id) is None] or [e.box for e in members]
            box = (min(b[0] for b in missing), min(b[1] for b in missing), max(b[2] for b in missing),
                   max(b[3] for b in missing))
            look.add(Check(kind="count", target=g, expected=len(members), observed=n, passed=ok,
                           box=box if inplace < len(members) else None))
            if not ok:
                look.phrases.append(f"there are {n} {members[0].noun}s instead of {len(members)}")

    def _check_positions(self, look: _Look) -> None:
        """Each left_of/right_of/above/below relation, between the centroids of what was found."""
        plan = look.plan
        for r in plan.relations:
            if r.predicate not in ("left_of", "right_of", "above", "below"):
                continue
            ok, known = True, True
            for s in plan.members(r.subject):
                for o in plan.members(r.object):
                    a, b = look.found.get(s.id), look.found.get(o.id)
                    if a is None or b is None:
                        known = False
                        continue
                    ok &= point_relation_holds(r.predicate, a, b, MARGIN)
            target = f"{r.subject} {r.predicate} {r.object}"
            look.add(Check(kind="position", target=target, expected=r.predicate,
                           observed="holds" if ok and known else ("unknown" if not known else "violated"),
                           passed=ok and known, confidence=1.0 if known else 0.3))
            if known and not ok:
                look.phrases.append(f"the {r.subject} is not {r.predicate.replace('_', ' ')} the {r.object}")
            elif not known:  # a failed check always says why: here, a thing it relates was not found
                look.phrases.append(f"cannot tell whether the {r.subject} is {r.predicate.replace('_', ' ')} the "
                                    f"{r.object} (not both found)")

    def _check_absences(self, look: _Look) -> None:
        """Each excluded world category: no unplanned object that the verifier (or segmenter) takes for it."""
        S = look.S
        for neg in look.plan.negatives:
            c = neg if neg in CATEGORIES else CATEGORY_SYNONYMS.get(neg)
            if c is None:
                continue
            # an object of the excluded category: a blob of it, or an unplanned object (outside every box)
            # among whose likeliest categories it is
            ncid = CATEGORY_NAMES.index(c) + 1
            minc = max(4, int(ABSENT_AREA * S * S))
            unplanned = look.fg & ~look.claimed
            if self.verifier is not None:
                # every unplanned object, and every blob the segmenter calls the excluded category: the
                # verifier decides what each one is
                cands = _blobs(unplanned, min_cells=minc)
                cands += [b for b in _blobs(look.pc[ncid] > 0.5, min_cells=minc) if b not in cands]
                blobs = self._confirm(look.image, cands, ncid, S, share=ABSENT_SHARE)
            else:
                blobs = _blobs(look.pc[ncid] > 0.5, min_cells=minc)
                for b in _blobs(unplanned, min_cells=minc):
                    sub = unplanned[b[1]:b[3], b[0]:b[2]]
                    share, rank, _ = _category_evidence(look.pc, sub, b[:4], ncid)
                    if (share >= CATEGORY_SHARE or rank < CATEGORY_TOPK) and b not in blobs:
                        blobs.append(b)
            ok = not blobs
            boxes = [(b[0] / S, b[1] / S, b[2] / S, b[3] / S) for b in blobs]
            look.extra_regions += boxes
            look.add(Check(kind="absence", target=neg, expected="absent",
                           observed=f"{len(blobs)} found" if blobs else "none", passed=ok,
                           box=(min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                                max(b[3] for b in boxes)) if boxes else None))
            if not ok:
                look.phrases.append(f"{_a(neg)} appears although the prompt excludes it")

    def _check_texts(self, look: _Look) -> None:
        """Each text block: the reader's line in its box (padded by 3 px) is the exact string."""
        # a refine round leaves pixels outside its mask bit-identical, so an unchanged crop is not read twice;
        # the reader sees no plan, so a changed letter is read as drawn
        plan = look.plan
        blocks = [t for t in plan.texts if t.box is not None]
        crops = [crop_box(look.image, t.box, TEXT_PAD) for t in blocks]
        keys = [(hashlib.sha1(c.tobytes()).digest() + bytes(f"{c.size}", "ascii"), t.content)
                for c, t in zip(crops, blocks, strict=True)]
        todo = [i for i, k in enumerate(keys) if k not in self._ocr_cache]
        if todo:
            reads = self.read([crops[i] for i in todo], [blocks[i].content for i in todo])
            if len(self._ocr_cache) + len(todo) > 256:
                self._ocr_cache.clear()
            for i, r in zip(todo, reads, strict=True):
                self._ocr_cache[keys[i]] = r
        for t, k in zip(blocks, keys, strict=True):
            read, conf = self._ocr_cache[k]
            ok = read == t.content
            look.add(Check(kind="text", target=t.id, expected=t.content, observed=read, passed=ok, box=t.box,
                           confidence=conf))
            if not ok:
                look.phrases.append(f"the {plan.entity(t.on).noun if t.on else 'text'} reads {read!r} instead of "
                                    f"{t.content!r}")

    def read(self, crops, expected: list[str] | None = None) -> list[tuple[str, float]]:
        """(string, confidence) for each text crop, by the critic's reader (one batch)."""
        if self.reader == "tesseract":
            out = []
            for crop, want in zip(crops, expected or [None] * len(crops), strict=True):
                for scale in OCR_SCALES:  # its reading of small text depends on the upscale: the first exact one
                    read = tesseract_line(crop, scale)
                    if read == want:
                        break
                out.append((read, 1.0))
            return out
        return self.reader.read_with_confidence(list(crops))

    def _confirm(self, image, blobs, cid: int, S: int, share: float | None = None, boxes=None):
        """The blobs that the verifier takes for category ``cid`` (all of them without a verifier). ``blobs``
        are cells of an S x S map, or anything when ``boxes`` gives their normalised boxes."""
        if self.verifier is None or not blobs:
            return blobs
        boxes = boxes or [(b[0] / S, b[1] / S, b[2] / S, b[3] / S) for b in blobs]
        vc, _ = self.verify(image, boxes)
        need = VERIFY_SHARE if share is None else share
        return [b for b, p in zip(blobs, vc, strict=True) if p[cid] >= need or int(p.argmax()) == cid]

    @staticmethod
    def _extra(pc: np.ndarray, claimed: np.ndarray, members, S: int) -> list[tuple[float, float, float, float]]:
        """Boxes of blobs of the group's category outside every planned box (at least a third of a member)."""
        cid = CATEGORY_NAMES.index(members[0].category) + 1
        area = np.mean([(e.box[2] - e.box[0]) * (e.box[3] - e.box[1]) * S * S for e in members])
        return [(b[0] / S, b[1] / S, b[2] / S, b[3] / S)
                for b in _blobs((pc[cid] > 0.5) & ~claimed, min_cells=max(4, int(area / 3)))]


def _verifier_evidence(p: np.ndarray, cid: int) -> tuple[float, int, str]:
    """(verifier probability of the planned category, its rank, the verifier's top category)."""
    names = ["nothing", *CATEGORY_NAMES]
    return float(p[cid]), int((p > p[cid]).sum()), names[int(p.argmax())]


def _category_evidence(pc: np.ndarray, m: np.ndarray, cells, cid: int) -> tuple[float, int, str]:
    """(share of the planned category in the object pixels' probability mass, its rank, the top category)."""
    x0, y0, x1, y1 = cells
    if not m.any():
        return 0.0, len(CATEGORY_NAMES), "nothing"
    cats = pc[1:, y0:y1, x0:x1][:, m].sum(1)
    tot = cats.sum()
    names = [*CATEGORY_NAMES, "text", "unknown thing"]
    k = int(cats.argmax())
    return (float(cats[cid - 1] / tot) if tot else 0.0, int((cats > cats[cid - 1]).sum()),
            names[k] if k < len(names) else "unknown thing")


def _blobs(m: np.ndarray, min_cells: int) -> list[tuple[int, int, int, int, int]]:
    """4-connected components of ``m`` with at least ``min_cells`` cells: (x0, y0, x1, y1, size)."""
    return components(m, min_cells)
