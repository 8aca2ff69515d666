"""BKL306 django-fk-id-via-relation."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import Assigned, FileContext, LoopTarget, Scope
from backlint.semantics.django import (
    INSTANCE_METHODS,
    Model,
    QuerySet,
    mentions_querysets,
    querysets,
)
from backlint.semantics.index import ProjectIndex
from backlint.semantics.names import dotted_name
from backlint.semantics.tree import descendants
from backlint.types import Fix, FixKind, SourceFile

_NESTED = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_WRITE_CONTEXTS = (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del)


class DjangoFkIdViaRelation(Rule):
    """`obj.<fk>.id` fetches the related row to read a value `obj` already has.

    What it flags:
    `obj.customer.id` or `obj.customer.pk`, where `customer` is a ForeignKey
    or OneToOneField of `obj`'s model (declared on it, on an abstract parent
    or a multi-table parent; `obj` a model instance backlint can tell: fetched
    with `get()`/`first()`/..., a loop over a queryset, a parameter annotated
    with the model, `self` in a model method, a relation of such an instance).

    Why:
    Reading `obj.customer` runs a query to load the customer (unless it was
    loaded already), only to read its primary key, which `obj` holds in its
    `customer_id` column. In a loop it is one query per row.

    Example:
    ```python
    from django.db import models

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)

    def customer_of(order: Order) -> int:
        return order.customer.id
    ```

    Use instead:
    ```python
    from django.db import models

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)

    def customer_of(order: Order) -> int:
        return order.customer_id
    ```

    Not flagged:
    Relations the same function loaded with `select_related` (the instance
    comes from a queryset that selected them: reading the key from the loaded
    object costs nothing), or loads anyway by reading them for something else
    than their key (`f"{order.customer.name} #{order.customer.id}"`, `if
    order.customer:`, also through a local name bound once to the chain:
    `customer = order.customer`, then `if customer.company:` before
    `order.customer.company.pk`), or whose method calls a method of the same
    class (in the same file) that reads `self.<fk>` so (`for role in
    self.get_roles()` where `get_roles()` tests `if self.rank:`: the object is
    cached on `self`), or calls a method of the instance's model (or of a
    project base of it, in any module) that reads `self.<fk>` so, on the same
    instance (wger's `comment.exercise.id` before `comment.delete()`, whose
    override reads `self.exercise.exercise_base`; one level of calls, the
    chains a model method reads through `self` being kept by the project
    index), or assigns it before (`order.customer = c` puts the
    object in memory; a read in the value of that very assignment,
    `order.customer = m[order.customer.pk]`, still loads the old one); reverse
    relations and many-to-many managers (no `_id` attribute); ForeignKeys with
    `to_field=` (`<fk>_id` holds that field, not the primary key); generic
    foreign keys; assignments (`obj.customer.id = ...`); instances backlint
    cannot tell (missed alarms).
    Test files and migrations are not checked.

    Fix:
    `obj.<fk>.id` -> `obj.<fk>_id`. Unsafe: when the relation is null,
    `obj.<fk>.id` raises AttributeError where `obj.<fk>_id` is None, and an
    unsaved related object assigned before it was saved leaves `<fk>_id`
    None until `obj` is saved.
    """

    code = "BKL306"
    name = "django-fk-id-via-relation"
    message = "`{expr}` loads the related row to read its key: use `{fixed}`"
    fix_kind = FixKind.UNSAFE
    frameworks = frozenset({"django"})
    markers = (".id", ".pk")
    skip_tests = True
    skip_migrations = True  # one-off historical code: not worth a change

    @classmethod
    def wants(cls, index: ProjectIndex, file: SourceFile, source: str, options: Any) -> bool:
        return mentions_querysets(index, source)  # `.<fk>.id` names a relation

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # Comprehension variables in scope: name -> the iterable they range over.
        self.comprehension_targets: list[dict[str, cst.BaseExpression]] = []
        # Per function: the attribute chains it reads other than for their key.
        self.loaded_chains: dict[int, tuple[set[str], set[str]]] = {}

    def _visit_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
    ) -> None:
        names: dict[str, cst.BaseExpression] = {}
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            if isinstance(comp.target, cst.Name):
                names[comp.target.value] = comp.iter
            comp = comp.inner_for_in
        self.comprehension_targets.append(names)

    def _leave_comprehension(self, node: cst.CSTNode) -> None:
        self.comprehension_targets.pop()

    def visit_For(self, node: cst.For) -> None:
        # The loop's own iterable says what its variable is, even when the
        # function binds the same name in another loop (`for imv in A...`,
        # then `for imv in B...`).
        names: dict[str, cst.BaseExpression] = {}
        if node.asynchronous is None and isinstance(node.target, cst.Name):
            names[node.target.value] = node.iter
        self.comprehension_targets.append(names)

    def leave_For(self, node: cst.For) -> None:
        self.comprehension_targets.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comprehension

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value not in ("id", "pk") or not isinstance(node.value, cst.Attribute):
            return
        relation_node = node.value
        parent = self.ctx.parent(node)
        if isinstance(parent, _WRITE_CONTEXTS) and getattr(parent, "target", None) is node:
            return
        owner = self._model_of(relation_node.value)
        if owner is None:
            return
        fk = relation_node.attr.value
        relation = owner.relation(fk)
        if relation is None or not relation.forward_single:
            return
        models = querysets(self.ctx).models
        declared = models.relation_field(owner, fk)
        if declared is None or declared.kwarg("to_field") is not None:
            return
        if self._loaded(relation_node.value, fk) or self._read_elsewhere(relation_node, node):
            return
        fixed = node.with_changes(value=relation_node.value, attr=cst.Name(f"{fk}_id"))
        fixed_code = f"{_code(relation_node.value)}.{fk}_id"
        self.report(
            node,
            expr=_code(node),
            fixed=fixed_code,
            fix=Fix(FixKind.UNSAFE, f"Read `{fixed_code}`"),
            replacement=fixed,
        )

    def _read_elsewhere(self, relation: cst.Attribute, read: cst.Attribute) -> bool:
        """Whether the function loads the related object anyway: `self.user` is
        read for something other than its key (`self.user.username`,
        `str(self.user)`, `if self.user:`), so reading its key costs nothing."""
        name = dotted_name(relation)
        function = self.ctx.scope.function()
        if name is None or function is None:
            return False
        key = id(function.node)
        found = self.loaded_chains.get(key)
        if found is None:
            loaded, assigned = _loaded_chains(function.node)
            # Through an alias of the same instance (khoj: `agent =
            # conversation.agent`, then `if agent.chat_model:`):
            # `agent.chat_model` is `conversation.agent.chat_model`, the object
            # cached on the same instance.
            aliases = _aliases(self.ctx, function)
            for chain in list(loaded):
                head, _, rest = chain.partition(".")
                if head in aliases:
                    loaded.add(f"{aliases[head]}.{rest}")
            found = self.loaded_chains[key] = loaded, assigned
        loaded, assigned = found
        if (
            name in loaded
            or self._loaded_by_own_method(function.node, name)
            or self._loaded_by_model_method(function.node, name)
        ):
            return True
        # `obj.customer = c` puts the object in memory, except for a read in the
        # value of that very assignment (`imv.item = item_map[imv.item.pk]`),
        # which runs first.
        return name in assigned and not self._assigned_by_own_statement(read, name)

    def _loaded_by_own_method(self, function: cst.CSTNode, name: str) -> bool:
        """`self.get_roles()` called in the function, where `get_roles` is a
        method of the same class (in this file) that reads `self.rank` for
        something other than its key: the related object is then cached on
        `self` (one level of calls, `self` only)."""
        if not name.startswith("self.") or name.count(".") != 1:
            return False
        cls = next((a for a in self.ctx.ancestors(function) if isinstance(a, cst.ClassDef)), None)
        if cls is None or not isinstance(cls.body, cst.IndentedBlock):
            return False
        methods = {
            stmt.name.value: stmt
            for stmt in cls.body.body
            if isinstance(stmt, cst.FunctionDef) and stmt is not function
        }
        for node in descendants(function, prune=_NESTED):
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and isinstance(node.func.value, cst.Name)
                and node.func.value.value == "self"
                and node.func.attr.value in methods
            ):
                method = methods[node.func.attr.value]
                found = self.loaded_chains.get(id(method))
                if found is None:
                    found = _loaded_chains(method)
                    self.loaded_chains[id(method)] = found
                if name in found[0]:
                    return True
        return False

    def _loaded_by_model_method(self, function: cst.CSTNode, name: str) -> bool:
        """`comment.delete()` called in the function, where `delete` is a
        method of the instance's model (or of a project base of it, in any
        module) that reads `self.exercise` for something other than its key
        (`FunctionFacts.self_loads`): `comment.exercise` is then loaded on the
        same instance either way (wger's delete view reading
        `comment.exercise.id`). One level of calls."""
        index = self.ctx.index
        for node in descendants(function, prune=_NESTED):
            if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
                continue
            receiver = dotted_name(node.func.value)
            if receiver is None or not name.startswith(receiver + "."):
                continue
            model = self._model_of(node.func.value)
            if model is None:
                continue
            rest = name[len(receiver) + 1 :]
            method = node.func.attr.value
            for cls in index.ancestors(model.qualname):
                fn = cls.method(method)
                if fn is not None:
                    if rest in fn.self_loads:
                        return True
                    break
        return False

    def _assigned_by_own_statement(self, node: cst.CSTNode, name: str) -> bool:
        for ancestor in self.ctx.ancestors(node):
            if isinstance(ancestor, cst.Assign):
                return any(
                    isinstance(t.target, cst.Attribute) and dotted_name(t.target) == name
                    for t in ancestor.targets
                )
            if isinstance(ancestor, cst.BaseStatement):
                return False
        return False

    # Instances ------------------------------------------------------------------

    def _model_of(self, expr: cst.BaseExpression, depth: int = 0) -> Model | None:
        qsets = querysets(self.ctx)
        if isinstance(expr, cst.Name):
            iterable = self._comprehension_iterable(expr.value)
            if iterable is not None:
                qs = qsets.queryset(iterable)
                if qs is not None:
                    return None if qs.values or qs.is_manager else qs.model
            return qsets.instance(expr)
        if isinstance(expr, cst.Attribute) and depth < 4:
            owner = self._model_of(expr.value, depth + 1)
            relation = owner.relation(expr.attr.value) if owner is not None else None
            if relation is not None and relation.single:
                return qsets.models.get(relation.target)
            return None
        return qsets.instance(expr)

    def _comprehension_iterable(self, name: str) -> cst.BaseExpression | None:
        for names in reversed(self.comprehension_targets):
            if name in names:
                return names[name]
        return None

    def _loaded(self, expr: cst.BaseExpression, fk: str) -> bool:
        """Whether the queryset that fetched the instance selected the relation
        (`expr` is the instance, `fk` the relation read on it)."""
        path = fk
        while isinstance(expr, cst.Attribute):
            path = f"{expr.attr.value}__{path}"
            expr = expr.value
        if not isinstance(expr, cst.Name):
            return False
        qs = self._fetching_queryset(expr)
        return qs is not None and qs.covers(path, single=True)

    def _fetching_queryset(self, name: cst.Name) -> QuerySet | None:
        qsets = querysets(self.ctx)
        iterable = self._comprehension_iterable(name.value)
        found = qsets.queryset(iterable) if iterable is not None else None
        if found is not None:
            return found
        owner, bindings = self.ctx.bindings(name.value)
        if owner is None or len(bindings) != 1:
            return None
        binding = bindings[0]
        if isinstance(binding, LoopTarget):
            return qsets.queryset(binding.loop.iter, owner)
        if (
            isinstance(binding, Assigned)
            and isinstance(binding.value, cst.Call)
            and isinstance(binding.value.func, cst.Attribute)
            and binding.value.func.attr.value in INSTANCE_METHODS
        ):
            return qsets.queryset(binding.value.func.value, owner)
        return None


def _loaded_chains(function: cst.CSTNode) -> tuple[set[str], set[str]]:
    """Dotted chains (`self.user`) the function uses as objects: read for an
    attribute other than `id`/`pk`, or used whole (passed, compared, tested);
    and the chains it assigns (`obj.customer = c`: then in memory)."""
    key_reads: set[int] = set()
    chains: list[tuple[int, str]] = []
    assigned: set[int] = set()
    assigned_chains: set[str] = set()
    for node in descendants(function, prune=_NESTED):
        if isinstance(node, cst.AssignTarget | cst.AnnAssign | cst.Del):
            assigned.add(id(node.target))
            name = dotted_name(node.target) if isinstance(node.target, cst.Attribute) else None
            if name is not None:
                assigned_chains.add(name)
        elif isinstance(node, cst.Attribute) and id(node) not in assigned:
            if node.attr.value in ("id", "pk"):
                key_reads.add(id(node.value))
            name = dotted_name(node)
            if name is not None and "." in name:
                chains.append((id(node), name))
    loaded = {name for node_id, name in chains if node_id not in key_reads}
    return loaded, assigned_chains


def _aliases(ctx: FileContext, scope: Scope) -> dict[str, str]:
    """Local names the function binds once, to an attribute chain
    (`agent = conversation.agent`, or `conversation.agent if ... else None`):
    name -> chain."""
    aliases: dict[str, str] = {}
    for name, bindings in ctx.scope_facts(scope).bindings.items():
        binding = bindings[0] if len(bindings) == 1 else None
        if isinstance(binding, Assigned) and binding.value is not None:
            chain = _chain_value(binding.value)
            if chain is not None:
                aliases[name] = chain
    return aliases


def _chain_value(value: cst.BaseExpression) -> str | None:
    """`conversation.agent`, or `conversation.agent if c else None`."""
    if isinstance(value, cst.IfExp):
        branches = [value.body, value.orelse]
        chains = [b for b in branches if not (isinstance(b, cst.Name) and b.value == "None")]
        if len(chains) != 1:
            return None
        value = chains[0]
    name = dotted_name(value) if isinstance(value, cst.Attribute) else None
    return name if name is not None and "." in name else None


def _code(node: cst.CSTNode) -> str:
    code = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return code if len(code) <= 60 else code[:57] + "..."
