"""The critic's text reader: a small CRNN (conv stack -> BiGRU -> per-column logits) trained with CTC.

The world draws every string with one bundled font (DejaVu Sans Bold, world/font.py) and the critic knows
where each text block is (its planned box), so it needs no text detection: it crops the box (padded by
3 px), and this model reads the single line in it. A line crop becomes a fixed-size grayscale strip
(``preprocess``: height 32, width 256, bright background); the conv stack turns it into 64 columns of
features, a bidirectional GRU reads them left to right and back, and each column says which character
(or the CTC blank) it sees. Greedy decoding collapses repeats and drops blanks.

    reader = load_reader()                       # models/bundled.py
    reader.read([crop])  -> ["OPEN"]             # PIL crops of text boxes
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

CHARSET = "".join(chr(c) for c in range(32, 127))  # printable ASCII: space, letters, digits, punctuation
CROP_PAD = 3  # the critic's crop: the planned text box plus this many pixels on each side


@dataclass
class ReaderConfig:
    charset: str = CHARSET  # class k + 1 is charset[k]; class 0 is the CTC blank
    height: int = 32
    width: int = 256  # wider crops are squeezed to this width, narrower ones padded with their background
    ch: tuple[int, ...] = (16, 48, 96, 128)  # at heights 32, 16, 8, 4
    hidden: int = 128  # GRU width per direction

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(ci: int, co: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU())


class TextReader(nn.Module):
    def __init__(self, config: ReaderConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or ReaderConfig()
        c0, c1, c2, c3 = c.ch
        self.convs = nn.Sequential(
            _conv(1, c0), nn.MaxPool2d(2),  # H/2, W/2
            _conv(c0, c1), nn.MaxPool2d(2),  # H/4, W/4: the columns the GRU reads
            _conv(c1, c2), _conv(c2, c2), nn.MaxPool2d((2, 1)),  # H/8
            _conv(c2, c3), nn.MaxPool2d((2, 1)),  # H/16
        )
        self.proj = nn.Linear(c3 * (c.height // 16), c.hidden)
        self.rnn = nn.GRU(c.hidden, c.hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * c.hidden, len(c.charset) + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B,1,height,width in [-1, 1] -> logits B,T,classes (T = width / 4 columns)."""
        h = self.convs(x)  # B,C,h,T
        B, C, hh, T = h.shape
        h = F.relu(self.proj(h.permute(0, 3, 1, 2).reshape(B, T, C * hh)))
        h, _ = self.rnn(h)
        return self.head(h)

    def loss(self, x: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """CTC loss of a batch against its strings."""
        logp = self(x).log_softmax(-1).transpose(0, 1)  # T,B,C
        T, B, _ = logp.shape
        targets = torch.tensor([i for t in texts for i in encode(t, self.config.charset)], dtype=torch.long)
        lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
        return F.ctc_loss(logp, targets, torch.full((B,), T, dtype=torch.long), lengths, zero_infinity=True)

    @torch.inference_mode()
    def read(self, crops: list[Image.Image]) -> list[str]:
        """The string in each crop (a text box padded by CROP_PAD pixels)."""
        return [t for t, _ in self.read_with_confidence(crops)]

    @torch.inference_mode()
    def read_with_confidence(self, crops: list[Image.Image]) -> list[tuple[str, float]]:
        """(string, confidence) per crop; the confidence is the least sure column's top probability."""
        if not crops:
            return []
        p = self(torch.stack([preprocess(c, self.config) for c in crops])).softmax(-1)
        top, idx = p.max(-1)
        return [(decode(idx[i].tolist(), self.config.charset), float(top[i].min())) for i in range(len(crops))]


def encode(text: str, charset: str = CHARSET) -> list[int]:
    """Class ids of ``text`` (characters outside the charset are dropped)."""
    return [charset.index(ch) + 1 for ch in text if ch in charset]


def decode(ids: list[int], charset: str = CHARSET) -> str:
    """Greedy CTC decoding: collapse repeated classes, drop blanks (0)."""
    out, prev = [], 0
    for i in ids:
        if i != prev and i != 0:
            out.append(charset[i - 1])
        prev = i
    return "".join(out)


def crop_text(image: Image.Image, box, pad: int = CROP_PAD) -> Image.Image:
    """The critic's crop of a text block: its box (0..1 of the canvas) plus ``pad`` pixels, inside the image."""
    W, H = image.size
    return image.crop((max(0, int(box[0] * W) - pad), max(0, int(box[1] * H) - pad),
                       min(W, int(np.ceil(box[2] * W)) + pad), min(H, int(np.ceil(box[3] * H)) + pad)))


def to_strip(crop: Image.Image, config: ReaderConfig | None = None) -> np.ndarray:
    """A crop as the model's fixed-size grayscale strip: height x width uint8, dark text on a bright background.

    Resized to ``height`` keeping its aspect (squeezed when it would be wider than ``width``), padded on the
    right with its border colour, contrast stretched, and inverted when its border (the background) is dark."""
    c = config or ReaderConfig()
    im = crop.convert("L")
    w = max(1, min(c.width, int(round(im.width * c.height / max(1, im.height)))))
    a = np.asarray(im.resize((w, c.height), Image.Resampling.BILINEAR), np.float32)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    bg = float(np.median(border))
    lo, hi = np.percentile(a, (2, 98))
    a = (a - lo) / max(hi - lo, 16.0)
    if (bg - lo) / max(hi - lo, 16.0) < 0.5:
        a = 1.0 - a
        bg_level = 1.0 - (bg - lo) / max(hi - lo, 16.0)
    else:
        bg_level = (bg - lo) / max(hi - lo, 16.0)
    out = np.full((c.height, c.width), np.clip(bg_level, 0, 1), np.float32)
    out[:, :w] = np.clip(a, 0, 1)
    return (out * 255).round().astype(np.uint8)


def strips_to_input(strips: np.ndarray) -> torch.Tensor:
    """N x height x width uint8 strips -> N,1,height,width float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(strips, np.float32))[:, None] / 127.5 - 1.0


def preprocess(crop: Image.Image, config: ReaderConfig | None = None) -> torch.Tensor:
    """The model input for one crop: 1,height,width float in [-1, 1] (the same path in training and reading)."""
    return strips_to_input(to_strip(crop, config)[None])[0]
