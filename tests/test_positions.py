"""Finding positions: the lean path (ast statement positions plus codegen of one
statement) must agree with generating the whole module.

The samples in tests/data are real-world-like code with what makes positions
hard: non-ASCII text (columns count characters, ast counts bytes), tabs,
decorators, multi-line calls and headers, `elif` chains, try/except/else/
finally, `match`, semicolons. Each also runs with CRLF line endings. They are
stored as .py.txt so that no linter or formatter of this repository touches them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import libcst as cst
import pytest
from conftest import lint, pyproject, write_tree

from backlint.engine.positions import (
    Span,
    _anchor,
    _Located,
    _whole_module,
    node_spans,
    statement_table,
)
from backlint.engine.source import parse

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(p.name for p in DATA.glob("*.py.txt"))
NEEDS_311 = {"trystar_sample.py.txt"}

# Layout and punctuation: nodes no rule reports (the walker never visits them).
_LAYOUT = (
    cst.BaseParenthesizableWhitespace,
    cst.TrailingWhitespace,
    cst.EmptyLine,
    cst.Comment,
    cst.Newline,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.AssignEqual,
    cst.Semicolon,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseUnaryOp,
    cst.BaseAugOp,
    cst.Asynchronous,
)


def nodes_and_parents(tree: cst.Module) -> tuple[list[cst.CSTNode], dict[int, cst.CSTNode]]:
    """Every node worth reporting, in pre-order, and every node's parent."""
    parents: dict[int, cst.CSTNode] = {}
    nodes: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [tree]
    while stack:
        node = stack.pop()
        for child in reversed(node.children):
            parents[id(child)] = node
            stack.append(child)
        if node is not tree and not isinstance(node, _LAYOUT):
            nodes.append(node)
    return nodes, parents


def load(name: str, newline: str) -> str:
    text = (DATA / name).read_text(encoding="utf-8")
    return text.replace("\n", newline)


def sample_params() -> list[object]:
    params = []
    for name in SAMPLES:
        for label, newline in (("LF", "\n"), ("CRLF", "\r\n")):
            marks = []
            if name in NEEDS_311:
                marks.append(
                    pytest.mark.skipif(sys.version_info < (3, 11), reason="except* is 3.11+")
                )
            params.append(pytest.param(name, newline, id=f"{name}-{label}", marks=marks))
    return params


def describe(source: str, node: cst.CSTNode, lean: Span | None, whole: Span | None) -> str:
    line = (lean or whole or (1, 1, 1, 1))[0]
    text = source.splitlines()[line - 1] if line <= len(source.splitlines()) else ""
    return f"{type(node).__name__}: lean {lean} whole {whole} | {text.strip()}"


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 3


@pytest.mark.parametrize(("name", "newline"), sample_params())
def test_lean_starts_equal_whole_module_starts(name: str, newline: str) -> None:
    source = load(name, newline)
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    located = _Located(tree, source, None)
    # The samples must take the lean path, else this compares codegen with itself.
    assert located.ok
    anchored = [n for n in nodes if _anchor(n, located, parents) is not None]
    assert len(anchored) >= 0.9 * len(nodes)
    lean = node_spans(tree, source, anchored, parents).syntactic
    whole = _whole_module(tree, {id(n): n for n in nodes}, {}).syntactic
    wrong = [
        describe(source, n, lean.get(id(n)), whole.get(id(n)))
        for n in anchored
        if lean.get(id(n)) is None or lean[id(n)][:2] != whole[id(n)][:2]
    ]
    assert not wrong, f"{len(wrong)} of {len(anchored)} starts differ:\n" + "\n".join(wrong[:30])
    # Ends agree too, except for statements: the lean path ends them where ast
    # does (their last token), LibCST after a compound statement's block and
    # after a small statement's `; `.
    statements = (cst.BaseCompoundStatement, cst.BaseSmallStatement)
    wrong_ends = [
        describe(source, n, lean[id(n)], whole[id(n)])
        for n in anchored
        if not isinstance(n, statements) and lean[id(n)] != whole[id(n)]
    ]
    assert not wrong_ends, "\n".join(wrong_ends[:30])


@pytest.mark.parametrize(("name", "newline"), sample_params())
def test_each_node_alone(name: str, newline: str) -> None:
    # One reported node at a time: codegen of its statement stops early.
    source = load(name, newline)
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    whole = _whole_module(tree, {id(n): n for n in nodes}, {}).syntactic
    wrong = []
    for node in nodes[::3]:
        alone = node_spans(tree, source, [node], parents).syntactic[id(node)]
        if alone[:2] != whole[id(node)][:2]:
            wrong.append(describe(source, node, alone, whole[id(node)]))
    assert not wrong, "\n".join(wrong[:30])


@pytest.mark.parametrize(("name", "newline"), sample_params())
def test_positions_point_at_the_node(name: str, newline: str) -> None:
    """An oracle independent of codegen: at the reported (line, column) of a
    name, a literal or a def, the source text reads that name, literal or def."""
    source = load(name, newline)
    lines = source.replace("\r\n", "\n").split("\n")
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    spans = node_spans(tree, source, nodes, parents).syntactic
    checked = 0
    for node in nodes:
        if isinstance(node, cst.Name | cst.Integer | cst.SimpleString):
            expected = node.value
        elif isinstance(node, cst.FunctionDef):
            expected = "async def" if node.asynchronous else "def"
        elif isinstance(node, cst.ClassDef):
            expected = "class"
        else:
            continue
        line, column, _, _ = spans[id(node)]
        assert lines[line - 1][column - 1 :].startswith(expected), (
            f"{type(node).__name__} {expected!r} reported at {line}:{column}: {lines[line - 1]!r}"
        )
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize(("name", "newline"), sample_params())
def test_the_index_pass_table_gives_the_same_positions(name: str, newline: str) -> None:
    source = load(name, newline)
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    table = statement_table(ast.parse(source), len(source))
    assert node_spans(tree, source, nodes, parents, table=table) == node_spans(
        tree, source, nodes, parents
    )


def test_a_stale_table_is_not_trusted() -> None:
    # A statement table of another version of the file (a different length) is
    # ignored: positions come from the file itself.
    source = "x = 1\ny = f(2)\n"
    stale = statement_table(ast.parse("x = 1\n\n\ny = f(2)\n"), len("x = 1\n\n\ny = f(2)\n"))
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    call = next(n for n in nodes if isinstance(n, cst.Call))
    assert node_spans(tree, source, [call], parents, table=stale).syntactic[id(call)][:2] == (2, 5)


def test_columns_count_characters() -> None:
    source = 'é = "ü€🛒"; call = f(1)\n'
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    call = next(n for n in nodes if isinstance(n, cst.Call))
    # 1-based columns, in characters (code points): `f` is the 19th character.
    assert source.index("f(1)") + 1 == 19
    assert node_spans(tree, source, [call], parents).syntactic[id(call)] == (1, 19, 1, 23)


def test_syntax_ast_rejects_falls_back_to_the_whole_module() -> None:
    # LibCST parses what this Python's ast may not (here: a 3.12 `type` alias on
    # older Pythons, else an invalid escape that only warns); either way the
    # positions are right.
    source = "type Alias = int\nvalue = compute(1)\n"
    tree = parse(source)
    nodes, parents = nodes_and_parents(tree)
    call = next(n for n in nodes if isinstance(n, cst.Call))
    assert node_spans(tree, source, [call], parents).syntactic[id(call)][:2] == (2, 9)


# ---------------------------------------------------------------------------
# End to end: what a user sees.


def test_reported_positions_in_real_files(project: Path) -> None:
    tabs = load("tabs_sample.py.txt", "\n")
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('select = ["BKL801"]'),
            "shop/tabs.py": tabs,
            "shop/crlf.py": tabs.replace("\n", "\r\n"),
            "shop/bom.py": "\ufeff" + tabs,
        },
    )
    found = [(f.path, f.line, f.column) for f in lint(project)]
    # `\tdef prix(self, quantité)`: the def is the 2nd character of line 4;
    # `def mélange(a, b)` spans two lines and is reported on its first.
    expected = [(4, 2), (20, 1)]
    assert found == [
        (path, line, column)
        for path in ("shop/bom.py", "shop/crlf.py", "shop/tabs.py")
        for line, column in expected
    ]
