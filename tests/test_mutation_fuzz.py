"""Mutation fuzz: real files from the fixtures, mutated so that they still
parse (see `mutations.py`), linted with every rule: no rule may fail (BKL002)
on any of them. Seeded and bounded here; `scripts/fuzz_mutations.py` runs
longer."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import libcst as cst
import pytest
from conftest import lint, pyproject, write_tree
from mutations import mutate, wrap_body

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED = 20261203
MUTANTS = 48


def fixture_sources() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if not p.name.endswith(".fixed.py"))


def mutants(seed: int, count: int) -> list[tuple[str, str]]:
    """(name, source) of `count` valid mutants of fixture files, reproducible by seed."""
    rng = random.Random(seed)
    sources = fixture_sources()
    out: list[tuple[str, str]] = []
    attempts = 0
    while len(out) < count and attempts < count * 5:
        attempts += 1
        path = rng.choice(sources)
        mutant = mutate(path.read_text(encoding="utf-8"), rng, steps=rng.randint(1, 4))
        if mutant is not None:
            out.append((f"{path.relative_to(FIXTURES).as_posix()}#{attempts}", mutant))
    return out


def rule_failures(tmp_path: Path, batch: list[tuple[str, str]]) -> list[str]:
    files = {"pyproject.toml": pyproject('select = ["ALL"]'), "app/__init__.py": ""}
    names = {}
    for i, (name, source) in enumerate(batch):
        files[f"app/m{i}.py"] = source
        names[f"app/m{i}.py"] = name
    root = write_tree(tmp_path / "project", files)
    return [
        f"{names.get(f.path, f.path)}: {f.message}"
        for f in lint(root)
        if f.code in ("BKL001", "BKL002")
    ]


@pytest.mark.parametrize("part", range(4))
def test_no_rule_fails_on_mutated_fixtures(tmp_path: Path, part: int) -> None:
    batch = mutants(SEED + part, MUTANTS // 4)
    assert len(batch) == MUTANTS // 4
    assert rule_failures(tmp_path, batch) == []


def test_wrapping_a_one_line_body_gives_printable_valid_code() -> None:
    # `def f(): ...` has a one-line suite, which cannot hold the wrapper's
    # compound statement; the generator once built such a tree and the
    # fuzz test failed in codegen instead of linting the mutant.
    module = cst.parse_module("def f(): ...\n\n\nclass A:\n    def g(self): return 1  # one\n")
    for seed in range(40):
        code = wrap_body(module, random.Random(seed)).code
        ast.parse(code)
        assert "# one" in code
