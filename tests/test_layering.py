"""The architecture stays visible: no import cycle between stage folders (lazy imports inside functions count),
the data model imports no stage, and the critic does not import its judge."""

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "thinkdraw"


def stage_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for f in SRC.rglob("*.py"):
        parts = f.relative_to(SRC).with_suffix("").parts
        here = parts[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("thinkdraw."):
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [n.name for n in node.names if n.name.startswith("thinkdraw.")]
            else:
                continue
            for m in mods:
                there = m.split(".")[1]
                if there != here:
                    edges[here].add(there)
    return edges


def test_no_import_cycle_between_stage_folders():
    edges = stage_edges()
    cycles = []

    def walk(node, path):
        for nxt in edges.get(node, ()):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < 20:
                walk(nxt, path + [nxt])

    for start in list(edges):
        walk(start, [start])
    assert not cycles, cycles


def test_the_data_model_and_the_critic_stay_in_their_place():
    edges = stage_edges()
    assert edges["plan"] <= {"errors"}, edges["plan"]  # every stage meets in plan/; it imports none of them
    assert "eval" not in edges["reflect"]  # the loop does not depend on its judge
    assert "reflect" not in edges["eval"]  # the judge shares no decision with the critic
