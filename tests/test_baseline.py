"""Baselines: recorded findings are not reported again, unrelated edits keep
them recorded, stale entries are reported and removed by --write-baseline."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import pyproject, run_cli, write_tree

SELECT = pyproject('select = ["BKL8"]')

LEGACY = """\
def total(order, discount):
    return order - discount


def ship(order):
    return order
"""


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if not line.startswith("[*]")]


def test_write_then_check_reports_nothing(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "shop/orders.py": LEGACY})
    written = run_cli(project, "check", "--write-baseline", "baseline.json")
    assert written.exit_code == 0
    assert written.stdout == ""
    assert written.stderr == "Wrote 4 findings to baseline.json.\n"
    data = json.loads((project / "baseline.json").read_text())
    assert data["version"] == 1
    assert [(e["path"], e["code"], e["count"]) for e in data["findings"]] == sorted(
        [
            ("shop/orders.py", "BKL801", 1),
            ("shop/orders.py", "BKL801", 1),
            ("shop/orders.py", "BKL802", 1),
            ("shop/orders.py", "BKL802", 1),
        ],
    )
    run = run_cli(project, "check", "--baseline", "baseline.json")
    assert (run.exit_code, run.stdout, run.stderr) == (0, "0 findings in 1 file\n", "")


def test_unrelated_edits_keep_findings_recorded(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "shop/orders.py": LEGACY})
    run_cli(project, "check", "--write-baseline", "baseline.json")
    edited = (
        '"""Orders."""\n\nimport math\n\n\n'  # lines added above
        + LEGACY.replace("def ship(order):", "def ship( order ):  # a comment")
        + "\n\ndef refund(order):\n    return -order\n"  # a new violation
    )
    write_tree(project, {"shop/orders.py": edited})
    run = run_cli(project, "check", "--baseline", "baseline.json")
    assert _lines(run.stdout) == [
        "shop/orders.py:14:1: BKL801 `refund` has parameters without type annotations: `order`",
        "shop/orders.py:14:1: BKL802 `refund` has no return annotation",
        "2 findings in 1 file",
    ]
    assert run.exit_code == 1
    # Editing the flagged statement itself makes its findings new.
    write_tree(project, {"shop/orders.py": LEGACY.replace("discount", "rebate")})
    changed = run_cli(project, "check", "--baseline", "baseline.json")
    assert [line.split(": ")[1] for line in _lines(changed.stdout)[:-1]] == [
        "BKL801 `total` has parameters without type annotations",
        "BKL802 `total` has no return annotation",
    ]


def test_identical_statements_are_counted(project: Path) -> None:
    method = "    def run(self, x):\n        pass\n"
    twice = f"class A:\n{method}\n\nclass B:\n{method}"
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL801"]'), "a.py": twice})
    run_cli(project, "check", "--write-baseline", "b.json")
    entry = json.loads((project / "b.json").read_text())["findings"]
    assert [e["count"] for e in entry] == [2]
    write_tree(project, {"a.py": twice + "\n\nclass C:\n    def run(self, x):\n        pass\n"})
    run = run_cli(project, "check", "--baseline", "b.json")
    assert _lines(run.stdout)[-1] == "1 finding in 1 file"


def test_stale_entries_are_reported_then_removed(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": SELECT,
            "shop/orders.py": LEGACY,
            "shop/other.py": "def f(x):\n  pass\n",
        },
    )
    run_cli(project, "check", "--write-baseline", "baseline.json")
    fixed = LEGACY.replace("def ship(order):", "def ship(order: int) -> int:")
    write_tree(project, {"shop/orders.py": fixed})
    run = run_cli(project, "check", "--baseline", "baseline.json")
    assert run.exit_code == 0
    assert run.stderr.splitlines() == [
        "backlint: 2 baseline entries of baseline.json no longer occur; "
        "`--write-baseline baseline.json` removes them:",
        "  shop/orders.py: BKL801 `ship` has parameters without type annotations: `order`",
        "  shop/orders.py: BKL802 `ship` has no return annotation",
    ]
    # A run over other files (pre-commit) or codes says nothing about them...
    assert run_cli(project, "check", "--baseline", "baseline.json", "shop/other.py").stderr == ""
    only = run_cli(project, "check", "--baseline", "baseline.json", "--select", "BKL801")
    assert len(only.stderr.splitlines()) == 2
    # ... and a partial --write-baseline keeps what it did not check.
    partial = run_cli(project, "check", "--write-baseline", "baseline.json", "shop/other.py")
    assert partial.stderr == "Wrote 6 findings to baseline.json.\n"
    rewrite = run_cli(project, "check", "--write-baseline", "baseline.json")
    assert rewrite.stderr == (
        "Wrote 4 findings to baseline.json (2 entries no longer occurring removed).\n"
    )
    assert run_cli(project, "check", "--baseline", "baseline.json").stderr == ""


def test_bad_baselines_are_errors(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "a.py": "x = 1\n", "bad.json": "{}"})
    missing = run_cli(project, "check", "--baseline", "nope.json")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    bad = run_cli(project, "check", "--baseline", "bad.json")
    assert bad.exit_code == 2 and "not a backlint baseline" in bad.stderr
    both = run_cli(project, "check", "--write-baseline", "b.json", "--baseline", "bad.json")
    assert both.exit_code == 2
