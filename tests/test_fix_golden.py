"""Fixes are proven on every fixture: `backlint check --fix` gives the golden
file, the result compiles, and a second `--fix` changes nothing.

A golden file (`BKLnnn.fixed.py` beside `BKLnnn.py`) is picked up with no
change here. `BACKLINT_UPDATE_GOLDEN=1` writes missing or outdated golden files
instead of failing (review the diff before committing them).
"""

from __future__ import annotations

import difflib
import os
import shutil
import warnings
from pathlib import Path

import pytest
from conftest import run_cli
from harness import Fixture, Project, discover_fixtures, prepare

FIXTURE_LIST = discover_fixtures()
UPDATE = os.environ.get("BACKLINT_UPDATE_GOLDEN") == "1"


def _fix_args(project: Project) -> list[str]:
    args = ["check", "--fix", "--no-cache", "--exit-zero", "--jobs", "1"]
    return [*args, "--unsafe-fixes"] if project.unsafe_fixes else args


def _snapshot(project: Project) -> dict[str, bytes]:
    return {relative: (project.root / relative).read_bytes() for relative in project.files}


def _golden(fixture: Fixture, project: Project) -> dict[str, bytes] | None:
    """project-relative path -> expected bytes after --fix; None without a golden."""
    golden = fixture.golden
    if not golden.exists():
        return None
    if not fixture.is_directory:
        (relative,) = project.files
        return {relative: golden.read_bytes()}
    expected = {relative: source.read_bytes() for relative, source in project.files.items()}
    for path in golden.rglob("*.py"):
        expected[path.relative_to(golden).as_posix()] = path.read_bytes()
    return expected


def _update(fixture: Fixture, fixed: dict[str, bytes], project: Project) -> None:
    if not fixture.is_directory:
        (content,) = fixed.values()
        fixture.golden.write_bytes(content)
        return
    if fixture.golden.exists():
        shutil.rmtree(fixture.golden)
    for relative, content in fixed.items():
        if content != project.files[relative].read_bytes():
            target = fixture.golden / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)


def _diff(expected: bytes, actual: bytes, name: str) -> str:
    lines = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(keepends=True),
        actual.decode("utf-8", "replace").splitlines(keepends=True),
        f"golden/{name}",
        f"fixed/{name}",
    )
    return "".join(lines)


@pytest.mark.parametrize("fixture", FIXTURE_LIST, ids=lambda f: f.id)
def test_fix_gives_the_golden_file(fixture: Fixture, tmp_path: Path) -> None:
    project = prepare(fixture, tmp_path)
    before = _snapshot(project)
    run = run_cli(project.root, *_fix_args(project))
    assert run.exit_code == 0, run.stderr
    assert "backlint:" not in run.stderr, run.stderr  # a fix left out or a loop stopped
    fixed = _snapshot(project)
    expected = _golden(fixture, project)
    if expected is None:
        if fixed != before:
            if UPDATE:
                _update(fixture, fixed, project)
                return
            pytest.fail(
                f"{fixture.id}: --fix changes the fixture but it has no golden file "
                f"{fixture.golden.name}; write it with BACKLINT_UPDATE_GOLDEN=1 "
                "python -m pytest tests/test_fix_golden.py and review it",
                pytrace=False,
            )
        return
    if fixed != expected:
        if UPDATE:
            _update(fixture, fixed, project)
            return
        diffs = "\n".join(
            _diff(expected[name], fixed[name], name)
            for name in fixed
            if fixed[name] != expected[name]
        )
        hint = (
            ""
            if project.unsafe_fixes
            else "\n(if the golden file expects unsafe fixes, give the fixture the header "
            "`# fixture: unsafe-fixes = true`)"
        )
        pytest.fail(f"{fixture.id}: --fix differs from the golden file:\n{diffs}{hint}", False)
    # The fixed code is valid Python...
    for name, content in fixed.items():
        if content != before[name]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(content, name, "exec", dont_inherit=True)
    # ... and stable: fixing again changes nothing, and --diff shows nothing.
    again = run_cli(project.root, *_fix_args(project))
    assert again.exit_code == 0
    assert _snapshot(project) == fixed, f"{fixture.id}: a second --fix changed the code"
    diff_args = ["check", "--diff", "--no-cache", "--jobs", "1"]
    if project.unsafe_fixes:
        diff_args.append("--unsafe-fixes")
    diff = run_cli(project.root, *diff_args)
    assert diff.stdout == "", diff.stdout


def test_golden_files_belong_to_fixtures() -> None:
    fixtures = {f.golden for f in FIXTURE_LIST}
    root = Path(__file__).resolve().parent.parent / "fixtures"
    goldens = [*root.glob("*/*.fixed.py"), *(p for p in root.glob("*/*.fixed") if p.is_dir())]
    orphans = [p for p in goldens if p not in fixtures]
    assert not orphans, f"golden files without a fixture: {orphans}"


def test_some_fixture_has_a_golden_file() -> None:
    # The harness must not pass by finding nothing.
    assert any(f.golden.exists() for f in FIXTURE_LIST)
