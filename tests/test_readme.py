"""The README tells the truth: its first commands, and its rule table against
`backlint rules`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

INSTALL = ("pip install .", "backlint check path/to/your/project")
TEST_COMMAND = "pip install -e '.[test]' && python -m pytest"

_ROW = re.compile(r"^\|\s*(BKL\d{3})\s*\|\s*([a-z0-9-]+)\s*\|\s*(default|strict)\s*\|")


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _intro(text: str) -> str:
    """Everything before the first second-level heading."""
    return text.split("\n## ", 1)[0]


def _code_lines(text: str) -> list[str]:
    """The lines inside fenced code blocks, stripped."""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line.strip())
    return lines


def _rule_table(text: str) -> dict[str, tuple[str, str, bool]]:
    """code -> (name, group, available) from the table under `## Rules`."""
    section = text.split("\n## Rules\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str, bool]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert cells[4] in ("yes", "not yet"), f"available must be yes or not yet: {line}"
            assert match.group(1) not in rows, f"{match.group(1)} listed twice"
            rows[match.group(1)] = (match.group(2), match.group(3), cells[4] == "yes")
    return rows


def _backlint_rules() -> dict[str, tuple[str, str]]:
    """code -> (name, group), from `backlint rules` run as a command."""
    done = subprocess.run(
        [sys.executable, "-m", "backlint.cli", "rules"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["code", "name", "group", "fix"], done.stdout
    rules: dict[str, tuple[str, str]] = {}
    for line in lines[1:]:
        code, name, group, _fix = line.split()
        rules[code] = (name, group)
    return rules


def test_first_lines_hold_the_two_commands() -> None:
    intro = _intro(_readme())
    assert len(intro.splitlines()) <= 30, "the commands belong in the README's first lines"
    commands = _code_lines(intro)
    assert commands == [*INSTALL, TEST_COMMAND], commands
    first_paragraph = intro.split("\n\n")[1]
    for topic in ("event loop", "N+1", "unvalidated", "SQL", "secrets", "Celery"):
        assert topic in first_paragraph, topic


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, test = TEST_COMMAND.split(" && ")
    commands = [line.strip() for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert any(line.startswith(f"if ! {install};") or line == install for line in commands)
    assert any(re.search(rf"\b{re.escape(test)}$", line) for line in commands), test


def test_rule_table_lists_every_rule_backlint_has() -> None:
    table = _rule_table(_readme())
    rules = _backlint_rules()
    missing = sorted(set(rules) - set(table))
    assert not missing, f"README's rule table lacks {missing}"
    for code, (name, group) in rules.items():
        readme = table[code][:2]
        assert readme == (name, group), f"{code}: README has {readme}, backlint {(name, group)}"


def test_rule_table_marks_exactly_the_available_rules() -> None:
    table = _rule_table(_readme())
    rules = _backlint_rules()
    marked = {code for code, (_, _, available) in table.items() if available}
    assert marked == set(rules), (
        "README's rule table: mark `yes` in the available column for "
        f"{sorted(set(rules) - marked)} and `not yet` for {sorted(marked - set(rules))}"
    )


def test_rule_table_covers_every_family() -> None:
    table = _rule_table(_readme())
    assert {code[:4] for code in table} == {f"BKL{d}" for d in range(10)}
    assert len(table) >= 45
