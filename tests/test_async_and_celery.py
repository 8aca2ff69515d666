"""Unit tests of the async-safety and Celery rules beyond their fixtures:
declared requirements and version-dependent messages, the fixes' replacement
code, options."""

from __future__ import annotations

import ast
import dataclasses
import pickle
from pathlib import Path

import pytest
from conftest import lint, pyproject, write_tree

from backlint.config import ConfigError, load_config
from backlint.engine.check import check, settings_for
from backlint.engine.index import declared_requirements
from backlint.semantics.index import ProjectIndex
from backlint.semantics.requirements import declared_bounds, has_version
from backlint.types import Edit, Finding

# ---------------------------------------------------------------------------
# Declared requirements.


def test_declared_requirements_from_every_source(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": (
                "[project]\n"
                'dependencies = ["Django>=4.2,<6 ; python_version >= \'3.10\'", "celery[redis]"]\n'
                "[project.optional-dependencies]\n"
                'aws = ["boto3==1.34.0"]\n'
                "[tool.poetry.dependencies]\n"
                'redis = "^5.0"\n'
                'psycopg = { version = "~3.1", extras = ["binary"] }\n'
            ),
            "requirements.txt": "# pinned\ndjango==4.2.7  # LTS\n-r base.txt\n",
            "requirements/dev.txt": "Django_Debug.Toolbar>=4\ngit+https://x/y.git\n",
        },
    )
    found = declared_requirements(tmp_path)
    assert found["django"] == (">=4.2,<6", "==4.2.7")
    assert found["celery"] == ("",)
    assert found["boto3"] == ("==1.34.0",)
    assert found["redis"] == ("^5.0",)
    assert found["psycopg"] == ("~3.1",)
    assert found["django-debug-toolbar"] == (">=4",)
    assert "git" not in found


def test_declared_requirements_of_a_bare_directory(tmp_path: Path) -> None:
    assert declared_requirements(tmp_path) == {}
    (tmp_path / "pyproject.toml").write_text("not [ toml", encoding="utf-8")
    assert declared_requirements(tmp_path) == {}


@pytest.mark.parametrize(
    ("specs", "bounds"),
    [
        ((">=4.2,<6",), ((4, 2), (6,))),
        (("==3.2.5",), ((3, 2, 5), (3, 2, 6))),
        (("^4.1",), ((4, 1), None)),
        (("~=4.0",), ((4, 0), None)),
        (("",), (None, None)),
        (("<4",), (None, (4,))),
        ((">=3.2", "==4.2.1"), ((3, 2), None)),
    ],
)
def test_declared_bounds(specs: tuple[str, ...], bounds: object) -> None:
    assert declared_bounds(specs) == bounds


@pytest.mark.parametrize(
    ("specs", "has_4_0"),
    [((), True), ((">=3.2,<5",), False), (("==4.2.7",), True), (("<4",), False), (("",), True)],
)
def test_has_version(specs: tuple[str, ...], has_4_0: bool) -> None:
    index = ProjectIndex(())
    if specs:
        index.requirements = {"django": specs}
    assert has_version(index, "django", (4, 0)) is has_4_0


def test_requirements_survive_pickling() -> None:
    index = ProjectIndex(())
    index.requirements = {"django": ("==4.2",)}
    clone = pickle.loads(pickle.dumps(index))
    assert clone.requirements == {"django": ("==4.2",)}


# ---------------------------------------------------------------------------
# Messages that depend on the declared Django version.

CACHE_VIEW = """\
from django.core.cache import cache


async def dashboard(request):
    return cache.get("dashboard")
"""

RELATION_VIEW = """\
from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=10)


class Post(models.Model):
    tags = models.ManyToManyField(Tag)


async def detail(request, pk):
    post = await Post.objects.aget(pk=pk)
    return post.tags.count()
"""


def _messages(root: Path, select: str, source: str, requirements: str | None) -> list[str]:
    files = {"pyproject.toml": pyproject(f'select = ["{select}"]'), "app/__init__.py": ""}
    files["app/views.py"] = source
    if requirements is not None:
        files["requirements.txt"] = requirements
    write_tree(root, files)
    return [f.message for f in lint(root)]


@pytest.mark.parametrize(
    ("requirements", "suggestion"),
    [
        (None, "await `cache.aget()` instead"),
        ("Django==4.2.7\n", "await `cache.aget()` instead"),
        ("Django>=3.2,<5\n", "wrap it in `sync_to_async`"),
    ],
)
def test_cache_message_follows_the_django_version(
    tmp_path: Path, requirements: str | None, suggestion: str
) -> None:
    (message,) = _messages(tmp_path, "BKL104", CACHE_VIEW, requirements)
    assert message.startswith("`cache.get()` is a blocking Django cache call")
    assert message.endswith(suggestion)


@pytest.mark.parametrize(
    ("requirements", "suggestion"),
    [(None, "await `.acount()` instead"), ("django==3.2\n", "wrap it in `sync_to_async`")],
)
def test_relation_message_follows_the_django_version(
    tmp_path: Path, requirements: str | None, suggestion: str
) -> None:
    (message,) = _messages(tmp_path, "BKL106", RELATION_VIEW, requirements)
    assert 'add `prefetch_related("tags")` to the query that fetched `post`' in message
    assert message.endswith(suggestion)


# ---------------------------------------------------------------------------
# Fixes: the replacement code is what we expect, and parses.


def _fixed(root: Path, select: str, files: dict[str, str], path: str) -> tuple[str, list[Finding]]:
    write_tree(root, {"pyproject.toml": pyproject(f'select = ["{select}"]'), **files})
    config = load_config(root)
    settings = dataclasses.replace(settings_for(config), want_edits=True)
    findings = check([root], config, settings, cwd=root, jobs=1, use_cache=False).findings
    edits = [e for f in findings if f.path == path and f.fix for e in f.fix.edits]
    fixed = _apply(files[path], edits)
    ast.parse(fixed)
    return fixed, findings


def _apply(source: str, edits: list[Edit]) -> str:
    lines = source.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        start = starts[edit.line - 1] + edit.column - 1
        end = starts[edit.end_line - 1] + edit.end_column - 1
        source = source[:start] + edit.content + source[end:]
    return source


COROUTINES = """\
import asyncio


async def notify(user_id: int) -> None:
    await asyncio.sleep(0)


async def signup(user_id: int) -> None:
    notify(user_id)  # tell them
    if user_id:
        asyncio.sleep(
            1,
        )
    await notify(user_id)


def sync_signup(user_id: int) -> None:
    notify(user_id)
"""

COROUTINES_FIXED = """\
import asyncio


async def notify(user_id: int) -> None:
    await asyncio.sleep(0)


async def signup(user_id: int) -> None:
    await notify(user_id)  # tell them
    if user_id:
        await asyncio.sleep(
            1,
        )
    await notify(user_id)


def sync_signup(user_id: int) -> None:
    notify(user_id)
"""


def test_await_is_inserted(tmp_path: Path) -> None:
    fixed, findings = _fixed(tmp_path, "BKL105", {"app.py": COROUTINES}, "app.py")
    assert fixed == COROUTINES_FIXED
    assert [(f.line, f.fix is not None) for f in findings] == [(9, True), (11, True), (18, False)]
    assert all(f.fix.applicability.value == "safe" for f in findings if f.fix)


ENQUEUE = """\
from celery import shared_task
from django.db import transaction


@shared_task
def send_receipt(order_id: int) -> None:
    print(order_id)


def place(order_id: int) -> None:
    with transaction.atomic():
        mark_paid(order_id)
        send_receipt.delay(order_id)
        result = send_receipt.delay(order_id)
        for other in [1, 2]:
            send_receipt.delay(other)
    print(result)


@transaction.atomic
def refund(order_id: int) -> None:
    mark_paid(order_id)
    send_receipt.apply_async(
        args=[order_id],
        countdown=5,
    )


def mark_paid(order_id: int) -> None:
    print(order_id)
"""

ENQUEUE_FIXED = """\
from celery import shared_task
from django.db import transaction


@shared_task
def send_receipt(order_id: int) -> None:
    print(order_id)


def place(order_id: int) -> None:
    with transaction.atomic():
        mark_paid(order_id)
        transaction.on_commit(lambda: send_receipt.delay(order_id))
        result = send_receipt.delay(order_id)
        for other in [1, 2]:
            send_receipt.delay(other)
    print(result)


@transaction.atomic
def refund(order_id: int) -> None:
    mark_paid(order_id)
    transaction.on_commit(lambda: send_receipt.apply_async(
        args=[order_id],
        countdown=5,
    ))


def mark_paid(order_id: int) -> None:
    print(order_id)
"""


def test_enqueue_is_wrapped_in_on_commit(tmp_path: Path) -> None:
    fixed, findings = _fixed(tmp_path, "BKL902", {"app.py": ENQUEUE}, "app.py")
    assert fixed == ENQUEUE_FIXED
    # Assigned (the value would change) and in a loop (late binding): no fix.
    assert [(f.line, f.fix is not None) for f in findings] == [
        (13, True),
        (14, False),
        (16, False),
        (23, True),
    ]
    assert all(f.fix.applicability.value == "unsafe" for f in findings if f.fix)


def test_on_commit_is_spelled_as_imported(tmp_path: Path) -> None:
    source = ENQUEUE.replace(
        "from django.db import transaction\n",
        "from django.db.transaction import atomic, on_commit as later\n",
    ).replace("transaction.atomic", "atomic")
    fixed, _ = _fixed(tmp_path, "BKL902", {"app.py": source}, "app.py")
    assert "        later(lambda: send_receipt.delay(order_id))\n" in fixed


def test_no_fix_without_a_name_for_on_commit(tmp_path: Path) -> None:
    source = ENQUEUE.replace(
        "from django.db import transaction\n", "from django.db.transaction import atomic\n"
    ).replace("transaction.atomic", "atomic")
    fixed, findings = _fixed(tmp_path, "BKL902", {"app.py": source}, "app.py")
    assert fixed == source
    assert len(findings) == 4
    assert all(f.fix is None for f in findings)


# ---------------------------------------------------------------------------
# Options.


def test_extra_blocking_calls_is_type_checked(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": pyproject(
                "[tool.backlint.sync-db-driver-in-async]\nextra-blocking-calls = { a = 1 }"
            )
        },
    )
    with pytest.raises(ConfigError, match="extra-blocking-calls"):
        load_config(tmp_path)


def test_extra_blocking_calls_gate_on_their_package(tmp_path: Path) -> None:
    """A project that uses none of the built-in libraries still gets its own."""
    write_tree(
        tmp_path,
        {
            "pyproject.toml": pyproject(
                'select = ["BKL103"]\n'
                "[tool.backlint.sync-db-driver-in-async]\n"
                'extra-blocking-calls = { "legacydb.connect" = "use legacydb.aio" }'
            ),
            "app.py": (
                "import legacydb\n\n\nasync def load():\n    return legacydb.connect('x')\n"
            ),
        },
    )
    (finding,) = lint(tmp_path)
    assert finding.message == (
        "`legacydb.connect()` is a blocking legacydb call in an async function: use legacydb.aio"
    )
