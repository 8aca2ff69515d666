"""BKL107 sqlalchemy-lazy-load-in-async."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext
from backlint.semantics.sqlalchemy import (
    ORM_PACKAGES,
    Loaded,
    Reads,
    lazy_chains,
    loaded_instance,
    loop_rows,
    owner_name,
    scan_reads,
)
from backlint.types import SourceFile

# An AsyncSession call must be in the file for an instance to be loaded by one.
_ASYNC_MARKERS = ("execute(", "scalars(", "scalar(", ".get(", "stream", "exec(")


class SqlalchemyLazyLoadInAsync(Rule):
    """A lazy `relationship()` read on an instance loaded through an `AsyncSession`.

    What it flags:
    In an `async def`, reading a `relationship()` attribute of an instance
    loaded through an `AsyncSession` (`await session.get(User, id)`,
    `(await session.execute(stmt)).scalar_one()`, `await session.scalar(stmt)`,
    a loop or comprehension over `(await session.scalars(stmt)).all()` or
    `await session.stream_scalars(stmt)`), when neither the statement's
    options (`selectinload`, `joinedload`, `subqueryload`, `immediateload`,
    `contains_eager`, chained paths included) nor the relationship's `lazy=`
    load it. Also one step further (`user.team.company`). Reported once per
    instance and relationship, where it is first read.

    Why:
    A lazy load is a synchronous query run on attribute access. Under
    `AsyncSession` there is no event loop hook for it: the read raises
    `sqlalchemy.exc.MissingGreenlet` ("greenlet_spawn has not been called")
    at run time, typically in production on the first object whose
    relationship was not already in the session's identity map.

    Example:
    ```python
    from sqlalchemy import ForeignKey
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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

    async def team_name(session: AsyncSession, user_id: int) -> str:
        user = await session.get(User, user_id)
        return user.team.name
    ```

    Use instead:
    ```python
    from sqlalchemy import ForeignKey
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship

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

    async def team_name(session: AsyncSession, user_id: int) -> str:
        user = await session.get(User, user_id, options=[joinedload(User.team)])
        return user.team.name
    ```

    Not flagged:
    Relationships loaded eagerly (options, or `lazy="selectin"`/`"joined"`/
    `"subquery"`/`"immediate"`) or never loaded implicitly (`lazy="raise"`,
    `"noload"`, `raiseload()`); `await obj.awaitable_attrs.rel`; attributes
    refreshed with `await session.refresh(obj, ["rel"])`; relationships the
    function assigns; column attributes; code in nested functions and
    lambdas (`await session.run_sync(lambda s: user.team)` runs where lazy
    loads work); instances received as parameters or from repository
    functions, whose loading backlint does not know (missed alarm); rows of a
    synchronous `Session` (BKL501 and BKL102 cover those).

    Fix:
    None: add a loader option to the statement (or `options=` of `get()`),
    or `await obj.awaitable_attrs.rel`.
    """

    code = "BKL107"
    name = "sqlalchemy-lazy-load-in-async"
    message = (
        "`{expr}` lazy-loads `{model}.{rel}` on an instance loaded through an AsyncSession: "
        "this raises `MissingGreenlet`; load it with {loader} or "
        "`await {owner}.awaitable_attrs.{rel}`"
    )
    frameworks = ORM_PACKAGES
    markers = ("await",)

    only_in_async = True

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        if file.is_migration:
            return False
        return super().applies(file, source, packages, options) and any(
            marker in source for marker in _ASYNC_MARKERS
        )

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # id(async def) -> its names bound to instances loaded through an AsyncSession.
        self.variables: dict[int, dict[str, Loaded]] = {}

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        # The body of the async def the walker just entered (a block whose
        # parent is the def): the function's own loaded instances.
        fn = self.ctx.scope.node
        if not (isinstance(fn, cst.FunctionDef) and fn.body is node):
            return
        scope = self.ctx.scope
        variables: dict[str, Loaded] = {}
        pending = list(self.ctx.scope_facts(scope).bindings)
        while pending:  # loops over a loaded instance's collection need it first
            remaining = []
            for name in pending:
                loaded = loaded_instance(self.ctx, name, scope, variables)
                if loaded is None:
                    remaining.append(name)
                elif loaded.is_async:
                    variables[name] = loaded
            if len(remaining) == len(pending):
                break
            pending = remaining
        self.variables[id(fn)] = variables
        if variables:
            self._report(scan_reads(self.ctx, [node], set(variables)), variables)

    def _visit_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
    ) -> None:
        fn = self.ctx.scope.node
        outer = self.variables.get(id(fn), {})
        body: list[cst.CSTNode] = (
            [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
        )
        comp: cst.CompFor | None = node.for_in
        bound: dict[str, Loaded] = {}
        while comp is not None:
            found = loop_rows(self.ctx, comp.target, comp.iter, self.ctx.scope, {**outer, **bound})
            if found is not None and found[1].is_async:
                bound[found[0]] = found[1]
            comp = comp.inner_for_in
        if not bound:
            return
        roots: Sequence[cst.CSTNode] = [*body, *(c.iter for c in _inner_fors(node.for_in))]
        self._report(scan_reads(self.ctx, roots, set(bound)), bound)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension

    def _report(self, reads: Reads, variables: dict[str, Loaded]) -> None:
        reported: set[str] = set()
        for name, node, expr, rel in lazy_chains(self.ctx, reads, variables):
            if expr in reported:
                continue
            reported.add(expr)
            model = owner_name(self.ctx, variables[name], expr)
            self.report(
                node,
                expr=expr,
                model=model,
                rel=rel.name,
                loader=rel.loader(model),
                owner=expr.rsplit(".", 1)[0],
            )


def _inner_fors(comp: cst.CompFor) -> list[cst.CompFor]:
    out: list[cst.CompFor] = []
    current = comp.inner_for_in
    while current is not None:
        out.append(current)
        current = current.inner_for_in
    return out
