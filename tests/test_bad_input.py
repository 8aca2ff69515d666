"""The bad-input matrix: inputs that used to abort, hang or crash a run give
one clear finding (BKL001/BKL002) or one warning line, the other files are
still linted, and no traceback is printed; through the CLI and through the
flake8 plugin (as separate processes, as users run them)."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import keys, lint, pyproject, run_cli, write_tree
from harness import run_module

from backlint.engine import files as files_module
from backlint.engine.reading import MAX_SOURCE_BYTES

GOOD = "def load(pk):\n    return pk\n"  # BKL801 + BKL802 on line 1
SELECT = pyproject('select = ["BKL8", "BKL0"]')
GOOD_FINDINGS = [("good.py", 1, "BKL801"), ("good.py", 1, "BKL802")]

DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"
FLAT = "x = " + " + ".join(["1"] * 20000) + "\n"
NOTS = "x = " + "not " * 5000 + "y\n"
# Newer syntax than CPython accepts would send the file to LibCST: the token
# scan must stop it there too.
DEEP_NEWER = "type X = int\nx = " + "(" * 5000 + ")" * 5000 + "\n"


def _run(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return run_module(root, *command)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (DEEP, "cannot parse: too many nested parentheses"),
        (FLAT, "cannot parse: an expression has too many terms"),
        (NOTS, "cannot parse: an expression has too many terms"),
        (DEEP_NEWER, "cannot parse: "),
    ],
    ids=["5000-deep-brackets", "20000-terms", "5000-nots", "deep-newer-syntax"],
)
def test_limits_of_the_parser_give_one_bkl001_and_the_run_goes_on(
    tmp_path: Path, source: str, message: str
) -> None:
    root = write_tree(tmp_path, {"pyproject.toml": SELECT, "bad.py": source, "good.py": GOOD})
    run = _run(root, "backlint", "check", ".", "--no-cache", "-j1")
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stdout.splitlines()
    bad = [line for line in lines if line.startswith("bad.py:")]
    assert len(bad) == 1 and " BKL001 " in bad[0] and message in bad[0], run.stdout
    assert sum(line.startswith("good.py:1:1: BKL80") for line in lines) == 2


@pytest.mark.parametrize("source", [DEEP, DEEP_NEWER], ids=["deep", "deep-newer-syntax"])
def test_the_flake8_plugin_indexes_a_too_deep_file_without_crashing(
    tmp_path: Path, source: str
) -> None:
    # flake8 parses the file itself (E999); the plugin still indexes it as part
    # of the project, which used to crash the native parser.
    root = write_tree(tmp_path, {"pyproject.toml": SELECT, "bad.py": source, "good.py": GOOD})
    run = _run(root, "flake8", "--select", "BKL,E999", "-j1", ".")
    assert "Traceback" not in run.stderr, run.stderr
    assert "./good.py:1:1: BKL801" in run.stdout
    assert "./good.py:1:1: BKL802" in run.stdout


def test_a_file_over_the_size_limit_is_one_bkl001(project: Path) -> None:
    big = "x = 1\n" * (MAX_SOURCE_BYTES // 6 + 10)
    write_tree(project, {"pyproject.toml": SELECT, "big.py": big, "good.py": GOOD})
    findings = lint(project)
    assert keys(findings) == [("big.py", 1, "BKL001"), *GOOD_FINDINGS]
    assert "over the 2 MB limit" in findings[0].message


def test_the_flake8_plugin_skips_a_file_over_the_size_limit(tmp_path: Path) -> None:
    big = "def f(a):\n    return a\n" * (MAX_SOURCE_BYTES // 20)
    root = write_tree(tmp_path, {"pyproject.toml": SELECT, "big.py": big})
    run = _run(root, "flake8", "--select", "BKL", "-j1", "big.py")
    (line,) = run.stdout.splitlines()
    assert line.startswith("big.py:1:1: BKL001 not linted: ")
    assert line.endswith("MB is over the 2 MB limit")


def test_many_lines_and_long_lines_within_the_limit_are_linted(project: Path) -> None:
    lines = "".join(f"X{i} = {i}\n" for i in range(40_000))
    long_line = 'TEXT = "' + "a" * (MAX_SOURCE_BYTES // 2) + '"\n'
    write_tree(
        project,
        {"pyproject.toml": SELECT, "lines.py": lines + GOOD, "long.py": long_line + GOOD},
    )
    assert keys(lint(project)) == [
        ("lines.py", 40_001, "BKL801"),
        ("lines.py", 40_001, "BKL802"),
        ("long.py", 2, "BKL801"),
        ("long.py", 2, "BKL802"),
    ]


def test_a_file_over_its_time_budget_is_one_bkl002(project: Path) -> None:
    from backlint.config import load_config
    from backlint.engine.check import check, settings_for

    # 2,500 terms: within CPython's limits, and a few seconds of LibCST parsing.
    slow = "x = " + " + ".join(["1"] * 2500) + "\n" + GOOD
    write_tree(project, {"pyproject.toml": SELECT, "slow.py": slow, "good.py": GOOD})
    config = load_config(project)
    settings = dataclasses.replace(settings_for(config), time_budget=0.2)
    findings = check([project], config, settings, cwd=project, jobs=1, use_cache=False).findings
    assert keys(findings) == [*GOOD_FINDINGS, ("slow.py", 1, "BKL002")]
    assert "time budget" in findings[-1].message


# ---------------------------------------------------------------------------
# Discovery: what is not a regular file is skipped with a warning line.


def test_a_symlink_loop_fifo_and_device_are_skipped_with_a_warning(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "good.py": GOOD})
    (project / "a.py").symlink_to(project / "b.py")
    (project / "b.py").symlink_to(project / "a.py")
    os.mkfifo(project / "pipe.py")
    (project / "zero.py").symlink_to("/dev/zero")
    (project / "up").symlink_to(project)  # a directory loop: not followed
    run = run_cli(project, "check", "--no-cache", "-j1")
    assert run.exit_code == 1
    assert [line.split(" ")[:2] for line in run.stdout.splitlines()[:2]] == [
        ["good.py:1:1:", "BKL801"],
        ["good.py:1:1:", "BKL802"],
    ]
    assert "2 findings in 1 file" in run.stdout
    assert sorted(run.stderr.splitlines()) == [
        "warning: a.py: skipped: a symlink loop",
        "warning: b.py: skipped: a symlink loop",
        "warning: pipe.py: skipped: a FIFO, not a regular file",
        "warning: zero.py: skipped: a device, not a regular file",
    ]


def test_a_fifo_named_on_the_command_line_is_skipped(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "good.py": GOOD})
    os.mkfifo(project / "pipe.py")
    (project / "loop.py").symlink_to(project / "loop.py")
    run = run_cli(project, "check", "--no-cache", "pipe.py", "loop.py", "good.py")
    assert run.exit_code == 1
    assert "2 findings in 1 file" in run.stdout
    assert sorted(run.stderr.splitlines()) == [
        "warning: loop.py: skipped: a symlink loop",
        "warning: pipe.py: skipped: a FIFO, not a regular file",
    ]


def test_an_unreadable_directory_is_skipped_with_a_warning(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root in CI, where permissions do not stop a read: the
    # failure is simulated where discovery meets it.
    write_tree(project, {"pyproject.toml": SELECT, "good.py": GOOD, "locked/x.py": GOOD})
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(files_module.os, "scandir", scandir)
    run = run_cli(project, "check", "--no-cache", "-j1")
    assert run.exit_code == 1
    assert "2 findings in 1 file" in run.stdout
    assert run.stderr.splitlines() == ["warning: locked: skipped: cannot read: Permission denied"]


def test_a_really_unreadable_directory_as_a_normal_user(project: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any directory")
    write_tree(project, {"pyproject.toml": SELECT, "good.py": GOOD, "locked/x.py": GOOD})
    locked = project / "locked"
    locked.chmod(0)
    try:
        run = run_cli(project, "check", "--no-cache", "-j1")
    finally:
        locked.chmod(stat.S_IRWXU)
    assert run.exit_code == 1
    assert "warning: locked: skipped: cannot read" in run.stderr


def test_very_deep_directories_are_walked(project: Path) -> None:
    deep = Path(*["d"] * 400)
    write_tree(project, {"pyproject.toml": SELECT, str(deep / "good.py"): GOOD})
    assert [f.code for f in lint(project)] == ["BKL801", "BKL802"]


# ---------------------------------------------------------------------------
# A pyproject.toml that cannot be read is a configuration error (exit 2).


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'[tool.backlint]\nselect = ["BKL8"\n', "not valid TOML"),
        (b"[tool.ruff]\nline-length = = 3\n", "not valid TOML"),
        (b"[tool.backlint]\n# caf\xe9\n", "not UTF-8"),
    ],
    ids=["invalid-backlint-table", "invalid-elsewhere", "latin-1"],
)
def test_a_broken_pyproject_is_exit_2_naming_the_file(
    project: Path, content: bytes, detail: str
) -> None:
    write_tree(project, {"pyproject.toml": content, "good.py": GOOD})
    run = run_cli(project, "check", "--no-cache")
    assert run.exit_code == 2
    assert "pyproject.toml" in run.stderr and detail in run.stderr
    assert "Traceback" not in run.stderr


def test_the_flake8_plugin_reports_a_broken_pyproject(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"pyproject.toml": b"[tool.backlint\n", "good.py": GOOD})
    run = _run(root, "flake8", "--select", "BKL", "-j1", ".")
    assert "BKL002 backlint configuration error" in run.stdout
    assert "not valid TOML" in run.stdout
