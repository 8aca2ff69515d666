"""BKL501 sqlalchemy-lazy-load-in-loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from backlint.rules.sqlalchemy import SQLAlchemyRule
from backlint.semantics.context import FileContext
from backlint.semantics.sqlalchemy import (
    Loaded,
    lazy_chains,
    loop_rows,
    owner_name,
    scan_reads,
)
from backlint.types import SourceFile

# Something that runs a statement must be in the file for a loop over rows.
_QUERY_MARKERS = ("query(", "scalars(", "exec(", "execute(", "all()")


class SqlalchemyLazyLoadInLoop(SQLAlchemyRule):
    """A lazy `relationship()` read in a loop over query results (N+1 queries).

    What it flags:
    In a `for` loop or a comprehension over the rows of a mapped class
    (`db.query(User)...`, `session.scalars(select(User))`,
    `session.execute(stmt).scalars()`, SQLModel's `session.exec(select(User))`,
    `.all()` of those, directly or through a variable, or a relationship
    collection of an outer loop's row), reading a `relationship()` attribute
    of the loop variable that the statement does not load eagerly
    (`options(selectinload/joinedload/subqueryload/immediateload/
    contains_eager(...))`, chained paths included) and whose `lazy=` is the
    default `"select"`. Also a lazy relationship one step further
    (`user.team.company` after `joinedload(User.team)`). Reported once per
    loop and relationship, where it is first read.

    Why:
    Each read of a lazy relationship runs one `SELECT` per row: a page of 100
    users makes 101 queries. It passes every test with three rows and takes
    the database down with three thousand.

    Example:
    ```python
    from sqlalchemy import ForeignKey, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

    class Base(DeclarativeBase):
        pass

    class Team(Base):
        __tablename__ = "teams"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
        team: Mapped[Team] = relationship()

    def roster(session: Session) -> list[str]:
        return [u.team.name for u in session.scalars(select(User))]
    ```

    Use instead:
    ```python
    from sqlalchemy import ForeignKey, select
    from sqlalchemy.orm import (
        DeclarativeBase, Mapped, Session, joinedload, mapped_column, relationship,
    )

    class Base(DeclarativeBase):
        pass

    class Team(Base):
        __tablename__ = "teams"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
        team: Mapped[Team] = relationship()

    def roster(session: Session) -> list[str]:
        stmt = select(User).options(joinedload(User.team))
        return [u.team.name for u in session.scalars(stmt)]
    ```

    Not flagged:
    Relationships loaded by the statement's options or by an eager `lazy=`
    (`"selectin"`, `"joined"`, `"subquery"`, `"immediate"`); relationships
    that never load implicitly (`lazy="raise"`, `"noload"`, `"dynamic"`,
    `"write_only"`, `raiseload()`); column attributes; rows loaded through an
    `AsyncSession` (BKL107 reports those: they raise `MissingGreenlet`);
    statements with options backlint cannot read (`.options(*opts)`), rows
    returned by a repository function, and relationships declared in ways
    the index does not see (`@declared_attr`): missed alarms rather than
    guesses; test files.

    Fix:
    None: add a loader option (`selectinload` for collections, `joinedload`
    for many-to-one) to the statement.
    """

    code = "BKL501"
    name = "sqlalchemy-lazy-load-in-loop"
    message = (
        "`{expr}` lazy-loads `{model}.{rel}` with one query per row of the loop: "
        "load it with {loader} in the statement's options"
    )
    markers = ("for ",)

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        return super().applies(file, source, packages, options) and any(
            marker in source for marker in _QUERY_MARKERS
        )

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # Enclosing loops over rows, by loop variable (None: another loop).
        self.loops: list[dict[str, Loaded]] = []
        self.comprehension_sizes: list[int] = []

    def _outer(self) -> dict[str, Loaded]:
        merged: dict[str, Loaded] = {}
        for loop in self.loops:
            merged.update(loop)
        return merged

    def visit_For(self, node: cst.For) -> None:
        found = None
        if node.asynchronous is None:
            found = loop_rows(self.ctx, node.target, node.iter, self.ctx.scope, self._outer())
        if found is not None and found[1].is_async:
            found = None  # BKL107's
        if found is not None:
            self._scan(found[0], found[1], [node.body])
        self.loops.append(dict([found]) if found is not None else {})

    def leave_For(self, node: cst.For) -> None:
        self.loops.pop()

    def _visit_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
    ) -> None:
        body: list[cst.CSTNode] = (
            [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
        )
        count = 0
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            found = None
            if comp.asynchronous is None:
                found = loop_rows(self.ctx, comp.target, comp.iter, self.ctx.scope, self._outer())
            if found is not None and found[1].is_async:
                found = None
            if found is not None:
                inner: list[cst.CSTNode] = [*body, *comp.ifs]
                nxt = comp.inner_for_in
                while nxt is not None:
                    inner += [nxt.iter, *nxt.ifs]
                    nxt = nxt.inner_for_in
                self._scan(found[0], found[1], inner)
            self.loops.append(dict([found]) if found is not None else {})
            count += 1
            comp = comp.inner_for_in
        self.comprehension_sizes.append(count)

    def _leave_comprehension(self, node: cst.CSTNode) -> None:
        del self.loops[len(self.loops) - self.comprehension_sizes.pop() :]

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comprehension

    def _scan(self, var: str, loaded: Loaded, roots: Sequence[cst.CSTNode]) -> None:
        reads = scan_reads(self.ctx, roots, {var})
        reported: set[str] = set()
        for _, node, expr, rel in lazy_chains(self.ctx, reads, {var: loaded}):
            if expr not in reported:
                reported.add(expr)
                model = owner_name(self.ctx, loaded, expr)
                self.report(node, expr=expr, model=model, rel=rel.name, loader=rel.loader(model))
