"""Unit tests of the SQLAlchemy and FastAPI index views: mapped classes and
their relationships, loader options, what runs per request."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from conftest import pyproject, write_tree

from backlint.config import load_config
from backlint.engine.files import discover
from backlint.engine.index import build_index
from backlint.semantics.context import FileContext
from backlint.semantics.fastapi import fastapi_dependencies
from backlint.semantics.index import ProjectIndex
from backlint.semantics.sqlalchemy import (
    Loading,
    QueryValue,
    find_method,
    first_lazy_step,
    queries,
    returns_all_rows,
    sqlalchemy_models,
)

MODELS = """\
from typing import List, Optional

from sqlalchemy import Column, ForeignKey, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, backref, declarative_base, relationship
from sqlmodel import Field, Relationship, SQLModel


class Base(DeclarativeBase):
    pass


class Mixin:
    owner = relationship("Owner", lazy="joined")


class Abstract(Base):
    __abstract__ = True


class Owner(Base):
    __tablename__ = "owners"
    id: Mapped[int] = mapped_column(primary_key=True)


class Team(Mixin, Abstract):
    __tablename__ = "teams"
    members: Mapped[List["User"]] = relationship(back_populates="team")
    lead: Mapped[Optional["User"]] = relationship(lazy="raise")


class User(Base):
    __tablename__ = "users"
    team: Mapped["Team"] = relationship(back_populates="members", lazy="selectin")


class Admin(User):
    pass


Legacy = declarative_base()
metadata = MetaData()


class Invoice(Legacy):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    lines = relationship("Line", backref=backref("invoice", lazy="joined"), uselist=True)


class Line(Legacy):
    __tablename__ = "lines"
    id = Column(Integer, primary_key=True)


class HeroBase(SQLModel):
    name: str


class Hero(HeroBase, table=True):
    id: int = Field(primary_key=True)
    squad: Optional["Squad"] = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class Squad(SQLModel, table=True):
    id: int = Field(primary_key=True)
    heroes: list[Hero] = Relationship(back_populates="squad")
"""

REPOSITORY = """\
from sqlalchemy import select

from app.models import User


class Repository:
    async def everyone(self):
        result = await self.session.execute(select(User).where(User.id > 0))
        return result.scalars().all()

    async def some(self):
        return (await self.session.scalars(select(User).limit(5))).all()

    async def one(self, user_id):
        return await self.session.get(User, user_id)


class UserRepository(Repository):
    pass
"""

API = """\
from typing import Annotated
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

router = APIRouter(dependencies=[Depends(verify)])


def verify() -> None: ...
def get_db(): ...
def get_user(db=Depends(get_db)): ...


class Checker:
    def __call__(self) -> None: ...


class Paging:
    def __init__(self, page: int = 1) -> None: ...


checker = Checker()
UserDep = Annotated[object, Depends(get_user)]


@router.get("/")
def index(user: UserDep, paging: Annotated[Paging, Depends()], ok=Depends(checker)) -> None: ...


@asynccontextmanager
async def lifespan(app): ...


def on_start() -> None: ...


app = FastAPI(lifespan=lifespan, on_startup=[on_start])
"""


@pytest.fixture
def index(project: Path) -> ProjectIndex:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject(),
            "app/__init__.py": "",
            "app/models.py": MODELS,
            "app/repository.py": REPOSITORY,
            "app/api.py": API,
        },
    )
    config = load_config(project)
    files = discover([project], config.root, config.exclude_patterns, project)
    built = build_index(files, None, None).index
    built.prepare()
    return built


def test_mapped_classes(index: ProjectIndex) -> None:
    models = index.view(sqlalchemy_models)
    assert set(models.classes) == {
        f"app.models.{n}"
        for n in ("Owner", "Team", "User", "Admin", "Invoice", "Line", "Hero", "Squad")
    }
    assert models.is_base("app.models.Base") and models.is_base("app.models.Legacy")
    assert "app.models.metadata" in models.metadata


def test_relationships_and_strategies(index: ProjectIndex) -> None:
    models = index.view(sqlalchemy_models)

    def rel(cls: str, name: str) -> tuple[str | None, str, bool | None]:
        mapped = models.get(f"app.models.{cls}")
        assert mapped is not None
        found = mapped.relationship(name)
        assert found is not None, (cls, name)
        return found.target, found.strategy, found.collection

    assert rel("Team", "members") == ("User", "lazy", True)
    assert rel("Team", "lead") == ("User", "other", False)
    assert rel("Team", "owner") == ("Owner", "eager", None)  # from a mixin
    assert rel("User", "team") == ("Team", "eager", False)
    assert rel("Admin", "team") == ("Team", "eager", False)  # inherited
    assert rel("Invoice", "lines") == ("Line", "lazy", True)
    assert rel("Line", "invoice") == ("app.models.Invoice", "eager", None)  # a backref
    assert rel("Hero", "squad") == ("Squad", "eager", False)  # sa_relationship_kwargs
    assert rel("Squad", "heroes")[1:] == ("lazy", True)
    assert models.resolve("Team") is models.get("app.models.Team")


def test_first_lazy_step(index: ProjectIndex) -> None:
    models = index.view(sqlalchemy_models)
    team = models.get("app.models.Team")
    assert team is not None
    none = Loading()
    found = first_lazy_step(models, team, none, ["members", "team", "members"])
    assert found is not None and found[0] == 1
    eager = Loading(frozenset({("members",)}))
    found = first_lazy_step(models, team, eager, ["members", "team", "members"])
    # members loaded, team eager by default, then team.members is lazy again.
    assert found is not None and found[0] == 3
    assert first_lazy_step(models, team, none, ["lead"]) is None  # lazy="raise"
    assert first_lazy_step(models, team, Loading(opaque=True), ["members"]) is None
    wildcard_lazy = Loading(lazy=frozenset({("*",)}))
    assert first_lazy_step(models, team, wildcard_lazy, ["owner"]) is not None


def _value(index: ProjectIndex, source: str, expr: str) -> QueryValue | None:
    tree = cst.parse_module(source)
    ctx = FileContext(
        path="app/x.py",
        module="app.x",
        is_package=False,
        is_test=False,
        source=source,
        tree=tree,
        index=index,
    )
    return queries(ctx).value(cst.parse_expression(expr))


IMPORTS = """\
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload, defaultload, raiseload, lazyload
from app.models import Team, User
stmt = select(Team).options(selectinload(Team.members).joinedload(User.team))
"""


@pytest.mark.parametrize(
    ("expr", "shape", "eager", "is_async", "bounded"),
    [
        ("db.scalars(stmt).all()", "list", {("members",), ("members", "team")}, False, False),
        ("(await db.execute(stmt)).scalars().first()", "instance", None, True, False),
        ("db.query(Team).options(defaultload(Team.members).selectinload(User.team)).all()",
         "list", {("members", "team")}, False, False),
        ("db.scalars(select(Team).limit(5))", "scalars", set(), False, True),
        ("await db.get(Team, 1, options=[joinedload(Team.owner)])",
         "instance", {("owner",)}, True, False),
        ("db.query(Team)[0:10]", "list", set(), False, True),
        ("db.execute(select(Team)).all()", "list", set(), False, False),
        ("db.scalars(select(Team).options(raiseload('*')))", "scalars", {("*",)}, False, False),
    ],
)  # fmt: skip
def test_query_values(
    index: ProjectIndex,
    expr: str,
    shape: str,
    eager: set[tuple[str, ...]] | None,
    is_async: bool,
    bounded: bool,
) -> None:
    found = _value(index, IMPORTS, expr)
    assert found is not None
    assert (found.shape, found.is_async, found.bounded) == (shape, is_async, bounded)
    if eager is not None:
        assert found.loading.eager == eager


def test_rows_of_columns_are_not_entities(index: ProjectIndex) -> None:
    found = _value(index, IMPORTS, "db.execute(select(Team)).all()")
    assert found is not None and found.model is None  # rows (tuples), not Team objects
    assert _value(index, IMPORTS, "cache.get(Team, 1)") is None  # not awaited, unknown receiver


def test_repository_methods(index: ProjectIndex) -> None:
    repo = "app.repository.UserRepository"
    everyone, some, one = (find_method(index, repo, m) for m in ("everyone", "some", "one"))
    assert everyone is not None and some is not None and one is not None
    assert returns_all_rows(index, everyone)
    assert not returns_all_rows(index, some)
    assert not returns_all_rows(index, one)


def test_fastapi_dependencies(index: ProjectIndex) -> None:
    deps = index.view(fastapi_dependencies)
    assert {
        "app.api.verify",
        "app.api.get_db",
        "app.api.get_user",
        "app.api.Paging",
    } <= deps.callables
    assert deps.instances == {"app.api.Checker"}
    assert deps.lifespan == {"app.api.lifespan", "app.api.on_start"}


def test_facts_keep_comprehensions_and_in_memory_calls() -> None:
    import ast

    from backlint.semantics.facts import Call, Comp, Ref, summarise
    from backlint.semantics.facts_codec import decode_module, encode_module

    source = """\
import asyncio

from sqlalchemy.ext.asyncio import create_async_engine

from app.models import init_models

NAMES = ("a", "b")
CHECKS = tuple(f"check_{n}" for n in NAMES)
PAIRS = [(a, b) for a in NAMES for b in NAMES]


def _init_memory(engine):
    asyncio.run(init_models(engine))


def open_engine(url):
    engine = create_async_engine(url)
    if url.endswith(":memory:"):
        _init_memory(engine)
    else:
        migrate(engine)
    return engine
"""
    facts = summarise(ast.parse(source), "app.engines", "app/engines.py", False)
    assert facts.assignments["CHECKS"] == Call(
        Ref("builtins.tuple"), (Comp(Ref("app.engines.NAMES")),)
    )
    assert not isinstance(facts.assignments["PAIRS"], Comp)  # two `for`s: no single bound
    # Called under the `:memory:` test, and what that helper calls in turn;
    # not `migrate` (the `else` branch).
    assert facts.in_memory_calls == ("app.engines._init_memory", "app.models.init_models")
    assert decode_module(encode_module(facts)) == facts
    plain = summarise(ast.parse(source.replace("sqlalchemy", "other")), "m", "m.py", False)
    assert plain.in_memory_calls == ()  # only modules that open SQLAlchemy databases


def test_facts_keep_how_a_returned_collection_grows() -> None:
    import ast

    from backlint.semantics.facts import UNKNOWN, Attr, Local, Ref, summarise
    from backlint.semantics.facts_codec import decode_module, encode_module

    source = """\
STATUSES = ("a", "b")


def export(choiceset, prefix=""):
    choices = []
    for _, value in choiceset.CHOICES:
        for suffix in STATUSES:
            choices.append(prefix + value + suffix)
    return choices


def active():
    return [s for s in STATUSES if s != "b"]


def rebound(rows):
    rows = rows.all()
    out = {}
    for row in rows:
        out[row.pk] = row
    return out


def extended(rows):
    out = []
    for row in rows:
        out.append(row)
    out.extend(rows)
    return out


def polled(queue):
    out = set()
    while queue:
        out.add(queue.pop())
    return out


def passed_on(rows):
    out = []
    fill(out, rows)
    return out


def two(rows):
    if rows:
        return rows
    return []
"""
    facts = summarise(ast.parse(source), "app.meta", "app/meta.py", False)
    grows = {name: fn.grows_over for name, fn in facts.functions.items()}
    assert grows["export"] == ((Attr(Local("choiceset"), "CHOICES"), Ref("app.meta.STATUSES")),)
    assert grows["active"] == ((Ref("app.meta.STATUSES"),),)
    assert grows["rebound"] == ((UNKNOWN,),)  # a rebound parameter is not followed
    # Grown some other way, or returned as something else: no fact.
    assert grows["extended"] is None
    assert grows["polled"] is None
    assert grows["passed_on"] is None
    assert grows["two"] is None
    assert decode_module(encode_module(facts)) == facts
