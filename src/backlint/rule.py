"""The base class of every rule, and the shape of a rule's documentation."""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import libcst as cst

from backlint.catalogue import GROUPS
from backlint.semantics.context import FileContext
from backlint.semantics.index import ProjectIndex
from backlint.types import Fix, FixKind, SourceFile

CODE_RE = re.compile(r"^BKL\d{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# The headings every rule's docstring carries, in this order.
DOC_SECTIONS = ("What it flags", "Why", "Example", "Use instead", "Not flagged", "Fix")


@dataclass(frozen=True, slots=True)
class NoOptions:
    """Rules without options."""


@dataclass(frozen=True, slots=True)
class Report:
    """A finding as a rule makes it: the node, not yet a position."""

    node: cst.CSTNode
    message: str
    fix: Fix | None
    replacement: cst.CSTNode | None = None


class Rule:
    """A lint rule: a LibCST visitor with a stable code.

    Subclasses set the class attributes below, document themselves in the
    docstring under the `DOC_SECTIONS` headings, and define `visit_<Node>` /
    `leave_<Node>` methods. One instance is made per file; state lives on it.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]  # one sentence; `str.format` fields filled by `report`
    group: ClassVar[str] = "default"
    fix_kind: ClassVar[FixKind] = FixKind.NONE
    # Top-level packages whose presence (imported by the file, or anywhere in
    # the project) the rule needs. Empty: any Python code.
    frameworks: ClassVar[frozenset[str]] = frozenset()
    # Substrings one of which must occur in the source for the rule to fire.
    # Checked before parsing: a file no rule can match is never parsed.
    markers: ClassVar[tuple[str, ...]] = ()
    # True when the rule only looks at code lexically inside `async def`
    # bodies: its handlers run there only, and the walker may skip the rest.
    only_in_async: ClassVar[bool] = False
    # Test files (RULES.md: tests/, test_*.py, *_test.py, conftest.py; and
    # tests.py, a Django app's test module, and files under a `test/` or
    # `testing/` directory, test helper packages: `engine.files.is_test_path`).
    skip_tests: ClassVar[bool] = False
    # Migrations (Django migrations, Alembic revisions): generated, run once.
    skip_migrations: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions

    _handler_names: ClassVar[tuple[tuple[type[cst.CSTNode], bool, str], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if inspect.isabstract(cls) or "code" not in cls.__dict__:
            return
        if not CODE_RE.match(cls.code):
            raise TypeError(f"{cls.__name__}: code {cls.code!r} is not BKL + three digits")
        if not NAME_RE.match(cls.name):
            raise TypeError(f"{cls.__name__}: name {cls.name!r} is not kebab-case")
        if cls.group not in GROUPS:
            raise TypeError(f"{cls.__name__}: group {cls.group!r} is not one of {GROUPS}")
        handlers: list[tuple[type[cst.CSTNode], bool, str]] = []
        for attr in dir(cls):
            prefix, _, node_name = attr.partition("_")
            if prefix not in ("visit", "leave") or not node_name:
                continue
            node_type = getattr(cst, node_name, None)
            if not (isinstance(node_type, type) and issubclass(node_type, cst.CSTNode)):
                raise TypeError(f"{cls.__name__}.{attr}: {node_name} is not a LibCST node")
            handlers.append((node_type, prefix == "leave", attr))
        cls._handler_names = tuple(handlers)

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        self.ctx = ctx
        self.options = options if options is not None else self.Options()
        self.reports: list[Report] = []

    # The walker's protocol -----------------------------------------------------

    def handlers(self) -> Sequence[tuple[type[cst.CSTNode], bool, Callable[[Any], None]]]:
        return [(t, leave, getattr(self, attr)) for t, leave, attr in self._handler_names]

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        """Cheap test, before parsing, of whether the rule can fire on a file."""
        if cls.skip_tests and file.is_test:
            return False
        if cls.skip_migrations and file.is_migration:
            return False
        if cls.frameworks and not (cls.frameworks & packages):
            return False
        return not cls.markers or any(marker in source for marker in cls.markers)

    @classmethod
    def wants(cls, index: ProjectIndex, file: SourceFile, source: str, options: Any) -> bool:
        """Test against the project index, after `applies` and still before
        parsing: a rule of DRF views skips modules that define none, BKL303
        modules that name none of the models' managers or relations, BKL801
        modules that define no entry point."""
        return True

    # Reporting -----------------------------------------------------------------

    def report(
        self,
        node: cst.CSTNode,
        message: str | None = None,
        *,
        fix: Fix | None = None,
        replacement: cst.CSTNode | None = None,
        **fields: object,
    ) -> None:
        """Report `node` (its position is where the finding is shown).

        `replacement`, for a rule with a fix, is the node to put in its place.
        """
        text = message if message is not None else self.message.format(**fields)
        if replacement is not None and fix is None:
            fix = Fix(self.fix_kind, f"Replace with the fixed code ({self.code})")
        self.reports.append(Report(node, text, fix, replacement))

    # Documentation -------------------------------------------------------------

    @classmethod
    def docs(cls) -> dict[str, str]:
        """The docstring's sections, keyed by heading."""
        return parse_docs(inspect.getdoc(cls) or "")

    @classmethod
    def option_fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls.Options) if dataclasses.is_dataclass(cls.Options) else ()


def parse_docs(doc: str) -> dict[str, str]:
    """Split a docstring into its `Heading:` sections (the first line is the summary)."""
    sections: dict[str, list[str]] = {"summary": []}
    current = "summary"
    for line in doc.splitlines():
        stripped = line.rstrip()
        if stripped.endswith(":") and stripped[:-1] in DOC_SECTIONS and not line.startswith(" "):
            current = stripped[:-1]
            sections[current] = []
        else:
            sections[current].append(line)
    return {key: textwrap.dedent("\n".join(lines)).strip("\n") for key, lines in sections.items()}


def code_block(section: str) -> str:
    """The code of an Example / Use instead section (its ```python block)."""
    match = re.search(r"```(?:python)?\n(.*?)```", section, re.DOTALL)
    return textwrap.dedent(match.group(1)) if match else ""
