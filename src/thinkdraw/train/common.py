"""What every training script shares: checkpoints that resume, a JSON log, a loss-curve PNG."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch import nn


def save_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, extra: dict) -> None:
    """Model + optimizer state as safetensors (no pickle); the step and scalars in its metadata."""
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for name, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(v)
            tensors[f"opt.{pid}.{name}"] = t.detach().contiguous()
    meta = {"step": json.dumps(step), "param_groups": json.dumps(osd["param_groups"]), "extra": json.dumps(extra)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)  # atomic: a crash keeps the previous checkpoint


def load_checkpoint(path: Path, model: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, dict]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    return json.loads(meta["step"]), json.loads(meta["extra"])


def add_config_args(p, cls, helps: dict[str, str] | None = None) -> None:
    """One ``--flag`` per field of a plain config dataclass (its help from ``helps`` or the field's comment
    name, its default shown), plus --resume and --export."""
    from dataclasses import asdict

    helps = helps or {}
    for k, v in asdict(cls()).items():
        what = helps.get(k, k.replace("_", " "))
        p.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v, metavar=type(v).__name__.upper(),
                       help=f"{what} (default: {v!r})")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--export", nargs="?", const="", default=None, metavar="DIR",
                   help="copy the weights, log and curve into a weights folder: DIR, or without DIR the user "
                        f"weights folder ({_user_dir()}); use it with --weights DIR or $THINKDRAW_WEIGHTS. "
                        "A file replaced there is kept under DIR/backup/")


def _user_dir() -> str:
    from thinkdraw.models.weights import user_weights_dir

    return str(user_weights_dir())


def config_from_args(cls, a):
    from dataclasses import asdict

    return cls(**{k: getattr(a, k) for k in asdict(cls())})


def open_run(cfg, model: nn.Module, resume: bool, log, weight_decay: float = 0.0, **config_extra):
    """Threads, seed, output folder, optimizer, run log; resume from OUT/checkpoint.safetensors when asked.

    Returns (out, opt, ckpt, step, runlog)."""
    from dataclasses import asdict

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=weight_decay)
    ckpt = out / "checkpoint.safetensors"
    step = 0
    runlog = RunLog(out, {"train": asdict(cfg), "model": model.config.to_dict(), **config_extra}, resume)
    if resume and ckpt.is_file():
        step, _ = load_checkpoint(ckpt, model, opt)
        log(f"resumed from {ckpt} at step {step}")
    return out, opt, ckpt, step, runlog


def finish_run(runlog: RunLog, model: nn.Module, out: Path, name: str, export, summary: dict,
               extra: dict | None = None) -> Path:
    """The end of every training run: the log's summary, OUT/NAME.safetensors (fp16, config in its metadata)
    and, with ``export`` (True or "": the user weights folder; a path: that folder; None/False: none), the
    weights, log and curve copied into a weights folder. Returns the weights' path."""
    from thinkdraw.models.weights import save_weights

    runlog.write(summary=summary)
    final = save_weights(model, out / f"{name}.safetensors", model.config.to_dict(), extra=extra)
    if export is None or export is False:
        return final
    return export_run(out, name, None if export in (True, "") else Path(export),
                      tokenizer_sha256=(extra or {}).get("tokenizer_sha256"))


def export_run(out: Path, name: str, folder: Path | None = None, tokenizer_sha256: str | None = None) -> Path:
    """Copy a run's weights, log and loss curve into ``folder`` (default: the user weights folder, never the
    package unless it is named), keeping any file it replaces under ``folder/backup/``, and record the export
    (with the tokenizer a generator was trained on) in the folder's weights.json."""
    import shutil

    from thinkdraw.models.weights import record_export, user_weights_dir

    folder = Path(folder) if folder is not None else user_weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    pairs = [(f"{name}.safetensors", f"{name}.safetensors"), ("train_log.json", f"{name}.train_log.json"),
             ("loss_curve.png", f"{name}.loss_curve.png")]
    if (out / "samples.png").is_file():  # a run's sample figure travels with its weights
        pairs.append(("samples.png", f"{name}.samples.png"))
    for src, dst in pairs:
        target = folder / dst
        if target.is_file():
            (folder / "backup").mkdir(exist_ok=True)
            shutil.copy2(target, folder / "backup" / f"{Path(dst).stem}-{stamp}{Path(dst).suffix}")
        tmp = folder / f".{dst}.tmp"
        shutil.copyfile(out / src, tmp)
        tmp.replace(target)
    record_export(folder, name, tokenizer_sha256)
    return folder / f"{name}.safetensors"


class EMA:
    """An exponential moving average of a model's weights, the copy a generator exports (decay warmed up as
    min(decay, (1 + step) / (10 + step))); kept beside the checkpoint as OUT/ema.safetensors."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        import copy

        self.model, self.decay = copy.deepcopy(model).eval(), decay
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for pe, pm in zip(self.model.parameters(), model.parameters(), strict=True):
            pe.mul_(d).add_(pm.detach(), alpha=1 - d)

    def save(self, out: Path) -> None:
        from safetensors.torch import save_file

        tmp = out / "ema.safetensors.tmp"
        save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, str(tmp))
        tmp.replace(out / "ema.safetensors")

    def load(self, out: Path) -> None:
        """Resume: the average saved with the checkpoint, when there is one."""
        from safetensors.torch import load_file

        if (out / "ema.safetensors").is_file():
            self.model.load_state_dict(load_file(str(out / "ema.safetensors")))


def optimizer_step(model: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, clip: float = 1.0) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()


def log_step(runlog: RunLog, log, step: int, total: int, loss: torch.Tensor, opt: torch.optim.Optimizer,
             seen: int, t0: float) -> None:
    """One record in the run log and one line on ``log``: step, loss, learning rate, samples per second."""
    el = time.perf_counter() - t0
    runlog.add(step=step, loss=loss.item(), lr=opt.param_groups[0]["lr"], elapsed_s=round(el, 1),
               samples_per_s=round(seen / el, 2))
    log(f"step {step}/{total} loss {loss.item():.4f} ({seen / el:.1f} samples/s)")


def cosine_lr(step: int, total: int, base: float, warmup: int = 100) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


class RunLog:
    """Appends records to ``log.json`` (rewritten atomically) and draws ``loss_curve.png`` beside it."""

    def __init__(self, out_dir: Path, config: dict, resume: bool) -> None:
        from thinkdraw.progress import Progress

        self.dir = out_dir
        self.path = out_dir / "train_log.json"
        self.total = (config.get("train") or {}).get("steps")
        self.progress = Progress(f"train {out_dir.name}")  # a bar with ETA on a terminal, silent elsewhere
        self.data = {"config": config, "records": [], "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        if resume and self.path.is_file():
            self.data = json.loads(self.path.read_text())
            self.data["config"] = config

    def add(self, **rec) -> None:
        self.data["records"].append(rec)
        if self.total and "step" in rec:
            self.progress(int(rec["step"]), int(self.total))

    def write(self, summary: dict | None = None) -> None:
        if summary:
            self.data["summary"] = summary
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)
        plot_curve(self.data["records"], self.dir / "loss_curve.png", title=self.dir.name)


def plot_curve(records: list[dict], path: Path, title: str = "", key: str = "loss") -> None:
    """A plain loss-vs-step line chart (log scale) drawn with PIL, so no plotting library is needed."""
    pts = [(r["step"], r[key]) for r in records if key in r and r[key] is not None and r[key] > 0]
    W, H, m = 640, 400, 50
    im = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(im)
    d.rectangle([m, m // 2, W - m // 2, H - m], outline=(0, 0, 0))
    d.text((m, 5), f"{title}: {key} vs step (log scale)", fill=(0, 0, 0))
    if len(pts) >= 2:
        xs = [p[0] for p in pts]
        ys = [math.log10(p[1]) for p in pts]
        x0, x1 = min(xs), max(xs) or 1
        y0, y1 = min(ys), max(ys)
        if y1 - y0 < 1e-6:
            y1 = y0 + 1
        def px(x: float, y: float) -> tuple[float, float]:
            return (m + (x - x0) / max(x1 - x0, 1) * (W - 1.5 * m), H - m - (y - y0) / (y1 - y0) * (H - 1.5 * m))
        d.line([px(x, y) for x, y in zip(xs, ys, strict=True)], fill=(30, 90, 200), width=2)
        for k in range(5):
            y = y0 + (y1 - y0) * k / 4
            d.text((2, px(x0, y)[1] - 6), f"{10 ** y:.3g}", fill=(0, 0, 0))
        d.text((m, H - m + 8), f"{x0}", fill=(0, 0, 0))
        d.text((W - m, H - m + 8), f"{x1}", fill=(0, 0, 0))
    im.save(path)
