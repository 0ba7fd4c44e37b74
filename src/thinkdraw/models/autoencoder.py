"""The image tokenizer: a small convolutional autoencoder, 256x256 RGB <-> 32x32 latent (f=8).

The decoder also takes the full-resolution glyph raster (alpha + RGB*alpha of the planned text, see
``thinkdraw.world.render.render_glyphs``) at its last stage, so planned text comes out crisp and
letter-exact instead of being squeezed through the latent (glyph conditioning, as in GlyphControl).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thinkdraw.models.layers import ResBlock, norm


@dataclass
class AEConfig:
    latent: int = 8  # latent channels
    ch: tuple[int, ...] = (16, 32, 64, 128)  # channels at 256, 128, 64, 32
    glyph: bool = True  # decoder takes the glyph raster
    scale: float = 1.0  # latent scale (set after training so latents have unit variance)

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    def __init__(self, c: AEConfig) -> None:
        super().__init__()
        c0, c1, c2, c3 = c.ch
        self.inp = nn.Conv2d(3 * 4, c1, 3, padding=1)  # pixel-unshuffle: 256 -> 128 at once
        self.b1 = ResBlock(c1, c1)
        self.d1 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)  # 128 -> 64
        self.b2 = ResBlock(c2, c2)
        self.d2 = nn.Conv2d(c2, c3, 4, stride=2, padding=1)  # 64 -> 32
        self.b3 = ResBlock(c3, c3)
        self.out = nn.Sequential(norm(c3), nn.SiLU(), nn.Conv2d(c3, c.latent, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(F.pixel_unshuffle(x, 2))
        h = self.d1(self.b1(h))
        h = self.d2(self.b2(h))
        return self.out(self.b3(h))


class Decoder(nn.Module):
    def __init__(self, c: AEConfig) -> None:
        super().__init__()
        c0, c1, c2, c3 = c.ch
        self.inp = nn.Conv2d(c.latent, c3, 3, padding=1)
        self.b3 = nn.ModuleList([ResBlock(c3, c3), ResBlock(c3, c3)])
        self.u2 = nn.Conv2d(c3, c2, 3, padding=1)  # after upsample to 64
        self.b2 = ResBlock(c2, c2)
        self.u1 = nn.Conv2d(c2, c1, 3, padding=1)  # after upsample to 128
        self.b1 = ResBlock(c1, c1)
        self.u0 = nn.Conv2d(c1, c0, 3, padding=1)  # after upsample to 256
        g = 4 if c.glyph else 0
        self.mix = nn.Conv2d(c0 + g, c0, 3, padding=1)
        self.out = nn.Conv2d(c0, 3, 3, padding=1)
        self.glyph = c.glyph

    def forward(self, z: torch.Tensor, glyph: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(z)
        for b in self.b3:
            h = b(h)
        h = self.b2(self.u2(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = self.b1(self.u1(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = F.silu(self.u0(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        if self.glyph:
            if glyph is None:
                glyph = torch.zeros(h.shape[0], 4, h.shape[2], h.shape[3], dtype=h.dtype, device=h.device)
            h = torch.cat([h, glyph], dim=1)
        h = F.silu(self.mix(h))
        return self.out(h)


class AutoEncoder(nn.Module):
    """Images in [-1, 1], NCHW; latents are multiplied by ``config.scale`` on the way out."""

    def __init__(self, config: AEConfig | None = None) -> None:
        super().__init__()
        self.config = config or AEConfig()
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x) * self.config.scale

    def decode(self, z: torch.Tensor, glyph: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z / self.config.scale, glyph)

    def forward(self, x: torch.Tensor, glyph: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return self.decoder(z, glyph), z
