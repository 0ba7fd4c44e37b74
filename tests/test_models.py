"""The bundled-model machinery on tiny random models (fast; no trained weights needed)."""

import numpy as np
import pytest
import torch
from PIL import Image

from thinkdraw.draw.scene import SceneRenderer
from thinkdraw.models.autoencoder import AEConfig, AutoEncoder
from thinkdraw.models.condition import build_cond, plan_maps, prompt_tokens
from thinkdraw.models.generator import GenConfig, Generator, flow_loss, sample_flow
from thinkdraw.models.weights import WeightsError, load_into, read_weights, save_weights
from thinkdraw.think import plan_prompt


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    ae = AutoEncoder(AEConfig(ch=(4, 8, 8, 8), latent=4)).eval()
    gen = Generator(GenConfig(latent=4, ch=(8, 8, 8), cond_dim=16, tok_emb=8)).eval()
    with torch.no_grad():  # non-zero output layer so the test sees real generation
        gen.out[-1].weight.normal_(0, 0.1)
    return ae, gen


def test_shapes_and_loss(tiny):
    ae, gen = tiny
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y, z = ae(x)
    assert z.shape == (2, 4, 8, 8) and y.shape == x.shape
    _, plan = plan_prompt("two red apples left of a blue cup")
    cond = build_cond([plan, None], ["two red apples", None], 8)
    loss = flow_loss(gen, torch.randn(2, 4, 8, 8), cond)
    loss.backward()
    assert torch.isfinite(loss)


def test_plan_maps_paint_boxes_in_z_order():
    _, plan = plan_prompt("an apple on a table")
    m = plan_maps(plan, 32)
    apple, table = plan.entity("apple_1"), plan.entity("table_1")
    cx, cy = int((apple.box[0] + apple.box[2]) / 2 * 32), int((apple.box[1] + apple.box[3]) / 2 * 32)
    from thinkdraw.world.vocab import CATEGORY_NAMES, COLOR_NAMES

    assert m["cat"][cy, cx] == CATEGORY_NAMES.index("apple") + 1
    assert m["color"][cy, cx] == COLOR_NAMES.index("red") + 1
    tx = int((table.box[0] + 0.02) * 32)
    ty = int((table.box[3] - 0.02) * 32)
    assert m["cat"][ty, tx] == CATEGORY_NAMES.index("table") + 1
    assert m["edge"].max() == 1.0
    assert prompt_tokens("a red apple") == prompt_tokens("A red apple!")


def test_sampler_keeps_latents_outside_mask(tiny):
    _, gen = tiny
    init = torch.randn(1, 4, 8, 8)
    keep = torch.zeros(1, 1, 8, 8)
    keep[..., :4] = 1
    calls = []
    out = sample_flow(lambda x, t: torch.randn_like(x), torch.randn(1, 4, 8, 8), steps=4, keep=keep, init=init,
                      callback=lambda i, n: calls.append((i, n)))
    assert torch.equal(out[..., :4], init[..., :4])
    assert not torch.equal(out[..., 4:], init[..., 4:])
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_masked_regeneration_is_bit_identical_outside_the_mask(tiny):
    ae, gen = tiny
    r = SceneRenderer(steps=3, tokenizer=ae, generator=gen)
    _, plan = plan_prompt("a red ball next to a blue cup and a sign that says HI")
    plan.canvas.width = plan.canvas.height = 64
    first = r.draw(plan, seed=1).image
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    mask = np.zeros((64, 64), bool)
    mask[10:30, 20:50] = True
    out = np.asarray(r.draw(plan, seed=2, mask=mask, init=init).image)
    assert np.array_equal(out[~mask], np.asarray(init)[~mask])
    assert not np.array_equal(out[mask], np.asarray(init)[mask])
    assert first.size == (64, 64)


def test_same_seed_same_image_and_modes(tiny):
    ae, gen = tiny
    r = SceneRenderer(steps=2, tokenizer=ae, generator=gen)
    _, plan = plan_prompt("three stars")
    plan.canvas.width = plan.canvas.height = 64
    a, b = r.draw(plan, seed=7).image, r.draw(plan, seed=7).image
    assert a.tobytes() == b.tobytes()
    c = r.draw(plan, seed=8).image
    assert a.tobytes() != c.tobytes()
    d = r.draw(plan, seed=7, mode="direct").image
    assert d.size == (64, 64)
    with pytest.raises(ValueError, match="mode"):
        r.draw(plan, mode="dream")
    with pytest.raises(ValueError, match="both mask and init"):
        r.draw(plan, mask=np.zeros((64, 64), bool))


def test_weights_round_trip_and_clear_errors(tmp_path, tiny):
    ae, _ = tiny
    p = save_weights(ae, tmp_path / "ae.safetensors", ae.config.to_dict())
    sd, meta = read_weights(p)
    cfg = meta["config"]
    cfg["ch"] = tuple(cfg["ch"])
    again = load_into(AutoEncoder(AEConfig(**cfg)), sd, p)
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(again.encode(x), ae.encode(x), atol=1e-2, rtol=1e-2)  # fp16 storage
    with pytest.raises(WeightsError, match="not found.*missing.safetensors"):
        read_weights(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    with pytest.raises(WeightsError, match="bad.safetensors"):
        read_weights(bad)
    with pytest.raises(WeightsError, match="does not fit"):
        load_into(AutoEncoder(AEConfig(ch=(4, 8, 8, 16), latent=4)), sd, p)


def test_train_scripts_run_and_resume(tmp_path):
    """Two tiny steps of each training script, then a resume: checkpoints, log and curve are written."""
    from thinkdraw.train.tokenizer import TokConfig, train

    out = tmp_path / "tok"
    cfg = TokConfig(out=str(out), steps=2, batch=2, crop=32, crops_per_image=2, log_every=1, ckpt_every=1,
                    eval_images=1)
    train(cfg, log=lambda *a: None)
    assert (out / "checkpoint.safetensors").is_file() and (out / "loss_curve.png").is_file()
    cfg.steps = 3
    train(cfg, resume=True, log=lambda *a: None)
    import json

    log = json.loads((out / "train_log.json").read_text())
    assert [r["step"] for r in log["records"]] == [1, 2, 3] and "heldout" in log["summary"]


def test_generator_training_script_runs_and_resumes(tmp_path, tiny):
    """Data cache, two steps, resume: with a tiny tokenizer saved to a temp file."""
    import json

    from thinkdraw.train.generator import GenTrainConfig, train

    ae, _ = tiny
    tok = save_weights(ae, tmp_path / "tok.safetensors", ae.config.to_dict())
    out = tmp_path / "gen"
    cfg = GenTrainConfig(out=str(out), tokenizer=str(tok), samples=6, steps=2, batch=2, log_every=1, ckpt_every=1)
    train(cfg, log=lambda *a: None)
    assert (out / "data.safetensors").is_file() and (out / "generator.safetensors").is_file()
    cfg.steps = 3
    train(cfg, resume=True, log=lambda *a: None)
    log = json.loads((out / "train_log.json").read_text())
    assert [r["step"] for r in log["records"]] == [1, 2, 3]


def test_engine_think_and_direct(tmp_path, tiny):
    from thinkdraw import Engine
    from thinkdraw.plan.pngmeta import read_png_meta

    ae, gen = tiny
    eng = Engine(renderer=SceneRenderer(steps=2, tokenizer=ae, generator=gen))
    r = eng.generate("two red apples left of a blue cup", seed=0, mode="think")
    assert r.image.size == (256, 256) and len(r.plan.entities) == 3 and r.reasoning.steps
    assert set(r.timings) == {"plan", "draw", "total"}
    d = eng.generate("two red apples left of a blue cup", seed=0, mode="direct")
    assert d.plan.entities == [] and d.reasoning.steps == []
    meta = read_png_meta(r.save(str(tmp_path / "x.png")))
    assert meta["mode"] == "think" and meta["seed"] == 0
    with pytest.raises(ValueError, match="mode"):
        eng.generate("a cat", mode="dream")


def test_bundled_weights_are_small_safetensors_and_draw():
    from thinkdraw.models.bundled import GENERATOR_FILE, TOKENIZER_FILE
    from thinkdraw.models.weights import WEIGHTS_DIR

    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.safetensors"))
    assert TOKENIZER_FILE.is_file() and GENERATOR_FILE.is_file() and total <= 40 * 2**20
    for name in ("tokenizer", "generator", "critic", "verifier", "things", "describer"):  # the training log and curve sit next to them
        assert (WEIGHTS_DIR / f"{name}.train_log.json").is_file() and (WEIGHTS_DIR / f"{name}.loss_curve.png").is_file()
    from thinkdraw.draw.builtin import BuiltinRenderer

    r = BuiltinRenderer()
    _, plan = plan_prompt("a red ball next to a blue cup")
    img = r.draw(plan, seed=0).image
    assert img.size == (256, 256) and img.tobytes() == r.draw(plan, seed=0).image.tobytes()


def test_reflect_mode_redraws_only_failed_regions(tiny):
    """A scripted critic fails one box in round 0 and passes in round 1: only that region changes."""
    from thinkdraw import Engine
    from thinkdraw.plan.schema import Check, Critique

    ae, gen = tiny

    class Scripted:
        name = "scripted"

        def __init__(self):
            self.calls = 0

        def check(self, image, plan):
            self.calls += 1
            e = plan.entities[0]
            ok = self.calls > 1
            return Critique(checks=[Check(kind="presence", target=e.id, passed=ok, box=e.box)], score=float(ok),
                            reflection="fine" if ok else f"{e.id} is missing", failed_regions=[] if ok else [e.box])

    critic = Scripted()
    eng = Engine(renderer=SceneRenderer(steps=2, tokenizer=ae, generator=gen), critic=critic)
    r = eng.generate("a red ball next to a blue cup", seed=0, mode="reflect")
    assert len(r.rounds) == 2 and critic.calls == 2 and r.rounds[1].critique.score == 1.0
    assert r.image is r.rounds[1].image
    from thinkdraw.engine import regions_mask

    m = regions_mask([r.plan.entities[0].box], 256, 256)
    a, b = np.asarray(r.rounds[0].image), np.asarray(r.rounds[1].image)
    assert np.array_equal(a[~m], b[~m])
    assert [s.stage for s in r.reasoning.steps].count("reflect") == 3
    assert {"draw", "reflect", "refine_1", "total", "plan"} <= set(r.timings)


def test_critic_training_script_runs_and_resumes(tmp_path):
    import json

    from thinkdraw.train.critic import CriticConfig, train

    out = tmp_path / "critic"
    cfg = CriticConfig(out=str(out), steps=2, batch=2, log_every=1, ckpt_every=1)
    train(cfg, log=lambda *a: None)
    cfg.steps = 3
    train(cfg, resume=True, log=lambda *a: None)
    assert (out / "critic.safetensors").is_file() and (out / "loss_curve.png").is_file()
    assert [r["step"] for r in json.loads((out / "train_log.json").read_text())["records"]] == [1, 2, 3]


def test_verifier_crop_keeps_the_box_centred_and_square():
    import numpy as np

    from thinkdraw.models.verifier import crop_square

    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 90:110] = 255  # a white square in the middle
    c = crop_square(img, (0.45, 0.4, 0.55, 0.6), size=20, pad=1.0)  # side 40 px around a 20 px box
    assert c.shape == (20, 20, 3)
    assert c[10, 10].tolist() == [255, 255, 255] and c[0, 0].tolist() == [0, 0, 0]
    assert c[5:15, 5:15].min() == 255 and c[:, :4].max() == 0
    edge = crop_square(img, (0.0, 0.0, 0.1, 0.1), size=8, pad=0.5)  # off the canvas: edge pixels repeat
    assert edge.shape == (8, 8, 3)


def test_verifier_training_script_runs_and_resumes(tmp_path):
    import json

    from thinkdraw.train.verifier import VerifierTrainConfig, train

    out = tmp_path / "verifier"
    cfg = VerifierTrainConfig(out=str(out), scenes=6, val_scenes=3, chunk=4, steps=2, batch=4, log_every=1,
                              ckpt_every=1)
    train(cfg, log=lambda *a: None)
    assert sorted(p.name for p in out.glob("data-*.npz")) == ["data-train-0.npz", "data-train-1.npz",
                                                              "data-val-0.npz"]
    cfg.steps = 3
    train(cfg, resume=True, log=lambda *a: None)
    log = json.loads((out / "train_log.json").read_text())
    assert [r["step"] for r in log["records"]] == [1, 2, 3] and "val_cat_acc" in log["records"][-1]
    assert (out / "verifier.safetensors").is_file() and (out / "loss_curve.png").is_file()


def test_bundled_verifier_names_what_a_box_holds():
    from thinkdraw.models.bundled import VERIFIER_FILE
    from thinkdraw.reflect.builtin import BuiltinCritic
    from thinkdraw.world.render import render_scene
    from thinkdraw.world.vocab import CATEGORY_NAMES, COLOR_NAMES

    assert VERIFIER_FILE.is_file()
    critic = BuiltinCritic()
    _, plan = plan_prompt("a blue ball to the left of a red apple", seed=0)
    img = render_scene(plan, seed=0).image
    pc, pk = critic.verify(img, [plan.entity("ball_1").box, plan.entity("apple_1").box, (0.0, 0.0, 0.08, 0.08)])
    names = ["nothing", *CATEGORY_NAMES]
    colors = ["none", *COLOR_NAMES]
    assert [names[i] for i in pc.argmax(1)] == ["ball", "apple", "nothing"]
    assert [colors[i] for i in pk[:2].argmax(1)] == ["blue", "red"]


def test_critic_without_verifier_still_judges_from_the_segmenter():
    from thinkdraw.reflect.builtin import BuiltinCritic
    from thinkdraw.world.render import render_scene

    critic = BuiltinCritic(verifier=False)
    _, plan = plan_prompt("a red car to the left of a yellow house", seed=0)
    clean = critic.check(render_scene(plan, seed=0).image, plan)
    assert critic.verifier is None and clean.score == 1.0


class _ScriptedVerifier(torch.nn.Module):
    """A box verifier whose every answer is the given category probabilities (colour: none)."""

    def __init__(self, probs: dict[str, float]):
        super().__init__()
        from thinkdraw.models.verifier import VerifierConfig
        from thinkdraw.world.vocab import CATEGORY_NAMES

        self.config = VerifierConfig()
        p = torch.full((self.config.n_cats,), 1e-6)
        for name, v in probs.items():
            p[0 if name == "nothing" else CATEGORY_NAMES.index(name) + 1] = v
        self.logits = p.log()

    def forward(self, x):
        n = x.shape[0]
        return self.logits.expand(n, -1), torch.zeros(n, self.config.n_colors)


def test_critic_takes_a_share_of_the_kind_between_kinds_but_never_against_nothing():
    from thinkdraw.reflect.builtin import BuiltinCritic
    from thinkdraw.world.render import render_scene

    _, plan = plan_prompt("a ball", seed=0)
    img = render_scene(plan, seed=0).image

    def presence(probs):
        crit = BuiltinCritic(verifier=_ScriptedVerifier(probs), ocr=False).check(img, plan)
        return next(c for c in crit.checks if c.kind == "presence")

    assert presence({"ball": 0.3, "apple": 0.7}).passed  # a ball somewhat like an apple: still a ball
    assert presence({"ball": 0.6, "nothing": 0.4}).passed  # its likeliest answer
    miss = presence({"ball": 0.4, "nothing": 0.6})  # what the verifier takes first for no thing is a blob
    assert not miss.passed and "mostly nothing" in miss.observed

def test_bundled_critic_passes_a_clean_render_and_flags_a_missing_object():
    from thinkdraw.models.bundled import CRITIC_FILE
    from thinkdraw.models.weights import WEIGHTS_DIR
    from thinkdraw.reflect.builtin import BuiltinCritic
    from thinkdraw.world.render import render_scene

    assert CRITIC_FILE.is_file() and (WEIGHTS_DIR / "critic.train_log.json").is_file()
    critic = BuiltinCritic()
    _, plan = plan_prompt("a red car to the left of a yellow house", seed=0)
    clean = critic.check(render_scene(plan, seed=0).image, plan)
    assert clean.score == 1.0 and clean.reflection.startswith("Everything"), clean.reflection
    bad = plan.model_copy(deep=True)
    bad.relations = []
    bad.entities = [e for e in bad.entities if e.id != "car_1"]
    crit = critic.check(render_scene(bad, seed=0).image, plan)
    failed = {c.target for c in crit.checks if not c.passed}
    assert "car_1" in failed and "car_1" in crit.reflection and crit.failed_regions


def test_reflect_stops_when_a_round_does_not_raise_the_score(tiny):
    """Scores 0.5, 0.5: round 1 did not help, so round 2 is not tried; 0.2, 0.5, ...: round 2 is tried."""
    from thinkdraw import Engine
    from thinkdraw.plan.schema import Check, Critique

    ae, gen = tiny

    class Scripted:
        name = "scripted"

        def __init__(self, scores):
            self.scores, self.calls = scores, 0

        def check(self, image, plan):
            s = self.scores[min(self.calls, len(self.scores) - 1)]
            self.calls += 1
            e = plan.entities[0]
            return Critique(checks=[Check(kind="presence", target=e.id, passed=False, box=e.box)], score=s,
                            reflection=f"{e.id} is missing", failed_regions=[e.box])

    renderer = SceneRenderer(steps=2, tokenizer=ae, generator=gen)
    flat = Scripted([0.5, 0.5, 0.9])
    r = Engine(renderer=renderer, critic=flat, max_rounds=2).generate("a red ball", seed=0, mode="reflect")
    assert flat.calls == 2 and [x.label for x in r.rounds] == ["draw", "refine 1"]
    assert "did not raise the score" in r.reasoning.render()
    rising = Scripted([0.2, 0.5, 0.4])
    r = Engine(renderer=renderer, critic=rising, max_rounds=2).generate("a red ball", seed=0, mode="reflect")
    assert rising.calls == 3 and len(r.rounds) == 3 and r.image is r.rounds[1].image  # the best round is kept


def test_reflect_breaks_score_ties_by_the_critics_evidence(tiny):
    """Same score, more evidence (a missing thing half drawn): the later round is kept, and it counts as a gain."""
    from thinkdraw import Engine
    from thinkdraw.plan.schema import Check, Critique

    ae, gen = tiny

    class Graded:
        name = "graded"

        def __init__(self):
            self.calls = 0

        def check(self, image, plan):
            ev = [0.3, 0.4, 0.35][min(self.calls, 2)]
            self.calls += 1
            e = plan.entities[0]
            return Critique(checks=[Check(kind="presence", target=e.id, passed=False, box=e.box)], score=0.0,
                            evidence=ev, reflection=f"{e.id} is missing", failed_regions=[e.box])

    critic = Graded()
    eng = Engine(renderer=SceneRenderer(steps=2, tokenizer=ae, generator=gen), critic=critic, max_rounds=2)
    r = eng.generate("a red ball", seed=0, mode="reflect")
    assert critic.calls == 3 and r.image is r.rounds[1].image


def test_bundled_critic_evidence_grades_a_failure():
    from thinkdraw.reflect.builtin import BuiltinCritic
    from thinkdraw.world.render import render_scene

    critic = BuiltinCritic(ocr=False)
    _, plan = plan_prompt("a red car to the left of a yellow house", seed=0)
    clean = critic.check(render_scene(plan, seed=0).image, plan)
    assert clean.evidence == clean.score == 1.0
    bad = plan.model_copy(deep=True)
    bad.entity("car_1").attributes.color = "blue"
    crit = critic.check(render_scene(bad, seed=0).image, plan)
    assert crit.score < 1.0 and crit.score <= crit.evidence < 1.0


def test_blob_weights_set_the_odds_of_the_blob_kinds_and_bad_ones_fail_clearly(monkeypatch):
    import random

    import pytest

    import thinkdraw.pixels as pixels
    from thinkdraw.think import plan_prompt
    from thinkdraw.train.verifier import blob_scene, parse_blob_weights
    from thinkdraw.world.layout import solve_layout
    from thinkdraw.world.render import render_scene

    assert parse_blob_weights("1,1,1.5,3") == (1.0, 1.0, 1.5, 3.0)
    for bad in ("1,2", "a,b,c,d", "0,0,0,0", "1,1,-1,1"):
        with pytest.raises(ValueError, match="blob-weights"):
            parse_blob_weights(bad)
    plan = solve_layout(plan_prompt("a red house next to a green tree")[1]).plan
    sc = render_scene(plan, seed=0)
    seen: set[str] = set()
    real = pixels.blob_layer

    def spy(img, mask, short, kind, **kw):  # which blob kinds blob_scene asks for
        seen.add(kind)
        return real(img, mask, short, kind, **kw)

    monkeypatch.setattr(pixels, "blob_layer", spy)
    rng = random.Random(0)
    for _ in range(6):
        blob_scene(plan, sc, rng, 0, (0.0, 0.0, 0.0, 1.0))  # odds: smears only
    assert seen == {"smear"}
