"""BKL003 unused-noqa: only when selected, only for codes that could have fired."""

from __future__ import annotations

from pathlib import Path

from conftest import keys, lint, pyproject, write_tree

from backlint.registry import SelectionLayer

SOURCE = """\
def used(x) -> None:  # noqa: BKL801
    pass


def unused(x: int) -> None:  # noqa: BKL801
    pass


def partly(x) -> None:  # noqa: BKL801, BKL802
    pass


def prefix(x: int) -> None:  # noqa: BKL8
    pass


def other_tools(x: int) -> None:  # noqa: E501, BKL999
    pass


def blanket(x: int) -> None:  # noqa
    pass


def spans(
    x,
) -> None:  # noqa: BKL801
    pass


def not_selected(x: int) -> None:  # noqa: BKL101
    pass
"""


def test_unused_noqa_only_when_selected(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL8"]'), "a.py": SOURCE})
    assert keys(lint(project)) == []


def test_unused_noqa(project: Path) -> None:
    write_tree(
        project, {"pyproject.toml": pyproject('select = ["BKL8", "BKL003"]'), "a.py": SOURCE}
    )
    found = lint(project)
    assert [(f.line, f.code, f.message) for f in found] == [
        (5, "BKL003", "unused `noqa`: BKL801 suppresses nothing"),
        (9, "BKL003", "unused `noqa`: BKL802 suppresses nothing"),
        (13, "BKL003", "unused `noqa`: BKL8 suppresses nothing"),
        (17, "BKL003", "unused `noqa`: BKL999 is no rule"),
    ]
    assert (found[0].column, found[0].end_column) == (30, 44)


def test_unused_noqa_in_a_file_no_rule_applies_to(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('select = ["BKL101", "BKL003"]'),
            "a.py": "x = 1  # noqa: BKL101\n",
        },
    )
    assert keys(lint(project)) == [("a.py", 1, "BKL003")]
    # per-file-ignores of the code: it could not fire, so nothing is said.
    write_tree(
        project,
        {
            "pyproject.toml": pyproject(
                'select = ["BKL101", "BKL003"]\nper-file-ignores = { "a.py" = ["BKL101"] }'
            )
        },
    )
    assert keys(lint(project)) == []
    assert keys(lint(project, cli=SelectionLayer(ignore=["BKL003"]))) == []
