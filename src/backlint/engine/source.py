"""Reading and parsing one file: decode once, parse once."""

from __future__ import annotations

import ast
import codecs
import io
import tokenize
import warnings
from dataclasses import dataclass

import libcst as cst
from libcst._nodes.base import CSTNode

from backlint.engine.reading import SourceError

# Past these, LibCST's native parser overflows its stack (nesting) or takes
# time quadratic in the terms of one expression: such a file is a BKL001, and
# LibCST never sees it.
MAX_NESTING = 150
MAX_TERMS_PER_STATEMENT = 3000

TOO_DEEP = "cannot parse: the file is too deeply nested"
TOO_COMPLEX = "cannot parse: an expression has too many terms"

# CPython's messages for what its own limits reject.
_CPYTHON_LIMITS = (
    "too many nested parentheses",
    "too many levels of indentation",
    "too many statically nested blocks",
)


def too_deep_to_parse(text: str) -> SourceError | None:
    """Why LibCST must not be given `text` (nesting or one expression past
    its limits), or None. CPython's parser answers first: when it accepts
    the file, LibCST copes with it too; the token scan runs only for the
    files CPython rejects (syntax errors and syntax newer than this Python)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
        return None
    except SyntaxError as err:
        if any(limit in str(err.msg) for limit in _CPYTHON_LIMITS):
            return SourceError(f"cannot parse: {err.msg}", err.lineno or 1, err.offset or 1)
    except (RecursionError, MemoryError):
        return _scan_limits(text) or SourceError(TOO_DEEP)
    except ValueError:
        return None
    return _scan_limits(text)


def _scan_limits(text: str) -> SourceError | None:
    """A token scan for nesting past `MAX_NESTING` and statements of more than
    `MAX_TERMS_PER_STATEMENT` operators."""
    depth = 0
    terms = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = token.type
            if kind == tokenize.OP:
                char = token.string
                if char in "([{":
                    depth += 1
                    if depth > MAX_NESTING:
                        return SourceError(TOO_DEEP, *token.start)
                elif char in ")]}":
                    depth -= 1
                terms += 1
                if terms > MAX_TERMS_PER_STATEMENT:
                    return SourceError(TOO_COMPLEX, *token.start)
            elif kind == tokenize.NAME and token.string in ("not", "and", "or", "await"):
                terms += 1
                if terms > MAX_TERMS_PER_STATEMENT:
                    return SourceError(TOO_COMPLEX, *token.start)
            elif kind == tokenize.NEWLINE:
                terms = 0
            elif kind == tokenize.INDENT and len(token.string) > 4 * MAX_NESTING:
                return SourceError(TOO_DEEP, *token.start)
    except (tokenize.TokenError, SyntaxError) as err:
        if any(limit in str(err) for limit in _CPYTHON_LIMITS):
            return SourceError(TOO_DEEP)
    except (RecursionError, MemoryError):
        return SourceError(TOO_DEEP)
    return None


@dataclass(frozen=True, slots=True)
class Source:
    """Decoded text of a file, with what is needed to write it back unchanged."""

    text: str
    encoding: str
    bom: bool


def decode(data: bytes) -> Source:
    """Decode as Python does: a BOM, else a PEP 263 coding cookie, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"cannot decode: {exc}") from None
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8) :]
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        line = data[: getattr(exc, "start", 0)].count(b"\n") + 1
        raise SourceError(f"cannot decode as {encoding}: {exc}", line) from None
    return Source(text, encoding, bom)


_VALIDATING_POST_INIT = CSTNode.__post_init__


def _skip_validation(self: CSTNode) -> None:
    pass


def parse(text: str) -> cst.Module:
    """Parse with LibCST, skipping the per-node re-validation of parser output.

    LibCST validates every node in ``__post_init__``, which is about a fifth of
    parse time; the parser's output is valid by construction (LibCST's own source
    notes the same). Nodes built later, by fixes, are validated as usual.
    """
    CSTNode.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise _syntax_error(text, exc) from None
    except (RecursionError, MemoryError):
        raise SourceError("cannot parse: the file is too deeply nested") from None
    finally:
        CSTNode.__post_init__ = _VALIDATING_POST_INIT  # type: ignore[method-assign]


def too_deep(text: str) -> SourceError:
    """A file nested deeper than LibCST's recursive code can follow: CPython's
    own error when it rejects the file too (`too many nested parentheses`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as err:
        return SourceError(f"cannot parse: {err.msg}", err.lineno or 1, err.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        pass
    return SourceError("cannot parse: the file is too deeply nested")


def _syntax_error(text: str, exc: cst.ParserSyntaxError) -> SourceError:
    """CPython's own message and position where it has one: LibCST's native
    parser reports positions that are often a line off."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as err:
        return SourceError(f"cannot parse: {err.msg}", err.lineno or 1, err.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        pass
    return SourceError(f"cannot parse: {exc.message}", exc.raw_line, exc.raw_column + 1)


class _Downgrade(cst.CSTTransformer):
    """Rewrites syntax newer than the running Python's `ast` into what the
    index needs of it: `type X = Y` becomes `X = Y`, type parameters go, and
    f-/t-strings (whose 3.12 forms older parsers reject) become plain strings."""

    def leave_TypeAlias(self, original: cst.TypeAlias, updated: cst.TypeAlias) -> cst.Assign:
        return cst.Assign(targets=[cst.AssignTarget(updated.name)], value=updated.value)

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        return updated.with_changes(type_parameters=None)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        return updated.with_changes(type_parameters=None)

    def leave_FormattedString(
        self, original: cst.FormattedString, updated: cst.FormattedString
    ) -> cst.SimpleString:
        return cst.SimpleString('""')


def ast_parse_any(text: str) -> tuple[ast.Module, bool]:
    """`ast.parse`, also for syntax newer than the running Python: then the
    file is parsed with LibCST and downgraded first. The flag says whether the
    tree's positions are the file's own (False after a downgrade)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to report
        try:
            return ast.parse(text), True
        except SyntaxError as err:
            if any(limit in str(err.msg) for limit in _CPYTHON_LIMITS) or _scan_limits(text):
                raise
            try:
                module = parse(text)
            except SourceError:
                raise SyntaxError("not Python") from None
            return ast.parse(module.visit(_Downgrade()).code), False
