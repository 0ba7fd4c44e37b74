"""thinkdraw batch --ray: a local Ray on a small batch writes what the local run writes (skipped without ray)."""

import importlib.util

import pytest

from thinkdraw.batch import load_records, read_prompts, run_batch
from thinkdraw.plan.pngmeta import read_image_meta

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="ray is not installed (pip install -e \".[ray]\" runs this test)")


@pytest.mark.slow
def test_a_local_ray_batch_equals_the_local_run(tmp_path, tiny_renderer):
    from thinkdraw import Engine

    f = tmp_path / "p.txt"
    f.write_text("a red ball above a blue cup\na boat on the sea\nthree yellow stars\na green tree\n")
    items = read_prompts(f, mode="think")
    eng = Engine(renderer=tiny_renderer)
    local = run_batch(items, tmp_path / "local", engine=eng)
    ray = run_batch(items, tmp_path / "ray", engine=eng, ray={"actors": 2, "num_cpus": 1,
                                                              "init_kwargs": {"num_cpus": 2}})
    assert local.drawn == ray.drawn == len(items)
    a, b = load_records(tmp_path / "local"), load_records(tmp_path / "ray")
    assert sorted(a) == sorted(b)
    for k in a:
        assert (a[k].path, a[k].score, a[k].checks, a[k].rounds) == (b[k].path, b[k].score, b[k].checks, b[k].rounds)
        pa, pb = (read_image_meta(d / a[k].path) for d in (tmp_path / "local", tmp_path / "ray"))
        assert pa["pixels"] == pb["pixels"] and pa["plan"] == pb["plan"]
    assert run_batch(items, tmp_path / "ray", engine=eng, ray={"actors": 1}).drawn == 0  # resumes like a local run
