"""Fixtures shared by several test files."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch):
    """A config file of the person running the tests (~/.config/thinkdraw/config.toml) never changes them."""
    monkeypatch.setenv("THINKDRAW_CONFIG", "")
    for k in ("URL", "MODEL", "API_KEY"):  # nor do the LLM / VLM servers named in their environment
        monkeypatch.delenv(f"THINKDRAW_LLM_{k}", raising=False)
        monkeypatch.delenv(f"THINKDRAW_VLM_{k}", raising=False)


@pytest.fixture(scope="module")
def tiny_renderer():
    """The scene renderer on tiny random models (seconds, not minutes): masked redraw, windows, compositing."""
    from thinkdraw.draw.scene import SceneRenderer
    from thinkdraw.models.autoencoder import AEConfig, AutoEncoder
    from thinkdraw.models.generator import GenConfig, Generator

    torch.manual_seed(0)
    ae = AutoEncoder(AEConfig(ch=(4, 8, 8, 8), latent=4)).eval()
    gen = Generator(GenConfig(latent=4, ch=(8, 8, 8), cond_dim=16, tok_emb=8)).eval()
    with torch.no_grad():
        gen.out[-1].weight.normal_(0, 0.1)
    return SceneRenderer(steps=2, tokenizer=ae, generator=gen)
