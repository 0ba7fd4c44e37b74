"""Uploaded images: only formats Pillow can verify (PNG, JPEG, WebP), bounded pixels (decompression bombs),
written only under the data dir (``uploads/``, random names, removed when the job ends)."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from PIL import Image

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


class UploadError(ValueError):
    def __init__(self, message: str, status: int = 400, code: str = "invalid_image", param: str = "image") -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def verify_image(data: bytes, max_pixels: int, param: str = "image") -> tuple[str, tuple[int, int], str]:
    """(Pillow's format name, (width, height), mode) of ``data``, or UploadError: not an image, a format other
    than PNG/JPEG/WebP, a file that does not verify or decode, or more than ``max_pixels`` pixels (checked from
    the header before decoding; the app also sets Pillow's own ``Image.MAX_IMAGE_PIXELS`` to the limit)."""
    if not data:
        raise UploadError(f"'{param}' is empty", param=param)
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as im:
            fmt, size, mode = im.format, im.size, im.mode
            if size[0] * size[1] > max_pixels:  # from the header, before a single pixel is decoded
                raise UploadError(f"'{param}' is {size[0]}x{size[1]} pixels; the limit is {max_pixels} pixels",
                                  param=param, code="image_too_large")
            im.verify()
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as im:
            im.load()  # verify() does not decode the pixels; a truncated file fails here
    except UploadError:
        raise
    except Image.DecompressionBombError as e:
        raise UploadError(f"'{param}' is too large to decode (a decompression bomb?): {e}", param=param,
                          code="image_too_large") from None
    except Image.UnidentifiedImageError:
        raise UploadError(f"'{param}' is not a PNG, JPEG or WebP image", param=param,
                          code="invalid_image_format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise UploadError(f"'{param}' is not a readable image: {first}", param=param) from None
    except Exception:  # noqa: BLE001 - a decoder bug must never reach the client as a 500 traceback
        raise UploadError(f"'{param}' could not be decoded", param=param) from None
    return fmt, size, mode


def save_upload(data: bytes, fmt: str, folder: Path) -> Path:
    """Write verified bytes into ``folder`` (the config's ``uploads_dir``) with a random name; the caller
    removes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (secrets.token_hex(16) + FORMATS[fmt])
    path.write_bytes(data)
    return path
