"""What a worker does with a job: one Engine per worker (its planner, critic and every renderer loaded once),
the renderer wrapped so that each drawing (the first one, each refine round, each band) is sent as a
partial image while the job runs. Only the Engine's public API is used."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

RENDERERS = ("builtin", "sketch")


class StreamingRenderer:
    """A Renderer that forwards to the real one and reports every image it draws (``on_draw``)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.on_draw = None
        self.on_progress = None

    def __getattr__(self, item):  # sizes, and whatever else the engine asks the renderer
        return getattr(self.inner, item)

    def draw(self, plan, seed=0, mask=None, init=None, progress=None, mode="think", steps=None):
        cb = progress
        if self.on_progress is not None:
            outer = progress

            def cb(step, total, _outer=outer):
                if _outer is not None:
                    _outer(step, total)
                self.on_progress(step, total)
        out = self.inner.draw(plan, seed=seed, mask=mask, init=init, progress=cb, mode=mode, steps=steps)
        if self.on_draw is not None:
            self.on_draw(out.image)
        return out


def png_bytes(image: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _critique(c) -> dict:
    return {"score": c.score, "reflection": c.reflection,
            "checks": [{"kind": k.kind, "target": k.target, "passed": k.passed} for k in c.checks],
            "passed": sum(k.passed for k in c.checks), "total": len(c.checks)}


class Runner:
    def __init__(self, config: dict) -> None:
        from thinkdraw.config import Settings
        from thinkdraw.engine import Engine

        self.config = config
        # the server's resolved settings (thinkdraw serve's flags, environment, config file); none: the defaults
        self.backends = config.get("backends") or Settings(renderer=config.get("renderer", "builtin"))
        self.renderers: dict[str, StreamingRenderer] = {}
        self.engine = Engine.from_settings(self.backends, renderer=self._renderer(config.get("renderer", "builtin"))
                                           if config.get("preload", True) else _Lazy(),
                                           max_rounds=config.get("rounds", 2), weights=config.get("weights"))
        self.planner = self.engine.planner

    def _renderer(self, name: str) -> StreamingRenderer:
        from thinkdraw.draw.base import renderer_from_settings

        if name not in self.renderers:  # every renderer built from the same settings (diffusers: its [diffusers])
            inner = renderer_from_settings(self.backends, name, weights=self.config.get("weights"))
            self.renderers[name] = StreamingRenderer(inner)
        return self.renderers[name]

    def preload(self) -> None:
        self._renderer(self.config.get("renderer", "builtin"))

    def _use(self, renderer: str | None, emit) -> StreamingRenderer:
        r = self._renderer(renderer or self.config.get("renderer", "builtin"))
        self.engine.renderer = r  # one job at a time per worker: the engine draws with this job's renderer
        r.on_draw = None
        r.on_progress = None
        if emit is not None:
            count = [0]

            def on_draw(image, _c=count):
                emit("partial_image", {"index": _c[0], "png": png_bytes(image)})
                _c[0] += 1
            last = [0.0]

            def on_progress(step, total, _l=last):
                now = time.monotonic()
                if step >= total or now - _l[0] > 0.1:
                    _l[0] = now
                    emit("progress", {"step": step, "total": total})
            r.on_draw, r.on_progress = on_draw, on_progress
        return r

    # --- jobs ----------------------------------------------------------------------------------------------
    def run(self, kind: str, p: dict, emit) -> dict:
        if kind == "sleep":  # tests and benchmarks: a job of known length, no model
            time.sleep(float(p.get("seconds", 0.1)))
            return {"slept": p.get("seconds", 0.1)}
        if kind == "generate":
            return {"images": [self._generate(p, seed, emit if i == 0 else None)
                               for i, seed in enumerate(range(p["seed"], p["seed"] + p.get("n", 1)))]}
        if kind == "render":
            return {"images": [self._render(p, seed, emit if i == 0 else None)
                               for i, seed in enumerate(range(p["seed"], p["seed"] + p.get("n", 1)))]}
        if kind == "edit":
            return {"images": [self._edit(p, emit)]}
        if kind == "describe":
            return self._describe(p)
        if kind == "session_create":
            return self._session_create(p, emit)
        if kind == "session_turn":
            return self._session_turn(p, emit)
        if kind == "session_import":
            return self._session_import(p)
        raise ValueError(f"unknown job kind {kind!r}")

    def _generate(self, p: dict, seed: int, emit) -> dict:
        from thinkdraw.plan.schema import Reasoning, ScenePlan

        self._use(p.get("renderer"), emit)
        mode = p["mode"]
        t0 = time.perf_counter()
        if mode == "direct":
            reasoning, plan = Reasoning(), ScenePlan(prompt=" ".join(p["prompt"].split()))
        else:
            reasoning, plan = self.planner.plan(p["prompt"], seed=seed)
        if emit is not None:
            for s in reasoning.steps:
                emit("reasoning", s.model_dump())
            emit("plan", plan.model_dump(mode="json"))
        if p.get("size"):
            plan.canvas.width = plan.canvas.height = int(p["size"])
        t_plan = time.perf_counter() - t0
        r = self.engine.render(plan, reasoning, seed=seed, mode=mode)
        r.prompt = p["prompt"]
        r.timings = {"plan": t_plan, **r.timings, "total": time.perf_counter() - t0}
        return self._pack(r, p)

    def _render(self, p: dict, seed: int, emit) -> dict:
        from thinkdraw.plan.schema import Reasoning, ScenePlan

        self._use(p.get("renderer"), emit)
        plan = ScenePlan.model_validate(p["plan"])
        reasoning = Reasoning.model_validate({"steps": p.get("reasoning") or []})
        reasoning.add("plan", "Drawing a plan given with the request (edited by hand, or from an earlier run).")
        if emit is not None:
            for st in reasoning.steps:
                emit("reasoning", st.model_dump())
            emit("plan", plan.model_dump(mode="json"))
        r = self.engine.render(plan, reasoning, seed=seed, mode=p["mode"])
        return self._pack(r, p)

    def _edit(self, p: dict, emit) -> dict:
        from thinkdraw.plan.schema import ScenePlan

        self._use(p.get("renderer"), emit)
        plan = ScenePlan.model_validate(p["plan"]) if p.get("plan") else None
        r = self.engine.edit(p["image_path"], p["instruction"], seed=p.get("seed"), mode=p["mode"], plan=plan,
                             focus=p.get("focus"))
        extra: dict[str, Any] = {"ok": r.ok, "message": r.message, "kind": r.kind, "described": r.described,
                                 "focus": r.focus,
                                 "operations": [o.model_dump(mode="json") for o in r.edit.operations] if r.edit else [],
                                 "regions": [list(b) for b in r.edit.mask] if r.edit else []}
        meta_override = {}
        if r.ok and p.get("mask_path"):
            with Image.open(p["mask_path"]) as m:
                m.load()
                alpha = np.asarray(m.convert("RGBA"))[..., 3]
            editable = alpha == 0  # OpenAI: fully transparent pixels are the ones to edit
            first = p["image_path"] if isinstance(p["image_path"], str) else p["image_path"][0]
            with Image.open(first) as im:  # the mask applies to the first image, as OpenAI defines it
                old = np.asarray(im.convert("RGB"))
            if old.shape[:2] != alpha.shape or r.image.size != (old.shape[1], old.shape[0]):
                raise ValueError("the mask, the first image and the result must have one size")
            new = np.asarray(r.image.convert("RGB"))
            out = np.where(editable[..., None], new, old)
            changed = r.changed if r.changed is not None else np.ones(editable.shape, bool)
            blocked = int((changed & ~editable & np.any(new != old, axis=-1)).sum())
            r.image = Image.fromarray(out.astype(np.uint8), "RGB")
            if blocked:
                r.reasoning.add("edit", f"The mask kept {blocked} px of the edit's region as they were; the plan "
                                        f"may not describe them, so the next edit checks it against the pixels.")
                meta_override["pixels"] = ""  # no hash: the plan is not trusted blindly next time
            else:
                r.reasoning.add("edit", "The edit lies inside the mask's transparent (editable) area.")
            extra["mask_blocked_px"] = blocked
        if emit is not None:
            for s in r.reasoning.steps:
                emit("reasoning", s.model_dump())
        out = self._pack(r, p, meta_override)
        out.update(extra)
        return out

    # --- sessions (thinkdraw.session: SQLite + images under the data dir; every worker shares them) ---
    def _store(self):
        from thinkdraw.session import SessionStore

        if getattr(self, "_sessions", None) is None:
            self._sessions = SessionStore(self.config["sessions_dir"])
        return self._sessions

    def _session_create(self, p: dict, emit) -> dict:
        from thinkdraw.session import Session

        r = self._use(p.get("renderer"), emit)
        shown = 0
        if emit is not None:  # the planner is deterministic: its reasoning is shown before the drawing starts
            reasoning, plan = self.planner.plan(p["prompt"], seed=p["seed"])
            for st in reasoning.steps:
                emit("reasoning", st.model_dump())
            emit("plan", plan.model_dump(mode="json"))
            shown = len(reasoning.steps)
        s = Session.create(self._store(), prompt=p["prompt"], engine=self.engine, name=p.get("name"), seed=p["seed"],
                           mode=p["mode"], size=p.get("size"), renderer=r.name)
        head = s.head
        if emit is not None:
            for st in head.reasoning.steps[shown:]:  # what came after the plan: the reflect rounds
                emit("reasoning", st.model_dump())
        return {"session": s.id, "turn": head.id}

    def _session_import(self, p: dict) -> dict:
        """A session whose first turn is an uploaded image: its carried plan when its pixels still match it,
        else described from its pixels (``Session.add_image``)."""
        from thinkdraw.session import Session

        r = self._use(p.get("renderer"), None)
        store = self._store()
        sid = store.new_session(r.name, p["mode"], p.get("name"))
        try:
            out = Session(store, sid, engine=self.engine).add_image(p["image_path"], text=p.get("label") or "an image")
        except BaseException:
            store.delete_session(sid)
            raise
        return {"session": sid, "turn": out.turn.id}

    def _session_turn(self, p: dict, emit) -> dict:
        from thinkdraw.session import Session

        s = Session(self._store(), p["session"], engine=self.engine)
        self._use(s.renderer, emit)
        before = s.store.head(s.id)
        if p.get("parent") is not None:
            s.store.set_head(s.id, int(p["parent"]))  # a branch: the new turn starts from that earlier turn
        out = s.edit(p["instruction"], seed=p.get("seed"), mode=p.get("mode"))
        if not out.ok and before is not None:
            s.store.set_head(s.id, before)  # a refused instruction changes nothing, not even the head
        if emit is not None:
            for st in out.result.reasoning.steps:
                emit("reasoning", st.model_dump())
        return {"session": s.id, "turn": out.turn.id, "ok": out.ok, "message": out.message, "kind": out.kind}

    def _describe(self, p: dict) -> dict:
        with Image.open(p["image_path"]) as im:
            im.load()
            image = im.convert("RGB")
        d = self.engine.describe(image)
        return {"plan": d.plan.model_dump(mode="json"), "reasoning": [s.model_dump() for s in d.reasoning.steps],
                "seconds": d.seconds}

    def _pack(self, r, p: dict, meta_override: dict | None = None) -> dict:
        from thinkdraw.plan.pngmeta import encode_image

        fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[p.get("output_format", "png")]
        meta = {**r.metadata(), **(meta_override or {})}
        meta.pop("prompt", None)
        if r.prompt:
            meta["prompt"] = r.prompt
        data, trimmed = encode_image(r.image, fmt, r.plan, **meta)
        rounds = []
        for i, k in enumerate(r.rounds):
            item = {"label": k.label, "seconds": round(k.seconds, 4), "kept": i == r.kept, **_critique(k.critique)}
            if p.get("round_images"):
                item["png"] = png_bytes(k.image)
            rounds.append(item)
        return {"data": data, "format": p.get("output_format", "png"), "prompt": r.prompt, "seed": r.seed,
                "mode": r.mode, "renderer": r.renderer, "width": r.image.width, "height": r.image.height,
                "plan": r.plan.model_dump(mode="json"), "reasoning": [s.model_dump() for s in r.reasoning.steps],
                "rounds": rounds, "kept": r.kept, "timings": {k: round(v, 4) for k, v in r.timings.items()},
                "warnings": list(r.plan.warnings), "trimmed": trimmed}


class _Lazy:
    """A placeholder renderer until the first job names one (``preload=False``)."""

    name = "none"
