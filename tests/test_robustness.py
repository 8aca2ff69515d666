"""Nothing a file or a rule does stops the run, and nothing is written."""

from __future__ import annotations

import ast
import codecs
from pathlib import Path

import libcst as cst
import pytest
from conftest import keys, lint, pyproject, run_cli, write_tree

from backlint.engine.files import source_file
from backlint.engine.runner import lint_text
from backlint.engine.settings import RunSettings
from backlint.rule import Rule
from backlint.rules.type_hints.missing_param_annotation import MissingParamAnnotation
from backlint.rules.type_hints.missing_return_annotation import MissingReturnAnnotation
from backlint.semantics.index import ProjectIndex

SELECT = pyproject('select = ["BKL8", "BKL0"]')
FLAGGED = "def load(pk):\n    return pk\n"  # BKL801 + BKL802 on line 1


@pytest.mark.parametrize(
    "source",
    [
        "def broken(:\n    pass\n",
        "x = 1\nif x\n    y = 2\n",
        "def f():\n    return 1\n  x = 2\n",  # unindent does not match
        "print 'hello'\n",
        "x = (1,\n",
        "class A:\npass\n",
        "x = 1\n\tif x:\n",
    ],
)
def test_a_syntax_error_is_one_bkl001_with_cpythons_message(project: Path, source: str) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "bad.py": source, "good.py": FLAGGED})
    with pytest.raises(SyntaxError) as info:
        ast.parse(source)
    error = info.value
    findings = lint(project)
    assert keys(findings) == [
        ("bad.py", error.lineno, "BKL001"),
        ("good.py", 1, "BKL801"),
        ("good.py", 1, "BKL802"),
    ]
    bad = findings[0]
    assert bad.message == f"cannot parse: {error.msg}"
    assert (bad.line, bad.column) == (error.lineno, error.offset)
    assert bad.name == "parse-error"


def test_parse_errors_are_reported_even_when_no_rule_could_match(project: Path) -> None:
    # No `def` in the file (BKL8 markers): the file is parsed anyway to say why
    # it cannot be linted.
    write_tree(project, {"pyproject.toml": SELECT, "bad.py": "x = = 1\n"})
    assert keys(lint(project)) == [("bad.py", 1, "BKL001")]


def test_invalid_utf8_without_a_cookie(project: Path) -> None:
    data = b"def load(pk):\n    return 'caf\xe9'\n"  # latin-1 bytes, no declaration
    write_tree(project, {"pyproject.toml": SELECT, "bad.py": data, "good.py": FLAGGED})
    findings = lint(project)
    assert keys(findings) == [
        ("bad.py", 2, "BKL001"),
        ("good.py", 1, "BKL801"),
        ("good.py", 1, "BKL802"),
    ]
    assert "cannot decode as utf-8" in findings[0].message


def test_an_unknown_coding_cookie(project: Path) -> None:
    data = b"# -*- coding: klingon -*-\ndef load(pk):\n    return pk\n"
    write_tree(project, {"pyproject.toml": SELECT, "bad.py": data})
    findings = lint(project)
    assert keys(findings) == [("bad.py", 1, "BKL001")]
    assert "klingon" in findings[0].message


def test_a_latin1_cookie_file_is_linted_normally(project: Path) -> None:
    data = (
        '# -*- coding: latin-1 -*-\nLABEL = "Café"\ndef prix(quantité, remise=0): return "é"\n'
    ).encode("latin-1")
    write_tree(project, {"pyproject.toml": SELECT, "shop.py": data})
    findings = lint(project)
    assert keys(findings) == [("shop.py", 3, "BKL801"), ("shop.py", 3, "BKL802")]
    assert "`quantité`" in findings[0].message


def test_a_bom_file_is_linted_normally(project: Path) -> None:
    data = codecs.BOM_UTF8 + "x = 'é'; y = 1\ndef load(pk):\n    return pk\n".encode()
    write_tree(project, {"pyproject.toml": SELECT, "bom.py": data})
    findings = lint(project)
    assert [(f.path, f.line, f.column, f.code) for f in findings] == [
        ("bom.py", 2, 1, "BKL801"),
        ("bom.py", 2, 1, "BKL802"),
    ]


def test_an_empty_file_and_a_comment_only_file(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "empty.py": "", "comment.py": "# def x\n"})
    assert lint(project) == []


def test_a_deeply_nested_file(project: Path) -> None:
    # Deep enough that a recursive parser or walker would give up.
    source = "x = " + "(" * 300 + "1" + ")" * 300 + "\n" + FLAGGED
    write_tree(project, {"pyproject.toml": SELECT, "deep.py": source, "good.py": FLAGGED})
    found = keys(lint(project))
    assert found[-2:] == [("good.py", 1, "BKL801"), ("good.py", 1, "BKL802")]
    # Either linted (def on line 2) or one BKL001, never a crash of the run.
    assert found[:-2] in (
        [("deep.py", 2, "BKL801"), ("deep.py", 2, "BKL802")],
        [("deep.py", 1, "BKL001")],
    )


def test_nesting_cpython_rejects_is_a_parse_error(project: Path) -> None:
    # LibCST parses 400 nested brackets, CPython does not: one BKL001 with
    # CPython's message (not a BKL002 "backlint failed" from a RecursionError).
    source = "x = " + "[" * 400 + "1" + "]" * 400 + "\n" + FLAGGED
    write_tree(project, {"pyproject.toml": SELECT, "deeper.py": source, "good.py": FLAGGED})
    with pytest.raises(SyntaxError) as info:
        ast.parse(source)
    findings = lint(project)
    assert keys(findings) == [
        ("deeper.py", info.value.lineno, "BKL001"),
        ("good.py", 1, "BKL801"),
        ("good.py", 1, "BKL802"),
    ]
    assert findings[0].message == f"cannot parse: {info.value.msg}"


def test_a_dangling_symlink_is_skipped(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "good.py": FLAGGED})
    (project / "dangling.py").symlink_to(project / "missing-target.py")
    found = keys(lint(project))
    assert found == [("good.py", 1, "BKL801"), ("good.py", 1, "BKL802")]


# ---------------------------------------------------------------------------
# A rule that crashes.


class CrashingRule(Rule):
    """Test only: raises on the second function of a file."""

    code = "BKL990"
    name = "test-crashing-rule"
    message = "never reported: {what}"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seen = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.seen += 1
        self.report(node, what="reported before the crash")
        if self.seen == 2:
            raise KeyError("boom")


def lint_source(source: str, rules: tuple[type[Rule], ...], tmp_path: Path) -> list[object]:
    path = tmp_path / "shop" / "services.py"
    file = source_file(path, tmp_path, tmp_path)
    index = ProjectIndex([])
    index.prepare()
    return lint_text(file, source, RunSettings(rules=rules, root=tmp_path), index)


def test_a_crashing_rule_gives_one_bkl002_and_the_others_still_report(tmp_path: Path) -> None:
    source = "def one(a):\n    pass\n\n\ndef two(b):\n    pass\n\n\ndef three(c):\n    pass\n"
    rules = (MissingParamAnnotation, CrashingRule, MissingReturnAnnotation)
    findings = lint_source(source, rules, tmp_path)
    summary = [(f.line, f.code) for f in findings]
    assert sorted(summary) == [
        (1, "BKL801"),
        (1, "BKL802"),
        (5, "BKL002"),  # where the rule was when it raised
        (5, "BKL801"),
        (5, "BKL802"),
        (9, "BKL801"),
        (9, "BKL802"),
    ]
    crash = next(f for f in findings if f.code == "BKL002")
    assert crash.name == "rule-error"
    assert "BKL990" in crash.message
    assert "KeyError: 'boom'" in crash.message
    assert crash.path == "shop/services.py"
    # What the rule reported before it raised is dropped with it.
    assert not any(f.code == "BKL990" for f in findings)


def test_a_crashing_rule_can_be_silenced_with_noqa(tmp_path: Path) -> None:
    source = "def one(a):\n    pass\n\n\ndef two(b):  # noqa: BKL002\n    pass\n"
    findings = lint_source(source, (CrashingRule, MissingParamAnnotation), tmp_path)
    assert sorted((f.line, f.code) for f in findings) == [(1, "BKL801"), (5, "BKL801")]


def test_a_crash_without_bkl002_selected_is_silent(tmp_path: Path) -> None:
    source = "def one(a):\n    pass\n\n\ndef two(b):\n    pass\n"
    path = tmp_path / "services.py"
    file = source_file(path, tmp_path, tmp_path)
    settings = RunSettings(
        rules=(CrashingRule, MissingParamAnnotation), root=tmp_path, engine_codes=frozenset()
    )
    findings = lint_text(file, source, settings, ProjectIndex([]))
    assert sorted((f.line, f.code) for f in findings) == [(1, "BKL801"), (5, "BKL801")]


# ---------------------------------------------------------------------------
# Nothing is written to the linted files.


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".backlint_cache" not in p.parts
    }


def test_linting_writes_nothing_to_the_linted_files(project: Path) -> None:
    files: dict[str, str | bytes] = {
        "pyproject.toml": SELECT,
        "app/views.py": "def f(x):\n    print(x)\n",  # BKL802 with a `-> None` fix
        "app/crlf.py": "def g(y):\r\n    pass\r\n",
        "app/bom.py": codecs.BOM_UTF8 + b"def h(z):\n    pass\n",
        "app/latin.py": "# coding: latin-1\ndef \xe9t\xe9(a):\n    pass\n".encode("latin-1"),
        "app/broken.py": "def (:\n",
    }
    write_tree(project, files)
    before = snapshot(project)
    for args in (("check",), ("check", "--format", "json"), ("check", "--jobs", "2", "app")):
        run = run_cli(project, *args)
        assert run.exit_code == 1
    assert len(lint(project)) > 5
    assert snapshot(project) == before
