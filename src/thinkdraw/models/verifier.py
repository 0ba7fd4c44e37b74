"""The critic's second pair of eyes: a small CNN that says what one planned box holds.

The critic knows the plan, so it need not find objects in the open: it crops each planned box (a square
around it, a little larger) and asks this classifier two questions, what category (0 = nothing, 1..26
the world categories) and what named colour (0 = none, 1..11). Recognising one centred object in a
32x32 crop is a much easier problem than labelling every pixel, which is where the segmenter
(models/segmenter.py) confuses small round things (ball, apple, balloon, cup). The segmenter still
says where object pixels are (fill, blobs, centroids); this model says what they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class VerifierConfig:
    n_cats: int = 27  # 0 nothing, 1..26 world categories (CATEGORY_NAMES order)
    n_colors: int = 12  # 0 none, 1..11 COLOR_NAMES
    ch: tuple[int, ...] = (24, 48, 96, 160)  # at 32, 16, 8, 4
    size: int = 32
    pad: float = 0.25  # the crop is a square of side max(w, h) * (1 + pad) around the box centre

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.n1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.n2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.n2(self.c2(F.relu(self.n1(self.c1(x))))))


def _down(ci: int, co: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(ci, co, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU())


class BoxVerifier(nn.Module):
    def __init__(self, config: VerifierConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or VerifierConfig()
        c0, c1, c2, c3 = c.ch
        self.stem = nn.Sequential(nn.Conv2d(3, c0, 3, padding=1, bias=False), nn.BatchNorm2d(c0), nn.ReLU())
        self.body = nn.Sequential(_down(c0, c1), _Block(c1), _down(c1, c2), _Block(c2), _down(c2, c3), _Block(c3))
        self.head = nn.Linear(c3, c.n_cats + c.n_colors)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: B,3,size,size in [-1, 1] -> (category logits B,n_cats; colour logits B,n_colors)."""
        h = self.body(self.stem(x)).mean((2, 3))
        out = self.head(h)
        return out[:, : self.config.n_cats], out[:, self.config.n_cats:]


def square_window(image: np.ndarray, box, pad: float = 0.25, jitter=None) -> np.ndarray:
    """The square around ``box`` (normalised x0, y0, x1, y1), of side max(w, h) * (1 + pad), cut from an HxW(xC)
    array at full resolution. ``jitter`` = (dx, dy, scale) moves the centre by dx, dy (fractions of the side)
    and scales the side. Parts outside the canvas repeat the edge."""
    H, W = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2 * W, (box[1] + box[3]) / 2 * H
    side = max((box[2] - box[0]) * W, (box[3] - box[1]) * H, 4.0) * (1 + pad)
    if jitter is not None:
        dx, dy, s = jitter
        cx, cy, side = cx + dx * side, cy + dy * side, side * s
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = max(2, int(round(side)))
    ys = np.clip(np.arange(y0, y0 + n), 0, H - 1)
    xs = np.clip(np.arange(x0, x0 + n), 0, W - 1)
    return image[ys[:, None], xs[None, :]]


def crop_square(image: np.ndarray, box, size: int = 32, pad: float = 0.25, jitter=None) -> np.ndarray:
    """``square_window`` of an HxWx3 uint8 array, resized to size x size (x 3, uint8): the verifier's input."""
    from PIL import Image

    sq = square_window(image, box, pad, jitter)
    return np.asarray(Image.fromarray(sq).resize((size, size), Image.Resampling.BOX))


def to_input(crops: np.ndarray) -> torch.Tensor:
    """N x size x size x 3 uint8 -> N,3,size,size float in [-1, 1]."""
    return torch.from_numpy(crops.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0)
