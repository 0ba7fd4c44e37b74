"""The `diffusers` renderer: a Stable Diffusion-family checkpoint on disk, guided by the plan without extra weights.

    thinkdraw generate "a red apple left of a blue cup" --renderer diffusers --model ~/models/sd15
    Engine(renderer=DiffusersRenderer(model="~/models/sd15")).generate(...)

Needs the ``diffusers`` extra (``pip install 'thinkdraw[diffusers]'``); nothing here is imported by
``import thinkdraw`` or by the other renderers. Loading never reaches the network: a folder is read with
``HF_HUB_OFFLINE=1`` and ``local_files_only``; a Hugging Face id is looked up in the local cache only.

think mode   region-grounded denoising (LMD+ / MultiDiffusion regional prompting): one denoising loop over
             the pipeline's own UNet, VAE, text encoder(s) and scheduler. At each step the noise prediction
             is the background prompt's outside the plan's boxes and each entity's own prompt ("a red
             apple") inside its box, painted in z order (soft edges with ``soft`` latent cells), then
             classifier-free guidance against the negative prompt as usual. For the last ``1 - ground`` of
             the steps the whole prompt predicts everywhere, which harmonises the regions. The plan's text
             is then stamped letter-exact into its boxes with the builtin renderer's glyph raster
             (``world.render.render_glyphs``).
direct mode  the prompt alone: the plain text-to-image loop, no boxes, no stamped text.
Masked regeneration (refine, edit): ``draw(plan, mask=M, init=I)`` encodes ``I``, re-imposes its latents
(noised to the next timestep) outside the dilated latent mask after every step (an inpainting checkpoint,
``in_channels == 9``, also gets the mask and the masked image as its input), decodes, and composites in
pixel space, so every pixel outside ``M`` is bit-identical to ``I``.
Seeds: the initial noise comes from ``torch.Generator("cpu").manual_seed(seed)`` on every device (same seed,
same noise; same image on the same device). Device: cuda, else mps, else cpu; fp16 on cuda and mps, fp32 on
cpu (``dtype`` overrides: "bf16" where the device has it).
Pipelines: StableDiffusion (1.x, 2.x, epsilon or v prediction, inpainting variants), StableDiffusionXL and
GLIGEN (a UNet with ``attention_type == "gated"``: its position net and gated self-attention are driven with
the plan's boxes and phrases, see ``grounding``). Flux, SD3 and others are refused with a clear error.
GLIGEN   ``grounding="auto"`` (default) on a GLIGEN checkpoint: the plan's boxes (0..1, x0 y0 x1 y1, as GLIGEN's)
         and one phrase per box ("a red apple", its pooled CLIP text embedding) go to the UNet's position net
         as ``cross_attention_kwargs["gligen"]`` for the first ``gligen_beta`` of the steps (scheduled
         sampling, 0.3 as StableDiffusionGLIGENPipeline), the negative row with every box masked off, as that
         pipeline does; the whole prompt predicts everywhere and no regional composition runs (the checkpoint's
         own layout input replaces it, at 2 UNet rows a step instead of 2 + boxes). ``grounding="both"`` adds
         the regional composition with the grounding tokens fed to every row; ``"regions"`` ignores the gated
         layers (the former behaviour).
"""

from __future__ import annotations

import inspect
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thinkdraw.draw.base import DrawResult, ProgressCallback
from thinkdraw.plan.schema import Entity, ScenePlan
from thinkdraw.plan.words import with_article

MODEL_ENV = "THINKDRAW_DIFFUSERS_MODEL"
SD_PIPELINES = ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
                "StableDiffusionGLIGENPipeline")
SDXL_PIPELINES = ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline",
                  "StableDiffusionXLInpaintPipeline")
BACKGROUNDS = {"sky": "the open sky", "grass": "a grassy field", "sea": "the sea", "table": "a table top",
               "wall": "a plain wall", "plain": "a plain backdrop"}
TIMES = {"day": "", "sunset": " at sunset", "night": " at night"}
STEPS = 30  # default sampling steps
GROUNDINGS = ("auto", "regions", "gligen", "both")
GLIGEN_BETA = 0.3  # share of the steps with GLIGEN's grounding tokens (StableDiffusionGLIGENPipeline's default)
GLIGEN_MAX_OBJS = 30  # GLIGEN's position net takes at most this many boxes
# what a reflect round's masked redraw asks for (Renderer.refine_steps): a diffusion scheduler draws mush in
# the builtin rectified flow's 4 steps; 10 keeps the seam and the region recognisable at a third of the cost
REFINE_STEPS = 10


class ModelError(ValueError):
    """The model cannot be loaded: missing extra, missing folder, unsupported pipeline (one line, no traceback)."""


def require_diffusers():
    """Import diffusers (offline), or say how to install it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import: nothing reaches the network
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise ModelError(f"the diffusers renderer needs the diffusers extra ({e.name} is missing): "
                         f"pip install 'thinkdraw[diffusers]'") from e
    import diffusers

    return diffusers


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, dtype: str | torch.dtype | None = None) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype:
        names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
                 "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
        if dtype not in names:
            raise ModelError(f"unknown dtype {dtype!r}: use fp32, fp16 or bf16")
        return names[dtype]
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def resolve_model(model: str) -> tuple[Path, str]:
    """A local pipeline folder (or a Hugging Face id already in the local cache) -> (folder, pipeline class)."""
    p = Path(model).expanduser()
    if p.is_file():
        raise ModelError(f"{model} is a single file; the diffusers renderer loads a diffusers pipeline folder "
                         f"(one with model_index.json): convert the checkpoint first (docs/diffusers.md)")
    if not p.is_dir():
        looks_like_id = model.count("/") == 1 and not model.startswith((".", "/", "~")) and "\\" not in model
        if not looks_like_id:
            raise ModelError(f"no model folder {model}: give a diffusers pipeline folder (with model_index.json)")
        try:
            from huggingface_hub import snapshot_download

            p = Path(snapshot_download(model, local_files_only=True))  # allowed: local cache only, never a download
        except Exception as e:  # noqa: BLE001 - not in the cache, whatever the hub library says
            raise ModelError(f"no model folder {model}, and {model!r} is not in the local Hugging Face cache; "
                             f"thinkdraw never downloads: download it yourself or give a folder") from e
    index = p / "model_index.json"
    if not index.is_file():
        raise ModelError(f"{p} is not a diffusers pipeline folder: it has no model_index.json")
    try:
        cls = json.loads(index.read_text())["_class_name"]
    except (ValueError, KeyError, OSError) as e:
        raise ModelError(f"{index} is not a diffusers model index: {e}") from e
    if cls not in SD_PIPELINES + SDXL_PIPELINES:
        raise ModelError(f"unsupported pipeline {cls} in {p}: the diffusers renderer draws Stable Diffusion 1.x/2.x "
                         f"and SDXL pipelines ({', '.join(SD_PIPELINES[:1] + SDXL_PIPELINES[:1])} and their "
                         f"img2img/inpaint variants)")
    return p, cls


def load_pipeline(model: str, device: str | torch.device | None = None, dtype=None):
    """Load a local Stable Diffusion-family pipeline offline, on ``device`` in ``dtype``."""
    diffusers = require_diffusers()
    folder, cls_name = resolve_model(model)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    dt = pick_dtype(dev, dtype)
    cls = getattr(diffusers, "StableDiffusionPipeline" if cls_name == "StableDiffusionGLIGENPipeline" else cls_name)
    kw = {"safety_checker": None, "requires_safety_checker": False} if cls_name in SD_PIPELINES else {}
    import transformers

    bars = [m.utils.logging for m in (diffusers, transformers)]
    try:
        for b in bars:  # no loading bars on the terminal: thinkdraw shows its own progress
            b.disable_progress_bar()
        with warnings.catch_warnings():  # newer diffusers call torch_dtype "dtype"; older ones know only torch_dtype
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            pipe = cls.from_pretrained(str(folder), torch_dtype=dt, local_files_only=True, **kw)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot load the {cls_name} in {folder}: {first}") from e
    finally:
        for b in bars:
            b.enable_progress_bar()
    pipe.set_progress_bar_config(disable=True)
    pipe.to(dev)
    if dt == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        pipe.vae.to(torch.float32)  # SDXL's VAE overflows in fp16
    pipe._thinkdraw_source = (str(folder), cls_name)
    return pipe


def gligen_kind(pipe) -> str | None:
    """"gated" when the pipeline's UNet is a GLIGEN one (text-box grounding: ``attention_type == "gated"`` in
    its config, with a position net), "gated-text-image" for GLIGEN's text+image variant, else None."""
    unet = getattr(pipe, "unet", None)
    kind = getattr(getattr(unet, "config", None), "attention_type", None)
    if kind in ("gated", "gated-text-image") and hasattr(unet, "position_net"):
        return kind
    return None


def entity_prompt(e: Entity, style: str = "") -> str:
    """What one box is asked to hold: 'a red apple', 'a wooden table'."""
    a = e.attributes
    words = " ".join(w for w in (a.color, a.material, e.noun) if w)
    return with_article(words) + (f", {style}" if style else "")


def background_prompt(plan: ScenePlan) -> str:
    """The prompt outside every box: the scene's background, never its things."""
    b = plan.background
    return BACKGROUNDS.get(b.kind, "a plain backdrop") + TIMES.get(b.time, "")


def region_masks(boxes: list[tuple[float, float, float, float]], gh: int, gw: int, soft: float) -> torch.Tensor:
    """One latent-grid weight map per box (N x gh x gw, 0..1): 1 for cells whose centre is in the box, falling
    linearly to 0 over ``soft`` cells outside it (``soft=0``: hard boxes)."""
    ys = (torch.arange(gh, dtype=torch.float32) + 0.5)[:, None]
    xs = (torch.arange(gw, dtype=torch.float32) + 0.5)[None, :]
    out = []
    for x0, y0, x1, y1 in boxes:
        dx = torch.clamp(torch.maximum(x0 * gw - xs, xs - x1 * gw), min=0)
        dy = torch.clamp(torch.maximum(y0 * gh - ys, ys - y1 * gh), min=0)
        d = torch.sqrt(dx ** 2 + dy ** 2)
        out.append((d == 0).float() if soft <= 0 else torch.clamp(1 - d / soft, min=0))
    return torch.stack(out) if out else torch.zeros((0, gh, gw))


def compose_regions(eps_bg: torch.Tensor, eps_regions: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Background prediction with each region's painted over it inside its mask, in order (z order).
    ``eps_bg``: 1xCxHxW; ``eps_regions``: NxCxHxW; ``masks``: NxHxW."""
    out = eps_bg
    for i in range(eps_regions.shape[0]):
        m = masks[i][None, None].to(out)
        out = out + m * (eps_regions[i:i + 1] - out)
    return out


class DiffusersRenderer:
    name = "diffusers"
    sizes = None  # any canvas that is a multiple of the VAE's factor (8 for SD)

    def __init__(self, model: str | None = None, pipeline=None, steps: int | None = None, guidance: float = 7.5,
                 negative: str = "", soft: float = 1.0, ground: float = 0.8, refine_steps: int | None = None,
                 grounding: str = "auto", gligen_beta: float = GLIGEN_BETA, device: str | None = None, dtype=None,
                 weights: str | None = None) -> None:
        """``model``: a diffusers pipeline folder (else ``$THINKDRAW_DIFFUSERS_MODEL``), or ``pipeline``: one
        already loaded. ``ground``: the share of the steps that are region-grounded. ``refine_steps``: the steps
        the engine's reflect rounds ask for (default ``REFINE_STEPS``, 10; ``Renderer.refine_steps``); every
        ``draw`` runs exactly the steps it is asked for. ``grounding``: how think mode puts things in their
        boxes: "auto" (GLIGEN's gated attention on a GLIGEN checkpoint, else regional prompting), "regions",
        "gligen" (a GLIGEN checkpoint only) or "both"; ``gligen_beta``: the share of the steps GLIGEN grounds.
        ``weights`` is accepted for the factory and not used."""
        if grounding not in GROUNDINGS:
            raise ModelError(f"unknown grounding {grounding!r}: use {', '.join(GROUNDINGS)}")
        if not 0.0 <= float(gligen_beta) <= 1.0:
            raise ModelError(f"gligen_beta must be in 0..1, got {gligen_beta}")
        if pipeline is None:
            model = model or os.environ.get(MODEL_ENV)
            if not model:
                raise ModelError(f"the diffusers renderer needs a model: --model PATH (or ${MODEL_ENV}), a local "
                                 f"diffusers pipeline folder such as a Stable Diffusion 1.5 download")
            pipeline = load_pipeline(model, device, dtype)
        self.pipe = pipeline
        self.model, self.pipeline_class = getattr(pipeline, "_thinkdraw_source",
                                                  (model or "", type(pipeline).__name__))
        self.xl = hasattr(pipeline, "text_encoder_2")
        self.steps, self.guidance, self.negative = steps or STEPS, guidance, negative
        self.soft, self.ground = soft, ground
        self.refine_steps = REFINE_STEPS if refine_steps is None else int(refine_steps)
        if self.steps < 1 or self.refine_steps < 1:
            raise ValueError(f"steps and refine_steps must be at least 1, got {self.steps} and {self.refine_steps}")
        self.gligen = gligen_kind(pipeline)  # "gated" for a GLIGEN checkpoint (its position net is driven)
        if self.gligen == "gated-text-image":
            raise ModelError(f"{self.model or 'this pipeline'} is a GLIGEN text+image checkpoint (gated-text-image); the "
                             f"diffusers renderer drives GLIGEN's text-box checkpoints (attention_type gated)")
        if self.gligen and int(pipeline.unet.config.in_channels) != 4:
            raise ModelError(f"{self.model or 'this pipeline'} is a GLIGEN inpainting checkpoint "
                             f"({pipeline.unet.config.in_channels} input channels); the diffusers renderer drives "
                             f"GLIGEN's text-box generation checkpoints (4 input channels)")
        if grounding == "auto":
            grounding = "gligen" if self.gligen else "regions"
        if grounding in ("gligen", "both") and not self.gligen:
            raise ModelError(f"grounding {grounding!r} needs a GLIGEN checkpoint (a UNet with attention_type "
                             f"'gated'); {self.model or 'this pipeline'} has none: use 'regions' or 'auto'")
        self.grounding, self.gligen_beta = grounding, float(gligen_beta)
        self.vae_f = int(getattr(pipeline, "vae_scale_factor", 8))
        sample = getattr(pipeline.unet.config, "sample_size", None)
        self.default_size = int(sample) * self.vae_f if isinstance(sample, int) else None
        self._trace = None  # tests: called with (step, guided noise prediction) at every step

    @property
    def device(self) -> torch.device:
        return self.pipe.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.pipe.unet.dtype

    # --- text --------------------------------------------------------------------------------------------
    def _encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prompts -> (embeddings, pooled embeddings for SDXL else None), one row per prompt."""
        if self.xl:
            e, _, pooled, _ = self.pipe.encode_prompt(prompts, device=self.device, num_images_per_prompt=1,
                                                      do_classifier_free_guidance=False)
            return e, pooled
        return self.pipe.encode_prompt(prompts, self.device, 1, False)[0], None

    # --- drawing -----------------------------------------------------------------------------------------
    def draw(self, plan: ScenePlan, seed: int = 0, mask: np.ndarray | None = None, init: Image.Image | None = None,
             progress: ProgressCallback | None = None, mode: str = "think", steps: int | None = None) -> DrawResult:
        if mode not in ("think", "direct"):
            raise ValueError(f"unknown mode {mode!r}: use 'think' or 'direct'")
        W, H = plan.canvas.width, plan.canvas.height
        f = self.vae_f
        if W % f or H % f:
            raise ValueError(f"the diffusers renderer needs a canvas that is a multiple of {f} px, got {W}x{H}")
        if (mask is None) != (init is None):
            raise ValueError("masked regeneration needs both mask and init")
        n_steps = self.steps if steps is None else int(steps)
        if n_steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        placed = [e for e in plan.entities if e.box is not None] if mode == "think" else []
        if mode == "think" and len(placed) < len(plan.entities):
            raise ValueError("plan has unplaced entities; run the layout solver first: "
                             f"{[e.id for e in plan.entities if e.box is None]}")
        whole = plan.prompt or ", ".join(entity_prompt(e) for e in plan.entities) or background_prompt(plan)
        layers = sorted(range(len(placed)), key=lambda i: (placed[i].z, i))  # painter's order: last is on top
        regions = [placed[i] for i in layers]
        bg = background_prompt(plan) if regions else whole
        prompts = [whole, bg] + [entity_prompt(e) for e in regions]
        negative = ", ".join([s for s in (self.negative, *plan.negatives) if s])
        gh, gw = H // f, W // f
        masks = region_masks([e.box for e in regions], gh, gw, self.soft)
        m = None
        if mask is not None:
            m = np.asarray(mask).astype(bool)
            if m.shape != (H, W):
                raise ValueError(f"mask is {m.shape[1]}x{m.shape[0]}, the canvas is {W}x{H}")
            if init.size != (W, H):
                raise ValueError(f"init image is {init.size[0]}x{init.size[1]}, the canvas is {W}x{H}")
        dev = self.device
        use_gligen = self.grounding in ("gligen", "both") and bool(regions)
        if self.grounding == "gligen":
            masks = masks[:0]  # GLIGEN's own layout input replaces the regional composition
        phrases = [entity_prompt(e) for e in regions][:GLIGEN_MAX_OBJS] if use_gligen else []
        boxes = [list(e.box) for e in regions][:GLIGEN_MAX_OBJS] if use_gligen else []
        with torch.inference_mode():
            gl = self._gligen_inputs(phrases, boxes) if use_gligen else None
            arr = self._sample(prompts, negative, masks, n_steps, seed, (H, W), m, init, progress, gl)
        if mode == "think" and plan.texts:
            arr = stamp_text(arr, plan)
        if m is not None:
            arr = np.where(m[..., None], arr, np.asarray(init.convert("RGB")))
        info = {"renderer": self.name, "model": self.model, "pipeline": self.pipeline_class, "steps": n_steps,
                "guidance": self.guidance, "mode": mode, "device": str(dev), "dtype": str(self.dtype).split(".")[-1],
                "prompt": whole, "negative": negative,
                "regions": [{"id": e.id, "prompt": p, "box": list(e.box)} for e, p in zip(regions, prompts[2:],
                                                                                          strict=True)]}
        if regions and self.grounding != "gligen":
            info["background_prompt"] = bg
        info["grounding"] = self.grounding if regions else "none"  # regions, gligen or both
        if use_gligen:
            info["gligen"] = {"phrases": phrases, "boxes": boxes, "beta": self.gligen_beta,
                              "steps": int(self.gligen_beta * n_steps), "dropped": max(0, len(regions) - len(boxes))}
        return DrawResult(image=Image.fromarray(arr, "RGB"), info=info)

    def _gligen_inputs(self, phrases: list[str], boxes: list[list[float]]):
        """GLIGEN's position-net inputs for one row: boxes (1 x 30 x 4, 0..1), the phrases' pooled CLIP text
        embeddings (1 x 30 x D) and the mask of the slots in use (1 x 30), as StableDiffusionGLIGENPipeline."""
        pipe, dev, dt = self.pipe, self.device, self.dtype
        tok = pipe.tokenizer(phrases, padding=True, truncation=True, max_length=pipe.tokenizer.model_max_length,
                             return_tensors="pt")
        pooled = pipe.text_encoder(input_ids=tok.input_ids.to(dev),
                                   attention_mask=tok.attention_mask.to(dev)).pooler_output
        n, d = len(phrases), int(pipe.unet.config.cross_attention_dim)
        b = torch.zeros((1, GLIGEN_MAX_OBJS, 4), device=dev, dtype=dt)
        b[0, :n] = torch.tensor(boxes, device=dev, dtype=dt).clamp(0, 1)
        e = torch.zeros((1, GLIGEN_MAX_OBJS, d), device=dev, dtype=dt)
        e[0, :n] = pooled.to(dt)
        k = torch.zeros((1, GLIGEN_MAX_OBJS), device=dev, dtype=dt)
        k[0, :n] = 1
        return b, e, k

    def _sample(self, prompts, negative, masks, n_steps, seed, hw, m, init, progress, gl=None) -> np.ndarray:
        pipe, dev, dt = self.pipe, self.device, self.dtype
        H, W = hw
        f = self.vae_f
        unet, vae = pipe.unet, pipe.vae
        w = float(self.guidance)
        cfg = w != 1.0
        emb, pooled = self._encode(prompts + ([negative] if cfg else []))
        emb = emb.to(dt)
        if cfg and self.xl and not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
            emb[-1].zero_()  # SDXL's empty negative prompt is zeros, as its own pipeline does
            pooled[-1].zero_()
        n_reg = masks.shape[0]
        sched = type(pipe.scheduler).from_config(pipe.scheduler.config)
        sched.set_timesteps(n_steps, device=dev)
        timesteps = sched.timesteps
        ch = int(getattr(vae.config, "latent_channels", 4))
        gen = torch.Generator("cpu").manual_seed(int(seed))
        noise = torch.randn((1, ch, H // f, W // f), generator=gen)
        # ancestral schedulers draw fresh noise every step: from the same generator, so the seed decides it
        step_kw = {"generator": gen} if "generator" in inspect.signature(sched.step).parameters else {}
        noise = noise.to(dev, dt)
        latents = noise * sched.init_noise_sigma
        inpaint = int(unet.config.in_channels) == 9
        keep = init_lat = extra = None
        if m is not None or inpaint:
            mt = torch.from_numpy(m.astype(np.float32)) if m is not None else torch.ones((H, W))
            regen = torch.nn.functional.max_pool2d(mt[None, None], f)
            if m is not None:
                if not inpaint:
                    regen = torch.nn.functional.max_pool2d(regen, 3, stride=1, padding=1)  # a margin for the seam
                img = np.asarray(init.convert("RGB"), np.float32) / 127.5 - 1.0
            else:
                img = np.zeros((H, W, 3), np.float32)
            x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None].to(dev, vae.dtype)
            init_lat = self._vae_encode(x).to(dt)
            regen = regen.to(dev, dt)
            if inpaint:
                masked = self._vae_encode(x * (1 - mt.to(dev, vae.dtype))[None, None] if m is not None
                                          else torch.zeros_like(x)).to(dt)
                extra = torch.cat([regen, masked], 1)
            elif m is not None:
                keep = 1.0 - regen
        added = None
        if self.xl:
            tid = torch.tensor([[H, W, 0, 0, H, W]], device=dev, dtype=dt)
            added = (pooled.to(dt), tid)
        ground_until = int(round(self.ground * n_steps)) if n_reg else 0
        gligen_until = int(self.gligen_beta * n_steps) if gl is not None else 0  # scheduled sampling (GLIGEN)
        masks = masks.to(dev, dt)
        for i, t in enumerate(timesteps):
            grounded = i < ground_until
            rows = list(range(1, 2 + n_reg)) if grounded else [0]  # [bg, regions...] or [whole]
            if cfg:
                rows.append(len(prompts))  # the negative prompt
            xin = sched.scale_model_input(latents, t)
            if extra is not None:
                xin = torch.cat([xin, extra], 1)
            xin = xin.expand(len(rows), -1, -1, -1)
            kw = {}
            if added is not None:
                kw["added_cond_kwargs"] = {"text_embeds": added[0][rows], "time_ids": added[1].expand(len(rows), -1)}
            if i < gligen_until:  # every row sees the boxes; the negative row has them masked off, as GLIGEN's
                use = gl[2].expand(len(rows), -1).clone()
                if cfg:
                    use[-1] = 0
                kw["cross_attention_kwargs"] = {"gligen": {"boxes": gl[0].expand(len(rows), -1, -1),
                                                           "positive_embeddings": gl[1].expand(len(rows), -1, -1),
                                                           "masks": use}}
            out = unet(xin, t, encoder_hidden_states=emb[rows], return_dict=False, **kw)[0]
            if cfg:
                out, eps_u = out[:-1], out[-1:]
            eps = compose_regions(out[:1], out[1:], masks) if grounded else out[:1]
            if cfg:
                eps = eps_u + w * (eps - eps_u)
            if self._trace is not None:
                self._trace(i, eps)
            latents = sched.step(eps, t, latents, return_dict=False, **step_kw)[0]
            if keep is not None:
                ref = init_lat if i == len(timesteps) - 1 else sched.add_noise(init_lat, noise, timesteps[i + 1:i + 2])
                latents = keep * ref + (1 - keep) * latents
            if progress is not None:
                progress(i + 1, len(timesteps))
        return self._vae_decode(latents)

    def _vae_encode(self, x: torch.Tensor) -> torch.Tensor:
        vae = self.pipe.vae
        lat = vae.encode(x).latent_dist.mode()
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        return (lat - shift) * vae.config.scaling_factor

    def _vae_decode(self, latents: torch.Tensor) -> np.ndarray:
        vae = self.pipe.vae
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        z = latents.to(vae.dtype) / vae.config.scaling_factor + shift
        img = vae.decode(z, return_dict=False)[0]
        return ((img[0].float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def stamp_text(arr: np.ndarray, plan: ScenePlan) -> np.ndarray:
    """The plan's text, letter-exact, over the pixels: the glyph raster the builtin renderer draws with."""
    from thinkdraw.world.render import render_glyphs

    g = render_glyphs(plan, (arr.shape[1], arr.shape[0]))
    a = g[..., :1]
    out = arr.astype(np.float32) * (1 - a) + g[..., 1:] * 255.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
