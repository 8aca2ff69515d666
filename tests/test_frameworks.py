"""Framework detection: a rule family runs only where its framework is
imported, in the file or anywhere in the project index. A Flask or
plain-library project never pays for (no parse, no walk), or hears from,
Django rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import keys, lint, pyproject, write_tree

import backlint.engine.runner as runner
from backlint.config import load_config
from backlint.engine.files import discover
from backlint.engine.index import build_index
from backlint.registry import all_rules, rule_by_code

# Families whose rules need a framework, and the packages that can be it.
FAMILY_FRAMEWORKS: dict[str, frozenset[str] | None] = {
    "async_safety": None,  # any framework: Django ORM, SQLAlchemy, drivers
    "fastapi": frozenset({"fastapi"}),
    "django_orm": frozenset({"django"}),
    "drf": frozenset({"rest_framework"}),
    "sqlalchemy": frozenset({"sqlalchemy", "sqlmodel", "flask_sqlalchemy", "alembic"}),
    "celery": frozenset({"celery"}),
}
# Rules of any asyncio code (sync drivers and SDKs, coroutines never awaited):
# no framework to gate on; the `async `/`await` markers gate them instead.
FRAMEWORK_FREE = frozenset({"BKL103", "BKL104", "BKL105"})

FLASK_VIEW = """\
from flask import Flask

app = Flask(__name__)


class Order:
    objects = None


@app.get("/orders/<pk>")
async def detail(pk):
    order = Order.objects.get(pk=pk)
    for item in Order.objects.filter(order=order):
        print(item.product.name)
    return order
"""

DJANGO_MODELS = """\
from django.db import models


class Order(models.Model):
    total = models.IntegerField()
"""


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_framework_rules_declare_their_framework(rule: type) -> None:
    family = rule.__module__.split(".")[2]
    if family not in FAMILY_FRAMEWORKS:
        return
    if rule.code in FRAMEWORK_FREE:  # type: ignore[attr-defined]
        assert rule.markers, f"{rule.code} must be gated by markers"  # type: ignore[attr-defined]
        return
    frameworks = rule.frameworks  # type: ignore[attr-defined]
    assert frameworks, f"{rule.code} ({family}) must declare `frameworks`"
    allowed = FAMILY_FRAMEWORKS[family]
    if allowed is not None:
        assert frameworks <= allowed, f"{rule.code}: {sorted(frameworks)} for {family}"


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = runner.parse

    def counting(text: str):  # type: ignore[no-untyped-def]
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(runner, "parse", counting)
    return parsed


def test_a_flask_project_never_runs_django_rules(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    django_rules = [r.code for r in all_rules() if "django" in r.frameworks]
    assert django_rules
    select = ", ".join(f'"{c}"' for c in django_rules)
    write_tree(project, {"pyproject.toml": pyproject(f"select = [{select}]"), "app.py": FLASK_VIEW})
    parsed = _count_parses(monkeypatch)
    assert keys(lint(project)) == []
    assert parsed == []  # not even parsed: no rule applies


def test_a_framework_in_the_project_index_enables_its_rules(project: Path) -> None:
    view = (
        "from shop.models import Order\n\n\n"
        "async def detail(pk: int) -> Order:\n"
        "    return Order.objects.get(pk=pk)\n"
    )
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('select = ["BKL101"]'),
            "shop/__init__.py": "",
            "shop/models.py": DJANGO_MODELS,
            "shop/views.py": view,  # imports no django itself
        },
    )
    assert keys(lint(project)) == [("shop/views.py", 5, "BKL101")]
    # Linting the view alone still uses the project's index.
    assert keys(lint(project, [project / "shop" / "views.py"])) == [("shop/views.py", 5, "BKL101")]


def test_index_gates_skip_modules_the_rule_cannot_fire_on(tmp_path: Path) -> None:
    # `Rule.wants`: DRF view rules skip modules that define no view; BKL303 and
    # BKL306 skip modules that name none of the models' managers or relations,
    # BKL301 those that name no relation.
    write_tree(
        tmp_path,
        {
            "pyproject.toml": pyproject(),
            "shop/__init__.py": "",
            "shop/models.py": DJANGO_MODELS,
            "shop/views.py": (
                "from rest_framework import generics\n\n\n"
                "class Orders(generics.ListAPIView):\n    pass\n"
            ),
            "shop/forms.py": "class OrderForm:\n    pass\n\n\nif True:\n    x = len([1])\n",
        },
    )
    root = load_config(tmp_path).root
    files = {f.display: f for f in discover([root], root, (), root)}
    index = build_index(list(files.values()), None, None).index
    sources = {name: (tmp_path / name).read_text() for name in files}

    def wants(code: str, name: str) -> bool:
        rule = rule_by_code(code)
        assert rule is not None
        return rule.wants(index, files[name], sources[name], rule.Options())

    assert wants("BKL403", "shop/views.py") and wants("BKL404", "shop/views.py")
    assert not wants("BKL403", "shop/forms.py") and not wants("BKL401", "shop/forms.py")
    assert not wants("BKL303", "shop/views.py")  # names no manager or relation
    assert not wants("BKL303", "shop/forms.py")
    sources["shop/forms.py"] += "\nif Order.objects.filter(total=1):\n    pass\n"
    assert wants("BKL303", "shop/forms.py") and wants("BKL306", "shop/forms.py")
    # BKL301 reports reads of relations only: a queryset loop that reads none
    # is not parsed for it; a relation's name (here Django's `User.groups`) is.
    sources["shop/forms.py"] += "\nfor order in Order.objects.all():\n    print(order.total)\n"
    assert not wants("BKL301", "shop/forms.py")
    sources["shop/forms.py"] += "\nfor user in User.objects.all():\n    print(user.groups)\n"
    assert wants("BKL301", "shop/forms.py")
