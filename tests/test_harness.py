"""The fixture harness itself: a harness that passes everything proves nothing."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import write_tree
from harness import (
    Fixture,
    FixtureError,
    Header,
    Seen,
    difference,
    discover_fixtures,
    dump_toml,
    expectations,
    malformed_fixture_names,
    parse_header,
    prepare,
    run_engine,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib


# ---------------------------------------------------------------------------
# Expectations.


def test_expectations_on_the_line() -> None:
    text = "def f(a):  # expect: BKL801\n    return a\n"
    assert expectations(text, "x") == Counter({(1, "BKL801"): 1})


def test_several_codes_and_repeats() -> None:
    text = "x = f()  # expect: BKL101, BKL102,BKL101\n"
    assert expectations(text, "x") == Counter({(1, "BKL101"): 2, (1, "BKL102"): 1})


def test_own_line_comment_applies_to_the_next_code_line() -> None:
    text = (
        "# expect: BKL801\n"
        "\n"
        "# an unrelated comment\n"
        "def f(a):\n"
        "    return a\n"
        "items = [\n"
        "    # expect: BKL101\n"
        "    call(),\n"
        "]\n"
    )
    assert expectations(text, "x") == Counter({(4, "BKL801"): 1, (8, "BKL101"): 1})


def test_expect_with_other_comment_text() -> None:
    text = "f(a)  # noqa: E501  # expect: BKL101 (the loop body runs a query)\n"
    assert expectations(text, "x") == Counter({(1, "BKL101"): 1})


def test_expect_in_a_string_is_not_an_expectation() -> None:
    text = 'x = "# expect: BKL801"\ny = """\n# expect: BKL802\n"""\n'
    assert expectations(text, "x") == Counter()


def test_dangling_own_line_expectation_is_an_error() -> None:
    with pytest.raises(FixtureError, match="followed by no code"):
        expectations("x = 1\n# expect: BKL801\n", "x")


def test_a_file_that_does_not_tokenize_is_read_line_by_line() -> None:
    text = "def broken(:  # expect: BKL001\n    x = (\n"
    assert expectations(text, "x") == Counter({(1, "BKL001"): 1})


# ---------------------------------------------------------------------------
# Headers.


def test_header_directives_are_toml() -> None:
    text = (
        "# fixture: path = 'shop/views.py'\n"
        "# fixture: options = { include-tests = true, names = ['a', 'b'] }\n"
        "# Another comment.\n"
        "import os\n"
        "# fixture: path = 'ignored.py'  (not in the leading comment block)\n"
    )
    assert parse_header(text, "x") == Header(
        "shop/views.py", {"include-tests": True, "names": ["a", "b"]}
    )


def test_no_header() -> None:
    assert parse_header("import os\n", "x") == Header()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("# fixture: path = shop/views.py", "bad `# fixture:` header"),
        ("# fixture: pth = 'a.py'", "unknown `# fixture:` key"),
        ("# fixture: path = '../escape.py'", "relative path to a .py file"),
        ("# fixture: path = '/abs.py'", "relative path to a .py file"),
        ("# fixture: path = 'views.txt'", "relative path to a .py file"),
        ("# fixture: options = 3", "`options` must be a table"),
        ("# fixture: __import__('os') = 1", "bad `# fixture:` header"),
    ],
)
def test_bad_headers(line: str, message: str) -> None:
    with pytest.raises(FixtureError, match=message):
        parse_header(line + "\nx = 1\n", "x")


def test_dump_toml_round_trips() -> None:
    document = {
        "project": {"name": "demo", "dependencies": ["django>=5"]},
        "tool": {
            "backlint": {
                "select": ["BKL801", "BKL0"],
                "missing-param-annotation": {"include-tests": True},
                "per-file-ignores": {"tests/*.py": ["BKL8"], 'we"ird': []},
                "nested": {"ratio": 0.5, "count": 3, "inline": {"a": "b\\c"}},
            }
        },
    }
    assert tomllib.loads(dump_toml(document)) == document


# ---------------------------------------------------------------------------
# Finding fixtures.


def test_discovery_of_fixtures(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "type_hints/BKL801.py": "",
            "type_hints/BKL801_include_tests.py": "",
            "type_hints/BKL802_project/app/views.py": "",
            "type_hints/README.md": "notes",
            "type_hints/BKL81.py": "",  # malformed
            "type_hints/bkl801.py": "",  # malformed
            "type_hints/BKL801-dash.py": "",  # malformed
            "type_hints/helpers/x.py": "",  # malformed directory name
            "loose.py": "",  # not in a family
        },
    )
    found = [(f.family, f.path.name, f.code, f.is_directory) for f in discover_fixtures(tmp_path)]
    assert found == [
        ("type_hints", "BKL801.py", "BKL801", False),
        ("type_hints", "BKL801_include_tests.py", "BKL801", False),
        ("type_hints", "BKL802_project", "BKL802", True),
    ]
    assert malformed_fixture_names(tmp_path) == [
        "loose.py",
        "type_hints/BKL801-dash.py",
        "type_hints/BKL81.py",
        "type_hints/bkl801.py",
        "type_hints/helpers",
    ]


def test_golden_files_are_not_fixtures(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "type_hints/BKL802.py": "",
            "type_hints/BKL802.fixed.py": "",
            "type_hints/BKL802_project/app/views.py": "",
            "type_hints/BKL802_project.fixed/app/views.py": "",
            "type_hints/BKL801.fixed.py": "",  # no BKL801.py: an orphan
            "type_hints/notes.fixed.py": "",  # not a fixture's golden file
        },
    )
    found = discover_fixtures(tmp_path)
    assert [(f.path.name, f.golden.name, f.golden.exists()) for f in found] == [
        ("BKL802.py", "BKL802.fixed.py", True),
        ("BKL802_project", "BKL802_project.fixed", True),
    ]
    assert malformed_fixture_names(tmp_path) == [
        "type_hints/BKL801.fixed.py",
        "type_hints/notes.fixed.py",
    ]


def test_unsafe_fixes_header(tmp_path: Path) -> None:
    assert parse_header("# fixture: unsafe-fixes = true\nx = 1\n", "x").unsafe_fixes
    assert not parse_header("x = 1\n", "x").unsafe_fixes
    with pytest.raises(FixtureError, match="unsafe-fixes"):
        parse_header('# fixture: unsafe-fixes = "yes"\n', "x")


# ---------------------------------------------------------------------------
# Preparing a project and comparing.


def test_prepare_a_single_file_fixture(tmp_path: Path) -> None:
    source = (
        "# fixture: path = 'shop/api/services.py'\n"
        "# fixture: options = { include-tests = true }\n"
        "def f(a):  # expect: BKL801\n"
        "    return a\n"
    )
    write_tree(tmp_path, {"fixtures/type_hints/BKL801_x.py": source})
    fixture = Fixture(tmp_path / "fixtures/type_hints/BKL801_x.py", "type_hints", "BKL801")
    project = prepare(fixture, tmp_path / "project")
    root = project.root
    assert (root / "shop/api/services.py").read_text(encoding="utf-8") == source
    assert (root / "shop/__init__.py").is_file()
    assert (root / "shop/api/__init__.py").is_file()
    assert not (root / "__init__.py").exists()
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert config == {
        "tool": {
            "backlint": {
                "missing-param-annotation": {"include-tests": True},
                "select": ["BKL801", "BKL0"],
            }
        }
    }
    assert project.expected == Counter({("shop/api/services.py", 3, "BKL801"): 1})
    assert [s.key for s in run_engine(project)] == [("shop/api/services.py", 3, "BKL801")]


def test_prepare_a_directory_fixture(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "fixtures/type_hints/BKL802_project",
        {
            "pyproject.toml": (
                '[tool.backlint]\nselect = ["ALL"]\nignore = ["BKL802"]\n'
                '[tool.backlint.per-file-ignores]\n"legacy/*" = ["BKL802"]\n'
            ),
            "app/__init__.py": "",
            "app/services.py": "def f(a: int):  # expect: BKL802\n    return a\n",
            "legacy/old.py": "def g(a: int):\n    return a\n",
            "app/__pycache__/views.cpython-311.pyc": b"\0",
        },
    )
    fixture = Fixture(tmp_path / "fixtures/type_hints/BKL802_project", "type_hints", "BKL802")
    project = prepare(fixture, tmp_path / "project")
    assert not (project.root / "app/__pycache__").exists()
    config = tomllib.loads((project.root / "pyproject.toml").read_text(encoding="utf-8"))
    # The fixture's own settings are kept, except the selection.
    assert config["tool"]["backlint"] == {
        "select": ["BKL802", "BKL0"],
        "per-file-ignores": {"legacy/*": ["BKL802"]},
    }
    assert set(project.files) == {"app/__init__.py", "app/services.py", "legacy/old.py"}
    assert [s.key for s in run_engine(project)] == [("app/services.py", 1, "BKL802")]


def test_headers_in_a_directory_fixture_are_an_error(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "fx/type_hints/BKL801_dir",
        {"a.py": "# fixture: path = 'b.py'\nx = 1\n"},
    )
    fixture = Fixture(tmp_path / "fx/type_hints/BKL801_dir", "type_hints", "BKL801")
    with pytest.raises(FixtureError, match="single-file"):
        prepare(fixture, tmp_path / "project")


def test_a_wrong_fixture_fails_with_a_table(tmp_path: Path) -> None:
    source = (
        "# fixture: options = { scope = 'public' }\n"
        "def missing_here(a: int) -> int:  # expect: BKL801\n"
        "    return a\n"
        "\n"
        "\n"
        "def extra_here(a):\n"
        "    return a\n"
        "\n"
        "\n"
        "def twice_expected(b):  # expect: BKL801, BKL801\n"
        "    return b\n"
    )
    write_tree(tmp_path, {"fx/type_hints/BKL801.py": source})
    fixture = Fixture(tmp_path / "fx/type_hints/BKL801.py", "type_hints", "BKL801")
    project = prepare(fixture, tmp_path / "project")
    table = difference(project, run_engine(project), "the engine")
    assert table is not None
    lines = table.splitlines()
    assert lines[0] == "type_hints/BKL801.py through the engine: 2 missing, 1 extra finding(s)"
    rows = [line.split(maxsplit=3) for line in lines[2:] if "BKL801.py:" in line]
    # In line order, with the message of an extra finding.
    assert rows == [
        ["BKL801.py:2", "missing", "BKL801"],
        [
            "BKL801.py:6",
            "extra",
            "BKL801",
            "`extra_here` has parameters without type annotations: `a`",
        ],
        ["BKL801.py:10", "missing", "BKL801"],
    ]
    # Each row is followed by its source line, for context.
    assert "| def extra_here(a):" in table


def test_an_exact_match_has_no_difference(tmp_path: Path) -> None:
    write_tree(tmp_path, {"fx/type_hints/BKL801.py": "x = f()  # expect: BKL801, BKL801\n"})
    fixture = Fixture(tmp_path / "fx/type_hints/BKL801.py", "type_hints", "BKL801")
    project = prepare(fixture, tmp_path / "project")
    seen = [Seen("BKL801.py", 1, 1, "BKL801", "m")] * 2
    assert difference(project, seen, "test") is None
    assert difference(project, seen[:1], "test") is not None
    assert difference(project, seen * 2, "test") is not None
