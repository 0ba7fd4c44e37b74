"""The diffusers renderer on tiny random-initialised pipelines built here from configs (no download, seconds)."""

import json
import subprocess
import sys
import types

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the diffusers extra is not installed: pip install 'thinkdraw[diffusers]'")
pytest.importorskip("transformers", reason="the diffusers extra is not installed: pip install 'thinkdraw[diffusers]'")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from thinkdraw.draw.diffusers_renderer import (  # noqa: E402
    DiffusersRenderer,
    ModelError,
    entity_prompt,
    region_masks,
)
from thinkdraw.plan.schema import Attributes, Canvas, Entity, ScenePlan, TextBlock  # noqa: E402

SIZE = 64  # px; the tiny VAE's factor is 4, so the latent grid is 16x16
F = 4


def _tokenizer(folder):
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789,.'\"":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77), len(vocab)


def _text_encoder(n_vocab, projection=False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(vocab_size=n_vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1, projection_dim=16)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg).eval()


def _parts(folder, in_channels=4, xl=False):
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

    torch.manual_seed(0)
    tok, n = _tokenizer(folder)
    kw = dict(addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=16 + 6 * 8,
              cross_attention_dim=32) if xl else dict(cross_attention_dim=16)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=SIZE // F,
                                in_channels=in_channels, out_channels=4, norm_num_groups=4, attention_head_dim=2,
                                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), **kw).eval()
    vae = AutoencoderKL(block_out_channels=[4, 4, 4], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
                        layers_per_block=1, down_block_types=["DownEncoderBlock2D"] * 3,
                        up_block_types=["UpDecoderBlock2D"] * 3).eval()
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    return dict(unet=unet, vae=vae, scheduler=sched, tokenizer=tok, text_encoder=_text_encoder(n)), n


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    from diffusers import StableDiffusionPipeline

    folder = tmp_path_factory.mktemp("sd")
    parts, _ = _parts(folder)
    StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(folder / "pipe")
    return folder / "pipe"


@pytest.fixture(scope="module")
def renderer(sd_folder):
    return DiffusersRenderer(model=str(sd_folder), steps=3)


def _plan(texts=False) -> ScenePlan:
    ents = [Entity(id="apple_1", noun="apple", attributes=Attributes(color="red"), box=(0.05, 0.5, 0.45, 0.95)),
            Entity(id="cup_1", noun="cup", attributes=Attributes(color="blue"), box=(0.55, 0.4, 0.95, 0.95))]
    tx = [TextBlock(id="t1", content="HI", box=(0.1, 0.05, 0.9, 0.35), color="black")] if texts else []
    return ScenePlan(prompt="a red apple left of a blue cup", canvas=Canvas(width=SIZE, height=SIZE), entities=ents,
                     texts=tx)


def test_size_determinism_and_progress(renderer):
    ticks = []
    a = renderer.draw(_plan(), seed=0, progress=lambda i, n: ticks.append((i, n)))
    b = renderer.draw(_plan(), seed=0)
    c = renderer.draw(_plan(), seed=1)
    assert a.image.size == (SIZE, SIZE) and a.image.mode == "RGB"
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))
    assert ticks == [(1, 3), (2, 3), (3, 3)]
    assert [r["prompt"] for r in a.info["regions"]] == ["a red apple", "a blue cup"]
    assert a.info["background_prompt"] == "a grassy field" and a.info["device"] == "cpu"
    d = renderer.draw(_plan(), seed=0, mode="direct")
    assert d.image.size == (SIZE, SIZE) and d.info["regions"] == []
    plan = _plan()
    plan.canvas.width = 96
    assert renderer.draw(plan, seed=0, steps=2).image.size == (96, SIZE)


def test_steps_run_as_asked_and_bad_input(sd_folder, renderer):
    ticks = []
    out = renderer.draw(_plan(), steps=2, progress=lambda i, n: ticks.append((i, n)))
    assert out.info["steps"] == 2 and ticks == [(1, 2), (2, 2)]  # never raised behind the caller's back
    assert renderer.refine_steps == 10  # what it tells the engine a refine round needs
    assert DiffusersRenderer(pipeline=renderer.pipe, refine_steps=3).refine_steps == 3
    with pytest.raises(ValueError, match="at least 1"):
        DiffusersRenderer(pipeline=renderer.pipe, refine_steps=0)
    plan = _plan()
    plan.canvas.width = 66
    with pytest.raises(ValueError, match="multiple of 4 px"):
        renderer.draw(plan)
    with pytest.raises(ValueError, match="both mask and init"):
        renderer.draw(_plan(), mask=np.ones((SIZE, SIZE), bool))
    with pytest.raises(ValueError, match="unknown mode"):
        renderer.draw(_plan(), mode="reflect")


def _masked_check(r):
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), "RGB")
    mask = np.zeros((SIZE, SIZE), bool)
    mask[10:40, 5:29] = True
    mask[50:60, 50:63] = True
    ticks = []
    out = np.asarray(r.draw(_plan(texts=True), seed=3, mask=mask, init=init,
                            progress=lambda i, n: ticks.append(i)).image)
    src = np.asarray(init)
    assert np.array_equal(out[~mask], src[~mask])  # every pixel outside the mask, bit for bit
    assert (out[mask] != src[mask]).any(axis=-1).mean() > 0.5
    assert ticks == [1, 2, 3]


def test_masked_regeneration_keeps_outside_bit_identical(renderer):
    _masked_check(renderer)


def test_inpainting_checkpoint_masked(tmp_path):
    from diffusers import StableDiffusionInpaintPipeline

    parts, _ = _parts(tmp_path, in_channels=9)
    pipe = StableDiffusionInpaintPipeline(**parts, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.save_pretrained(tmp_path / "inpaint")
    r = DiffusersRenderer(model=str(tmp_path / "inpaint"), steps=3)
    assert r.pipeline_class == "StableDiffusionInpaintPipeline"
    _masked_check(r)
    assert r.draw(_plan(), seed=0).image.size == (SIZE, SIZE)  # plain drawing: the whole canvas masked


class _ConstUNet(torch.nn.Module):
    """Answers, for every latent cell, one constant per prompt: the mean of that prompt's text embedding."""

    def __init__(self):
        super().__init__()
        self.config = types.SimpleNamespace(in_channels=4, sample_size=SIZE // F)
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def forward(self, x, t, encoder_hidden_states, return_dict=False, **kw):
        c = encoder_hidden_states.float()[..., 0].mean(1)
        return (c[:, None, None, None] * torch.ones_like(x),)


def _const(pipe, prompts):
    with torch.no_grad():
        return pipe.encode_prompt(prompts, "cpu", 1, False)[0].float()[..., 0].mean(1)


def test_region_composition_puts_each_prompt_in_its_box(renderer):
    pipe = renderer.pipe
    fake = types.SimpleNamespace(unet=_ConstUNet(), vae=pipe.vae, scheduler=pipe.scheduler,
                                 encode_prompt=pipe.encode_prompt, vae_scale_factor=pipe.vae_scale_factor)
    w = 5.0
    r = DiffusersRenderer(pipeline=fake, steps=4, guidance=w, soft=0.0, ground=0.5, negative="blurry")
    plan = _plan()
    plan.entities[1].box = (0.3, 0.3, 0.9, 0.9)  # overlaps the apple...
    plan.entities[0].z = 1  # ...which is on top
    seen = {}
    r._trace = lambda i, eps: seen.setdefault(i, eps[0, 0].clone())
    r.draw(plan, seed=0)
    whole, bg, apple, cup, neg = _const(pipe, [plan.prompt, "a grassy field", "a red apple", "a blue cup", "blurry"])
    assert len({round(float(v), 6) for v in (whole, bg, apple, cup, neg)}) == 5  # the prompts are told apart
    g = lambda c: float(neg + w * (c - neg))  # noqa: E731 - classifier-free guidance against the negative
    n = SIZE // F
    c = (np.arange(n) + 0.5) / n  # latent cell centres

    def inside(b):
        return torch.from_numpy((c[:, None] >= b[1]) & (c[:, None] <= b[3]) & (c[None] >= b[0]) & (c[None] <= b[2]))

    want = torch.full((n, n), g(bg))
    want[inside(plan.entities[1].box)] = g(cup)
    want[inside(plan.entities[0].box)] = g(apple)
    assert (want == g(apple)).sum() > 10 and (want == g(cup)).sum() > 10 and (want == g(bg)).sum() > 10
    for i in (0, 1):  # grounded steps: each region's prediction exactly inside its box, z order in the overlap
        assert torch.allclose(seen[i], want, atol=1e-5), i
    for i in (2, 3):  # the rest: the whole prompt everywhere
        assert torch.allclose(seen[i], torch.full((n, n), g(whole)), atol=1e-5)


def test_region_masks_soft_and_hard():
    hard = region_masks([(0.25, 0.25, 0.75, 0.75)], 8, 8, 0.0)[0]
    assert hard.sum() == 16 and hard[2:6, 2:6].all()
    soft = region_masks([(0.25, 0.25, 0.75, 0.75)], 8, 8, 2.0)[0]
    assert torch.equal(soft[2:6, 2:6], hard[2:6, 2:6]) and 0 < soft[1, 3] < 1 and soft[0, 0] == 0
    assert entity_prompt(Entity(id="e", noun="apple", attributes=Attributes(color="green"))) == "a green apple"
    assert entity_prompt(Entity(id="e", noun="owl")) == "an owl"


def test_text_is_stamped_letter_exact(renderer):
    from thinkdraw.draw.diffusers_renderer import stamp_text
    from thinkdraw.world.render import render_glyphs, resolve_color

    plan = _plan(texts=True)
    plan.canvas.width = plan.canvas.height = 128
    with_text = np.asarray(renderer.draw(plan, seed=0).image)
    plain = plan.model_copy(deep=True)
    plain.texts = []
    without = np.asarray(renderer.draw(plain, seed=0).image)
    assert np.array_equal(with_text, stamp_text(without, plan))
    alpha = render_glyphs(plan, (128, 128))[..., 0]
    black = np.array(resolve_color("black"), np.uint8)
    assert (alpha >= 0.999).sum() > 20 and (with_text[alpha >= 0.999] == black).all()  # the glyphs' own colour
    assert np.array_equal(with_text[alpha == 0], without[alpha == 0])


def test_engine_image_carries_its_plan(renderer, tmp_path):
    from thinkdraw.draw.base import get_renderer
    from thinkdraw.engine import Engine
    from thinkdraw.plan.pngmeta import read_image_meta

    r = get_renderer("diffusers", model=renderer.model)
    r.steps = r.refine_steps = 2
    res = Engine(renderer=r).generate("a red apple left of a blue cup", seed=2, mode="think", size=SIZE)
    path = res.save(str(tmp_path / "x.png"))
    meta = read_image_meta(path)
    assert meta["renderer"] == "diffusers" and meta["seed"] == 2
    assert [e.noun for e in meta["plan"].entities] == ["apple", "cup"]
    assert res.image.size == (SIZE, SIZE)
    # without size the renderer's own canvas (the UNet's sample size x the VAE factor) is drawn
    assert Engine(renderer=r).generate("a red apple", mode="think").image.size == (SIZE, SIZE)


def test_clear_errors(tmp_path, sd_folder):
    with pytest.raises(ModelError, match="no model folder"):
        DiffusersRenderer(model=str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        DiffusersRenderer(model="nobody/no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no model_index.json"):
        DiffusersRenderer(model=str(tmp_path / "empty"))
    (tmp_path / "flux").mkdir()
    (tmp_path / "flux" / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(ModelError, match="unsupported pipeline FluxPipeline"):
        DiffusersRenderer(model=str(tmp_path / "flux"))
    (tmp_path / "one.safetensors").write_bytes(b"x")
    with pytest.raises(ModelError, match="single file"):
        DiffusersRenderer(model=str(tmp_path / "one.safetensors"))
    with pytest.raises(ModelError, match="needs a model"):
        DiffusersRenderer(model=None)


def test_cli_model_flag(tmp_path, sd_folder, capsys, monkeypatch):
    from thinkdraw.cli import main
    from thinkdraw.draw import diffusers_renderer

    monkeypatch.setattr(diffusers_renderer, "STEPS", 2)
    monkeypatch.setattr(diffusers_renderer, "REFINE_STEPS", 1)

    assert main(["generate", "a red apple", "--renderer", "diffusers", "--model", str(tmp_path / "nope"),
                 "-o", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no model folder" in err[0]
    assert main(["generate", "a red apple", "--model", str(sd_folder), "-o", str(tmp_path / "b.png")]) == 2
    assert "--model is for --renderer diffusers" in capsys.readouterr().err
    out = tmp_path / "c.png"
    assert main(["generate", "a red apple", "--renderer", "diffusers", "--model", str(sd_folder), "--mode", "think",
                 "--size", str(SIZE), "-o", str(out), "-q"]) == 0
    assert Image.open(out).size == (SIZE, SIZE)
    assert main(["inspect", str(out)]) == 0
    assert "diffusers" in capsys.readouterr().out


def test_sdxl_pipeline(tmp_path):
    from diffusers import StableDiffusionXLPipeline

    parts, n = _parts(tmp_path, xl=True)
    tok2, _ = _tokenizer(tmp_path)
    te = parts["text_encoder"]
    torch.manual_seed(1)
    te2 = _text_encoder(n, projection=True)
    StableDiffusionXLPipeline(**{**parts, "text_encoder": te}, text_encoder_2=te2, tokenizer_2=tok2) \
        .save_pretrained(tmp_path / "xl")
    r = DiffusersRenderer(model=str(tmp_path / "xl"), steps=2)
    assert r.xl and r.pipeline_class == "StableDiffusionXLPipeline"
    a, b = r.draw(_plan(), seed=0), r.draw(_plan(), seed=0)
    assert a.image.size == (SIZE, SIZE) and np.array_equal(np.asarray(a.image), np.asarray(b.image))
    _masked_check(DiffusersRenderer(model=str(tmp_path / "xl"), steps=3))


def test_core_never_imports_diffusers():
    code = ("import sys, thinkdraw; from thinkdraw.engine import Engine; from thinkdraw import cli; "
            "Engine(renderer='sketch').generate('a red apple', mode='think'); "
            "from thinkdraw.draw.base import renderer_names; assert 'diffusers' in renderer_names(); "
            "assert 'diffusers' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ancestral_scheduler_is_seeded(renderer):
    from diffusers import EulerAncestralDiscreteScheduler

    pipe = renderer.pipe
    ns = types.SimpleNamespace(unet=pipe.unet, vae=pipe.vae, encode_prompt=pipe.encode_prompt,
                               vae_scale_factor=pipe.vae_scale_factor,
                               scheduler=EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config))
    r = DiffusersRenderer(pipeline=ns, steps=3)
    a, b = (np.asarray(r.draw(_plan(), seed=5).image) for _ in range(2))
    assert np.array_equal(a, b)  # the per-step noise comes from the seeded generator, not torch's global one


def test_engine_refine_round_asks_the_renderer(renderer, monkeypatch):
    from thinkdraw.engine import Engine
    from thinkdraw.plan.schema import Check, Critique

    class FailOnce:
        name, looks = "scripted", 0

        def check(self, image, plan):
            self.looks += 1
            c = Check(kind="presence", target=plan.entities[0].id, passed=self.looks > 1, box=plan.entities[0].box)
            return Critique(checks=[c], score=float(c.passed), reflection="", failed_regions=[] if c.passed else [c.box])

    steps = []
    draw = renderer.draw

    def spy(plan, **kw):
        out = draw(plan, **kw)
        steps.append((kw.get("steps"), out.info["steps"], kw.get("mask") is not None))
        return out

    monkeypatch.setattr(renderer, "draw", spy)
    monkeypatch.setattr(renderer, "refine_steps", 2)
    res = Engine(renderer=renderer, critic=FailOnce()).generate("a red apple left of a blue cup", mode="reflect",
                                                                size=SIZE)
    assert len(res.rounds) == 2
    assert steps == [(None, 3, False), (2, 2, True)]  # first drawing: its default steps; refine: what it said


# --- GLIGEN: a UNet with gated self-attention and a position net, driven with the plan's boxes ---------------
@pytest.fixture(scope="module")
def gligen_folder(tmp_path_factory):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.models.attention import GatedSelfAttentionDense

    folder = tmp_path_factory.mktemp("gligen")
    parts, _ = _parts(folder)
    torch.manual_seed(2)
    unet = UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=SIZE // F, in_channels=4,
                                out_channels=4, norm_num_groups=4, attention_head_dim=2, cross_attention_dim=16,
                                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), attention_type="gated").eval()
    with torch.no_grad():  # GLIGEN's gates start closed (tanh(0) = 0); a trained checkpoint's are open
        for mod in unet.modules():
            if isinstance(mod, GatedSelfAttentionDense):
                mod.alpha_attn.fill_(1.0)
                mod.alpha_dense.fill_(1.0)
    StableDiffusionPipeline(**{**parts, "unet": unet}, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(folder / "pipe")
    index = folder / "pipe" / "model_index.json"  # what a GLIGEN download's index says
    index.write_text(json.dumps({**json.loads(index.read_text()), "_class_name": "StableDiffusionGLIGENPipeline"}))
    return folder / "pipe"


@pytest.fixture(scope="module")
def gligen(gligen_folder):
    return DiffusersRenderer(model=str(gligen_folder), steps=4, gligen_beta=0.5)


def _position_net_calls(r):
    calls = []

    def hook(module, args, kwargs, out):
        calls.append({k: v.detach().clone() for k, v in kwargs.items()})

    return calls, r.pipe.unet.position_net.register_forward_hook(hook, with_kwargs=True)


def test_gligen_checkpoint_loads_and_is_detected(gligen, gligen_folder, renderer):
    from thinkdraw.draw.diffusers_renderer import gligen_kind

    assert gligen.pipeline_class == "StableDiffusionGLIGENPipeline" and gligen.gligen == "gated"
    assert gligen.grounding == "gligen"  # auto: the checkpoint's own grounding
    assert json.loads((gligen_folder / "unet" / "config.json").read_text())["attention_type"] == "gated"
    assert renderer.gligen is None and renderer.grounding == "regions" and gligen_kind(renderer.pipe) is None
    with pytest.raises(ModelError, match="needs a GLIGEN checkpoint"):
        DiffusersRenderer(pipeline=renderer.pipe, grounding="gligen")
    with pytest.raises(ModelError, match="unknown grounding"):
        DiffusersRenderer(pipeline=gligen.pipe, grounding="boxes")


def test_gligen_gets_the_plans_boxes_and_phrases(gligen):
    plan = _plan()
    calls, h = _position_net_calls(gligen)
    try:
        out = gligen.draw(plan, seed=0)
    finally:
        h.remove()
    assert len(calls) == 2  # scheduled sampling: the first gligen_beta (0.5) of the 4 steps
    c = calls[0]
    assert c["boxes"].shape == (2, 30, 4)  # 2 UNet rows: the whole prompt and the negative; no regional rows
    want = torch.tensor([list(e.box) for e in plan.entities])
    assert torch.allclose(c["boxes"][0, :2], want) and not c["boxes"][0, 2:].any()
    assert c["masks"][0].tolist() == [1.0, 1.0] + [0.0] * 28 and not c["masks"][1].any()  # negative: none
    tok = gligen.pipe.tokenizer(["a red apple", "a blue cup"], padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = gligen.pipe.text_encoder(**tok).pooler_output
    assert torch.allclose(c["positive_embeddings"][0, :2], pooled, atol=1e-5)
    assert out.info["grounding"] == "gligen" and out.info["gligen"]["phrases"] == ["a red apple", "a blue cup"]
    assert out.info["gligen"]["steps"] == 2 and out.info["regions"][0]["box"] == list(plan.entities[0].box)
    calls2, h = _position_net_calls(gligen)
    try:
        gligen.draw(plan, seed=0, mode="direct")
    finally:
        h.remove()
    assert calls2 == []  # direct mode: the prompt alone


def test_gligen_boxes_steer_the_image_deterministically(gligen):
    plan = _plan()
    a, b = (np.asarray(gligen.draw(plan, seed=0).image) for _ in range(2))
    assert a.shape == (SIZE, SIZE, 3) and np.array_equal(a, b)
    moved = plan.model_copy(deep=True)
    moved.entities[0].box, moved.entities[1].box = plan.entities[1].box, plan.entities[0].box
    assert not np.array_equal(a, np.asarray(gligen.draw(moved, seed=0).image))  # the boxes reach the pixels
    wide = plan.model_copy(deep=True)
    wide.canvas.width = 96
    assert gligen.draw(wide, seed=0).image.size == (96, SIZE)
    regions = DiffusersRenderer(pipeline=gligen.pipe, steps=4, grounding="regions")
    r = regions.draw(plan, seed=0)
    assert r.info["grounding"] == "regions" and "gligen" not in r.info
    assert not np.array_equal(a, np.asarray(r.image))


def test_gligen_together_with_regional_prompting(gligen):
    both = DiffusersRenderer(pipeline=gligen.pipe, steps=4, gligen_beta=0.25, grounding="both")
    calls, h = _position_net_calls(both)
    try:
        out = both.draw(_plan(), seed=0)
    finally:
        h.remove()
    assert len(calls) == 1 and calls[0]["boxes"].shape[0] == 4  # background + 2 regions + the negative row
    assert calls[0]["masks"][:3, :2].all() and not calls[0]["masks"][3].any()
    assert out.info["grounding"] == "both" and len(out.info["regions"]) == 2


def test_gligen_masked_refine_keeps_outside_bit_identical(gligen_folder):
    r = DiffusersRenderer(model=str(gligen_folder), steps=3)
    calls, h = _position_net_calls(r)
    try:
        _masked_check(r)
    finally:
        h.remove()
    assert len(calls) == 0  # 3 steps x beta 0.3 = 0 grounded steps (GLIGEN's own int() rounding)
    r.gligen_beta = 1.0
    calls, h = _position_net_calls(r)
    try:
        _masked_check(r)
    finally:
        h.remove()
    assert len(calls) == 3
