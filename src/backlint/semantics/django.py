"""Django ORM knowledge: models and their relations, managers and querysets.

Two layers:

* `DjangoModels`, a view of the project index: every model class of the
  project with its fields and relations, forward (FK, OneToOne, M2M) and
  reverse (`related_name` or Django's default accessor), inherited from
  abstract and concrete parents, with string references (`"app.Model"`,
  `"self"`) resolved.
* Questions about code in a file: is this expression a manager or queryset,
  of which model, and which relations did its chain `select_related` /
  `prefetch_related`; is this a model instance, of which model.

Answers are None when the analysis cannot tell: rules stay silent then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    FileContext,
    LoopTarget,
    Parameter,
    Scope,
    ScopeKind,
    WithTarget,
)
from backlint.semantics.facts import (
    Attr,
    Call,
    ClassFacts,
    Const,
    FunctionFacts,
    Local,
    Ref,
    Value,
    const_str,
    dotted,
)
from backlint.semantics.index import Once, ProjectIndex, TrackedView, data_view, tracked_view
from backlint.semantics.python import ENUM_BASES

# --------------------------------------------------------------------------
# Tables.

# Bases that make a class a Django model.
MODEL_BASES = frozenset(
    {
        "django.db.models.Model",
        "django.db.models.base.Model",
        # Abstract models shipped by Django: subclasses are project models.
        "django.contrib.auth.models.AbstractUser",
        "django.contrib.auth.models.AbstractBaseUser",
        "django.contrib.auth.base_user.AbstractBaseUser",
        "django.contrib.auth.models.PermissionsMixin",
        "django.contrib.sessions.base_session.AbstractBaseSession",
    }
)

# Model bases of other packages whose `save()` does work of its own, which
# `bulk_create()`/`bulk_update()` skip: django-mptt keeps the tree fields,
# django-polymorphic sets the content type, django-ordered-model the order.
SAVE_OVERRIDING_BASES = frozenset(
    {
        "mptt.models.MPTTModel",
        "polymorphic.models.PolymorphicModel",
        "ordered_model.models.OrderedModel",
    }
)

# A database transaction, as a context manager or a decorator.
TRANSACTION_ATOMIC = frozenset({"django.db.transaction.atomic"})
# Exceptions a failing write raises (the database's, a protected or
# restricted delete's, a model's own validation), with the builtin bases that
# catch them all: an `except` naming one catches a write's failure.
WRITE_ERRORS = frozenset(
    {
        "builtins.Exception",
        "builtins.BaseException",
        *(
            f"django.db.{name}"
            for name in (
                "Error",
                "DatabaseError",
                "IntegrityError",
                "DataError",
                "OperationalError",
                "InternalError",
                "ProgrammingError",
                "NotSupportedError",
            )
        ),
        *(
            f"django.db.{module}{name}"
            for module in ("models.", "models.deletion.")
            for name in ("ProtectedError", "RestrictedError")
        ),
        "django.core.exceptions.ValidationError",
    }
)

RelationKind = Literal[
    "fk", "o2o", "m2m", "generic_fk", "reverse_fk", "reverse_o2o", "reverse_m2m", "generic_rel"
]

# Field classes that define relations, by kind.
RELATION_FIELDS: dict[str, RelationKind] = {
    "django.db.models.ForeignKey": "fk",
    "django.db.models.fields.related.ForeignKey": "fk",
    "django.db.models.OneToOneField": "o2o",
    "django.db.models.fields.related.OneToOneField": "o2o",
    "django.db.models.ManyToManyField": "m2m",
    "django.db.models.fields.related.ManyToManyField": "m2m",
    # django-modelcluster (wagtail): relations of a cluster of models.
    "modelcluster.fields.ParentalKey": "fk",
    "modelcluster.fields.ParentalManyToManyField": "m2m",
    # django-taggit: an M2M-like manager of tags.
    "taggit.managers.TaggableManager": "m2m",
    "django.contrib.contenttypes.fields.GenericForeignKey": "generic_fk",
    "django.contrib.contenttypes.fields.GenericRelation": "generic_rel",
}

# Known models of Django itself, with the relations rules can rely on.
BUILTIN_MODELS: dict[str, dict[str, tuple[RelationKind, str | None]]] = {
    "django.contrib.auth.models.User": {
        "groups": ("m2m", "django.contrib.auth.models.Group"),
        "user_permissions": ("m2m", "django.contrib.auth.models.Permission"),
    },
    "django.contrib.auth.models.Group": {
        "permissions": ("m2m", "django.contrib.auth.models.Permission")
    },
    "django.contrib.auth.models.Permission": {
        "content_type": ("fk", "django.contrib.contenttypes.models.ContentType")
    },
    "django.contrib.contenttypes.models.ContentType": {},
    "django.contrib.sites.models.Site": {},
    "django.contrib.sessions.models.Session": {},
    "django.contrib.admin.models.LogEntry": {
        "user": ("fk", None),
        "content_type": ("fk", "django.contrib.contenttypes.models.ContentType"),
    },
    "django.contrib.flatpages.models.FlatPage": {
        "sites": ("m2m", "django.contrib.sites.models.Site")
    },
    "django.contrib.redirects.models.Redirect": {
        "site": ("fk", "django.contrib.sites.models.Site")
    },
}

# Model field classes that store a file through `pre_save()` (Django's
# `FileField`, `ImageField`, and third-party kin named alike).
_FILE_FIELD_SUFFIXES = ("FileField", "ImageField")

# Integer model fields: a position a person sets row by row, when named so.
INTEGER_FIELDS = frozenset(
    f"django.db.models.{kind}"
    for kind in (
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "BigIntegerField",
        "PositiveBigIntegerField",
    )
) | frozenset(
    f"django.db.models.fields.{kind}"
    for kind in ("IntegerField", "PositiveIntegerField", "PositiveSmallIntegerField")
)
# Names of an integer field that holds a row's place in a hand-arranged list
# (`order = models.IntegerField(default=0)`, shown as tabs, moved up and down).
POSITION_FIELD_NAMES = frozenset(
    {"order", "position", "sort_order", "ordering", "display_order", "sort_index"}
)

# Primary key fields whose value is a number or a UUID (no quote can be in
# its text); a model that declares no primary key gets an `AutoField`.
NUMBER_OR_UUID_KEY_FIELDS = INTEGER_FIELDS | frozenset(
    f"django.db.models.{kind}"
    for kind in ("AutoField", "BigAutoField", "SmallAutoField", "UUIDField")
)
# Models of `django.contrib` whose key is an `AutoField` (not sessions: keyed
# by text), read through their managers (`ContentType.objects.get_for_model(M)`).
CONTRIB_AUTO_KEY_MODELS = frozenset(
    {
        "django.contrib.contenttypes.models.ContentType",
        "django.contrib.auth.models.User",
        "django.contrib.auth.models.Group",
        "django.contrib.auth.models.Permission",
        "django.contrib.sites.models.Site",
    }
)
_MODEL_ROOTS = MODEL_BASES - {"django.contrib.sessions.base_session.AbstractBaseSession"}

MANAGER_BASES = frozenset({"django.db.models.Manager", "django.db.models.manager.Manager"})
QUERYSET_BASES = frozenset({"django.db.models.QuerySet", "django.db.models.query.QuerySet"})

# Queryset methods that return a new queryset (no query runs).
LAZY_METHODS = frozenset(
    {
        "all", "filter", "exclude", "order_by", "distinct", "select_related", "prefetch_related",
        "annotate", "alias", "only", "defer", "using", "select_for_update", "reverse", "none",
        "union", "intersection", "difference", "extra", "complex_filter", "iterator",
    }
)  # fmt: skip
# Queryset methods that return rows as dicts/tuples/values, not model instances.
VALUES_METHODS = frozenset({"values", "values_list", "dates", "datetimes"})
# Methods that run a query and return one instance of the model.
INSTANCE_METHODS = frozenset({"get", "first", "last", "earliest", "latest", "create"})
INSTANCE_ASYNC_METHODS = frozenset({"aget", "afirst", "alast", "aearliest", "alatest", "acreate"})
# Calls that fetch one instance: get_object_or_404(Model, ...).
INSTANCE_FUNCTIONS = frozenset({"django.shortcuts.get_object_or_404"})


# --------------------------------------------------------------------------
# The model graph.


@dataclass(frozen=True, slots=True)
class Relation:
    name: str
    kind: RelationKind
    target: str | None  # qualified name of the related model, when known

    @property
    def single(self) -> bool:
        """An attribute holding one related instance (fetched when read)."""
        return self.kind in ("fk", "o2o", "generic_fk", "reverse_o2o")

    @property
    def manager(self) -> bool:
        """An attribute holding a related manager (queries when evaluated)."""
        return self.kind in ("m2m", "reverse_fk", "reverse_m2m", "generic_rel")

    @property
    def joinable(self) -> bool:
        """`select_related` can load it (a GenericForeignKey only prefetches)."""
        return self.kind in ("fk", "o2o", "reverse_o2o")

    @property
    def forward_single(self) -> bool:
        return self.kind in ("fk", "o2o")


@dataclass(slots=True)
class Model:
    qualname: str
    name: str
    app_label: str
    abstract: bool
    fields: set[str] = field(default_factory=set)  # concrete fields, `<fk>_id` included
    file_fields: set[str] = field(default_factory=set)  # FileField, ImageField and kin
    relations: dict[str, Relation] = field(default_factory=dict)
    managers: set[str] = field(default_factory=lambda: {"objects"})
    manager_classes: set[str] = field(default_factory=set)  # project manager/queryset classes
    bases: tuple[str, ...] = ()

    def relation(self, name: str) -> Relation | None:
        return self.relations.get(name)


def app_package(module: str) -> str:
    """The Django app package a module belongs to: the package holding
    `models` (`shop.models`, `shop.models.order`), else the module's package
    (`shop.signals`)."""
    parts = module.split(".")
    package = (
        ".".join(parts[: parts.index("models")]) if "models" in parts else ".".join(parts[:-1])
    )
    return package or parts[0]


_PLACEHOLDER = re.compile(r"%\((class|app_label)\)s")


class DjangoModels(TrackedView):
    """Every model of the project (and Django's own), by qualified name.

    A tracked view: built once from every module, then read by files, which
    depend on what it built (`state`) and on the index reads its methods
    make; nothing is memoised after the build but in a `Once`."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.models: dict[str, Model] = {}
        self._user_model: Once[str] = Once()  # found on first use
        self._raw_fields: dict[str, list[tuple[str, Call, RelationKind | None]]] = {}
        self._labels = self._app_labels()
        self._collect()
        self._inherit()
        self._resolve_and_reverse()
        for qualname, relations in BUILTIN_MODELS.items():
            if qualname not in self.models:
                app = qualname.split(".")[-3]
                model = Model(qualname, qualname.rsplit(".", 1)[1], app, False)
                model.relations = {n: Relation(n, k, t) for n, (k, t) in relations.items()}
                self.models[qualname] = model

    # Building ----------------------------------------------------------------

    def _app_labels(self) -> dict[str, str]:
        """Django app package -> label, from AppConfig classes (`label = ...`)."""
        labels: dict[str, str] = {}
        for _, cls in self.index.classes():
            if not any(_base_name(self.index, b).endswith("AppConfig") for b in cls.bases):
                continue
            name, label = const_str(cls.attribute("name")), const_str(cls.attribute("label"))
            if name and label:
                labels[name] = label
        return labels

    def _label_for(self, module: str, cls: ClassFacts) -> str:
        meta = cls.inner_class("Meta")
        explicit = const_str(meta.attribute("app_label")) if meta else None
        if explicit:
            return explicit
        package = app_package(module)
        return self._labels.get(package, package.rsplit(".", 1)[-1])

    def _is_model_class(self, cls: ClassFacts, seen: set[str]) -> bool:
        if cls.qualname in seen:
            return False
        seen.add(cls.qualname)
        for base in cls.bases:
            name = _base_name(self.index, base)
            if name in MODEL_BASES or name in BUILTIN_MODELS:
                return True
            parent = self.index.find_class(name)
            if parent is not None and self._is_model_class(parent, seen):
                return True
        return False

    def _collect(self) -> None:
        for facts, cls in self.index.classes():
            if not self._is_model_class(cls, set()):
                continue
            meta = cls.inner_class("Meta")
            abstract = bool(meta and meta.attribute("abstract") == Const(True))
            model = Model(
                qualname=cls.qualname,
                name=cls.name,
                app_label=self._label_for(facts.module, cls),
                abstract=abstract,
                bases=tuple(_base_name(self.index, b) for b in cls.bases),
            )
            raw: list[tuple[str, Call, RelationKind | None]] = []
            for attr, value in cls.attributes:
                if not isinstance(value, Call):
                    continue
                func = _base_name(self.index, value.func)
                kind = RELATION_FIELDS.get(func)
                if kind is not None:
                    raw.append((attr, value, kind))
                elif self._is_manager(value):
                    model.managers.add(attr)
                    model.manager_classes.update(self._manager_classes(value))
                elif func.startswith("django.db.models.") or func.endswith("Field"):
                    model.fields.add(attr)
                    if self._is_file_field(func):
                        model.file_fields.add(attr)
            self._raw_fields[cls.qualname] = raw
            self.models[cls.qualname] = model

    def _is_manager(self, value: Call) -> bool:
        """`OrderManager()`, `OrderQuerySet.as_manager()`, `Manager.from_queryset(Q)()`."""
        func = value.func
        if isinstance(func, Attr) and func.attr == "as_manager":
            return True
        if (
            isinstance(func, Call)
            and isinstance(func.func, Attr)
            and func.func.attr == "from_queryset"
        ):
            return True
        name = _base_name(self.index, func)
        if name in MANAGER_BASES:
            return True
        cls = self.index.find_class(name)
        return cls is not None and self._subclasses(cls, MANAGER_BASES | QUERYSET_BASES)

    def _manager_classes(self, value: Call) -> Iterator[str]:
        func = value.func
        if isinstance(func, Attr) and func.attr == "as_manager":
            yield self.index.canonical(_base_name(self.index, func.value))
        elif isinstance(func, Call) and isinstance(func.func, Attr):
            for arg in func.args:
                yield self.index.canonical(_base_name(self.index, arg))
            yield self.index.canonical(_base_name(self.index, func.func.value))
        else:
            yield self.index.canonical(_base_name(self.index, func))

    def _is_file_field(self, func: str, depth: int = 0) -> bool:
        """`models.FileField`, `ImageField` and kin, or a project field class
        derived from one (`class ScreenshotField(ImageField)`)."""
        if func.endswith(_FILE_FIELD_SUFFIXES):
            return True
        cls = self.index.find_class(func) if depth < 6 else None
        return cls is not None and any(
            self._is_file_field(_base_name(self.index, base), depth + 1) for base in cls.bases
        )

    def _subclasses(self, cls: ClassFacts, bases: frozenset[str], depth: int = 0) -> bool:
        if depth > 8:
            return False
        for base in cls.bases:
            base = _from_queryset_manager(base)
            name = _base_name(self.index, base)
            if name in bases:
                return True
            parent = self.index.find_class(name)
            if parent is not None and self._subclasses(parent, bases, depth + 1):
                return True
        return False

    def _inherit(self) -> None:
        """Copy fields of project parents into their subclasses (abstract parents'
        relations too, with `%(class)s` placeholders filled in)."""
        done: set[str] = set()

        def visit(qualname: str) -> None:
            if qualname in done:
                return
            done.add(qualname)
            model = self.models[qualname]
            for base in model.bases:
                parent = self.models.get(self.index.canonical(base))
                if parent is None:
                    continue
                visit(parent.qualname)
                model.fields |= parent.fields
                model.file_fields |= parent.file_fields
                model.managers |= parent.managers
                model.manager_classes |= parent.manager_classes
                inherited = self._raw_fields.get(parent.qualname, [])
                own = {name for name, _, _ in self._raw_fields[qualname]}
                self._raw_fields[qualname] = [
                    *self._raw_fields[qualname],
                    *((n, c, k) for n, c, k in inherited if n not in own),
                ]
                if not parent.abstract:
                    # Multi-table inheritance: a parent link and a reverse one.
                    ptr = f"{parent.name.lower()}_ptr"
                    model.relations[ptr] = Relation(ptr, "o2o", parent.qualname)
                    model.fields.add(f"{ptr}_id")
                    parent.relations.setdefault(
                        model.name.lower(), Relation(model.name.lower(), "reverse_o2o", qualname)
                    )

        for qualname in list(self.models):
            visit(qualname)

    def _resolve_and_reverse(self) -> None:
        for qualname, raw in self._raw_fields.items():
            model = self.models[qualname]
            for name, call, kind in raw:
                if kind is None:
                    continue
                target = self._target(model, call)
                model.relations[name] = Relation(name, kind, target)
                if kind in ("fk", "o2o"):
                    model.fields.add(f"{name}_id")
                if model.abstract or target is None or target not in self.models:
                    continue
                related_name = const_str(call.kwarg("related_name"))
                if related_name is not None and related_name.endswith("+"):
                    continue
                if (
                    kind == "m2m"
                    and target == qualname
                    and call.kwarg("symmetrical") != Const(False)
                ):
                    continue
                if related_name:
                    accessor = _fill_placeholders(related_name, model)
                else:
                    accessor = model.name.lower() + ("" if kind == "o2o" else "_set")
                reverse: RelationKind = {"fk": "reverse_fk", "o2o": "reverse_o2o"}.get(
                    kind, "reverse_m2m"
                )  # type: ignore[assignment]
                if kind in ("fk", "o2o", "m2m"):
                    self.models[target].relations.setdefault(
                        accessor, Relation(accessor, reverse, qualname)
                    )

    def _target(self, model: Model, call: Call) -> str | None:
        ref = call.args[0] if call.args else call.kwarg("to")
        if ref is None:
            return None
        text = const_str(ref)
        if text is not None:
            return self.resolve_reference(text, model)
        name = _base_name(self.index, ref)
        if name.endswith("AUTH_USER_MODEL"):
            return self.user_model()
        canonical = self.index.canonical(name)
        if canonical in self.models or canonical in BUILTIN_MODELS:
            return canonical
        return None

    # Queries -------------------------------------------------------------------

    def resolve_reference(self, text: str, context: Model) -> str | None:
        """`"self"`, `"Model"` (same app) or `"app_label.Model"` -> qualified name."""
        if text == "self":
            return context.qualname
        label, _, name = text.rpartition(".")
        label = label or context.app_label
        candidates = [m for m in self.models.values() if m.name == name]
        exact = [m for m in candidates if m.app_label == label]
        if len(exact) == 1:
            return exact[0].qualname
        if len(candidates) == 1:
            return candidates[0].qualname
        return None

    def user_model(self) -> str | None:
        """AUTH_USER_MODEL from the project's settings, else Django's User."""
        return self._user_model.get(self._find_user_model)

    def state(self) -> Any:
        return [self.models, self._labels, self._raw_fields]

    def _find_user_model(self) -> str:
        for facts in self.index.modules.values():
            value = facts.assignments.get("AUTH_USER_MODEL")
            text = const_str(value)
            if text and "." in text:
                label, name = text.split(".", 1)
                for model in self.models.values():
                    if model.name == name and model.app_label == label:
                        return model.qualname
        return "django.contrib.auth.models.User"

    def get(self, qualname: str | None) -> Model | None:
        if qualname is None:
            return None
        return self.models.get(qualname) or self.models.get(self.index.canonical(qualname))

    def cascade_deleted(self, model: Model) -> bool:
        """Whether deleting another row may delete rows of `model` through
        Django's collector (which sends `pre_delete`/`post_delete` for them but
        never calls their `delete()`): a ForeignKey or OneToOneField with
        `on_delete=CASCADE` (or one backlint cannot read), a GenericForeignKey
        (a `GenericRelation` on its target cascades), a multi-table parent."""
        for _, call, kind in self._raw_fields.get(model.qualname, ()):
            if kind == "generic_fk":
                return True
            if kind in ("fk", "o2o"):
                on_delete = call.kwarg("on_delete") or (
                    call.args[1] if len(call.args) > 1 else None
                )
                name = dotted(on_delete) if on_delete is not None else None
                if name is None or name.rsplit(".", 1)[-1] == "CASCADE":
                    return True
        return any(
            relation.kind == "o2o" and name.endswith("_ptr")
            for name, relation in model.relations.items()
        )

    def relation_field(self, model: Model, name: str) -> Call | None:
        """The field call declaring a relation of `model` (inherited ones
        included): `models.ForeignKey(Customer, null=True, to_field="code")`."""
        for field_name, call, _ in self._raw_fields.get(model.qualname, ()):
            if field_name == name:
                return call
        return None

    def field_class(self, model: Model, name: str, depth: int = 0) -> str | None:
        """The qualified class of the field `name` declares on `model` (or on a
        model parent or abstract base): `django.db.models.IntegerField`."""
        cls = self.index.find_class(model.qualname)
        value = cls.attribute(name) if cls is not None else None
        if isinstance(value, Call):
            return _base_name(self.index, value.func)
        if depth > 8:
            return None
        for base in model.bases:
            parent = self.get(base)
            if parent is not None:
                found = self.field_class(parent, name, depth + 1)
                if found is not None:
                    return found
        return None

    def key_is_number_or_uuid(self, model: Model, depth: int = 0) -> bool:
        """Whether the primary key of `model` is a number or a UUID: the field
        declared with `primary_key=True` on it or on a model base is one of
        `NUMBER_OR_UUID_KEY_FIELDS`, or none is and every base is a model of
        the project or Django's `Model` (an `AutoField` then)."""
        cls = self.index.find_class(model.qualname)
        if cls is None or depth > 8:
            return False
        for _, value in cls.attributes:
            if isinstance(value, Call) and value.kwarg("primary_key") == Const(True):
                return _base_name(self.index, value.func) in NUMBER_OR_UUID_KEY_FIELDS
        for base in model.bases:
            parent = self.get(base)
            if parent is None:
                if base not in _MODEL_ROOTS:
                    return False
            elif not self.key_is_number_or_uuid(parent, depth + 1):
                return False
        return True

    def hand_ordered_table(self, model: Model, ordering: Sequence[str]) -> bool:
        """A table of its own (no ForeignKey, OneToOne or generic relation to a
        parent: not one tenant's, user's or object's rows) listed in the order
        of an integer position field (`order = models.IntegerField()`,
        `order_by("order")`): rows a person arranges one by one, such as the
        ranks an admin defines and shows as tabs. A configuration table."""
        if not ordering or model.abstract:
            return False
        if any(r.single and r.kind != "reverse_o2o" for r in model.relations.values()):
            return False
        first = ordering[0].lstrip("-")
        return first in POSITION_FIELD_NAMES and self.field_class(model, first) in INTEGER_FIELDS

    def meta_option(self, model: Model, name: str, depth: int = 0) -> Value | None:
        """An option of the model's `Meta` (`ordering`), from its class or,
        Django's inheritance rule for Meta, from a model parent's."""
        cls = self.index.find_class(model.qualname)
        meta = cls.inner_class("Meta") if cls is not None else None
        if meta is not None and meta.attribute(name) is not None:
            return meta.attribute(name)
        if depth > 8:
            return None
        for base in model.bases:
            parent = self.get(base)
            if parent is not None:
                found = self.meta_option(parent, name, depth + 1)
                if found is not None:
                    return found
        return None


def _fill_placeholders(related_name: str, model: Model) -> str:
    """`%(class)s_created` on an abstract parent, for one concrete subclass."""
    return _PLACEHOLDER.sub(
        lambda m: model.name.lower() if m.group(1) == "class" else model.app_label, related_name
    )


def _from_queryset_manager(base: Value) -> Value:
    """`Manager` for a `Manager.from_queryset(QuerySet)` base, else the base."""
    if isinstance(base, Call) and isinstance(base.func, Attr) and base.func.attr == "from_queryset":
        return base.func.value
    return base


def _base_name(index: ProjectIndex, value: Value) -> str:
    name = dotted(value) or ""
    return index.canonical(name) if name else ""


@tracked_view
def django_models(index: ProjectIndex) -> DjangoModels:
    return DjangoModels(index)


_ATTRIBUTE = re.compile(r"\.\s*(\w+)")


@data_view
def orm_attribute_names(index: ProjectIndex) -> frozenset[str]:
    """Attribute names that lead to a queryset: every model's managers and
    relations, and the queryset attributes of views."""
    names = {"objects", "queryset", "get_queryset"}
    for model in index.view(django_models).models.values():
        names |= model.managers
        names.update(model.relations)
    return frozenset(names)


@data_view
def relation_names(index: ProjectIndex) -> frozenset[str]:
    """Every model's relation names, forward and reverse (`author`, `book_set`)."""
    names: set[str] = set()
    for model in index.view(django_models).models.values():
        names.update(model.relations)
    return frozenset(names)


@lru_cache(maxsize=4)
def _attributes(source: str) -> frozenset[str]:
    """The attribute names a module's text reads (one scan for every rule
    that asks about the same file)."""
    return frozenset(_ATTRIBUTE.findall(source))


def mentions_querysets(index: ProjectIndex, source: str) -> bool:
    """Whether a module's text reads an attribute that leads to a queryset
    (`Order.objects`, `order.items`): a test before parsing."""
    return not index.view(orm_attribute_names).isdisjoint(_attributes(source))


def mentions_relations(index: ProjectIndex, source: str) -> bool:
    """Whether a module's text reads an attribute named as a model's relation
    (`order.customer`, `order.items`): what any lazy load of a row needs."""
    return not index.view(relation_names).isdisjoint(_attributes(source))


# --------------------------------------------------------------------------
# Querysets in code.


@dataclass(frozen=True, slots=True)
class QuerySet:
    """A manager or queryset expression: its model and what the chain loads."""

    model: Model
    is_manager: bool = False  # `Model.objects` itself (not iterable)
    values: bool = False  # rows are dicts/tuples, not instances
    select_all: bool = False  # select_related() with no arguments
    select: frozenset[str] = frozenset()  # `__` paths
    prefetch: frozenset[str] = frozenset()
    rooted_at_manager: bool = True  # the chain starts at Model.<manager>
    # For the queryset of a prefetched relation (`order.items.all()`): the
    # outer queryset's path to it, where further loading must be declared.
    prefix: str = ""
    # Something in the chain loads relations backlint cannot read (a custom
    # queryset method with computed arguments): treat everything as loaded.
    opaque: bool = False

    def covers(self, path: str, single: bool) -> bool:
        """Whether the relation path (`customer`, `items__product`) is loaded."""
        if self.opaque or (self.select_all and single and "__" not in path):
            return True
        for loaded in (*self.select, *self.prefetch):
            if loaded == path or loaded.startswith(path + "__"):
                return True
        return False

    def narrowed(self, prefix: str, model: Model) -> QuerySet:
        """The queryset of a prefetched relation `prefix` of this one's rows."""
        cut = len(prefix) + 2

        def sub(paths: frozenset[str]) -> frozenset[str]:
            return frozenset(p[cut:] for p in paths if p.startswith(prefix + "__"))

        return QuerySet(
            model,
            select=sub(self.select),
            prefetch=sub(self.prefetch),
            rooted_at_manager=False,
            prefix=f"{self.prefix}__{prefix}" if self.prefix else prefix,
        )


def _strings(args: Iterable[cst.Arg]) -> Iterator[str]:
    for arg in args:
        if arg.keyword is None and isinstance(arg.value, cst.SimpleString):
            text = arg.value.evaluated_value
            if isinstance(text, str):
                yield text


class QuerySets:
    """Answers about querysets and instances in one file (memoised per node)."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.models = ctx.index.view(django_models)
        self._active: set[int] = set()
        self._active_names: set[int] = set()  # instance() of a name, likewise
        # `project_prefetches`: paths by model qualname, and paths of no known model.
        self._prefetch_table: tuple[dict[str, set[str]], frozenset[str]] | None = None

    # Models --------------------------------------------------------------------

    def model_named(self, expr: cst.BaseExpression, scope: Scope | None = None) -> Model | None:
        """The model a class reference (`Order`, `shop.models.Order`) names."""
        name = self.ctx.qualified_name(expr, scope)
        model = self.models.get(name)
        if model is not None or name is None:
            return model
        return None

    # Querysets -----------------------------------------------------------------

    def queryset(self, expr: cst.BaseExpression, scope: Scope | None = None) -> QuerySet | None:
        key = id(expr)
        if key in self._active:
            return None  # `qs = qs.filter(...)`: stop the recursion
        self._active.add(key)
        try:
            return self._queryset(expr, scope or self.ctx.scope)
        finally:
            self._active.discard(key)

    def iterates_rows(self, expr: cst.BaseExpression, scope: Scope | None = None) -> bool:
        """Whether iterating `expr` reads rows of a table: a queryset typed here,
        or, by Django's conventions, queryset methods called on a manager
        (`get_user_model().objects.all()`) or on a relation that a model of the
        project names (`self.instance.devices.all()`)."""
        qs = self.queryset(expr, scope)
        if qs is not None:
            return not qs.is_manager
        methods = LAZY_METHODS | VALUES_METHODS
        while (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in methods
        ):
            receiver = expr.func.value
            if isinstance(receiver, cst.Attribute) and (
                receiver.attr.value == "objects"
                or receiver.attr.value in self.ctx.index.view(relation_names)
            ):
                return True
            expr = receiver
        return False

    def _queryset(self, expr: cst.BaseExpression, scope: Scope) -> QuerySet | None:
        if isinstance(expr, cst.Attribute):
            model = self.model_named(expr.value, scope)
            if model is not None and expr.attr.value in (
                *model.managers,
                "_default_manager",
                "_base_manager",
            ):
                return QuerySet(model, is_manager=True)
            # `order.items`: the related manager of an instance.
            owner = self.instance(expr.value, scope)
            relation = owner.relation(expr.attr.value) if owner is not None else None
            target = (
                self.models.get(relation.target)
                if relation is not None and relation.manager
                else None
            )
            if target is not None:
                return QuerySet(target, is_manager=True, rooted_at_manager=False)
            return None
        if isinstance(expr, cst.Subscript):
            # Slicing is lazy; indexing runs a query (callers check which).
            return self.queryset(expr.value, scope) if _is_slice(expr) else None
        if isinstance(expr, cst.Name):
            return self._from_bindings(expr, scope)
        if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Attribute):
            return None
        method = expr.func.attr.value
        receiver = expr.func.value
        if method == "get_queryset" and _is_self(receiver):
            return self._own_get_queryset(scope)
        base = self.queryset(receiver, scope)
        if base is None:
            return None
        if method in LAZY_METHODS:
            return self._refine(base, method, expr.args, scope)
        if method in VALUES_METHODS:
            return replace(base, is_manager=False, values=True)
        loads = self._custom_queryset_method(base.model, method)
        if loads is None:
            return None
        select, prefetch, opaque = loads
        return replace(
            base,
            is_manager=False,
            select=base.select | select,
            prefetch=base.prefetch | prefetch,
            opaque=base.opaque or opaque,
        )

    def _refine(
        self, base: QuerySet, method: str, args: Sequence[cst.Arg], scope: Scope
    ) -> QuerySet:
        qs = replace(base, is_manager=False)
        if method == "select_related":
            if not args:
                return replace(qs, select_all=True)
            return replace(qs, select=qs.select | frozenset(_strings(args)))
        if method == "prefetch_related":
            paths = set(_strings(args))
            for arg in args:
                paths |= self._prefetch_object(arg.value, scope)
            return replace(qs, prefetch=qs.prefetch | paths)
        return qs

    def prefetch_paths(self, expr: cst.BaseExpression, scope: Scope) -> set[str] | None:
        """The paths one argument of `prefetch_related(...)` loads (a string or a
        `Prefetch(...)` object); None when it cannot be read."""
        if isinstance(expr, cst.SimpleString):
            text = expr.evaluated_value
            return {text} if isinstance(text, str) else None
        found = self._prefetch_object(expr, scope)
        bound = self._bound_call(expr, scope)
        return found if found or _is_prefetch_to_attr(bound[0] if bound else expr) else None

    def _bound_call(self, expr: cst.BaseExpression, scope: Scope) -> tuple[cst.Call, Scope] | None:
        """The call a local name is bound to, once (`settings_prefetch =
        Prefetch("setting", ...)`, then `prefetch_related(settings_prefetch)`),
        with the scope that binds it."""
        if not isinstance(expr, cst.Name):
            return None
        owner, bindings = self.ctx.bindings(expr.value, scope)
        if owner is None or len(bindings) != 1 or not isinstance(bindings[0], Assigned):
            return None
        value = bindings[0].value
        return (value, owner) if isinstance(value, cst.Call) else None

    def _prefetch_object(self, expr: cst.BaseExpression, scope: Scope) -> set[str]:
        """`Prefetch("items", queryset=Item.objects.select_related("product"))`,
        also through a name bound to it once (khoj's `settings_prefetch`)."""
        bound = self._bound_call(expr, scope)
        if bound is not None:
            expr, scope = bound
        if not isinstance(expr, cst.Call) or self.ctx.qualified_name(expr.func, scope) not in (
            "django.db.models.Prefetch",
            "django.db.models.query.Prefetch",
        ):
            return set()
        lookups = list(_strings(expr.args[:1]))
        if not lookups:
            return set()
        lookup = lookups[0]
        out = {lookup}
        for arg in expr.args:
            if arg.keyword is not None and arg.keyword.value == "queryset":
                inner = self.queryset(arg.value, scope)
                if inner is not None:
                    out |= {f"{lookup}__{p}" for p in (*inner.select, *inner.prefetch)}
            if arg.keyword is not None and arg.keyword.value == "to_attr":
                out = set()  # the relation itself stays unloaded; the list goes elsewhere
        return out

    def _custom_queryset_method(
        self, model: Model, method: str, depth: int = 0
    ) -> tuple[frozenset[str], frozenset[str], bool] | None:
        """A method of the model's own manager/queryset class that returns a queryset
        (`Order.objects.paid()` with `def paid(self): return self.filter(...)`):
        what its chain loads (select paths, prefetch paths, opaque), or None
        when it is not such a method."""
        if depth > 4:
            return None
        for qualname in model.manager_classes:
            fn = self.manager_method(qualname, method)
            if fn is None:
                continue
            if not fn.returned:
                return None
            select: set[str] = set()
            prefetch: set[str] = set()
            opaque = False
            for value in fn.returned:
                loads = self._chain_loads(value, model, depth)
                if loads is None:
                    return None
                select |= loads[0]
                prefetch |= loads[1]
                opaque = opaque or loads[2]
            return frozenset(select), frozenset(prefetch), opaque
        return None

    def manager_method(self, qualname: str, method: str, depth: int = 0) -> FunctionFacts | None:
        """A method of a project manager/queryset class, looked up through its
        project bases and `Manager.from_queryset(QuerySet)` bases."""
        cls = self.ctx.index.find_class(qualname)
        if cls is None or depth > 6:
            return None
        found = cls.method(method)
        if found is not None:
            return found
        for base in cls.bases:
            candidates = [base]
            if (
                isinstance(base, Call)
                and isinstance(base.func, Attr)
                and base.func.attr == "from_queryset"
            ):
                candidates = [*base.args, base.func.value]
            for candidate in candidates:
                name = dotted(candidate)
                if name:
                    found = self.manager_method(self.ctx.index.canonical(name), method, depth + 1)
                    if found is not None:
                        return found
        return None

    def _chain_loads(
        self, value: Value, model: Model, depth: int
    ) -> tuple[frozenset[str], frozenset[str], bool] | None:
        """The loads of a summarised `self.<queryset methods>...` chain."""
        select: set[str] = set()
        prefetch: set[str] = set()
        opaque = False
        while isinstance(value, Call | Attr):
            if isinstance(value, Attr):
                value = value.value
                continue
            func = value.func
            if not isinstance(func, Attr):
                break
            name = func.attr
            if name in ("select_related", "prefetch_related"):
                target = select if name == "select_related" else prefetch
                for arg in value.args:
                    text = const_str(arg)
                    if text is not None:
                        target.add(text)
                    elif isinstance(arg, Call) and dotted(arg.func) in (
                        "django.db.models.Prefetch",
                        "django.db.models.query.Prefetch",
                    ):
                        lookup = const_str(arg.args[0]) if arg.args else None
                        if lookup is not None and arg.kwarg("to_attr") is None:
                            target.add(lookup)
                    else:
                        opaque = True
                if name == "select_related" and not value.args:
                    opaque = True
            elif name not in LAZY_METHODS and name not in ("get_queryset",):
                inner = self._custom_queryset_method(model, name, depth + 1)
                if inner is None:
                    return None
                select |= inner[0]
                prefetch |= inner[1]
                opaque = opaque or inner[2]
            value = func.value
        if not _is_self_or_super(value):
            return None
        return frozenset(select), frozenset(prefetch), opaque

    def _from_bindings(self, name: cst.Name, scope: Scope) -> QuerySet | None:
        owner, bindings = self.ctx.bindings(name.value, scope)
        if owner is None or not bindings:
            return None
        found: list[QuerySet] = []
        for binding in bindings:
            if not isinstance(binding, Assigned) or binding.value is None:
                return None
            qs = self.queryset(binding.value, owner)
            if qs is None:
                return None
            found.append(qs)
        first = found[0]
        if any(q.model is not first.model or q.values != first.values for q in found):
            return None
        # Several assignments (`qs = qs.select_related(...)` in a branch): what any
        # of them loads counts as loaded, so that no false alarm comes of it.
        return QuerySet(
            first.model,
            is_manager=all(q.is_manager for q in found),
            values=first.values,
            select_all=any(q.select_all for q in found),
            select=frozenset().union(*(q.select for q in found)),
            prefetch=frozenset().union(*(q.prefetch for q in found)),
            rooted_at_manager=all(q.rooted_at_manager for q in found),
        )

    def _own_get_queryset(self, scope: Scope) -> QuerySet | None:
        """`self.get_queryset()` inside a class: its own `get_queryset` (returns
        a chain), else its `queryset = ...` attribute (Django/DRF views)."""
        cls_scope = _enclosing_class(scope)
        if cls_scope is None or not isinstance(cls_scope.node, cst.ClassDef):
            return None
        body = cls_scope.node.body.body
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "get_queryset":
                method_scope = Scope(
                    stmt, ScopeKind.FUNCTION, stmt.asynchronous is not None, cls_scope
                )
                results = [
                    self.queryset(r.value, method_scope)
                    for r in _returns(stmt)
                    if r.value is not None
                ]
                if results and all(r is not None for r in results):
                    first = results[0]
                    assert first is not None
                    if all(r is not None and r.model is first.model for r in results):
                        return first
                return None
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if (
                        isinstance(small, cst.Assign)
                        and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name)
                        and small.targets[0].target.value == "queryset"
                    ):
                        return self.queryset(small.value, cls_scope)
        return None

    # Instances -----------------------------------------------------------------

    def instance(self, expr: cst.BaseExpression, scope: Scope | None = None) -> Model | None:
        """The model of a model-instance expression, when known."""
        scope = scope or self.ctx.scope
        if isinstance(expr, cst.Await):
            call = expr.expression
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value in INSTANCE_ASYNC_METHODS
            ):
                base = self.queryset(call.func.value, scope)
                return base.model if base is not None and not base.values else None
            return None
        if isinstance(expr, cst.Name):
            return self._instance_from_bindings(expr, scope)
        if not isinstance(expr, cst.Call):
            return None
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in INSTANCE_METHODS:
            base = self.queryset(expr.func.value, scope)
            return base.model if base is not None and not base.values else None
        func_name = self.ctx.qualified_name(expr.func, scope)
        if func_name in INSTANCE_FUNCTIONS and expr.args:
            return self.model_named(expr.args[0].value, scope)
        model = self.model_named(expr.func, scope)
        if model is not None and not model.abstract:
            return model  # Order(...)
        return None

    def key_is_number_or_uuid(self, expr: cst.BaseExpression, scope: Scope | None = None) -> bool:
        """Whether `expr.pk` is a number or a UUID: `expr` is an instance of a
        project model whose key is one (`DjangoModels.key_is_number_or_uuid`),
        or a name bound only to a row that a manager of an auto-keyed model of
        `django.contrib` returns (`ContentType.objects.get_for_model(Page)`)."""
        scope = scope or self.ctx.scope
        model = self.instance(expr, scope)
        if model is not None:
            return self.models.key_is_number_or_uuid(model)
        if not isinstance(expr, cst.Name):
            return False
        owner, bindings = self.ctx.bindings(expr.value, scope)
        if owner is None or not bindings:
            return False
        for binding in bindings:
            value = binding.value if isinstance(binding, Assigned) else None
            if not isinstance(value, cst.Call):
                return False
            name = self.ctx.qualified_name(value.func, owner) or ""
            if not any(name.startswith(f"{m}.objects.") for m in CONTRIB_AUTO_KEY_MODELS):
                return False
        return True

    def stored_row(
        self, expr: cst.BaseExpression, scope: Scope | None = None, depth: int = 0
    ) -> Model | None:
        """The model of a row read from the database, not one built in memory
        (which `instance()` also answers for): a name bound only to `get()`,
        `first()`, `last()`, `earliest()`, `latest()` of a queryset (their
        `a*` twins awaited), to `get_object_or_404(Model, ...)`, or to a method
        of the model's own manager or queryset class annotated to return the
        model (`def get_current(self) -> SupportStatus`, taken at its word);
        not `Model(...)`, nor `create()`. Saving such a row updates it."""
        scope = scope or self.ctx.scope
        if isinstance(expr, cst.Name):
            owner, bindings = self.ctx.bindings(expr.value, scope)
            if owner is None or not bindings or depth > 4:
                return None
            found: list[Model | None] = [
                self.stored_row(b.value, owner, depth + 1)
                if isinstance(b, Assigned) and b.value is not None
                else None
                for b in bindings
            ]
            first = found[0]
            return first if first is not None and all(m is first for m in found) else None
        awaited = isinstance(expr, cst.Await)
        if isinstance(expr, cst.Await):
            expr = expr.expression
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        if not isinstance(func, cst.Attribute):
            name = self.ctx.qualified_name(func, scope)
            if name in INSTANCE_FUNCTIONS and expr.args and not awaited:
                return self.model_named(expr.args[0].value, scope)
            return None
        method = func.attr.value
        base = self.queryset(func.value, scope)
        if base is None or base.values:
            return None
        fetches = INSTANCE_ASYNC_METHODS if awaited else INSTANCE_METHODS
        if method in fetches and method not in ("create", "acreate"):
            return base.model
        if awaited:
            return None
        classes = set(base.model.manager_classes)
        if isinstance(func.value, cst.Attribute):
            # `objects = StatusManager()` with `class StatusManager(Manager["Status"])`:
            # a generic base `manager_classes` does not follow.
            for cls in self.ctx.index.ancestors(base.model.qualname):
                declared = cls.attribute(func.value.attr.value)
                if isinstance(declared, Call) and dotted(declared.func) is not None:
                    classes.add(self.ctx.index.canonical(dotted(declared.func) or ""))
                    break
        for qualname in sorted(classes):
            fn = self.manager_method(qualname, method)
            if fn is not None:
                returns = dotted(fn.returns) if fn.returns is not None else None
                text = const_str(fn.returns)
                named = self.models.get(returns) if returns is not None else None
                if named is base.model or text in (base.model.name, base.model.qualname):
                    return base.model
                return None
        return None

    def _own_model(self, method_scope: Scope) -> Model | None:
        """`self` in a method of a model class: an instance of that model."""
        fn, cls = method_scope.node, method_scope.parent
        if (
            not isinstance(fn, cst.FunctionDef)
            or cls is None
            or not isinstance(cls.node, cst.ClassDef)
        ):
            return None
        if _first_param(fn) != "self" or cls.parent is None or cls.parent.parent is not None:
            return None  # only methods of module-level classes
        return self.models.get(f"{self.ctx.module}.{cls.node.name.value}")

    def _instance_from_bindings(self, name: cst.Name, scope: Scope) -> Model | None:
        if id(name) in self._active_names:
            return None  # `field = field`, `a = b; b = a`: stop the recursion
        self._active_names.add(id(name))
        try:
            return self._instance_of_bindings(name, scope)
        finally:
            self._active_names.discard(id(name))

    def _instance_of_bindings(self, name: cst.Name, scope: Scope) -> Model | None:
        owner, bindings = self.ctx.bindings(name.value, scope)
        if owner is None or not bindings:
            return None
        models: list[Model | None] = []
        for binding in bindings:
            if isinstance(binding, Assigned):
                if binding.annotation is not None and binding.value is None:
                    models.append(self.model_named(binding.annotation, owner))
                else:
                    models.append(
                        self.instance(binding.value, owner) if binding.value is not None else None
                    )
            elif isinstance(binding, Parameter) and binding.param.annotation is not None:
                models.append(self.model_named(binding.param.annotation.annotation, owner))
            elif isinstance(binding, Parameter) and name.value == "self":
                models.append(self._own_model(owner))
            elif isinstance(binding, LoopTarget) and binding.whole_target:
                qs = self.queryset(binding.loop.iter, owner)
                models.append(
                    qs.model if qs is not None and not qs.values and not qs.is_manager else None
                )
            elif isinstance(binding, WithTarget):
                models.append(None)
            else:
                models.append(None)
        first = models[0]
        if first is None or any(m is not first for m in models):
            return None
        return first

    # Querysets in the index -------------------------------------------------------

    def queryset_of_value(
        self, value: Value, root: Callable[[Value], QuerySet | None] | None = None
    ) -> QuerySet | None:
        """The queryset a summarised expression of the index builds (a view's
        `queryset = ...`, what its `get_queryset()` returns), with what it loads.
        `root` answers for the starts of chains only the caller understands
        (`self.queryset`, `super().get_queryset()`); None when unknown."""
        found = root(value) if root is not None else None
        if found is not None:
            return found
        if isinstance(value, Attr):
            owner = self.models.get(dotted(value.value))
            if owner is not None and value.attr in (
                *owner.managers,
                "_default_manager",
                "_base_manager",
            ):
                return QuerySet(owner, is_manager=True)
            return None
        if not isinstance(value, Call) or not isinstance(value.func, Attr):
            return None
        base = self.queryset_of_value(value.func.value, root)
        if base is None:
            return None
        method = value.func.attr
        qs = replace(base, is_manager=False)
        if method == "select_related":
            if not value.args:
                return replace(qs, select_all=True)
            names = [const_str(arg) for arg in value.args]
            select = frozenset(n for n in names if n is not None)
            return replace(qs, select=qs.select | select, opaque=qs.opaque or None in names)
        if method == "prefetch_related":
            paths: set[str] = set()
            opaque = qs.opaque
            for arg in value.args:
                text = const_str(arg)
                if text is not None:
                    paths.add(text)
                elif isinstance(arg, Call) and dotted(arg.func) in (
                    "django.db.models.Prefetch",
                    "django.db.models.query.Prefetch",
                ):
                    paths |= self._prefetch_value(arg)
                else:
                    opaque = True
            return replace(qs, prefetch=qs.prefetch | paths, opaque=opaque)
        if method in LAZY_METHODS:
            return qs
        if method in VALUES_METHODS:
            return replace(qs, values=True)
        loads = self._custom_queryset_method(base.model, method)
        if loads is None:
            return None
        select, prefetch, opaque = loads
        return replace(
            qs,
            select=qs.select | select,
            prefetch=qs.prefetch | prefetch,
            opaque=qs.opaque or opaque,
        )

    def _prefetch_value(self, call: Call) -> set[str]:
        """The paths a summarised `Prefetch("items", queryset=...)` loads."""
        lookup = const_str(call.args[0]) if call.args else const_str(call.kwarg("lookup"))
        if lookup is None or call.kwarg("to_attr") is not None:
            return set()
        out = {lookup}
        inner_value = call.args[1] if len(call.args) > 1 else call.kwarg("queryset")
        inner = self.queryset_of_value(inner_value) if inner_value is not None else None
        if inner is not None:
            out |= {f"{lookup}__{p}" for p in (*inner.select, *inner.prefetch)}
        return out

    # Prefetches of the project -------------------------------------------------

    def project_prefetches(self, model: Model) -> frozenset[str]:
        """The relation paths of `model` (`bundles`, `bundles__bundled_item`)
        that some query of the project prefetches (`ModuleFacts.prefetch_calls`):
        a `prefetch_related()` whose queryset's model can be told gives its
        paths to that model, and the rest of each path to every model it passes
        through (`item__bundles` on positions gives `bundles` to items); one
        whose model cannot be told (`event.items.prefetch_related(...)`,
        `prefetch_related_objects(rows, ...)`) counts for `model` when every
        step of the path is a relation from `model` on. `to_attr=` prefetches
        fill no relation's cache, and arguments that cannot be read add
        nothing (a union over the project: what some caller prefetched)."""
        if self._prefetch_table is None:
            self._prefetch_table = self._build_prefetch_table()
        rooted, unrooted = self._prefetch_table
        found = set(rooted.get(model.qualname, ()))
        found.update(p for p in unrooted if self._relation_path(model, p))
        return frozenset(found)

    def _build_prefetch_table(self) -> tuple[dict[str, set[str]], frozenset[str]]:
        rooted: dict[str, set[str]] = {}
        unrooted: set[str] = set()
        for call in self.ctx.index.view(project_prefetch_calls):
            if isinstance(call.func, Attr) and call.func.attr == "prefetch_related":
                paths = self._lookup_paths(call.args)
                base = self.queryset_of_value(call.func.value)
                if base is None or base.values:
                    unrooted |= paths
                    continue
                for path in paths | base.prefetch:
                    self._root_path(base.model, path, rooted)
            elif dotted(call.func) in _PREFETCH_OBJECTS:
                unrooted |= self._lookup_paths(call.args[1:])
        return rooted, frozenset(unrooted)

    def _lookup_paths(self, args: Sequence[Value]) -> set[str]:
        paths: set[str] = set()
        for arg in args:
            text = const_str(arg)
            if text is not None:
                paths.add(text)
            elif isinstance(arg, Call) and dotted(arg.func) in _PREFETCH_CLASSES:
                paths |= self._prefetch_value(arg)
        return paths

    def _root_path(self, model: Model | None, path: str, rooted: dict[str, set[str]]) -> None:
        """`path` of `model`, and its rest to every model it passes through."""
        steps = path.split("__")
        for i, step in enumerate(steps):
            if model is None:
                return
            rooted.setdefault(model.qualname, set()).add("__".join(steps[i:]))
            relation = model.relation(step)
            model = self.models.get(relation.target) if relation is not None else None

    def _relation_path(self, model: Model, path: str) -> bool:
        """Every step of `path` is a relation, from `model` on."""
        current: Model | None = model
        for step in path.split("__"):
            relation = current.relation(step) if current is not None else None
            if relation is None:
                return False
            current = self.models.get(relation.target)
        return True


_PREFETCH_CLASSES = frozenset({"django.db.models.Prefetch", "django.db.models.query.Prefetch"})
_PREFETCH_OBJECTS = frozenset(
    {"django.db.models.prefetch_related_objects", "django.db.models.query.prefetch_related_objects"}
)


@data_view
def project_prefetch_calls(index: ProjectIndex) -> tuple[Call, ...]:
    """Every prefetch call of the project (`ModuleFacts.prefetch_calls`)."""
    return tuple(call for facts in index.modules.values() for call in facts.prefetch_calls)


def _is_prefetch_to_attr(expr: cst.BaseExpression) -> bool:
    """`Prefetch(..., to_attr=...)`: loads nothing under the relation's name."""
    return isinstance(expr, cst.Call) and any(
        arg.keyword is not None and arg.keyword.value == "to_attr" for arg in expr.args
    )


def _first_param(fn: cst.FunctionDef) -> str | None:
    params = fn.params.posonly_params or fn.params.params
    return params[0].name.value if params else None


def querysets(ctx: FileContext) -> QuerySets:
    """The file's queryset analysis, shared by every rule that asks."""
    found = ctx.cache.get(("django.querysets", 0))
    if found is None:
        found = QuerySets(ctx)
        ctx.cache[("django.querysets", 0)] = found
    assert isinstance(found, QuerySets)
    return found


def _is_slice(node: cst.Subscript) -> bool:
    return all(isinstance(el.slice, cst.Slice) for el in node.slice)


def _is_self(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "self"


def _is_self_or_super(value: Value) -> bool:
    """The root of `self.filter(...)` or `super().get_queryset()`."""
    if isinstance(value, Call):
        value = value.func
    return (isinstance(value, Local) and value.name == "self") or (
        isinstance(value, Ref) and value.name == "builtins.super"
    )


def _enclosing_class(scope: Scope) -> Scope | None:
    current: Scope | None = scope
    while current is not None:
        if current.kind is ScopeKind.CLASS:
            return current
        current = current.parent
    return None


def _returns(fn: cst.FunctionDef) -> Iterator[cst.Return]:
    from backlint.semantics.python import body_statements

    for stmt in body_statements(fn):
        if isinstance(stmt, cst.Return):
            yield stmt


# --------------------------------------------------------------------------
# Choices: classes whose members are written in their body.

# Enum bases: Django's choices enums are enums (`Order.Status.choices`).
CHOICES_BASES = frozenset(
    {
        *ENUM_BASES,
        "django.db.models.Choices",
        "django.db.models.TextChoices",
        "django.db.models.IntegerChoices",
        "django.db.models.enums.Choices",
        "django.db.models.enums.TextChoices",
        "django.db.models.enums.IntegerChoices",
    }
)
# Attributes of a choices enum that list its members (`Status.choices`).
CHOICES_LISTS = frozenset({"choices", "values", "labels", "names", "__members__"})


def choices_enum(index: ProjectIndex, cls: ClassFacts) -> bool:
    """An enum of the project (Django's `TextChoices`, `IntegerChoices`
    included): its members are those its body (and its bases') writes."""
    for current in index.ancestors(cls.qualname):
        for base in current.bases:
            name = dotted(base)
            if name is not None and index.canonical(name) in CHOICES_BASES:
                return True
    return False


def iterated_attribute(index: ProjectIndex, cls: ClassFacts) -> Value | None:
    """What iterating the class itself yields, when its metaclass (a project
    class, set on it or on a base: `class ChoiceSet(metaclass=ChoiceSetMeta)`)
    defines `__iter__` as `return iter(cls.CHOICES)` (or
    `iter(getattr(cls, "CHOICES", ()))`): the value of that class attribute,
    from the nearest class that sets it."""
    for current in index.ancestors(cls.qualname):
        for key, value in current.keywords:
            meta = index.find_class(dotted(value) or "")
            if key != "metaclass" or meta is None:
                continue
            method = meta.method("__iter__")
            if method is None or len(method.returned) != 1 or not method.params:
                return None
            name = _iterated_name(method.returned[0], method.params[0][0])
            if name is None:
                return None
            for owner in index.ancestors(cls.qualname):
                found = owner.attribute(name)
                if found is not None:
                    return found
            return None
    return None


def _iterated_name(value: Value, param: str) -> str | None:
    """NAME of `iter(<param>.NAME)` or `iter(getattr(<param>, "NAME", ...))`."""
    if not (
        isinstance(value, Call)
        and dotted(value.func) == "builtins.iter"
        and len(value.args) == 1
        and not value.kwargs
    ):
        return None
    inner = value.args[0]
    if isinstance(inner, Attr) and inner.value == Local(param):
        return inner.attr
    if (
        isinstance(inner, Call)
        and dotted(inner.func) == "builtins.getattr"
        and len(inner.args) in (2, 3)
        and inner.args[0] == Local(param)
    ):
        return const_str(inner.args[1])
    return None
