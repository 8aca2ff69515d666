"""ruff composition: the preset, `--ruff` / `ruff = true`, merged output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import pyproject, run_cli, write_tree
from test_formats import _validator

from backlint.ruff_support import merge, preset_select, preset_toml, ruff_binary
from backlint.types import Finding

SOURCE = "import os\n\n\ndef save(order: int):\n    print(order)\n"


def test_preset_leaves_annotations_to_backlint_unless_its_rules_are_off() -> None:
    both = preset_select({"BKL801", "BKL802"})
    assert not [c for c in both if c.startswith("ANN")]
    for family in (
        "E4",
        "W",
        "F",
        "I",
        "N",
        "UP031",
        "UP032",
        "ASYNC",
        "FAST",
        "DJ",
        "S",
        "TRY400",
        "BLE",
    ):
        assert family in both
    assert [c for c in preset_select({"BKL801"}) if c.startswith("ANN")] == [
        "ANN201",
        "ANN204",
        "ANN205",
        "ANN206",
    ]
    assert [c for c in preset_select(set()) if c.startswith("ANN")][:3] == [
        "ANN001",
        "ANN002",
        "ANN003",
    ]


def test_check_ruff_merges_findings(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL802"]'), "a.py": SOURCE})
    run = run_cli(project, "check", "--ruff")
    assert run.exit_code == 1, run.stderr
    assert run.stdout.splitlines() == [
        "a.py:1:8: F401 [*] `os` imported but unused",
        "a.py:4:1: BKL802 [*] `save` has no return annotation; it returns nothing: add `-> None`",
        "2 findings in 1 file",
        "[*] 1 fixable with `--fix`",  # backlint's: ruff's fixes are ruff's to apply
    ]
    assert run_cli(project, "check").stdout.count("\n") == 3  # without --ruff: BKL802 only
    data = json.loads(run_cli(project, "check", "--ruff", "--format", "json").stdout)
    assert [(f["code"], f["name"]) for f in data] == [
        ("F401", "unused-import"),
        ("BKL802", "missing-return-annotation"),
    ]
    sarif = json.loads(run_cli(project, "check", "--ruff", "--format", "sarif").stdout)
    assert not list(_validator().iter_errors(sarif))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["F401"]["helpUri"] == "https://docs.astral.sh/ruff/rules/unused-import"
    stats = run_cli(project, "check", "--ruff", "--statistics").stdout.splitlines()
    assert stats[0] == "1  BKL802  [*]  missing-return-annotation"
    assert stats[1] == "1  F401    [*]  unused-import"


def test_ruff_from_the_configuration(project: Path) -> None:
    write_tree(
        project, {"pyproject.toml": pyproject('select = ["BKL802"]\nruff = true'), "a.py": SOURCE}
    )
    assert "F401" in run_cli(project, "check").stdout
    assert "F401" not in run_cli(project, "check", "--no-ruff").stdout
    write_tree(project, {"pyproject.toml": pyproject('ruff = "yes"')})
    bad = run_cli(project, "check")
    assert bad.exit_code == 2 and "ruff: expected true or false" in bad.stderr


def test_ruff_honours_the_projects_ruff_settings(project: Path) -> None:
    # The preset replaces the rule selection; per-file ignores, excludes and
    # the rest of the project's ruff settings still apply.
    config = pyproject('select = ["BKL802"]') + (
        '\n[tool.ruff]\nextend-exclude = ["skipped.py"]\n'
        '\n[tool.ruff.lint.per-file-ignores]\n"a.py" = ["F401"]\n'
    )
    write_tree(
        project, {"pyproject.toml": config, "a.py": SOURCE, "b.py": SOURCE, "skipped.py": SOURCE}
    )
    out = run_cli(project, "check", "--ruff").stdout
    assert "a.py:1:8: F401" not in out
    assert "b.py:1:8: F401" in out
    assert "skipped.py:1:8: F401" not in out and "skipped.py:4:1: BKL802" in out


def _finding(code: str, line: int, column: int, end: tuple[int, int]) -> Finding:
    return Finding("a.py", line, column, code, end[0], end[1], code.lower(), "m")


def test_findings_both_tools_make_are_reported_once() -> None:
    ours = [_finding("BKL602", 3, 1, (3, 20)), _finding("BKL601", 10, 5, (12, 6))]
    theirs = [
        _finding("S105", 3, 14, (3, 20)),  # inside BKL602's statement: dropped
        _finding("S105", 4, 14, (4, 20)),  # another line: kept
        _finding("S608", 11, 9, (11, 30)),  # inside BKL601's call: dropped
        _finding("E711", 3, 14, (3, 20)),  # not an overlapping code: kept
    ]
    merged = merge(ours, theirs)
    assert [(f.code, f.line) for f in merged] == [
        ("BKL602", 3),
        ("E711", 3),
        ("S105", 4),
        ("BKL601", 10),
    ]


def test_ruff_beside_backlint_keeps_backlint_noqa(project: Path) -> None:
    """The README's advice: with `lint.external = ["BKL"]`, ruff's noqa checks
    (RUF100, RUF102, and their fixes) leave backlint's noqa comments alone."""
    source = "def f(x) -> None:  # noqa: BKL801\n    print(x)\n"
    select = '[tool.ruff.lint]\nselect = ["RUF100", "RUF102"]\n'
    write_tree(project, {"a.py": source, "pyproject.toml": select})

    def ruff() -> str:
        return subprocess.run(
            [ruff_binary(), "check", "--no-cache", "--output-format", "concise", "."],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    assert "RUF10" in ruff()
    write_tree(project, {"pyproject.toml": select + 'external = ["BKL"]\n'})
    assert "RUF10" not in ruff()


def test_preset_toml_is_valid_ruff_configuration(project: Path) -> None:
    write_tree(project, {"pyproject.toml": preset_toml({"BKL801", "BKL802"}), "a.py": SOURCE})
    (project / "pyproject.toml").write_text(
        "[tool.ruff]\n"
        + preset_toml({"BKL801", "BKL802"})
        .replace("[tool.ruff.lint", "[lint")
        .replace("[lint]", "[tool.ruff.lint]")
        .replace("[lint.", "[tool.ruff.lint."),
        encoding="utf-8",
    )
    done = subprocess.run(
        [ruff_binary(), "check", "--no-cache", "--output-format", "concise", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "F401" in done.stdout and not done.stderr


def test_ruff_findings_in_the_baseline(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL802"]'), "a.py": SOURCE})
    wrote = run_cli(project, "check", "--ruff", "--write-baseline", "b.json")
    assert wrote.stderr == "Wrote 2 findings to b.json.\n"
    assert run_cli(project, "check", "--ruff", "--baseline", "b.json").exit_code == 0
    # Without ruff, its entries are outside the run: not stale, not dropped.
    alone = run_cli(project, "check", "--baseline", "b.json")
    assert (alone.exit_code, alone.stderr) == (0, "")
    assert run_cli(project, "check", "--write-baseline", "b.json").stderr == (
        "Wrote 2 findings to b.json.\n"
    )


def test_ruff_that_cannot_run_is_an_error(project: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("backlint.ruff_support.ruff_binary", lambda: str(project / "no-ruff"))
    write_tree(project, {"pyproject.toml": pyproject(), "a.py": SOURCE})
    run = run_cli(project, "check", "--ruff")
    assert run.exit_code == 2
    assert "cannot run ruff" in run.stderr
