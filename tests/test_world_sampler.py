"""The world sampler, its train/held-out split, and the sharded dataset writer."""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations

import numpy as np
import pytest

from thinkdraw.plan.schema import ScenePlan
from thinkdraw.world import dataset as ds
from thinkdraw.world.sampler import plural, sample, sample_one, spec_at
from thinkdraw.world.templates import (
    TASKS,
    TEMPLATES,
    TEMPLATES_BY_ID,
    is_heldout_color,
    is_heldout_pair,
)
from thinkdraw.world.vocab import CATEGORIES, COLOR_NAMES, MAX_COUNT

N_SPECS = 400


def _specs(split: str, n: int = N_SPECS, seed: int = 0):
    return [spec_at(i, split, seed) for i in range(n)]


def test_spec_is_deterministic() -> None:
    for split in ("train", "heldout"):
        for i in range(20):
            p1, plan1, m1 = spec_at(i, split, seed=3)
            p2, plan2, m2 = spec_at(i, split, seed=3)
            assert p1 == p2 and plan1 == plan2 and m1 == m2
    assert [spec_at(i, "train", 0)[0] for i in range(10)] != [spec_at(i, "train", 1)[0] for i in range(10)]


def test_sample_is_deterministic() -> None:
    a, b = sample_one(5, "train", 7, size=64), sample_one(5, "train", 7, size=64)
    assert a.prompt == b.prompt and a.plan == b.plan
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert np.array_equal(a.instance, b.instance) and np.array_equal(a.category, b.category)


def test_template_split_is_fixed_and_balanced() -> None:
    for task in TASKS:
        ts = TEMPLATES[task]
        frac = sum(t.heldout for t in ts) / len(ts)
        assert 0.15 <= frac <= 0.3, (task, frac)
    train_preds = {t.rel.predicate for t in TEMPLATES["position"] + TEMPLATES["relation"] if t.rel and not t.heldout}
    assert train_preds == {"left_of", "right_of", "above", "below", "on", "next_to", "between"}
    names = list(CATEGORIES)
    pairs = [is_heldout_pair(a, b) for a, b in combinations(names, 2)]
    assert 0.08 < sum(pairs) / len(pairs) < 0.25
    assert is_heldout_pair("apple", "cup") == is_heldout_pair("cup", "apple")
    colors = [is_heldout_color(c, k) for c in names for k in COLOR_NAMES]
    assert 0.08 < sum(colors) / len(colors) < 0.25
    assert not any(is_heldout_color(c.name, c.default_color) for c in CATEGORIES.values() if c.default_color)


def _stated_heldout(meta: dict) -> bool:
    classes = [i["class"] for i in meta["include"]] + [e["class"] for e in meta["exclude"]]
    if any(is_heldout_pair(a, b) for a, b in combinations(set(classes), 2)):
        return True
    return any("color" in i and is_heldout_color(i["class"], i["color"]) for i in meta["include"])


def test_train_never_touches_heldout() -> None:
    for _, plan, meta in _specs("train"):
        assert not TEMPLATES_BY_ID[meta["template"]].heldout
        cats = {e.category for e in plan.entities} | {x["class"] for x in meta["exclude"]}
        assert not any(is_heldout_pair(a, b) for a, b in combinations(cats, 2)), meta
        assert not any(is_heldout_color(e.category, e.attributes.color) for e in plan.entities), meta


def test_heldout_always_heldout() -> None:
    specs = _specs("heldout")
    for _, _, meta in specs:
        assert TEMPLATES_BY_ID[meta["template"]].heldout or _stated_heldout(meta), meta
    # both routes into the held-out split are used
    assert any(TEMPLATES_BY_ID[m["template"]].heldout for _, _, m in specs)
    assert any(not TEMPLATES_BY_ID[m["template"]].heldout for _, _, m in specs)


def test_specs_are_well_formed() -> None:
    tasks = Counter()
    for prompt, plan, meta in _specs("train") + _specs("heldout", 100):
        tasks[meta["task"]] += 1
        ScenePlan.model_validate(plan.model_dump())
        assert plan.prompt == prompt and all(e.box is None for e in plan.entities)
        low = prompt.lower()
        for e in plan.entities:
            assert e.category in CATEGORIES and e.group
            assert e.noun in low or plural(e.noun) in low, (e.noun, prompt)
            assert e.attributes.color in COLOR_NAMES
        for inc in meta["include"]:
            assert 1 <= inc["count"] <= MAX_COUNT
            assert sum(e.category == inc["class"] for e in plan.entities) == inc["count"]
            if "color" in inc:
                assert all(e.attributes.color == inc["color"] for e in plan.entities if e.category == inc["class"])
        for t in plan.texts:
            assert 3 <= len(t.content) <= 10 and t.content in prompt and t.on is not None
        for neg in plan.negatives:
            assert neg in low or plural(neg) in low
            assert all(e.noun != neg for e in plan.entities)
    assert set(tasks) == set(TASKS)


def test_counts_mostly_small() -> None:
    counts = [m["include"][0]["count"] for _, _, m in _specs("train") if m["task"] == "counting"]
    assert counts and max(counts) <= MAX_COUNT and np.median(counts) <= 5


def test_rendered_samples_have_boxes() -> None:
    for s in sample(6, "train", seed=1, size=64):
        ScenePlan.model_validate(s.plan.model_dump())
        assert all(e.box is not None for e in s.plan.entities)
        assert all(t.box is not None for t in s.plan.texts)
        assert s.image.size == (64, 64) and s.instance.shape == (64, 64)
        assert s.instance.max() <= len(s.plan.entities)
        assert s.text_mask.dtype == bool and s.category.dtype == np.uint8
        assert s.meta["split"] == "train" and "unsatisfied" in s.meta
    held = next(iter(sample(1, "heldout", seed=1, size=64)))
    assert held.meta["split"] == "heldout"


def test_dataset_round_trip_and_resume(tmp_path, monkeypatch) -> None:
    out = tmp_path / "ds"
    seen: list[tuple[int, int]] = []
    ds.write_dataset(out, n=5, split="train", seed=2, size=64, shard_size=3,
                     progress=lambda done, total: seen.append((done, total)))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and [s["n"] for s in manifest["shards"]] == [3, 2]
    assert seen[-1] == (5, 5)
    rows = list(ds.read_dataset(out))
    assert [r["index"] for r in rows] == list(range(5))
    ref = sample_one(4, "train", 2, size=64)
    assert rows[4]["prompt"] == ref.prompt and rows[4]["plan"] == ref.plan
    assert np.array_equal(rows[4]["image"], np.asarray(ref.image)) and rows[4]["image"].shape == (64, 64, 3)
    assert np.array_equal(rows[4]["instance"], ref.instance) and rows[4]["text"].dtype == np.uint8

    # a lost shard is rebuilt, finished shards are skipped
    (out / "shard-00001.npz").unlink()
    calls: list[str] = []
    real = ds.write_shard
    monkeypatch.setattr(ds, "write_shard", lambda *a: calls.append(a[1]) or real(*a))
    ds.write_dataset(out, n=5, split="train", seed=2, size=64, shard_size=3)
    assert calls == ["shard-00001"]
    assert [r["prompt"] for r in ds.read_dataset(out)] == [r["prompt"] for r in rows]
    ds.write_dataset(out, n=5, split="train", seed=2, size=64, shard_size=3)
    assert calls == ["shard-00001"]

    with pytest.raises(ValueError):
        ds.write_dataset(out, n=5, split="train", seed=3, size=64, shard_size=3)


def test_dataset_parallel_matches_serial(tmp_path) -> None:
    ds.write_dataset(tmp_path / "par", n=4, split="heldout", seed=0, size=64, shard_size=2, workers=2)
    ds.write_dataset(tmp_path / "ser", n=4, split="heldout", seed=0, size=64, shard_size=2, workers=1)
    par, ser = list(ds.read_dataset(tmp_path / "par")), list(ds.read_dataset(tmp_path / "ser"))
    assert [r["prompt"] for r in par] == [r["prompt"] for r in ser]
    assert all(np.array_equal(a["image"], b["image"]) for a, b in zip(par, ser, strict=True))
