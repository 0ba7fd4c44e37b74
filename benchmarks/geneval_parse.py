"""Parse fidelity on GenEval's prompts: does the planner turn each prompt into the right plan?

    python benchmarks/geneval_parse.py [--metadata FILE] [--plans FILE] [--save-plans FILE] [--json OUT]

Runs ``thinkdraw plan --json --batch <prompts file>`` once (one subprocess for all prompts), or reads
its output from ``--plans FILE`` (one JSON object per line: {"prompt", "reasoning", "plan"}), then
scores every prompt against GenEval's metadata:

- classes:   each included class has an entity whose ``noun`` is that class (case-insensitive,
             singular and plural forms matched);
- counts:    the number of entities of each included class equals its count; an ``exclude`` entry
             with count N means fewer than N;
- colors:    every entity of a class with a colour has ``attributes.color`` equal to it;
- positions: ``["right of", i]``: every entity of the class has its box centre right of every
             entity of ``include[i]`` by at least 0.05 of the canvas (left of / above / below alike).

A prompt is correct when all its criteria pass. Reports accuracy per tag and per criterion, overall,
up to 20 failing prompts with what differed, and the planner's wall time.

``--world N [--split heldout]`` scores the planner the same way on N prompts of the built-in world's
sampler instead (tags are the world's tasks; the metadata comes from the sampler; entities match by
noun or category; a fifth criterion, texts, checks that every quoted string is in the plan exactly).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
METADATA_CANDIDATES = (
    ROOT.parent / "shared" / "benchmarks" / "geneval_metadata.jsonl",
    ROOT / "shared" / "benchmarks" / "geneval_metadata.jsonl",
)
MARGIN = 0.05
CRITERIA = ("classes", "counts", "colors", "positions", "texts")
IRREGULAR = {
    "mice": "mouse", "people": "person", "children": "child", "men": "man", "women": "woman",
    "teeth": "tooth", "feet": "foot", "geese": "goose", "oxen": "ox", "dice": "die",
}


# ---------------------------------------------------------------------------------------------
# Nouns
# ---------------------------------------------------------------------------------------------
def normalize(noun: str) -> list[str]:
    return noun.lower().replace("-", " ").replace("_", " ").split()


def singular_forms(word: str) -> set[str]:
    """The word and every singular it could be the plural of ("boxes" -> box, boxe, boxes)."""
    w = word.lower()
    forms = {w}
    if w in IRREGULAR:
        forms.add(IRREGULAR[w])
    if w.endswith("ies") and len(w) > 4:
        forms.add(w[:-3] + "y")
    if w.endswith("ves") and len(w) > 4:
        forms.update({w[:-3] + "f", w[:-3] + "fe"})
    if w.endswith("es") and len(w) > 3:
        forms.add(w[:-2])
    if w.endswith("s") and not w.endswith("ss") and len(w) > 2:
        forms.add(w[:-1])
    return forms


def same_noun(a: str, b: str) -> bool:
    """Whether two nouns name the same thing up to case, hyphens and number ("Teddy-bears" ~ "teddy bear")."""
    wa, wb = normalize(a), normalize(b)
    if not wa or len(wa) != len(wb) or wa[:-1] != wb[:-1]:
        return False
    return bool(singular_forms(wa[-1]) & singular_forms(wb[-1]))


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------
def entities_of(plan: dict[str, Any], cls: str, by_category: bool = False) -> list[dict[str, Any]]:
    """Entities whose noun (or, with ``by_category``, whose category) is ``cls``."""
    return [e for e in plan.get("entities") or []
            if same_noun(str(e.get("noun", "")), cls) or (by_category and e.get("category") == cls)]


def _center(e: dict[str, Any]) -> tuple[float, float] | None:
    b = e.get("box")
    if not b or len(b) != 4:
        return None
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def _position_gap(rel: str, subj: tuple[float, float], ref: tuple[float, float]) -> float:
    """How far ``subj`` is in direction ``rel`` from ``ref`` (positive = the right side)."""
    if rel == "right of":
        return subj[0] - ref[0]
    if rel == "left of":
        return ref[0] - subj[0]
    if rel == "above":
        return ref[1] - subj[1]
    if rel == "below":
        return subj[1] - ref[1]
    raise ValueError(f"unknown GenEval relation {rel!r}")


def score_prompt(row: dict[str, Any], plan: dict[str, Any] | None, by_category: bool = False) -> dict[str, Any]:
    """Score one plan against one GenEval metadata row.

    Returns ``{"correct": bool, "criteria": {name: bool | None}, "reasons": [str]}``; a criterion is
    None when the prompt does not test it. ``row["texts"]`` (world rows only) lists exact strings.
    """
    include = row.get("include", [])
    crit: dict[str, bool | None] = {"classes": True, "counts": True, "colors": None, "positions": None,
                                    "texts": None}
    reasons: list[str] = []
    if plan is None:
        crit = {k: (False if k in ("classes", "counts") or _tests(row, k) else None) for k in CRITERIA}
        return {"correct": False, "criteria": crit, "reasons": [row.get("error") or "no plan"]}
    found = [entities_of(plan, inc["class"], by_category) for inc in include]
    for inc, ents in zip(include, found, strict=True):
        cls, want = inc["class"], inc.get("count", 1)
        if not ents:
            crit["classes"] = False
            reasons.append(f"missing {cls!r}")
        if len(ents) != want:
            crit["counts"] = False
            reasons.append(f"count of {cls!r}: expected {want}, got {len(ents)}")
        if "color" in inc:
            ok = bool(ents) and all((e.get("attributes") or {}).get("color") == inc["color"] for e in ents)
            crit["colors"] = bool(crit["colors"] is not False and ok)
            if not ok:
                got = sorted({str((e.get("attributes") or {}).get("color")) for e in ents}) or ["no entity"]
                reasons.append(f"color of {cls!r}: expected {inc['color']}, got {', '.join(got)}")
        if "position" in inc:
            rel, j = inc["position"]
            ok, why = _check_position(rel, ents, found[j])
            crit["positions"] = bool(crit["positions"] is not False and ok)
            if not ok:
                reasons.append(f"{cls!r} {rel} {include[j]['class']!r}: {why}")
    for exc in row.get("exclude", []):
        n = len(entities_of(plan, exc["class"], by_category))
        if n >= exc["count"]:
            crit["counts"] = False
            reasons.append(f"count of {exc['class']!r}: expected fewer than {exc['count']}, got {n}")
    if row.get("texts"):
        have = [t.get("content") for t in plan.get("texts") or []]
        missing = [t for t in row["texts"] if t not in have]
        crit["texts"] = not missing
        if missing:
            reasons.append(f"texts: expected {row['texts']}, got {have}")
    correct = all(v is not False for v in crit.values())
    return {"correct": correct, "criteria": crit, "reasons": reasons}


def _tests(row: dict[str, Any], criterion: str) -> bool:
    """Whether a row tests ``criterion`` (classes and counts: always)."""
    key = {"colors": "color", "positions": "position"}.get(criterion)
    if criterion == "texts":
        return bool(row.get("texts"))
    return key is None or any(key in inc for inc in row.get("include", []))


def _check_position(rel: str, subjects: list[dict], refs: list[dict]) -> tuple[bool, str]:
    if not subjects or not refs:
        return False, "entity missing"
    worst = None
    for s in subjects:
        for r in refs:
            cs, cr = _center(s), _center(r)
            if cs is None or cr is None:
                return False, "no box"
            gap = _position_gap(rel, cs, cr)
            worst = gap if worst is None else min(worst, gap)
    assert worst is not None
    if worst < MARGIN:
        return False, f"centre offset {worst:+.3f} < {MARGIN}"
    return True, ""


def score_all(rows: list[dict[str, Any]], plans: list[dict[str, Any] | None], by_category: bool = False,
              show: int = 20) -> dict[str, Any]:
    """Aggregate scores: overall, per tag, per criterion, and the failing prompts."""
    per_tag: dict[str, dict[str, Any]] = {}
    per_crit = {c: {"n": 0, "passed": 0} for c in CRITERIA}
    failures = []
    correct = 0
    for row, plan in zip(rows, plans, strict=True):
        s = score_prompt(row, plan, by_category)
        t = per_tag.setdefault(row["tag"], {"n": 0, "correct": 0})
        t["n"] += 1
        t["correct"] += int(s["correct"])
        correct += int(s["correct"])
        for c, v in s["criteria"].items():
            if v is not None:
                per_crit[c]["n"] += 1
                per_crit[c]["passed"] += int(v)
        if not s["correct"]:
            failures.append({"tag": row["tag"], "prompt": row["prompt"], "reasons": s["reasons"]})
    for d in per_tag.values():
        d["acc"] = d["correct"] / d["n"] if d["n"] else 0.0
    for d in per_crit.values():
        d["acc"] = d["passed"] / d["n"] if d["n"] else None
    n = len(rows)
    return {
        "n": n, "correct": correct, "overall": correct / n if n else 0.0,
        "per_tag": per_tag, "per_criterion": per_crit,
        "n_failures": len(failures), "failures": failures[:show],
    }


# ---------------------------------------------------------------------------------------------
# Running the planner
# ---------------------------------------------------------------------------------------------
def planner_command() -> list[str]:
    exe = Path(sys.executable).parent / "thinkdraw"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("thinkdraw")
    return [found] if found else [sys.executable, "-m", "thinkdraw.cli"]


def run_planner(prompts: list[str], extra: list[str] | None = None) -> tuple[list[dict], float]:
    """Run ``thinkdraw plan --json --batch`` once over all prompts; returns (outputs, wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        pfile = Path(tmp) / "prompts.txt"
        pfile.write_text("\n".join(prompts) + "\n")
        cmd = [*planner_command(), "plan", "--json", "--batch", str(pfile), *(extra or [])]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"planner failed (exit {proc.returncode}): {' '.join(cmd)}")
    return parse_outputs(proc.stdout), wall


def parse_outputs(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def align(rows: list[dict], outputs: list[dict]) -> list[dict | None]:
    """The plan for each row: by position when the prompts line up, otherwise by prompt text.

    A planner error (``{"prompt", "error"}``) is copied into the row so that the report shows it.
    """
    if not (len(outputs) == len(rows)
            and all(o.get("prompt") in (None, r["prompt"]) for r, o in zip(rows, outputs, strict=True))):
        by_prompt = {o.get("prompt"): o for o in outputs}
        outputs = [by_prompt.get(r["prompt"], {}) for r in rows]
    for r, o in zip(rows, outputs, strict=True):
        if "error" in o:
            r["error"] = f"planner error: {o['error']}"
    return [o.get("plan") for o in outputs]


def world_rows(n: int, split: str, seed: int) -> list[dict]:
    """GenEval-style rows for the first ``n`` prompts of the world sampler's ``(split, seed)`` stream."""
    from thinkdraw.world.sampler import spec_at

    rows = []
    for i in range(n):
        prompt, _, meta = spec_at(i, split, seed)
        include = [{**{k: v for k, v in inc.items() if k != "noun"}, "class": inc["noun"]} for inc in meta["include"]]
        exclude = [{"class": exc.get("noun", exc["class"]), "count": exc["count"]} for exc in meta["exclude"]]
        rows.append({"tag": meta["task"], "prompt": prompt, "include": include, "exclude": exclude,
                     "texts": [t["content"] for t in meta["texts"]], "template": meta["template"]})
    return rows


def load_metadata(path: str | None) -> list[dict]:
    candidates = [Path(path)] if path else list(METADATA_CANDIDATES)
    for p in candidates:
        if p.is_file():
            return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    raise SystemExit(f"GenEval metadata not found (tried {', '.join(map(str, candidates))}); use --metadata")


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def format_report(r: dict[str, Any]) -> str:
    title = "GenEval" if r.get("source", "geneval") == "geneval" else r["source"]
    lines = [f"{title} parse fidelity (prompt -> plan)", "", f"{'tag':<16}{'n':>6}{'correct':>9}{'acc':>8}"]
    for tag, d in sorted(r["per_tag"].items()):
        lines.append(f"{tag:<16}{d['n']:>6}{d['correct']:>9}{d['acc']:>8.3f}")
    lines.append(f"{'overall':<16}{r['n']:>6}{r['correct']:>9}{r['overall']:>8.3f}")
    lines += ["", f"{'criterion':<16}{'n':>6}{'passed':>9}{'acc':>8}"]
    for c, d in r["per_criterion"].items():
        if not d["n"]:
            continue
        acc = f"{d['acc']:>8.3f}" if d["acc"] is not None else f"{'-':>8}"
        lines.append(f"{c:<16}{d['n']:>6}{d['passed']:>9}{acc}")
    if "planner_wall_s" in r:
        lines += ["", f"planner: {r['planner_wall_s']:.2f} s wall for {r['n']} prompts "
                      f"({1000 * r['planner_wall_s'] / max(r['n'], 1):.1f} ms/prompt, one subprocess)"]
    if r["failures"]:
        lines += ["", f"failing prompts ({r['n_failures']}, first {len(r['failures'])}):"]
        for f in r["failures"]:
            lines.append(f"  [{f['tag']}] {f['prompt']}")
            for why in f["reasons"]:
                lines.append(f"      - {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metadata", help="GenEval metadata jsonl (default: ../shared/benchmarks/...)")
    ap.add_argument("--plans", help="read planner output (jsonl) instead of running the planner")
    ap.add_argument("--save-plans", help="write the planner output here")
    ap.add_argument("--planner-args", default="", help="extra arguments for `thinkdraw plan`")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--show", type=int, default=20, help="how many failing prompts to print")
    ap.add_argument("--world", type=int, metavar="N", help="score N world-sampler prompts instead of GenEval")
    ap.add_argument("--split", default="heldout", choices=["train", "heldout"], help="with --world")
    ap.add_argument("--seed", type=int, default=0, help="with --world")
    args = ap.parse_args(argv)

    rows = world_rows(args.world, args.split, args.seed) if args.world else load_metadata(args.metadata)
    wall = None
    if args.plans:
        outputs = parse_outputs(Path(args.plans).read_text())
    else:
        outputs, wall = run_planner([r["prompt"] for r in rows], args.planner_args.split())
        if args.save_plans:
            Path(args.save_plans).write_text("".join(json.dumps(o) + "\n" for o in outputs))
    report = score_all(rows, align(rows, outputs), by_category=bool(args.world), show=args.show)
    report["source"] = f"world:{args.split}:{args.seed}" if args.world else "geneval"
    if wall is not None:
        report["planner_wall_s"] = round(wall, 3)
        report["planner_ms_per_prompt"] = round(1000 * wall / max(len(rows), 1), 3)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
