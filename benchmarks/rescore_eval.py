"""Re-judge a finished `thinkdraw eval` run with the current judge, from the images it saved.

    thinkdraw eval --n 300 --seed 23 --modes ... --save-images 300 --out RUN
    python benchmarks/rescore_eval.py RUN --out RUN-rescored

Every saved image is scored again (eval/fidelity.score_image with identity) against its reference plan; the
timings and redraw rounds are those of the original run. Prompts whose image was not saved are skipped (say
--save-images N with N >= --n to keep them all). Writes results.jsonl and report.json/.md/.png into --out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    from PIL import Image

    from thinkdraw.eval.fidelity import score_image
    from thinkdraw.eval.suite import EVAL_CATEGORIES, EvalResult, summarise, write_report
    from thinkdraw.think import plan_prompt

    run, out = Path(a.run), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    old = [EvalResult(**json.loads(line)) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]
    seeds = json.loads((run / "report.json").read_text())
    seed, n = seeds["seed"], seeds["n_prompts"]
    from thinkdraw.eval.suite import eval_items

    items = {it.index: it for it in eval_items(n, seed)}
    new = []
    for r in old:
        path = run / "images" / f"{r.mode}-{r.index:03d}.png"
        if not path.is_file():
            continue
        _, plan = plan_prompt(r.prompt, seed=items[r.index].seed)
        fid = score_image(Image.open(path).convert("RGB"), plan, identity=True)
        new.append(r.model_copy(update={
            "correct": bool(fid.all_passed),
            "correct_agnostic": all(x.passed for x in fid.facts if x.kind != "identity"),
            "facts": [{"kind": x.kind, "target": x.target, "passed": bool(x.passed), "detail": x.detail}
                      for x in fid.facts]}))
    (out / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in new))
    modes = tuple(dict.fromkeys(r.mode for r in new))
    report = summarise(new, n, seed, modes, EVAL_CATEGORIES)
    write_report(report, out, EVAL_CATEGORIES)
    print(f"re-judged {len(new)} images of {len(old)}; wrote {out}/report.md")


if __name__ == "__main__":
    main()
