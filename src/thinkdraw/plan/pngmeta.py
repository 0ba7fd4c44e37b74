"""Images that carry their plan: write PNG / JPEG / WebP with the ScenePlan (and prompt, seed, backend, rounds)
in the file's own metadata, safely, and read it back.

Where the plan travels:
  PNG   a compressed iTXt chunk (key ``thinkdraw``), JSON
  JPEG  XMP (an APP1 segment, at most 64 KiB): the JSON zlib-compressed and base64-encoded in one attribute
  WebP  XMP, the same
A payload too large for its container (Pillow refuses to *read* PNG text over ``MAX_TEXT_CHUNK``, 1 MB
decompressed; JPEG's APP1 holds 64 KiB) is trimmed, reasoning and rounds first, and the payload says what it
left out (``"trimmed"``), so every image thinkdraw writes opens everywhere.

Writing (``write_image``): the bytes go to a unique temporary file in the target's folder, which is then
linked or renamed onto the target, so a crash never leaves a half-written image, concurrent writers never
share a temporary, and no temporary is left behind. A target that is a folder or not a regular file (a
device node such as /dev/null, a FIFO) is refused; an existing file is replaced only with ``overwrite``.
``"-"`` writes the bytes to standard output.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from thinkdraw.plan.schema import ScenePlan

ITXT_KEY = "thinkdraw"
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
# JSON bytes a PNG may carry: half of Pillow's reading limit for one text chunk (PngImagePlugin.MAX_TEXT_CHUNK)
PNG_META_LIMIT = PngImagePlugin.MAX_TEXT_CHUNK // 2
# base64 bytes in JPEG XMP: an APP1 segment holds 65,533 bytes, less the XMP header and wrapper
XMP_META_LIMIT = 60_000
WEBP_META_LIMIT = PNG_META_LIMIT
XMP_NS = "https://github.com/thinkdraw/ns/1.0/"
TRIM_ORDER = ("reasoning", "rounds", "timings")


class ImageFileError(ValueError):
    """An image cannot be written where asked, or read back, for a reason the user can fix."""


def image_format(path: str | Path) -> str:
    """PNG / JPEG / WEBP from the file name; a clear error for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ImageFileError(f"cannot write {str(path)!r}: unsupported image format {suffix or '(no suffix)'!r}; "
                             f"use {', '.join(FORMATS)}")
    return FORMATS[suffix]


def _payload(plan: ScenePlan, meta: dict[str, Any], limit: int, encode) -> tuple[bytes, list[str]]:
    """The encoded payload, trimmed (reasoning, rounds, timings) until it fits ``limit``."""
    payload = {"prompt": plan.prompt, **meta, "plan": plan.model_dump(mode="json")}
    trimmed: list[str] = []
    data = encode(payload)
    for key in TRIM_ORDER:
        if len(data) <= limit:
            break
        if key in payload:
            payload.pop(key)
            trimmed.append(key)
            payload["trimmed"] = trimmed
            data = encode(payload)
    if len(data) > limit:
        raise ImageFileError(f"the plan is too large to carry in the image ({len(data)} bytes, limit {limit})")
    return data, trimmed


def _json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xmp_value(payload: dict) -> bytes:
    return base64.b64encode(zlib.compress(_json(payload), 9))


def _xmp(value: bytes) -> bytes:
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description rdf:about="" xmlns:thinkdraw="' + XMP_NS.encode() + b'" thinkdraw:payload="' + value +
            b'"/></rdf:RDF></x:xmpmeta>')


def encode_image(image: Image.Image, fmt: str, plan: ScenePlan, **meta: Any) -> tuple[bytes, list[str]]:
    """(the image's bytes in ``fmt`` with the payload in its metadata, the payload keys left out to fit)."""
    buf = io.BytesIO()
    if fmt == "PNG":
        data, trimmed = _payload(plan, meta, PNG_META_LIMIT, _json)
        info = PngImagePlugin.PngInfo()
        info.add_itxt(ITXT_KEY, data.decode("utf-8"), zip=True)
        image.save(buf, format="PNG", pnginfo=info)
    elif fmt in ("JPEG", "WEBP"):
        data, trimmed = _payload(plan, meta, XMP_META_LIMIT if fmt == "JPEG" else WEBP_META_LIMIT, _xmp_value)
        kw = {"quality": 95} if fmt == "JPEG" else {"quality": 95, "method": 4}
        image.convert("RGB").save(buf, format=fmt, xmp=_xmp(data), **kw)
    else:
        raise ImageFileError(f"unsupported image format {fmt!r}; use PNG, JPEG or WEBP")
    return buf.getvalue(), trimmed


def write_image(image: Image.Image, path: str | Path, plan: ScenePlan, overwrite: bool = True,
                **meta: Any) -> tuple[str, list[str]]:
    """Write ``image`` with its plan to ``path`` (format from the suffix; ``"-"``: PNG on standard output).

    Returns (the path written, or "-"; the payload keys left out to fit the format)."""
    if str(path) == "-":
        data, trimmed = encode_image(image, "PNG", plan, **meta)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return "-", trimmed
    path = Path(path)
    fmt = image_format(path)
    check_target(path, overwrite)
    data, trimmed = encode_image(image, fmt, plan, **meta)
    _atomic_write(path, data, overwrite)
    return str(path), trimmed


def check_target(path: Path, overwrite: bool) -> None:
    """Refuse a target that is a folder, not a regular file, or (without ``overwrite``) an existing file."""
    if path.is_dir():
        raise ImageFileError(f"cannot write {str(path)!r}: it is a folder; name a file inside it")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise ImageFileError(f"cannot write {str(path)!r}: it exists and is not a regular file")
        if not overwrite:
            raise ImageFileError(f"{str(path)!r} exists; pass --force to overwrite it, or name another file")


def write_bytes(path: str | Path, data: bytes, overwrite: bool = True, fsync: bool = False) -> None:
    """Write already encoded image bytes (``encode_image``) to ``path`` the same safe way as ``write_image``
    (a temporary in the target's folder, linked or renamed onto it). ``fsync``: the bytes reach the disk
    before the rename, so even a power cut never leaves a short file under the target's name."""
    path = Path(path)
    check_target(path, overwrite)
    _atomic_write(path, data, overwrite, fsync)


def _atomic_write(path: Path, data: bytes, overwrite: bool, fsync: bool = False) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise ImageFileError(f"cannot write {str(path)!r}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a written image is as readable as any new file
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic and never replaces: a file that appeared meanwhile is kept
            except FileExistsError as e:
                raise ImageFileError(f"{str(path)!r} exists; pass --force to overwrite it, or name another file") from e
            except OSError:  # a file system without hard links
                if path.exists():
                    raise ImageFileError(f"{str(path)!r} exists; pass --force to overwrite it") from None
                os.replace(tmp, path)
    except OSError as e:
        raise ImageFileError(f"cannot write {str(path)!r}: {e.strerror or e}") from e
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def free_name(path: str | Path) -> Path:
    """``path`` if nothing is there, else the first free ``stem-N.suffix`` (N = 1, 2, ...)."""
    path = Path(path)
    k = 0
    while True:
        cand = path if k == 0 else path.with_name(f"{path.stem}-{k}{path.suffix}")
        if not (cand.exists() or cand.is_symlink()):
            return cand
        k += 1


def read_image_meta(path: str | Path) -> dict[str, Any]:
    """The thinkdraw payload of an image it wrote (PNG, JPEG or WebP), with ``plan`` as a ScenePlan.

    Raises FileNotFoundError, or ImageFileError when the file is no image or carries no (valid) plan."""
    from pydantic import ValidationError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            text = dict(getattr(im, "text", {}) or {})
            xmp = im.info.get("xmp")
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"{path} is not a readable image: {str(e).splitlines()[0] if str(e) else e}") from e
    raw = None
    try:
        if ITXT_KEY in text:
            raw = json.loads(text[ITXT_KEY])
        elif xmp:
            m = re.search(rb'thinkdraw:payload="([A-Za-z0-9+/=]+)"', xmp if isinstance(xmp, bytes) else xmp.encode())
            if m:
                raw = json.loads(zlib.decompress(base64.b64decode(m.group(1))))
    except (ValueError, zlib.error) as e:
        raise ImageFileError(f"{path} carries thinkdraw metadata that cannot be read: {e}") from e
    if raw is None:
        raise ImageFileError(f"{path} carries no thinkdraw plan (it was not written by thinkdraw)")
    if not isinstance(raw, dict) or "plan" not in raw:
        raise ImageFileError(f"{path} carries thinkdraw metadata without a plan")
    try:
        raw["plan"] = ScenePlan.model_validate(raw["plan"])
    except ValidationError as e:
        raise ImageFileError(f"{path} carries a plan that is not valid: {e.error_count()} error(s), first: "
                             f"{e.errors()[0]['msg']}") from e
    return raw


def save_png(image: Image.Image, path: str | Path, plan: ScenePlan, **meta: Any) -> Path:
    """Write a PNG carrying ``{"plan", "prompt", ...meta}``, replacing ``path`` (the Python API's old name)."""
    return Path(write_image(image, path, plan, overwrite=True, **meta)[0])


read_png_meta = read_image_meta
