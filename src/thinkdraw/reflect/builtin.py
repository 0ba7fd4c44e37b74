"""The `builtin` critic: our trained segmenter (category + colour per pixel) plus Tesseract for text.

``BuiltinCritic().check(image, plan) -> Critique`` with one check per planned fact:
  presence  each entity: enough pixels of its category inside its box
  color     each entity with a colour: the majority colour of those pixels
  count     each counted group: members found in place, plus extra blobs of the category elsewhere
  position  each left_of/right_of/above/below relation: centroids, 0.05 of the canvas apart
  absence   each negative that is a world category: (almost) no pixels of it
  text      each text block: OCR of its box reads the exact string
and a short reflection a person can read.
"""

from __future__ import annotations

import numpy as np
import torch

from thinkdraw.plan.layout import relation_holds
from thinkdraw.plan.schema import Check, Critique, ScenePlan
from thinkdraw.world.vocab import CATEGORIES, CATEGORY_NAMES, CATEGORY_SYNONYMS, COLOR_NAMES

PRESENT_FILL = 0.15  # share of the box that must be the entity's category
ABSENT_PIXELS = 0.002  # share of the canvas a negative may occupy (noise)
MARGIN = 0.05


def _where(box) -> str:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    h = "left" if cx < 0.38 else "right" if cx > 0.62 else "centre"
    v = "top" if cy < 0.38 else "bottom" if cy > 0.62 else "middle"
    return {"centre": f"{v}" if v != "middle" else "centre"}.get(h, f"{v} {h}" if v != "middle" else h)


class BuiltinCritic:
    name = "builtin"

    def __init__(self, path: str | None = None, segmenter=None, ocr: bool = True) -> None:
        from thinkdraw.models.bundled import load_segmenter, set_threads

        set_threads()
        self.model = (segmenter or load_segmenter(path)).eval()
        self.use_ocr = ocr

    @torch.inference_mode()
    def segment(self, image) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32).transpose(2, 0, 1).copy())[None]
        lc, lo = self.model(x / 127.5 - 1.0)
        return lc[0].argmax(0).numpy(), lo[0].argmax(0).numpy()

    def check(self, image, plan: ScenePlan) -> Critique:
        cat, col = self.segment(image)
        S = cat.shape[0]
        checks: list[Check] = []
        found: dict[str, tuple[float, float] | None] = {}
        phrases: list[str] = []
        for e in plan.entities:
            if e.box is None or e.category not in CATEGORIES:
                continue
            cid = CATEGORY_NAMES.index(e.category) + 1
            x0, y0 = int(e.box[0] * S), int(e.box[1] * S)
            x1, y1 = max(x0 + 1, int(np.ceil(e.box[2] * S))), max(y0 + 1, int(np.ceil(e.box[3] * S)))
            m = cat[y0:y1, x0:x1] == cid
            fill = float(m.mean())
            ok = fill >= PRESENT_FILL
            conf = float(min(1.0, abs(fill - PRESENT_FILL) / PRESENT_FILL))
            checks.append(Check(kind="presence", target=e.id, expected=e.category, observed=f"{fill:.0%} of its box",
                                passed=ok, box=e.box, confidence=conf))
            if not ok:
                phrases.append(f"{e.id} ({e.noun}) is missing at the {_where(e.box)}")
                found[e.id] = None
            else:
                ys, xs = np.nonzero(m)
                found[e.id] = ((xs.mean() + x0 + 0.5) / S, (ys.mean() + y0 + 0.5) / S)
            if e.attributes.color in COLOR_NAMES and ok:
                hist = np.bincount(col[y0:y1, x0:x1][m], minlength=len(COLOR_NAMES) + 1)[1:]
                seen = COLOR_NAMES[int(hist.argmax())] if hist.sum() else None
                share = float(hist.max() / max(1, hist.sum()))
                good = seen == e.attributes.color
                checks.append(Check(kind="color", target=e.id, expected=e.attributes.color, observed=seen, passed=good,
                                    box=e.box, confidence=share))
                if not good:
                    phrases.append(f"{e.id} is {seen} instead of {e.attributes.color}")
        groups: dict[str, list] = {}
        for e in plan.entities:
            if e.group and e.category in CATEGORIES:
                groups.setdefault(e.group, []).append(e)
        for g, members in groups.items():
            inplace = sum(found.get(e.id) is not None for e in members)
            extra = self._extra(cat, members, plan, S)
            n = inplace + extra
            ok = inplace == len(members) and extra == 0
            box = (min(e.box[0] for e in members), min(e.box[1] for e in members),
                   max(e.box[2] for e in members), max(e.box[3] for e in members))
            checks.append(Check(kind="count", target=g, expected=len(members), observed=n, passed=ok, box=box))
            if not ok:
                phrases.append(f"there are {n} {members[0].noun}s instead of {len(members)}")
        for r in plan.relations:
            if r.predicate not in ("left_of", "right_of", "above", "below"):
                continue
            ok, known = True, True
            for s in plan.members(r.subject):
                for o in plan.members(r.object):
                    a, b = found.get(s.id), found.get(o.id)
                    if a is None or b is None:
                        known = False
                        continue
                    pa, pb = (a[0], a[1], a[0] + 1e-3, a[1] + 1e-3), (b[0], b[1], b[0] + 1e-3, b[1] + 1e-3)
                    ok &= relation_holds(r.predicate, pa, pb, margin=MARGIN)
            target = f"{r.subject} {r.predicate} {r.object}"
            checks.append(Check(kind="position", target=target, expected=r.predicate,
                                observed="holds" if ok and known else ("unknown" if not known else "violated"),
                                passed=ok and known, confidence=1.0 if known else 0.3))
            if known and not ok:
                phrases.append(f"{r.subject} is not {r.predicate.replace('_', ' ')} {r.object}")
        for neg in plan.negatives:
            c = neg if neg in CATEGORIES else CATEGORY_SYNONYMS.get(neg)
            if c is None:
                continue
            share = float((cat == CATEGORY_NAMES.index(c) + 1).mean())
            ok = share <= ABSENT_PIXELS
            checks.append(Check(kind="absence", target=neg, expected="absent", observed=f"{share:.1%} of the image",
                                passed=ok))
            if not ok:
                phrases.append(f"a {neg} appears although the prompt excludes it")
        if self.use_ocr:
            from thinkdraw.eval.fidelity import ocr

            W, H = image.size
            for t in plan.texts:
                if t.box is None:
                    continue
                crop = image.crop((int(t.box[0] * W), int(t.box[1] * H), int(np.ceil(t.box[2] * W)),
                                   int(np.ceil(t.box[3] * H))))
                read = ocr(crop)
                ok = read == t.content
                checks.append(Check(kind="text", target=t.id, expected=t.content, observed=read, passed=ok, box=t.box))
                if not ok:
                    phrases.append(f"the {plan.entity(t.on).noun if t.on else 'text'} reads {read!r} instead of "
                                   f"{t.content!r}")
        score = sum(c.passed for c in checks) / len(checks) if checks else 1.0
        reflection = ("; ".join(phrases) + ".") if phrases else "everything planned is there."
        failed = [c.box for c in checks if not c.passed and c.box is not None]
        return Critique(checks=checks, score=score, reflection=reflection[:1].upper() + reflection[1:],
                        failed_regions=failed)

    @staticmethod
    def _extra(cat: np.ndarray, members, plan: ScenePlan, S: int) -> int:
        """Blobs of the group's category outside every planned box (at least a third of a member)."""
        from thinkdraw.eval.fidelity import _component_areas

        cid = CATEGORY_NAMES.index(members[0].category) + 1
        free = cat == cid
        for e in plan.entities:
            if e.box is not None:
                free[int(e.box[1] * S):int(np.ceil(e.box[3] * S)), int(e.box[0] * S):int(np.ceil(e.box[2] * S))] = False
        if not free.any():
            return 0
        area = np.mean([(e.box[2] - e.box[0]) * (e.box[3] - e.box[1]) * S * S for e in members])
        return sum(1 for a in _component_areas(free) if a >= area / 3)
