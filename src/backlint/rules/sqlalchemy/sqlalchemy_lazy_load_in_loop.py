"""BKL501 sqlalchemy-lazy-load-in-loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from backlint.rules.loops import LoopRule
from backlint.rules.sqlalchemy import SQLAlchemyRule
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


class SqlalchemyLazyLoadInLoop(LoopRule[tuple[str, Loaded]], SQLAlchemyRule):
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

    def loop(
        self, target: cst.BaseExpression, iterable: cst.BaseExpression
    ) -> tuple[str, Loaded] | None:
        outer = dict(filter(None, self.loops))
        found = loop_rows(self.ctx, target, iterable, self.ctx.scope, outer)
        if found is not None and found[1].is_async:
            return None  # BKL107's
        return found

    def scan(self, loop: tuple[str, Loaded], roots: Sequence[cst.CSTNode]) -> None:
        var, loaded = loop
        reads = scan_reads(self.ctx, roots, {var})
        reported: set[str] = set()
        for _, node, expr, rel in lazy_chains(self.ctx, reads, {var: loaded}):
            if expr not in reported:
                reported.add(expr)
                model = owner_name(self.ctx, loaded, expr)
                self.report(node, expr=expr, model=model, rel=rel.name, loader=rel.loader(model))
