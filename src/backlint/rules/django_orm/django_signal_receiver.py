"""BKL305 django-signal-receiver."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext
from backlint.semantics.django import Model, app_package, querysets
from backlint.semantics.settings import project_settings
from backlint.semantics.tree import descendants

# Django's model signals: their `sender` is a model class.
MODEL_SIGNALS = frozenset(
    f"django.db.models.signals.{name}"
    for name in (
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
        "pre_delete",
        "post_delete",
        "m2m_changed",
    )
)
_M2M_CHANGED = "django.db.models.signals.m2m_changed"
# Sent for every row Django's collector deletes, cascades included.
_DELETE_SIGNALS = frozenset({"pre_delete", "post_delete"})
# What happens to the model when each kind of signal is sent.
_EVENTS = {"save": "saved", "delete": "deleted", "init": "created", "changed": "changed"}
RECEIVER_DECORATORS = frozenset({"django.dispatch.receiver", "django.dispatch.dispatcher.receiver"})
# Calls returning the user model (`sender=get_user_model()`).
USER_MODEL_FUNCTIONS = frozenset({"django.contrib.auth.get_user_model"})


class DjangoSignalReceiver(Rule):
    """A model signal receiver for the project's own model (prefer an explicit call).

    What it flags:
    A receiver of a Django model signal (`pre_save`, `post_save`,
    `pre_delete`, `post_delete`, `pre_init`, `post_init`)
    whose `sender` is one of the project's own models, connected with
    `@receiver(post_save, sender=Order)` (lists of signals too) or
    `post_save.connect(handler, sender=Order)`; the sender may be the class,
    a `"app_label.Model"` string, `settings.AUTH_USER_MODEL` or
    `get_user_model()` when the user model is the project's, or an M2M
    field's `through` model (for the other signals of a list that also
    holds `m2m_changed`). Reported at the `receiver(...)` or `connect(...)`
    call. A strict rule: select it explicitly.

    Why:
    Saving an order then runs code that nothing at the call site shows: it is
    skipped by `bulk_create()`, `update()` and raw SQL, runs again in every
    test that saves an order, and its failures surface far from their cause.
    For a model the project owns, the code can simply be called where the
    order is saved (a service function).

    Example:
    ```python
    from django.db import models
    from django.db.models.signals import post_save
    from django.dispatch import receiver

    ROOT_URLCONF = "shop.urls"  # from the site's settings: the project deploys it

    class Order(models.Model):
        total = models.IntegerField()

    @receiver(post_save, sender=Order)
    def notify_warehouse(sender, instance, created, **kwargs):
        print("ship", instance.pk)
    ```

    Use instead:
    ```python
    from django.db import models, transaction

    class Order(models.Model):
        total = models.IntegerField()

    def place_order(total: int) -> Order:
        with transaction.atomic():
            order = Order.objects.create(total=total)
        print("ship", order.pk)
        return order
    ```

    Not flagged:
    Receivers for models the project does not own (`django.contrib.auth`'s
    `User`, third-party apps' models): a signal is the only hook into their
    saves; receivers of other signals (`user_logged_in`, `request_finished`,
    `post_migrate`, the project's own `Signal()`s); receivers in another
    app of the project than the model's (`metrics/` hooking `trans`'s
    `Project`, a plugin app hooking the core's models: a signal is how one
    app hooks another without the other calling it); `pre_delete` /
    `post_delete` receivers for a model that cascades delete (a ForeignKey or
    OneToOneField with `on_delete=CASCADE`, a generic foreign key, a
    multi-table child) or that has a `FileField`/`ImageField` (file
    clean-up): Django's collector and queryset deletes remove those rows
    without calling any code of the project but the signal's, so file
    clean-up and counters must live there; `m2m_changed` receivers
    (`RelatedManager.add()`/`remove()`/`set()`, a ModelForm's `save_m2m()`
    and the admin change a relation without calling any code of the
    project: the signal is the only hook); model signals without a
    `sender` (a cross-cutting concern over every model, such as an audit
    log); senders backlint cannot resolve; a receiver function that also
    receives `m2m_changed` for a relation of the same model
    (`@receiver(m2m_changed, sender=Product.tags.through)` stacked on, or
    connected to, the same function as its `post_save`/`post_delete`): it
    keeps one invariant of the model and its relations (a cache, an index)
    over every write path, and the relation's part can only be a signal, so
    the saves' part belongs with it; `pre_delete` receivers that veto the
    delete (the function raises an exception of its own, outside an
    `except` block: "cannot delete a definition with pending workflows"):
    queryset deletes and bulk-delete jobs call no `delete()` of the model,
    so an integrity guard over every delete path can only be the signal;
    projects that deploy no site, libraries
    of reusable apps (wagtail, a CMS, a plugin): no settings module of the
    project (a production or shared one, not the test suite's) sets
    `ROOT_URLCONF` or lists `INSTALLED_APPS`/`MIDDLEWARE`, so the models are
    saved by the projects that install the apps, in code the library cannot
    call into, and a signal is its only hook (a project configured only by
    classes, django-configurations' style, or whose settings live outside
    the linted project, looks like a library: missed alarm). Test files are not checked.

    Fix:
    None: move the receiver's work into the service function that saves the
    model, and call it there.
    """

    code = "BKL305"
    name = "django-signal-receiver"
    group = "strict"
    message = (
        "`{signal}` receiver for the project's own model `{model}`: call the code "
        "explicitly where the model is {event} instead"
    )
    frameworks = frozenset({"django"})
    markers = ("receiver", ".connect(")
    skip_tests = True

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # Handler name -> the models whose relations it receives `m2m_changed`
        # of, in this file (computed when first needed).
        self._m2m_handlers: dict[str, set[str]] | None = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for call in self._receiver_calls(node):
            self._check(call, call.args[0].value, node.name.value)

    def _receiver_calls(self, node: cst.FunctionDef) -> list[cst.Call]:
        """The `@receiver(signal, ...)` decorators on a def."""
        return [
            call
            for decorator in node.decorators
            if isinstance(call := decorator.decorator, cst.Call)
            and self.ctx.qualified_name(call.func) in RECEIVER_DECORATORS
            and call.args
            and call.args[0].keyword is None
        ]

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "connect"
        ):
            self._check(call, call.func.value, _handler_name(call))

    def _signal_names(self, signals: cst.BaseExpression) -> list[str | None]:
        items = (
            [el.value for el in signals.elements]
            if isinstance(signals, cst.List | cst.Tuple)
            else [signals]
        )
        return [self.ctx.qualified_name(item) for item in items]

    def _check(self, call: cst.Call, signals: cst.BaseExpression, handler: str | None) -> None:
        if not self.ctx.index.view(project_settings).deploys_django:
            # A library of apps (no settings module configures a site): its
            # models are saved by the projects that install it, in code it
            # cannot call into; a signal is its only hook into those saves.
            return
        names = self._signal_names(signals)
        # `m2m_changed`: `RelatedManager.add()/remove()/set()`, a ModelForm's
        # `save_m2m()` and the admin call no code of the project, so the signal
        # is the only hook into a relation's changes (as for cascade deletes).
        model_signals = [n for n in names if n in MODEL_SIGNALS and n != _M2M_CHANGED]
        if not model_signals:
            return
        sender = _sender(call)
        model = self._own_model(sender) if sender is not None else None
        if model is None:
            return
        if app_package(model.qualname.rsplit(".", 1)[0]) != app_package(self.ctx.module):
            return  # another app's model: a signal is how one app hooks another
        signal_names = {n.rsplit(".", 1)[1] for n in model_signals}
        if signal_names <= _DELETE_SIGNALS and (
            model.file_fields or querysets(self.ctx).models.cascade_deleted(model)
        ):
            # Cascades and queryset deletes remove the rows without calling any
            # code but the signal's: file clean-up and counters belong there.
            return
        if signal_names == {"pre_delete"} and handler is not None and self._vetoes(handler):
            # An integrity guard that refuses the delete: queryset deletes
            # call no delete() of the model, only the signal.
            return
        if handler is not None and model.qualname in self._m2m_models(handler):
            # The same function receives `m2m_changed` of the model's relations,
            # which only a signal can: one invariant (a cache of the model and
            # its relations) kept over every write path, saves included.
            return
        signal = model_signals[0].rsplit(".", 1)[1]
        event = _EVENTS.get(signal.split("_", 1)[-1], "changed")
        self.report(call, signal=signal, model=model.name, event=event)

    def _vetoes(self, handler: str) -> bool:
        """The module-level function `handler` raises an exception of its own
        (`raise ValidationError(...)`), not only re-raises in an `except`."""
        for statement in self.ctx.tree.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == handler:
                prune = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ExceptHandler)
                return any(
                    isinstance(node, cst.Raise) and node.exc is not None
                    for node in descendants(statement.body, prune=prune)
                )
        return False

    def _m2m_models(self, handler: str) -> set[str]:
        """The models whose relations `handler` (a function of this file)
        receives `m2m_changed` for: `@receiver(m2m_changed, sender=M.tags.through)`
        on it, or `m2m_changed.connect(handler, sender=...)`."""
        if self._m2m_handlers is None:
            found: dict[str, set[str]] = {}
            for node in descendants(self.ctx.tree, prune=(cst.Lambda,)):
                pairs: list[tuple[str | None, cst.Call, cst.BaseExpression]] = []
                if isinstance(node, cst.FunctionDef):
                    for call in self._receiver_calls(node):
                        pairs.append((node.name.value, call, call.args[0].value))
                elif (
                    isinstance(node, cst.Call)
                    and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value == "connect"
                ):
                    pairs.append((_handler_name(node), node, node.func.value))
                for name, call, signals in pairs:
                    if name is None or _M2M_CHANGED not in self._signal_names(signals):
                        continue
                    sender = _sender(call)
                    model = self._own_model(sender) if sender is not None else None
                    if model is not None:
                        found.setdefault(name, set()).add(model.qualname)
            self._m2m_handlers = found
        return self._m2m_handlers.get(handler, set())

    def _own_model(self, sender: cst.BaseExpression) -> Model | None:
        """The project model a `sender=` names, if any."""
        qsets = querysets(self.ctx)
        models = qsets.models
        model: Model | None = None
        if isinstance(sender, cst.SimpleString | cst.ConcatenatedString):
            text = sender.evaluated_value
            if isinstance(text, str) and "." in text:
                label, model_name = text.split(".", 1)
                found = [m for m in models.models.values() if m.name == model_name]
                exact = [m for m in found if m.app_label == label]
                model = exact[0] if len(exact) == 1 else None
        elif isinstance(sender, cst.Call):
            if self.ctx.qualified_name(sender.func) in USER_MODEL_FUNCTIONS:
                model = models.get(models.user_model())
        elif isinstance(sender, cst.Attribute) and sender.attr.value == "through":
            relation_owner = sender.value
            if isinstance(relation_owner, cst.Attribute):
                owner = qsets.model_named(relation_owner.value)
                relation = owner.relation(relation_owner.attr.value) if owner else None
                model = owner if relation is not None and relation.kind == "m2m" else None
        elif (qualified := self.ctx.qualified_name(sender)) is not None:
            if qualified.endswith("AUTH_USER_MODEL"):
                model = models.get(models.user_model())
            else:
                model = qsets.model_named(sender)
        if model is None or self.ctx.index.find_class(model.qualname) is None:
            return None  # not a class of the project
        return model


def _sender(call: cst.Call) -> cst.BaseExpression | None:
    return next(
        (a.value for a in call.args if a.keyword is not None and a.keyword.value == "sender"),
        None,
    )


def _handler_name(call: cst.Call) -> str | None:
    """The function `signal.connect(handler, ...)` connects, by its name."""
    first = call.args[0].value if call.args and call.args[0].keyword is None else None
    if isinstance(first, cst.Name):
        return first.value
    if isinstance(first, cst.Attribute):
        return first.attr.value
    return None
