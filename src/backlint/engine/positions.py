"""Line and column of the nodes that were reported, and of nothing else.

LibCST's PositionProvider records a range for every node by generating the
whole module's code (2.5 s on Django's source even without its metadata
machinery). Findings need positions for a few nodes only, so:

* statements are located by `ast`, whose statements correspond one to one, in
  pre-order, with LibCST's (a CST line `a; b` holds two of them);
* a reported expression is located by generating the code of its enclosing
  statement alone, relative to that statement's `ast` position, and stopping
  as soon as the reported nodes inside it have been generated.

Whenever the two trees disagree, the whole module is generated instead, so a
position is never guessed. Ranges are LibCST's syntactic ones: a decorated
`def` starts at `def`.
"""

from __future__ import annotations

import ast
import contextlib
import re
import warnings
from array import array
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState

Span = tuple[int, int, int, int]  # line, column, end line, end column (1-based)

_NEWLINE = re.compile(r"\r\n?|\n")
_NULL: AbstractContextManager[None] = nullcontext()


@dataclass(frozen=True, slots=True)
class Spans:
    """Where each requested node is: `syntactic` for reports, `raw` (its own
    generated text, whitespace included) for replacing it in a fix."""

    syntactic: dict[int, Span]
    raw: dict[int, Span]


class _Done(Exception):
    """Every wanted node has been generated: stop generating code."""


class _RecordingState(CodegenState):
    """Codegen that notes token offsets for a few target nodes.

    With `anchor`, generation stops (by raising `_Done`) once the anchor's start
    and every target's end have been generated: the rest of a long statement
    is not needed.
    """

    def __init__(
        self,
        module: cst.Module,
        targets: set[int],
        raw: set[int],
        indent: list[str] | None = None,
        anchor: int | None = None,
    ) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        if indent:
            self.indent_tokens.extend(indent)
        self.targets = targets | ({anchor} if anchor is not None else set())
        self.raw_targets = raw
        self.watched = self.targets | raw
        self.anchor = anchor
        self.pending = (targets - {anchor}) | raw
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self.raw_starts: dict[int, int] = {}
        self.raw_ends: dict[int, int] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.watched:
            self.raw_starts[id(node)] = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key not in self.watched:
            return
        offset = len(self.tokens)
        self.raw_ends[key] = offset
        if key in self.targets and key not in self.ends:
            # Nodes that record no syntactic range use their generated one.
            start = self.starts.setdefault(key, self.raw_starts[key])
            # A syntactic range ends at the node's last token, as ast's do: not
            # after the newline, comment or `; ` a statement carries.
            end = offset
            while end > start and _is_trailing(self.tokens[end - 1]):
                end -= 1
            self.ends[key] = end
        self.pending.discard(key)
        if self.anchor is not None and not self.pending and self.anchor in self.starts:
            raise _Done

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> AbstractContextManager[None]:
        if id(node) not in self.targets:
            return _NULL
        return self._record(node)

    @contextmanager
    def _record(self, node: cst.CSTNode) -> Iterator[None]:
        self.starts[id(node)] = len(self.tokens)
        yield
        # The end is where the node's own code ends (after_codegen), which for a
        # compound statement includes its body, as in LibCST's ranges.
        if id(node) == self.anchor and not self.pending:
            raise _Done


def _is_trailing(token: str) -> bool:
    text = token.strip()
    return not text or text == ";" or text.startswith("#")


def _line_columns(tokens: list[str], offsets: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Token offsets -> (line, column) from the start of `tokens`: line 0-based,
    column 0-based in characters; scans the text once."""
    out: dict[int, tuple[int, int]] = {}
    line, column, previous = 0, 0, 0
    for offset in sorted(set(offsets)):
        chunk = "".join(tokens[previous:offset])
        previous = offset
        if "\r" in chunk:
            pieces = _NEWLINE.split(chunk)
            breaks, tail = len(pieces) - 1, len(pieces[-1])
        else:
            breaks = chunk.count("\n")
            tail = len(chunk) - chunk.rfind("\n") - 1 if breaks else len(chunk)
        if breaks:
            line += breaks
            column = tail
        else:
            column += tail
        out[offset] = (line, column)
    return out


# ---------------------------------------------------------------------------
# Statement correspondence between LibCST and ast.

_AST_KIND = {
    "AsyncFunctionDef": "FunctionDef",
    "AsyncFor": "For",
    "AsyncWith": "With",
    "Delete": "Del",
}


def _cst_statements(
    suite: cst.Module | cst.BaseSuite, out: list[cst.BaseSmallStatement | cst.BaseCompoundStatement]
) -> None:
    if isinstance(suite, cst.SimpleStatementSuite):
        out.extend(suite.body)
        return
    for stmt in suite.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            out.extend(stmt.body)
        elif isinstance(stmt, cst.BaseCompoundStatement):
            _cst_compound(stmt, out)


def _cst_compound(
    stmt: cst.BaseCompoundStatement, out: list[cst.BaseSmallStatement | cst.BaseCompoundStatement]
) -> None:
    out.append(stmt)
    if isinstance(stmt, cst.Match):
        for case in stmt.cases:
            _cst_statements(case.body, out)
        return
    _cst_statements(stmt.body, out)
    for handler in getattr(stmt, "handlers", ()):
        _cst_statements(handler.body, out)
    orelse = getattr(stmt, "orelse", None)
    if isinstance(orelse, cst.If):
        _cst_compound(orelse, out)  # `elif`: a statement of its own, as in ast
    elif orelse is not None:
        _cst_statements(orelse.body, out)
    final = getattr(stmt, "finalbody", None)
    if final is not None:
        _cst_statements(final.body, out)


def _ast_statements(body: list[ast.stmt], out: list[ast.stmt]) -> None:
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.Match):
            for case in stmt.cases:
                _ast_statements(case.body, out)
            continue
        inner = getattr(stmt, "body", None)
        if isinstance(inner, list):
            _ast_statements(inner, out)
        for handler in getattr(stmt, "handlers", ()):
            _ast_statements(handler.body, out)
        _ast_statements(getattr(stmt, "orelse", []), out)
        _ast_statements(getattr(stmt, "finalbody", []), out)


# Statement kinds as small integers, for the compact table.
_KINDS = (
    "AnnAssign", "Assert", "Assign", "AugAssign", "Break", "ClassDef", "Continue", "Del",
    "Expr", "For", "FunctionDef", "Global", "If", "Import", "ImportFrom", "Match",
    "Nonlocal", "Pass", "Raise", "Return", "Try", "TryStar", "TypeAlias", "While", "With",
)  # fmt: skip
_KIND_CODE = {name: code for code, name in enumerate(_KINDS)}


def statement_table(tree: ast.Module, source_length: int) -> array[int]:
    """Every statement's kind and position, in pre-order, as a flat int array:
    computed by the index pass, which parses with `ast` anyway, and handed to
    the linting pass so that it never parses twice."""
    statements: list[ast.stmt] = []
    _ast_statements(tree.body, statements)
    table = array("i", [source_length])
    for stmt in statements:
        kind = type(stmt).__name__
        table.extend(
            (
                _KIND_CODE.get(_AST_KIND.get(kind, kind), -1),
                stmt.lineno,
                stmt.col_offset,
                stmt.end_lineno or stmt.lineno,
                stmt.end_col_offset or 0,
            )
        )
    return table


def _parse_table(source: str) -> array[int] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return statement_table(ast.parse(source), len(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class _Located:
    """The ast position of every CST statement of a module, when they agree."""

    def __init__(self, tree: cst.Module, source: str, table: array[int] | None) -> None:
        self.source = source
        self._lines: list[str] | None = None
        self.by_id: dict[int, tuple[int, int, int, int]] = {}
        if table is None or not table or table[0] != len(source):
            table = _parse_table(source)
        cst_list: list[cst.BaseSmallStatement | cst.BaseCompoundStatement] = []
        _cst_statements(tree, cst_list)
        self.ok = table is not None and len(cst_list) * 5 == len(table) - 1
        if not self.ok or table is None:
            return
        for i, node in enumerate(cst_list):
            kind, line, col, end_line, end_col = table[1 + 5 * i : 6 + 5 * i]
            if kind != _KIND_CODE.get(type(node).__name__, -2):
                self.ok = False
                return
            self.by_id[id(node)] = (
                line,
                self._column(line, col),
                end_line,
                self._column(end_line, end_col),
            )

    def _column(self, line: int, byte_offset: int) -> int:
        """ast counts UTF-8 bytes; findings count characters (0-based here)."""
        if self._lines is None:
            self._lines = _NEWLINE.split(self.source)
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        if text.isascii():
            return byte_offset
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


# ---------------------------------------------------------------------------


def node_spans(
    tree: cst.Module,
    source: str,
    nodes: Iterable[cst.CSTNode],
    parents: Mapping[int, cst.CSTNode],
    raw_nodes: Iterable[cst.CSTNode] = (),
    table: array[int] | None = None,
) -> Spans:
    """Spans of `nodes` (and raw spans of `raw_nodes`), by id(node): 1-based.

    `table` is the file's `statement_table` from the index pass, if it has one.
    """
    wanted = {id(n): n for n in nodes}
    raw_wanted = {id(n): n for n in raw_nodes}
    if not wanted and not raw_wanted:
        return Spans({}, {})
    located = _Located(tree, source, table)
    if not located.ok:
        return _whole_module(tree, wanted, raw_wanted)
    syntactic: dict[int, Span] = {}
    raw: dict[int, Span] = {}
    # Expressions (and raw spans) grouped by the statement that holds them.
    by_anchor: dict[int, tuple[cst.CSTNode, list[int], list[int]]] = {}
    for keys, is_raw in ((wanted, False), (raw_wanted, True)):
        for key, node in keys.items():
            if not is_raw and key in located.by_id:
                line, col, end_line, end_col = located.by_id[key]
                syntactic[key] = (line, col + 1, end_line, end_col + 1)
                continue
            anchor = _anchor(node, located, parents)
            if anchor is None:
                return _whole_module(tree, wanted, raw_wanted)
            entry = by_anchor.setdefault(id(anchor), (anchor, [], []))
            (entry[2] if is_raw else entry[1]).append(key)
    for anchor, targets, raws in by_anchor.values():
        state = _RecordingState(
            tree, set(targets), set(raws), _indentation(tree, anchor, parents), id(anchor)
        )
        # An `elif` is an If nested in its parent's `orelse`: generated alone
        # it would be written `if`, two characters short.
        parent = parents.get(id(anchor))
        is_elif = isinstance(parent, cst.If) and parent.orelse is anchor
        with contextlib.suppress(_Done):
            anchor._codegen(state, **({"is_elif": True} if is_elif else {}))
        offsets = [*state.starts.values(), *state.ends.values()]
        offsets += [*state.raw_starts.values(), *state.raw_ends.values()]
        placed = _Placed(
            _line_columns(state.tokens, offsets),
            state.starts[id(anchor)],
            located.by_id[id(anchor)][:2],
        )
        for key in targets:
            syntactic[key] = (*placed.at(state.starts[key]), *placed.at(state.ends[key]))
        for key in raws:
            raw[key] = (*placed.at(state.raw_starts[key]), *placed.at(state.raw_ends[key]))
    return Spans(syntactic, raw)


class _Placed:
    """Positions in an anchor statement's own generated code, made absolute
    from where ast says the anchor starts."""

    def __init__(
        self, where: dict[int, tuple[int, int]], anchor_offset: int, anchor_at: tuple[int, int]
    ) -> None:
        self.where = where
        self.origin = where[anchor_offset]
        self.line0, self.col0 = anchor_at

    def at(self, offset: int) -> tuple[int, int]:
        line, col = self.where[offset]
        if line == self.origin[0]:
            return self.line0, self.col0 + (col - self.origin[1]) + 1
        return self.line0 + (line - self.origin[0]), col + 1


def _anchor(
    node: cst.CSTNode, located: _Located, parents: Mapping[int, cst.CSTNode]
) -> cst.CSTNode | None:
    """The nearest statement at or above `node` that ast located."""
    current: cst.CSTNode | None = node
    while current is not None:
        if id(current) in located.by_id:
            return current
        current = parents.get(id(current))
    return None


def _indentation(
    tree: cst.Module, anchor: cst.CSTNode, parents: Mapping[int, cst.CSTNode]
) -> list[str]:
    """The indentation tokens in force where `anchor` is (outermost first)."""
    indents: list[str] = []
    current = parents.get(id(anchor))
    while current is not None:
        # A match statement indents its cases itself (`Match.indent`), then
        # each case's body is an IndentedBlock of its own.
        if isinstance(current, cst.IndentedBlock | cst.Match):
            indents.append(tree.default_indent if current.indent is None else current.indent)
        current = parents.get(id(current))
    indents.reverse()
    return indents


def code_in_place(
    tree: cst.Module,
    node: cst.CSTNode,
    parents: Mapping[int, cst.CSTNode],
    like: cst.CSTNode | None = None,
) -> str:
    """`node`'s code as the file holds it where `like` (default: `node`) is:
    with the indentation in force there, which `Module.code_for_node` leaves out."""
    state = CodegenState(default_indent=tree.default_indent, default_newline=tree.default_newline)
    state.indent_tokens.extend(_indentation(tree, like or node, parents))
    node._codegen(state)
    return "".join(state.tokens)


def _whole_module(tree: cst.Module, wanted: dict[int, Any], raw_wanted: dict[int, Any]) -> Spans:
    state = _RecordingState(tree, set(wanted), set(raw_wanted))
    tree._codegen(state)
    offsets = [*state.starts.values(), *state.ends.values()]
    offsets += [*state.raw_starts.values(), *state.raw_ends.values()]
    where = _line_columns(state.tokens, offsets)

    def spans(starts: dict[int, int], ends: dict[int, int], keys: Iterable[int]) -> dict[int, Span]:
        out: dict[int, Span] = {}
        for key in keys:
            if key in starts and key in ends:
                (line, col), (end_line, end_col) = where[starts[key]], where[ends[key]]
                out[key] = (line + 1, col + 1, end_line + 1, end_col + 1)
        return out

    return Spans(
        spans(state.starts, state.ends, wanted), spans(state.raw_starts, state.raw_ends, raw_wanted)
    )
