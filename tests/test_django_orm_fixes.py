"""The replacement nodes of BKL303 (`.count() > 0` -> `.exists()`) and BKL306
(`obj.fk.id` -> `obj.fk_id`) generate the intended code: applied, it parses,
and linting again finds nothing left to fix."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import lint, pyproject, write_tree
from test_fixes import apply, lint_with_edits

from backlint.types import FixKind

MODELS = """\
from django.contrib.contenttypes.fields import GenericForeignKey
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=100)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    rush = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="+")
    paid = models.BooleanField(default=False)


class Line(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
"""

BKL303_SOURCE = """\
from shop.models import Order


def checks(order: Order):
    a = Order.objects.filter(paid=True).count() > 0
    b = order.lines.count() == 0
    c = 0 < Order.objects.count()
    d = (Order.objects.count() >= 1) and True
    e = not Order.objects.count() <= 0
    if Order.objects.filter(paid=False).count():
        pass
    if not order.lines.count() and a:
        pass
    return [
        Order.objects.filter(
            paid=True,
        ).count()
        != 0,
        a, b, c, d, e,
    ]
"""

BKL303_EXPECTED = """\
from shop.models import Order


def checks(order: Order):
    a = Order.objects.filter(paid=True).exists()
    b = not order.lines.exists()
    c = Order.objects.exists()
    d = (Order.objects.exists()) and True
    e = not not Order.objects.exists()
    if Order.objects.filter(paid=False).exists():
        pass
    if not order.lines.exists() and a:
        pass
    return [
        Order.objects.filter(
            paid=True,
        ).exists(),
        a, b, c, d, e,
    ]
"""

BKL306_SOURCE = """\
from shop.models import Line, Order


def keys(order: Order, line: Line):
    first = order.customer.id
    second = (order.customer).pk
    third = line.order.customer.id
    return first, second, third, [o.rush.pk for o in Order.objects.all()]
"""

BKL306_EXPECTED = """\
from shop.models import Line, Order


def keys(order: Order, line: Line):
    first = order.customer_id
    second = order.customer_id
    third = line.order.customer_id
    return first, second, third, [o.rush_id for o in Order.objects.all()]
"""


def _fix(project: Path, code: str, source: str) -> tuple[str, list[FixKind]]:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject(f'select = ["{code}"]'),
            "shop/__init__.py": "",
            "shop/models.py": MODELS,
            "shop/checks.py": source,
        },
    )
    findings = [f for f in lint_with_edits(project) if f.path.endswith("checks.py")]
    assert findings and all(f.fix is not None for f in findings), findings
    edits = [edit for f in findings if f.fix is not None for edit in f.fix.edits]
    kinds = [f.fix.applicability for f in findings if f.fix is not None]
    return apply(source, edits), kinds


def test_count_comparisons_become_exists(project: Path) -> None:
    fixed, kinds = _fix(project, "BKL303", BKL303_SOURCE)
    assert fixed == BKL303_EXPECTED
    assert set(kinds) == {FixKind.SAFE}
    ast.parse(fixed)
    write_tree(project, {"shop/checks.py": fixed})
    assert [f for f in lint_with_edits(project) if f.path.endswith("checks.py")] == []


def test_fk_id_reads_become_the_column(project: Path) -> None:
    fixed, kinds = _fix(project, "BKL306", BKL306_SOURCE)
    assert fixed == BKL306_EXPECTED
    assert set(kinds) == {FixKind.UNSAFE}
    ast.parse(fixed)
    write_tree(project, {"shop/checks.py": fixed})
    assert [f for f in lint_with_edits(project) if f.path.endswith("checks.py")] == []


def test_n_plus_one_names_the_loader_that_can_load_the_relation(tmp_path: Path) -> None:
    # select_related joins a ForeignKey; a GenericForeignKey can only be prefetched.
    write_tree(
        tmp_path,
        {
            "pyproject.toml": pyproject('select = ["BKL301"]'),
            "shop/__init__.py": "",
            "shop/models.py": MODELS
            + "\n\nclass Flag(models.Model):\n"
            + "    target = GenericForeignKey('content_type', 'object_id')\n",
            "shop/report.py": (
                "from shop.models import Flag, Order\n\n\n"
                "def report() -> None:\n"
                "    for order in Order.objects.all():\n"
                "        print(order.customer.name)\n"
                "    for flag in Flag.objects.all():\n"
                "        print(flag.target)\n"
            ),
        },
    )
    messages = [f.message for f in lint(tmp_path)]
    assert any('select_related("customer")' in m for m in messages), messages
    assert any('prefetch_related("target")' in m for m in messages), messages
    assert len(messages) == 2


def test_a_forced_insert_in_a_loop_is_told_to_bulk_create(tmp_path: Path) -> None:
    # pretix copies an event's rows with `pk = None` and `save(force_insert=True)`:
    # those are new rows, which only bulk_create() writes in one query.
    write_tree(
        tmp_path,
        {
            "pyproject.toml": pyproject('select = ["BKL302"]'),
            "shop/__init__.py": "",
            "shop/models.py": MODELS,
            "shop/copy.py": (
                "from shop.models import Line, Order\n\n\n"
                "def copy(source: Order, target: Order) -> None:\n"
                "    for line in Line.objects.filter(order=source):\n"
                "        line.pk = None\n"
                "        line.order = target\n"
                "        line.save(force_insert=True)\n"
                "    for line in Line.objects.filter(order=target):\n"
                "        line.save()\n"
            ),
        },
    )
    messages = sorted((f.line, f.message) for f in lint(tmp_path))
    assert [line for line, _ in messages] == [8, 10], messages
    assert "`bulk_create()` the objects after the loop" in messages[0][1]
    assert "bulk_update()" not in messages[0][1]
    assert "`bulk_update()` (or `bulk_create()`)" in messages[1][1]
