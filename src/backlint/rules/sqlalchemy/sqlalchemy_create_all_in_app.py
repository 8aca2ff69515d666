"""BKL502 sqlalchemy-create-all-in-app."""

from __future__ import annotations

import libcst as cst

from backlint.rules.sqlalchemy import SQLAlchemyRule
from backlint.semantics.context import Assigned, Scope, ScopeKind
from backlint.semantics.facts import IN_MEMORY_DATABASE, Call, Const, FunctionFacts, dotted
from backlint.semantics.index import ProjectIndex, data_view
from backlint.semantics.sqlalchemy import (
    ASYNC_FACTORY_CALLS,
    METADATA_CLASSES,
    SQLMODEL_BASES,
    SYNC_FACTORY_CALLS,
    TABLE_CLASSES,
    sqlalchemy_models,
)
from backlint.semantics.tree import descendants

# Command-line frameworks: a command that creates the schema is a script.
CLI_PACKAGES = ("click.", "typer.")
# pytest fixtures build a throw-away schema, wherever the module lives
# (`myapp/testing/conf.py` is test code that is not under `tests/`).
FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest_asyncio.fixture"})
_ENGINE_CALLS = SYNC_FACTORY_CALLS | ASYNC_FACTORY_CALLS


@data_view
def in_memory_functions(index: ProjectIndex) -> frozenset[str]:
    """Functions some module of the project calls to set up an in-memory
    SQLite database (`ModuleFacts.in_memory_calls`)."""
    return frozenset(name for facts in index.modules.values() for name in facts.in_memory_calls)


class SqlalchemyCreateAllInApp(SQLAlchemyRule):
    """`metadata.create_all()` in application code instead of migrations.

    What it flags:
    `Base.metadata.create_all(...)` (a declarative base or mapped class of the
    project), `SQLModel.metadata.create_all(...)`, `create_all` on a
    `MetaData()` object, flask-sqlalchemy's `db.create_all()`, and the same
    handed to `run_sync` (`await conn.run_sync(Base.metadata.create_all)`),
    in application code: at module level, in a `lifespan` or startup handler,
    anywhere outside tests and migrations. Reported on the call.

    Why:
    `create_all` creates missing tables and does nothing else: a new column,
    a changed type, a new index or constraint never reaches a database that
    already has the table. The schema silently drifts from the models until a
    query fails in production, and there is no history to roll back. Schema
    changes belong in Alembic migrations, applied as a deployment step.

    Example:
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    engine = create_engine("postgresql://localhost/app")
    Base.metadata.create_all(bind=engine)
    app = FastAPI()
    ```

    Use instead:
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    engine = create_engine("postgresql://localhost/app")
    app = FastAPI()  # the schema comes from `alembic upgrade head`
    ```

    Not flagged:
    Tests and `conftest.py`; migration scripts (Alembic `versions/` and
    `env.py`); code under `if __name__ == "__main__":` and command-line
    commands (click, typer, `app.cli.command()`), which are run by hand; a
    pytest fixtures (`@pytest.fixture`), wherever their module lives; a
    function that also drives Alembic (Alembic's documented bootstrap of a
    fresh database: `create_all` then `command.stamp(cfg, "head")`, or a
    project wrapper's `self.alembic.stamp("head")`);
    an in-memory SQLite database, which starts empty every time: `create_all`
    on an engine made by `create_engine("sqlite://")` (or a `:memory:` URL),
    in the body of an `if` that tests for `":memory:"`, or in a module-level
    function the project calls in such an `if` (directly or through its own
    helpers: `if url.database == ":memory:": init_memory_models(engine)`);
    `drop_all`; a function's own `MetaData()` whose tables get computed names
    (`Table(table_name, metadata, *columns)`: a data table made on demand, such
    as an export target, not the application's schema); metadata whose origin
    backlint cannot resolve (missed alarm).

    Fix:
    None: generate a migration (`alembic revision --autogenerate`) and run
    `alembic upgrade head` at deployment.
    """

    code = "BKL502"
    name = "sqlalchemy-create-all-in-app"
    message = (
        "`{expr}` in application code creates missing tables but never alters existing ones: "
        "manage the schema with Alembic migrations"
    )
    markers = ("create_all",)

    def visit_Expr(self, node: cst.Expr) -> None:
        for child in descendants(node, parents=self.ctx.parents):
            if not (isinstance(child, cst.Attribute) and child.attr.value == "create_all"):
                continue
            if not self._creates_schema(child.value):
                continue
            parent = self.ctx.parent(child)
            call: cst.CSTNode | None = parent
            if isinstance(parent, cst.Arg):  # uncalled: `conn.run_sync(Base.metadata.create_all)`
                call = self.ctx.parent(parent)
            elif not (isinstance(parent, cst.Call) and parent.func is child):
                continue
            if not isinstance(call, cst.Call) or self._exempt(node) or self._in_memory_bind(call):
                continue
            self.report(call, expr=self.ctx.tree.code_for_node(child))

    def _creates_schema(self, receiver: cst.BaseExpression) -> bool:
        models = self.ctx.index.view(sqlalchemy_models)
        canonical = self.ctx.index.canonical
        if isinstance(receiver, cst.Attribute) and receiver.attr.value == "metadata":
            owner = self.ctx.qualified_name(receiver.value)
            if owner is None:
                return False
            owner = canonical(owner)
            return owner in SQLMODEL_BASES or models.is_base(owner) or models.get(owner) is not None
        name = self.ctx.qualified_name(receiver)
        if name is not None:
            name = canonical(name)
            return name in models.metadata or f"{name}.Model" in models.bases
        if isinstance(receiver, cst.Name):  # a local `metadata = MetaData()`
            scope, bindings = self.ctx.bindings(receiver.value)
            return (
                bool(bindings)
                and all(
                    isinstance(b, Assigned)
                    and isinstance(b.value, cst.Call)
                    and canonical(self.ctx.qualified_name(b.value.func) or "") in METADATA_CLASSES
                    for b in bindings
                )
                and not (scope is not None and self._data_tables(scope, receiver.value))
            )
        return False

    def _data_tables(self, owner: Scope, metadata: str) -> bool:
        """`Table(table_name, metadata, *columns)` with a computed name in the
        function that owns the local `metadata`: tables of data made on demand
        (an export target, a user's dataset), not the application's schema."""
        if not isinstance(owner.node, cst.FunctionDef):
            return False
        canonical = self.ctx.index.canonical
        for child in descendants(owner.node.body):
            if not (
                isinstance(child, cst.Call)
                and canonical(self.ctx.qualified_name(child.func, owner) or "") in TABLE_CLASSES
                and len(child.args) > 1
            ):
                continue
            name, bound = child.args[0].value, child.args[1].value
            if (
                isinstance(bound, cst.Name)
                and bound.value == metadata
                and not isinstance(name, cst.SimpleString)
            ):
                return True
        return False

    # Scripts ---------------------------------------------------------------------

    def _exempt(self, statement: cst.CSTNode) -> bool:
        child = statement
        for ancestor in self.ctx.ancestors(statement):
            if isinstance(ancestor, cst.If) and (
                _is_main_guard(ancestor.test)
                or (child is ancestor.body and self._names_in_memory(ancestor.test))
            ):
                return True
            child = ancestor
        if self._serves_in_memory():
            return True
        scope: Scope | None = self.ctx.scope
        while scope is not None:
            node = scope.node
            if (
                scope.kind is ScopeKind.FUNCTION
                and isinstance(node, cst.FunctionDef)
                and (
                    self._is_command(node, scope.parent)
                    or self._is_fixture(node, scope.parent)
                    or self._drives_alembic(node, scope)
                )
            ):
                return True
            scope = scope.parent
        return False

    def _in_memory_bind(self, call: cst.Call) -> bool:
        """`create_all(engine)` (or `bind=engine`) where `engine` is
        `create_engine("sqlite://")` (or a `:memory:` URL): this module's, a
        local one, or one imported from another module of the project."""
        bind = next((a.value for a in call.args if a.keyword is None and not a.star), None)
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "bind":
                bind = arg.value
        if not isinstance(bind, cst.Name):
            return False
        _, bindings = self.ctx.bindings(bind.value)
        if len(bindings) != 1:
            return False
        binding = bindings[0]
        canonical = self.ctx.index.canonical
        if isinstance(binding, Assigned):
            value = binding.value
            return (
                isinstance(value, cst.Call)
                and canonical(self.ctx.qualified_name(value.func) or "") in _ENGINE_CALLS
                and bool(value.args)
                and isinstance(value.args[0].value, cst.SimpleString)
                and _in_memory_url(str(value.args[0].value.evaluated_value))
            )
        name = self.ctx.qualified_name(bind)
        found = self.ctx.index.lookup(name) if name is not None else None
        return (
            isinstance(found, Call)
            and canonical(dotted(found.func) or "") in _ENGINE_CALLS
            and bool(found.args)
            and isinstance(found.args[0], Const)
            and isinstance(found.args[0].value, str)
            and _in_memory_url(found.args[0].value)
        )

    def _names_in_memory(self, test: cst.BaseExpression) -> bool:
        """`if url.database == ":memory:":`, `if ":memory:" in dsn:`."""
        return any(
            isinstance(child, cst.SimpleString) and IN_MEMORY_DATABASE in str(child.evaluated_value)
            for child in descendants(test)
        )

    def _serves_in_memory(self) -> bool:
        """The module-level function around the call is one the project calls
        to set up an in-memory SQLite database (in an `if` that tests for
        `":memory:"`, directly or through the caller's own helpers): a new
        empty database each time, with no schema to migrate."""
        scope: Scope | None = self.ctx.scope
        outer: Scope | None = None
        while scope is not None and scope.kind is not ScopeKind.MODULE:
            outer, scope = scope, scope.parent
        if outer is None or not isinstance(outer.node, cst.FunctionDef):
            return False
        qualname = f"{self.ctx.module}.{outer.node.name.value}"
        return qualname in self.ctx.index.view(in_memory_functions)

    def _is_command(self, node: cst.FunctionDef, enclosing: Scope | None) -> bool:
        for decorator in node.decorators:
            expr = decorator.decorator
            func = expr.func if isinstance(expr, cst.Call) else expr
            name = self.ctx.qualified_name(func, enclosing)
            if name is not None and name.startswith(CLI_PACKAGES):
                return True
            if isinstance(func, cst.Attribute) and func.attr.value == "command":
                owner = func.value
                if isinstance(owner, cst.Attribute) and owner.attr.value == "cli":
                    return True  # Flask: `@app.cli.command()`
                owner_name = self.ctx.qualified_name(owner, enclosing)
                if owner_name is not None and self._is_cli_object(owner_name):
                    return True
        return False

    def _is_fixture(self, node: cst.FunctionDef, enclosing: Scope | None) -> bool:
        for decorator in node.decorators:
            expr = decorator.decorator
            func = expr.func if isinstance(expr, cst.Call) else expr
            if self.ctx.qualified_name(func, enclosing) in FIXTURE_DECORATORS:
                return True
        return False

    def _is_cli_object(self, qualname: str) -> bool:
        """`cli = typer.Typer()`, `@click.group() def cli()`."""
        found = self.ctx.index.lookup(qualname)
        if isinstance(found, Call):
            func = dotted(found.func) or ""
            return self.ctx.index.canonical(func).startswith(CLI_PACKAGES)
        if isinstance(found, FunctionFacts):
            return any(
                (dotted(d.func if isinstance(d, Call) else d) or "").startswith(CLI_PACKAGES)
                for d in found.decorators
            )
        return False

    def _drives_alembic(self, node: cst.FunctionDef, scope: Scope) -> bool:
        """The function uses Alembic too (create, then stamp the revision):
        an `alembic.*` name, or a project wrapper's `.stamp("head")`."""
        for child in descendants(node.body):
            if (
                isinstance(child, cst.Call)
                and isinstance(child.func, cst.Attribute)
                and child.func.attr.value == "stamp"
                and any(
                    isinstance(a.value, cst.SimpleString) and a.value.evaluated_value == "head"
                    for a in child.args
                )
            ):
                return True
            if isinstance(child, cst.Name | cst.Attribute):
                name = self.ctx.qualified_name(child, scope)
                if name is not None and name.startswith("alembic."):
                    return True
        return False


def _in_memory_url(url: str) -> bool:
    """`sqlite://`, `sqlite+aiosqlite://`, `sqlite:///:memory:`: SQLite in memory."""
    scheme, _, rest = url.partition("://")
    if scheme.split("+", 1)[0] != "sqlite":
        return False
    return rest in ("", "/") or IN_MEMORY_DATABASE in rest


def _is_main_guard(test: cst.BaseExpression) -> bool:
    """`__name__ == "__main__"`."""
    return (
        isinstance(test, cst.Comparison)
        and isinstance(test.left, cst.Name)
        and test.left.value == "__name__"
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].comparator, cst.SimpleString)
        and test.comparisons[0].comparator.evaluated_value == "__main__"
    )
