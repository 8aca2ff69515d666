"""BKL305 django-signal-receiver."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.django import Model, app_package, querysets

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
    log); senders backlint cannot resolve. Test files are not checked.
    What it does not see: whether the project is a reusable library whose
    models its users save in their own code (wagtail's `Site` and `Locale`):
    there a receiver is the only hook and the finding is a false alarm;
    such projects leave this strict rule off, or ignore it per file.

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

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            call = decorator.decorator
            if (
                isinstance(call, cst.Call)
                and self.ctx.qualified_name(call.func) in RECEIVER_DECORATORS
                and call.args
                and call.args[0].keyword is None
            ):
                self._check(call, call.args[0].value)

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "connect"
        ):
            self._check(call, call.func.value)

    def _check(self, call: cst.Call, signals: cst.BaseExpression) -> None:
        items = (
            [el.value for el in signals.elements]
            if isinstance(signals, cst.List | cst.Tuple)
            else [signals]
        )
        names = [self.ctx.qualified_name(item) for item in items]
        # `m2m_changed`: `RelatedManager.add()/remove()/set()`, a ModelForm's
        # `save_m2m()` and the admin call no code of the project, so the signal
        # is the only hook into a relation's changes (as for cascade deletes).
        model_signals = [n for n in names if n in MODEL_SIGNALS and n != _M2M_CHANGED]
        if not model_signals:
            return
        sender = next(
            (a.value for a in call.args if a.keyword is not None and a.keyword.value == "sender"),
            None,
        )
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
        signal = model_signals[0].rsplit(".", 1)[1]
        event = _EVENTS.get(signal.split("_", 1)[-1], "changed")
        self.report(call, signal=signal, model=model.name, event=event)

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
