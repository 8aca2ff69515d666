"""`# noqa` comments and `per-file-ignores`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import keys, lint, pyproject, write_tree

from backlint.engine.suppression import parse_noqa

SELECT_BKL8 = pyproject('select = ["BKL8"]')


def findings_in(project: Path, source: str) -> list[tuple[int, str]]:
    write_tree(project, {"pyproject.toml": SELECT_BKL8, "app.py": source})
    return [(line, code) for _, line, code in keys(lint(project))]


def test_without_noqa_both_rules_report(project: Path) -> None:
    assert findings_in(project, "def load(pk):\n    return pk\n") == [(1, "BKL801"), (1, "BKL802")]


@pytest.mark.parametrize(
    "comment",
    ["# noqa", "# NOQA", "#noqa", "# noqa:BKL801,BKL802", "# noqa: BKL801, BKL802", "# noqa: BKL8"],
)
def test_noqa_suppressing_both(project: Path, comment: str) -> None:
    assert findings_in(project, f"def load(pk):  {comment}\n    return pk\n") == []


@pytest.mark.parametrize(
    ("comment", "left"),
    [
        ("# noqa: BKL801", [(1, "BKL802")]),
        ("# noqa:BKL802", [(1, "BKL801")]),
        ("# noqa: BKL802 some explanation", [(1, "BKL801")]),
        # A noqa naming other codes suppresses nothing of ours.
        ("# noqa: E501", [(1, "BKL801"), (1, "BKL802")]),
        ("# noqa: BKL803", [(1, "BKL801"), (1, "BKL802")]),
        ("# noqa: BKL1", [(1, "BKL801"), (1, "BKL802")]),
    ],
)
def test_noqa_with_codes(project: Path, comment: str, left: list[tuple[int, str]]) -> None:
    assert findings_in(project, f"def load(pk):  {comment}\n    return pk\n") == left


def test_noqa_in_a_string_is_not_a_comment(project: Path) -> None:
    source = 'def load(pk, note="# noqa"):\n    return pk\n'
    assert findings_in(project, source) == [(1, "BKL801"), (1, "BKL802")]


def test_noqa_on_any_line_of_a_multiline_header(project: Path) -> None:
    source = (
        "def load(\n"
        "    pk,\n"
        "    using=None,\n"
        "):  # noqa: BKL801\n"
        "    return pk\n"
        "\n"
        "\n"
        "def save(\n"
        "    obj,  # noqa: BKL802\n"
        "    commit=True,\n"
        "):\n"
        "    return obj\n"
        "\n"
        "\n"
        "def delete(  # noqa\n"
        "    obj,\n"
        "):\n"
        "    return obj\n"
    )
    assert findings_in(project, source) == [(1, "BKL802"), (8, "BKL801")]


def test_noqa_in_the_body_does_not_cover_the_def(project: Path) -> None:
    source = "def load(pk):\n    return pk  # noqa\n"
    assert findings_in(project, source) == [(1, "BKL801"), (1, "BKL802")]


def test_noqa_on_the_decorator_line_does_not_cover_the_def(project: Path) -> None:
    # The finding is on the `def` line; the decorator is a statement line of its own.
    source = "import functools\n\n\n@functools.cache  # noqa\ndef load(pk):\n    return pk\n"
    assert findings_in(project, source) == [(5, "BKL801"), (5, "BKL802")]


def test_noqa_in_a_multiline_string_is_not_a_comment() -> None:
    noqa = parse_noqa('x = """\n# noqa\n"""\ny = 1  # noqa: BKL801\n')
    assert not noqa.suppresses(1, "BKL801")
    assert not noqa.suppresses(2, "BKL801")
    assert noqa.suppresses(4, "BKL801")
    assert not noqa.suppresses(4, "BKL802")


def test_noqa_of_a_file_that_does_not_tokenize_still_counts() -> None:
    noqa = parse_noqa("x = 1  # noqa: BKL801\ny = (\n")
    assert noqa.suppresses(1, "BKL801")


# ---------------------------------------------------------------------------
# per-file-ignores


PER_FILE = """select = ["BKL8"]
[tool.backlint.per-file-ignores]
"legacy/**" = ["BKL8"]
"scripts/*.py" = ["BKL801"]
"**/migrations/*.py" = ["ALL"]
"settings.py" = ["default"]
"""


def test_per_file_ignores(project: Path) -> None:
    source = "def load(pk):\n    return pk\n"
    write_tree(
        project,
        {
            "pyproject.toml": pyproject(PER_FILE),
            "app/views.py": source,
            "legacy/old/views.py": source,
            "scripts/backfill.py": source,
            "scripts/nested/deeper.py": source,
            "shop/migrations/0001_initial.py": source,
            "shop/settings.py": source,
            "settings.py": source,
        },
    )
    assert keys(lint(project)) == [
        ("app/views.py", 1, "BKL801"),
        ("app/views.py", 1, "BKL802"),
        ("scripts/backfill.py", 1, "BKL802"),
        # `*` does not cross directories.
        ("scripts/nested/deeper.py", 1, "BKL801"),
        ("scripts/nested/deeper.py", 1, "BKL802"),
        # "settings.py", without a slash, matches the name at any depth (as in
        # .gitignore): neither settings module is reported.
    ]


def test_per_file_ignores_are_relative_to_the_project_root(project: Path) -> None:
    # Linting a subdirectory, or from it, does not change what the globs match.
    source = "def load(pk):\n    return pk\n"
    write_tree(
        project,
        {"pyproject.toml": pyproject(PER_FILE), "scripts/run.py": source, "app/x.py": source},
    )
    found = keys(lint(project, targets=[project / "scripts"]))
    assert found == [("scripts/run.py", 1, "BKL802")]


def test_per_file_ignores_can_silence_engine_codes(project: Path) -> None:
    body = 'select = ["BKL8", "BKL0"]\n[tool.backlint.per-file-ignores]\n"broken/*" = ["BKL001"]'
    write_tree(
        project,
        {
            "pyproject.toml": pyproject(body),
            "broken/x.py": "def (:\n",
            "other.py": "def (:\n",
        },
    )
    assert keys(lint(project)) == [("other.py", 1, "BKL001")]
