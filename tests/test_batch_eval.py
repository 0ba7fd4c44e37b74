"""thinkdraw eval on the batch machinery: the same report for any worker count, a torn line resumed."""

import json

CATS = ("colors",)  # few prompts, one category: the judge draws its identity templates once per process


def _scores(out):
    rep = json.loads((out / "report.json").read_text())
    return {m: {k: v for k, v in r.items() if "latency" not in k and not k.startswith("mean_")}
            for m, r in rep["modes"].items()}


def test_eval_is_the_same_with_two_workers_and_resumes_a_torn_log(tmp_path):
    from thinkdraw.eval.suite import run_eval

    # the sketch oracle only: an engine mode's images are judged the same way, and the judge's identity
    # templates (drawn once per process, seconds each) stay few on the plans' own colours
    kw = dict(modes=("sketch",), n=3, categories=CATS, warmup=0)
    run_eval(tmp_path / "a", **kw)
    run_eval(tmp_path / "b", workers=2, **kw)
    assert _scores(tmp_path / "a") == _scores(tmp_path / "b")
    assert (tmp_path / "a" / "report.md").read_text().split("| median latency")[0] == \
        (tmp_path / "b" / "report.md").read_text().split("| median latency")[0]

    log = tmp_path / "b" / "results.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:40])  # killed mid-line: two results short
    seen = []
    run_eval(tmp_path / "b", progress=lambda m, d, t: seen.append((m, d, t)), **kw)
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(rows) == 3 and len({(r["index"], r["mode"]) for r in rows}) == 3
    assert _scores(tmp_path / "a") == _scores(tmp_path / "b") and seen[-1][1:] == (3, 3)
