"""BKL208 fastapi-background-task-session."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import Assigned, Parameter, Scope
from backlint.semantics.fastapi import (
    BACKGROUND_TASK,
    BACKGROUND_TASKS,
    function_scope,
    param_type,
)
from backlint.semantics.python import body_calls
from backlint.semantics.sqlalchemy import (
    ORM_PACKAGES,
    SESSION_CLASSES,
    queries,
    sqlalchemy_models,
    yields_session,
)


class FastapiBackgroundTaskSession(FastAPIRule):
    """A request-scoped database session or ORM instance handed to a background task.

    What it flags:
    `background_tasks.add_task(func, ...)` (on a `BackgroundTasks`
    parameter) and `BackgroundTask(func, ...)` given, as an argument for
    `func`: a session parameter that a `Depends()` dependency provides (an
    annotated `Session`/`AsyncSession`, or a dependency that yields a
    session, aliases and dependencies in other modules included), or an ORM
    instance: a parameter of a mapped class from a dependency
    (`user: User = Depends(current_user)`), a row loaded in the function
    (`db.get(User, id)`, `...scalar_one()`), or a mapped object created
    there. Reported on the call.

    Why:
    Background tasks run after the response is sent, and by then FastAPI has
    run the dependency's cleanup: the session is closed (or returned to the
    pool and reused by another request). The task then fails with
    `DetachedInstanceError` or "session is closed", or worse, writes through
    a session another request now owns. An ORM instance carries its session
    along: its expired or lazy attributes fail the same way.

    Example:
    ```python
    from fastapi import APIRouter, BackgroundTasks, Depends
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    router = APIRouter()

    def get_db():
        with SessionLocal() as db:
            yield db

    @router.post("/reports", status_code=202)
    def start_report(tasks: BackgroundTasks, db: Session = Depends(get_db)) -> None:
        tasks.add_task(build_report, db)
    ```

    Use instead:
    ```python
    from fastapi import APIRouter, BackgroundTasks
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    router = APIRouter()

    def build_report(user_id: int) -> None:
        with SessionLocal() as db:
            print(db, user_id)

    @router.post("/reports", status_code=202)
    def start_report(user_id: int, tasks: BackgroundTasks) -> None:
        tasks.add_task(build_report, user_id)
    ```

    Not flagged:
    Ids and plain values (`user.id`, `user.email`); a session factory
    (`SessionLocal`, `async_sessionmaker`), which the task uses to open its
    own session; sessions the route made itself (BKL204's concern) and
    dependencies that `return` a session rather than yield it (FastAPI does
    not close those);
    tasks scheduled by other means (Celery, `asyncio.create_task`).
    Test files and migrations are not linted.

    Fix:
    None: pass ids, and open a session in the task.
    """

    code = "BKL208"
    name = "fastapi-background-task-session"
    message = (
        "{what} is handed to a background task that runs after the response, when the "
        "request's session is closed: pass ids and open a session in the task"
    )
    needs = ORM_PACKAGES
    markers = ("add_task", "BackgroundTask")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        inner = function_scope(node, self.ctx.scope)
        for child in body_calls(self.ctx, node):
            if self._schedules(child, inner):
                args = [a for a in child.args if not a.star]
                if args and args[0].keyword is None:
                    args = args[1:]  # the task function itself
                for arg in args:
                    what = self._request_scoped(arg.value, inner)
                    if what is not None:
                        self.report(child, what=what)
                        break

    def _schedules(self, call: cst.Call, scope: Scope) -> bool:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "add_task":
            receiver = func.value
            if not isinstance(receiver, cst.Name):
                return False
            owner, bindings = self.ctx.bindings(receiver.value, scope)
            return (
                owner is not None
                and len(bindings) == 1
                and isinstance(bindings[0], Parameter)
                and param_type(self.ctx, bindings[0].param, owner.parent or owner).annotation
                in BACKGROUND_TASKS
            )
        name = self.ctx.qualified_name(func, scope)
        return name is not None and self.ctx.index.canonical(name) in BACKGROUND_TASK

    def _request_scoped(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        """What the argument is, when it is a request's session or an ORM instance."""
        if not isinstance(expr, cst.Name):
            return None
        owner, bindings = self.ctx.bindings(expr.value, scope)
        if owner is None or len(bindings) != 1:
            return None
        binding = bindings[0]
        models = self.ctx.index.view(sqlalchemy_models)
        name = expr.value
        if isinstance(binding, Parameter):
            declared = param_type(self.ctx, binding.param, owner.parent or owner)
            if declared.dependency is None:
                return None
            dependency = self.ctx.index.find_function(declared.dependency)
            if yields_session(self.ctx.index, declared.dependency) or (
                declared.annotation in SESSION_CLASSES
                and (dependency is None or bool(dependency.yields))
            ):
                return f"the request's session `{name}`"
            if models.get(declared.annotation) is not None:
                return f"ORM instance `{name}`"
            return None
        if isinstance(binding, Assigned) and binding.value is not None:
            value = queries(self.ctx).value(binding.value, owner)
            if (
                value is not None
                and value.model is not None
                and value.shape in ("instance", "list")
            ):
                return f"ORM {'instance' if value.shape == 'instance' else 'rows'} `{name}`"
            if isinstance(binding.value, cst.Call):
                cls = queries(self.ctx).mapped_class(binding.value.func, owner)
                if cls is not None:
                    return f"ORM instance `{name}`"
        return None
