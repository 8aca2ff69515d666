"""Celery knowledge: the project's Celery apps and tasks, and what enqueues.

A task is a function decorated with `@shared_task`, or with `@<app>.task`
where `<app>` is a Celery app of the project: `app = Celery(...)` (or an
instance of a project subclass of `Celery`, or what a project factory
function returns), in the same module or imported from another one. Task
modules often never import celery themselves (`from proj.celery import app`),
so apps and tasks are a view of the whole project index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from backlint.semantics.context import Assigned, FileContext, Parameter, Scope
from backlint.semantics.facts import Call, FunctionFacts, Subscript, Value, dotted
from backlint.semantics.index import ProjectIndex, data_view

# The Celery application class.
APP_CLASSES = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
# Decorators that make a task without naming an app.
TASK_DECORATORS = frozenset(
    {
        "celery.shared_task",
        "celery.app.shared_task",
        # Celery 3's decorators, still found in old code.
        "celery.task",
        "celery.task.task",
        "celery.task.periodic_task",
        "celery.decorators.task",
        "celery.decorators.periodic_task",
    }
)
# The current app proxy: `current_app.task`, `current_app.send_task(...)`.
CURRENT_APP = frozenset({"celery.current_app", "celery.app.current_app"})
# Result classes: `.get()` on them waits for a task.
RESULT_CLASSES = frozenset(
    {
        "celery.result.AsyncResult",
        "celery.result.GroupResult",
        "celery.result.ResultSet",
        "celery.AsyncResult",
    }
)
# Canvas primitives: their `.delay()` / `.apply_async()` enqueue tasks.
CANVAS = frozenset(
    {
        "celery.signature",
        "celery.chain",
        "celery.group",
        "celery.chord",
        "celery.canvas.signature",
        "celery.canvas.Signature",
        "celery.canvas.chain",
        "celery.canvas.group",
        "celery.canvas.chord",
    }
)
# Methods of a task (or signature) that send it to the broker.
ENQUEUE_METHODS = frozenset({"delay", "apply_async"})
# Methods of a task that make a signature.
SIGNATURE_METHODS = frozenset({"s", "si", "signature"})


@dataclass(frozen=True, slots=True)
class CeleryProject:
    """The project's Celery apps (qualified names of the instances) and tasks."""

    apps: frozenset[str] = frozenset()
    tasks: frozenset[str] = frozenset()
    app_classes: frozenset[str] = field(default=APP_CLASSES)
    # Tasks whose `base=` class (a project class, or one of its project
    # bases) overrides `apply_async`/`delay`: how they are sent is the
    # project's own (pretix's `TransactionAwareTask` defers it to
    # `transaction.on_commit`), so backlint cannot tell when they reach the broker.
    custom_send: frozenset[str] = frozenset()


@data_view
def celery_project(index: ProjectIndex) -> CeleryProject:
    if not index.uses("celery"):
        return CeleryProject()
    classes = set(APP_CLASSES)
    changed = True
    while changed:  # project subclasses of Celery (and of those)
        changed = False
        for _, cls in index.classes():
            if cls.qualname not in classes and any(
                index.canonical(dotted(b) or "") in classes for b in cls.bases
            ):
                classes.add(cls.qualname)
                changed = True
    apps: set[str] = set()
    for facts in index.modules.values():
        for name, value in facts.assignments.items():
            if _makes_app(index, value, frozenset(classes), 0):
                apps.add(f"{facts.module}.{name}")
    project = CeleryProject(frozenset(apps), frozenset(), frozenset(classes))
    tasks: set[str] = set()
    custom_send: set[str] = set()
    for facts in index.modules.values():
        for fn in facts.functions.values():
            decorators = [d for d in fn.decorators if _is_task_decorator_value(index, project, d)]
            if decorators:
                tasks.add(f"{facts.module}.{fn.name}")
                if any(_sends_its_own_way(index, d) for d in decorators):
                    custom_send.add(f"{facts.module}.{fn.name}")
    return CeleryProject(
        frozenset(apps), frozenset(tasks), frozenset(classes), frozenset(custom_send)
    )


def _sends_its_own_way(index: ProjectIndex, decorator: Value) -> bool:
    """`@app.task(base=TransactionAwareTask)` where the project's base class
    (or a project class above it) defines `apply_async` or `delay`."""
    base = decorator.kwarg("base") if isinstance(decorator, Call) else None
    name = dotted(base) if base is not None else None
    return name is not None and any(
        cls.method(method) is not None
        for cls in index.ancestors(name)
        for method in ENQUEUE_METHODS
    )


def _makes_app(index: ProjectIndex, value: Value, classes: frozenset[str], depth: int) -> bool:
    """`Celery("proj")`, `Celery[DjangoTask](...)`, `MyCelery(...)`, or a call
    of a project function returning one."""
    if not isinstance(value, Call) or depth > 4:
        return False
    func = value.func
    if isinstance(func, Subscript):
        func = func.value
    name = dotted(func)
    if name is None:
        return False
    canonical = index.canonical(name)
    if canonical in classes:
        return True
    fn = index.find_function(canonical)
    return (
        isinstance(fn, FunctionFacts)
        and bool(fn.returned)
        and all(_makes_app(index, v, classes, depth + 1) for v in fn.returned)
    )


def _is_task_decorator_value(index: ProjectIndex, project: CeleryProject, value: Value) -> bool:
    if isinstance(value, Call):
        value = value.func
    name = dotted(value)
    return name is not None and is_task_decorator(index, project, name)


def is_task_decorator(index: ProjectIndex, project: CeleryProject, name: str) -> bool:
    """`celery.shared_task`, `<project app>.task`, `current_app.task`."""
    if name in TASK_DECORATORS:
        return True
    app, _, attr = name.rpartition(".")
    if attr != "task" or not app:
        return False
    return app in CURRENT_APP or index.canonical(app) in project.apps


# --------------------------------------------------------------------------
# Code in a file.


def celery(ctx: FileContext) -> CeleryProject:
    return ctx.index.view(celery_project)


def is_task(ctx: FileContext, node: cst.FunctionDef, scope: Scope | None = None) -> bool:
    """Whether a def is a Celery task (decorators resolved in `scope`, the
    scope the def is in)."""
    key = ("celery.is_task", id(node))
    found = ctx.cache.get(key)
    if found is None:
        project = celery(ctx)
        found = any(
            is_task_decorator(ctx.index, project, name)
            for name in _decorator_names(ctx, node, scope)
        )
        ctx.cache[key] = found
    return bool(found)


def _decorator_names(ctx: FileContext, node: cst.FunctionDef, scope: Scope | None) -> Iterator[str]:
    for decorator in node.decorators:
        expr = decorator.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        name = ctx.qualified_name(expr, scope)
        if name is not None:
            yield name


def task_name(ctx: FileContext, expr: cst.BaseExpression) -> str | None:
    """The qualified name of the project task `expr` names, if it does."""
    name = ctx.qualified_name(expr)
    if name is None:
        return None
    canonical = ctx.index.canonical(name)
    return canonical if canonical in celery(ctx).tasks else None


@dataclass(frozen=True, slots=True)
class Enqueue:
    """A call that sends a task to the broker."""

    call: cst.Call
    method: str  # delay / apply_async / send_task
    shown: str  # what is enqueued, for messages: `send_email.delay`
    # The task's class sends it its own way (`CeleryProject.custom_send`).
    custom_send: bool = False
    # The project task sent (qualified, canonical), when one is named.
    task: str | None = None


def enqueue(ctx: FileContext, call: cst.Call) -> Enqueue | None:
    """`task.delay(...)`, `task.apply_async(...)`, `task.s(...).apply_async()`,
    `chain(...).delay()`, `app.send_task(...)`, with the task or app known."""
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    method = func.attr.value
    receiver = func.value
    if method == "send_task":
        name = ctx.qualified_name(receiver)
        if name is not None and (
            name in CURRENT_APP or ctx.index.canonical(name) in celery(ctx).apps
        ):
            return Enqueue(call, method, f"{dotted_tail(name)}.send_task")
        return None
    if method not in ENQUEUE_METHODS:
        return None
    custom = celery(ctx).custom_send
    task = task_name(ctx, receiver)
    if task is not None:
        return Enqueue(call, method, f"{dotted_tail(task)}.{method}", task in custom, task)
    if isinstance(receiver, cst.Call):
        inner = receiver.func
        if isinstance(inner, cst.Attribute) and inner.attr.value in SIGNATURE_METHODS:
            task = task_name(ctx, inner.value)
            if task is not None:
                # A signature's `apply_async()` goes through the task's own.
                shown = f"{dotted_tail(task)}.{inner.attr.value}(...).{method}"
                return Enqueue(call, method, shown, task in custom, task)
        name = ctx.qualified_name(inner)
        if name in CANVAS:
            return Enqueue(call, method, f"{dotted_tail(name)}(...).{method}")
    return None


def dotted_tail(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def is_async_result(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """An `AsyncResult` (or group result): from `.delay()`, `.apply_async()`,
    `send_task()`, `AsyncResult(...)`, through local assignments."""
    if depth > 6:
        return False
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value in (
            *ENQUEUE_METHODS,
            "send_task",
            "AsyncResult",
            "GroupResult",
        ):
            return True
        return ctx.qualified_name(func, scope) in RESULT_CLASSES
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is None or not bindings:
            return False
        for binding in bindings:
            if isinstance(binding, Assigned) and binding.value is not None:
                if not is_async_result(ctx, binding.value, owner, depth + 1):
                    return False
            elif isinstance(binding, Parameter) and binding.param.annotation is not None:
                annotation = binding.param.annotation.annotation
                if ctx.qualified_name(annotation, owner) not in RESULT_CLASSES:
                    return False
            else:
                return False
        return True
    return False
