"""Every fixture under fixtures/, through the engine and through flake8.

A new fixture file is picked up with no change here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from harness import (
    FIXTURES,
    Fixture,
    code_lines,
    difference,
    discover_fixtures,
    engine_codes,
    expectations,
    malformed_fixture_names,
    prepare,
    run_engine,
    run_flake8,
)

from backlint.registry import all_rules, rule_by_code

FIXTURE_LIST = discover_fixtures()

# Rules that have no fixture yet. Keep this minimal: an entry that gets a
# fixture, or that is no longer a rule, fails `test_allow_list_is_minimal`.
WITHOUT_FIXTURES: frozenset[str] = frozenset()


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.id)
def test_fixture_engine(fixture: Fixture, tmp_path: Path) -> None:
    project = prepare(fixture, tmp_path)
    problem = difference(project, run_engine(project), "the engine")
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.id)
def test_fixture_flake8(fixture: Fixture, tmp_path: Path) -> None:
    project = prepare(fixture, tmp_path)
    problem = difference(project, run_flake8(project), "flake8")
    if problem:
        pytest.fail(problem, pytrace=False)


# ---------------------------------------------------------------------------
# Meta-tests: the fixtures cover the rules.


def _rule_family(code: str) -> str:
    rule = rule_by_code(code)
    assert rule is not None
    return rule.__module__.split(".")[2]  # backlint.rules.<family>.<rule module>


def test_fixtures_are_found() -> None:
    assert FIXTURE_LIST, f"no fixtures under {FIXTURES}"


def test_fixture_names_are_well_formed() -> None:
    assert malformed_fixture_names() == [], (
        "files or directories under fixtures/<family>/ that are not named "
        "BKLnnn.py, BKLnnn_slug.py or BKLnnn_slug/"
    )


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.id)
def test_fixture_names_a_rule_of_its_family(fixture: Fixture) -> None:
    assert rule_by_code(fixture.code) is not None or fixture.code in engine_codes(), (
        f"{fixture.id}: {fixture.code} is not a rule"
    )
    if rule_by_code(fixture.code) is not None:
        assert _rule_family(fixture.code) == fixture.family, (
            f"{fixture.id}: {fixture.code} is a rule of rules/{_rule_family(fixture.code)}/"
        )


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.id)
def test_fixture_expects_only_its_own_code(fixture: Fixture) -> None:
    # Only the fixture's rule runs on it: any other expected code can never appear.
    for source in fixture.source_files():
        text = source.read_text(encoding="utf-8")
        others = {code for (_, code) in expectations(text, fixture.id)} - {fixture.code}
        assert not others, f"{source}: expects {sorted(others)}, but only {fixture.code} runs"


def _positives_and_negatives(fixtures: list[Fixture]) -> tuple[int, int]:
    """Expected findings, and statement lines (other than imports, `pass` and
    docstrings) that carry no expectation, over all of a rule's fixtures."""
    positives = negatives = 0
    for fixture in fixtures:
        for source in fixture.source_files():
            text = source.read_text(encoding="utf-8")
            expected = expectations(text, fixture.id)
            positives += sum(expected.values())
            try:
                tree = ast.parse(text)
            except SyntaxError:
                continue
            statements = {
                node.lineno
                for node in ast.walk(tree)
                if isinstance(node, ast.stmt)
                and not isinstance(node, ast.Import | ast.ImportFrom | ast.Pass)
                and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            }
            negatives += len(statements & code_lines(text) - {line for line, _ in expected})
    return positives, negatives


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_has_a_fixture(rule: type) -> None:
    if rule.code in WITHOUT_FIXTURES:
        pytest.skip(f"{rule.code} is on the allow-list of rules without fixtures")
    fixtures = [f for f in FIXTURE_LIST if f.code == rule.code]
    assert fixtures, f"{rule.code} ({rule.name}) has no fixture under fixtures/"
    positives, negatives = _positives_and_negatives(fixtures)
    assert positives >= 1, f"{rule.code}: no fixture line carries `# expect: {rule.code}`"
    assert negatives >= 1, f"{rule.code}: no fixture has a statement that is not flagged"


def test_allow_list_is_minimal() -> None:
    codes = {r.code for r in all_rules()}
    with_fixtures = {f.code for f in FIXTURE_LIST}
    assert codes >= WITHOUT_FIXTURES, f"not rules any more: {sorted(WITHOUT_FIXTURES - codes)}"
    stale = WITHOUT_FIXTURES & with_fixtures
    assert not stale, f"have fixtures now, remove from WITHOUT_FIXTURES: {sorted(stale)}"
