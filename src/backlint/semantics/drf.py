"""Django REST Framework knowledge: views, serializers and REST_FRAMEWORK settings.

Three layers, all read from the project index (nothing here opens a file):

* `rest_framework_settings(index)`: the project's `REST_FRAMEWORK` defaults
  (permissions, pagination, throttling...), read from its production settings
  modules, split settings included. A public view: any rule may ask it.
* `DrfClasses` (`drf_classes(index)`): the method resolution order of every
  class of the project down to DRF's own classes, and lookups through it
  (`permission_classes`, `get_queryset`, `serializer_class`...), which stop
  at a class backlint knows nothing about: the answer is then "unknown".
* Questions about one view or serializer, answered on demand and memoised:
  which relations a serializer walks for each object it renders, which
  queryset a view lists, whether a view is open to anyone, paginated, a list.

Answers are None (or `UNKNOWN_CLASS`) when the analysis cannot tell: rules
stay silent then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

import libcst as cst

from backlint.semantics.django import DjangoModels, Model, QuerySet, QuerySets, django_models
from backlint.semantics.facts import (
    Attr,
    Call,
    ClassFacts,
    Const,
    FunctionFacts,
    Local,
    Mapping,
    ModuleFacts,
    Ref,
    Seq,
    Subscript,
    Value,
    const_str,
    dotted,
)
from backlint.semantics.index import (
    Once,
    ProjectIndex,
    TrackedView,
    data_view,
    tracked_view,
)
from backlint.semantics.names import last_name
from backlint.semantics.security import is_request
from backlint.semantics.settings import settings_kind
from backlint.semantics.tree import descendants
from backlint.semantics.urls import url_routes

# --------------------------------------------------------------------------
# Tables.

_V = "rest_framework.views."
_G = "rest_framework.generics."
_M = "rest_framework.mixins."
_VS = "rest_framework.viewsets."
_S = "rest_framework.serializers."

API_VIEW: Final = _V + "APIView"
GENERIC_API_VIEW: Final = _G + "GenericAPIView"
LIST_MIXIN: Final = _M + "ListModelMixin"
RETRIEVE_MIXIN: Final = _M + "RetrieveModelMixin"
CREATE_MIXIN: Final = _M + "CreateModelMixin"
UPDATE_MIXIN: Final = _M + "UpdateModelMixin"
DESTROY_MIXIN: Final = _M + "DestroyModelMixin"
BASE_SERIALIZER: Final = _S + "BaseSerializer"
MODEL_SERIALIZER: Final = _S + "ModelSerializer"

# DRF's view classes with their DRF bases, in declaration order: the MRO of a
# project view is computed down to them.
DRF_VIEW_CLASSES: dict[str, tuple[str, ...]] = {
    API_VIEW: (),
    GENERIC_API_VIEW: (API_VIEW,),
    LIST_MIXIN: (),
    RETRIEVE_MIXIN: (),
    CREATE_MIXIN: (),
    UPDATE_MIXIN: (),
    DESTROY_MIXIN: (),
    _G + "CreateAPIView": (CREATE_MIXIN, GENERIC_API_VIEW),
    _G + "ListAPIView": (LIST_MIXIN, GENERIC_API_VIEW),
    _G + "RetrieveAPIView": (RETRIEVE_MIXIN, GENERIC_API_VIEW),
    _G + "DestroyAPIView": (DESTROY_MIXIN, GENERIC_API_VIEW),
    _G + "UpdateAPIView": (UPDATE_MIXIN, GENERIC_API_VIEW),
    _G + "ListCreateAPIView": (LIST_MIXIN, CREATE_MIXIN, GENERIC_API_VIEW),
    _G + "RetrieveUpdateAPIView": (RETRIEVE_MIXIN, UPDATE_MIXIN, GENERIC_API_VIEW),
    _G + "RetrieveDestroyAPIView": (RETRIEVE_MIXIN, DESTROY_MIXIN, GENERIC_API_VIEW),
    _G + "RetrieveUpdateDestroyAPIView": (
        RETRIEVE_MIXIN,
        UPDATE_MIXIN,
        DESTROY_MIXIN,
        GENERIC_API_VIEW,
    ),
    _VS + "ViewSetMixin": (),
    _VS + "ViewSet": (_VS + "ViewSetMixin", API_VIEW),
    _VS + "GenericViewSet": (_VS + "ViewSetMixin", GENERIC_API_VIEW),
    _VS + "ReadOnlyModelViewSet": (RETRIEVE_MIXIN, LIST_MIXIN, _VS + "GenericViewSet"),
    _VS + "ModelViewSet": (
        CREATE_MIXIN,
        RETRIEVE_MIXIN,
        UPDATE_MIXIN,
        DESTROY_MIXIN,
        LIST_MIXIN,
        _VS + "GenericViewSet",
    ),
}
# Serializer classes of DRF, with their DRF bases.
DRF_SERIALIZER_CLASSES: dict[str, tuple[str, ...]] = {
    BASE_SERIALIZER: (),
    _S + "Serializer": (BASE_SERIALIZER,),
    _S + "ListSerializer": (BASE_SERIALIZER,),
    MODEL_SERIALIZER: (_S + "Serializer",),
    _S + "HyperlinkedModelSerializer": (MODEL_SERIALIZER,),
}
DRF_CLASSES: dict[str, tuple[str, ...]] = {**DRF_VIEW_CLASSES, **DRF_SERIALIZER_CLASSES}

# What DRF's own classes define, of the names rules look up: a lookup that
# reaches one of these gets DRF's default (`DRF_DEFAULT`).
DRF_MEMBERS: dict[str, frozenset[str]] = {
    API_VIEW: frozenset(
        {
            "permission_classes",
            "get_permissions",
            "check_permissions",
            "throttle_classes",
            "authentication_classes",
            "http_method_names",
        }
    ),
    GENERIC_API_VIEW: frozenset(
        {
            "queryset",
            "serializer_class",
            "get_queryset",
            "get_serializer_class",
            "pagination_class",
            "paginate_queryset",
            "filter_queryset",
        }
    ),
    LIST_MIXIN: frozenset({"list"}),
}

# Classes outside the project and DRF known not to define any of the names
# looked up here (the lookup goes on past them instead of giving up).
NEUTRAL_CLASSES = frozenset({"builtins.object", "typing.Generic", "abc.ABC"})

# Mixins whose actions write.
WRITE_MIXINS = frozenset({CREATE_MIXIN, UPDATE_MIXIN, DESTROY_MIXIN})
# Handler and action methods that write.
WRITE_METHODS = frozenset(
    {"post", "put", "patch", "delete", "create", "update", "partial_update", "destroy"}
)
WRITE_VERBS = frozenset({"post", "put", "patch", "delete"})
ACTION_DECORATORS = frozenset(
    {"rest_framework.decorators.action", "rest_framework.decorators.detail_route"}
)

ALLOW_ANY = frozenset({"rest_framework.permissions.AllowAny"})

# Words in a view's name that say it is meant for anonymous callers (RULES.md:
# login and registration views may use AllowAny).
ANONYMOUS_VIEW_WORDS = (
    "login",
    "logon",
    "signin",
    "signup",
    "register",
    "registration",
    "token",
    "password",
    "forgot",
    "reset",
    "verify",
    "verification",
    "confirm",
    "activate",
    "activation",
    "invite",
    "invitation",
    "hook",
    "callback",
    "oauth",
    "saml",
    "sso",
    "captcha",
)

# Field classes (last name component, under `rest_framework.`) that read only
# the related object's primary key (`<fk>_id`) when not `many=True`.
PK_ONLY_FIELDS = frozenset({"PrimaryKeyRelatedField", "HyperlinkedRelatedField"})
# Field classes that render nothing of the instance's attributes.
# Methods by which a subclass of a pk-only field may read more than the key.
_PK_READ_METHODS = ("to_representation", "get_attribute", "use_pk_only_optimization", "get_url")
NO_READ_FIELDS = frozenset({"HiddenField", "HyperlinkedIdentityField", "SerializerMethodField"})
METHOD_FIELD = "SerializerMethodField"

# Manager methods after which a walked to-many relation is served by a
# prefetch (`all`), or answered from its cache (`count`, `exists`).
_MANAGER_ITERATE = frozenset({"all"})
_MANAGER_CACHED = frozenset({"count", "exists"})

# Settings: names a Django settings module assigns, and module names that are
# not production settings (RULES.md BKL604: dev, local, test modules).
SETTINGS_NAMES = frozenset(
    {"INSTALLED_APPS", "MIDDLEWARE", "ROOT_URLCONF", "DATABASES", "REST_FRAMEWORK"}
)


# --------------------------------------------------------------------------
# REST_FRAMEWORK settings.


@dataclass(frozen=True, slots=True)
class RestFrameworkSettings:
    """The project's `REST_FRAMEWORK` setting, as far as its production
    settings modules show it.

    `found`: the project has production settings modules (a module assigning
    `INSTALLED_APPS`, `DATABASES`... or `REST_FRAMEWORK`, not a dev/local/test
    one): a key none of them sets takes DRF's default. When there are none (a
    reusable app, whose settings live in the projects that install it),
    nothing can be said. Split settings (`settings/base.py` star-imported by
    `settings/production.py`) are read module by module: a key set in any of
    them counts as set, so a setting is never missed for being in the base.
    When no production module sets REST_FRAMEWORK at all, a key that a
    dev/local/test settings module sets cannot be told either
    (`devproject/settings.py` of an app whose own `settings.py` only lists its
    `INSTALLED_APPS` for the deployer to import): the configuration the
    project is run with sets it, and the deployed one is not in the tree.
    """

    found: bool
    modules: tuple[str, ...] = ()
    # (key, value) for every key some production settings module sets, a key
    # set in several modules once per module.
    entries: tuple[tuple[str, Value], ...] = ()
    # Some module builds REST_FRAMEWORK in a way that cannot be read
    # (`REST_FRAMEWORK = load_from_env()`, `REST_FRAMEWORK.update(x)`).
    opaque: bool = False
    # Keys set by the REST_FRAMEWORK of a non-production settings module.
    elsewhere: frozenset[str] = frozenset()

    def values(self, key: str) -> list[Value]:
        return [value for k, value in self.entries if k == key]

    def is_set(self, key: str) -> bool | None:
        """Whether the project sets `key`; None when it cannot be told."""
        if self.values(key):
            return True
        if not self.found or self.opaque or (key in self.elsewhere and not self.entries):
            return None
        return False

    def has_defaults(self, key: str) -> bool:
        """Whether some settings module gives the class list `key` a non-empty
        value (`DEFAULT_THROTTLE_CLASSES`); an unreadable value counts."""
        return any(
            not (isinstance(value, Seq) and not value.items) and value != Const(None)
            for value in self.values(key)
        )

    def classes(self, key: str, index: ProjectIndex) -> frozenset[str] | None:
        """The qualified names of a class-list setting (`DEFAULT_PERMISSION_CLASSES`)
        over every module that sets it: None when not set or not readable."""
        values = self.values(key)
        if not values:
            return None
        names: set[str] = set()
        for value in values:
            found = class_list(value, index)
            if found is None:
                return None
            names |= found
        return frozenset(names)

    def permissions_open(self, index: ProjectIndex) -> bool | None:
        """True when views without `permission_classes` are open to anyone: no
        `DEFAULT_PERMISSION_CLASSES` (DRF's default is AllowAny), or only
        AllowAny; None when it cannot be told."""
        key = "DEFAULT_PERMISSION_CLASSES"
        state = self.is_set(key)
        if state is None or state is False:
            return None if state is None else True
        names = self.classes(key, index)
        return names is not None and names <= ALLOW_ANY

    def pagination_missing(self) -> bool | None:
        """True when list views are not paginated by default (no
        `DEFAULT_PAGINATION_CLASS`, or None); None when it cannot be told."""
        key = "DEFAULT_PAGINATION_CLASS"
        state = self.is_set(key)
        if state is None or state is False:
            return None if state is None else True
        return all(value == Const(None) for value in self.values(key))


def class_list(value: Value, index: ProjectIndex, depth: int = 0) -> frozenset[str] | None:
    """Qualified names of a list of classes (`[IsAuthenticated]`, `("a.b.C",)`),
    following module-level names; None when it is not a readable list."""
    if isinstance(value, Ref) and depth < 4:
        target = index.lookup(value.name)
        if isinstance(target, Ref | Attr | Seq | Const):
            return class_list(target, index, depth + 1)
        return None
    if not isinstance(value, Seq):
        return None
    names: set[str] = set()
    for item in value.items:
        name = const_str(item) or dotted(item)
        if name is None:
            return None
        names.add(index.canonical(name))
    return frozenset(names)


def is_settings_module(
    module: str, assignments: Iterable[str], path: str = "", is_package: bool = False
) -> bool:
    """A production settings module: it assigns Django settings and is not a
    dev, local, test or template one (see `settings.settings_kind`)."""
    assigned = set(assignments)
    if not SETTINGS_NAMES.intersection(assigned):
        return False
    path = path or module.replace(".", "/") + ".py"
    return settings_kind(path, module, is_package, assigned) != "non-production"


@data_view
def rest_framework_settings(index: ProjectIndex) -> RestFrameworkSettings:
    """The project's REST_FRAMEWORK settings (see `RestFrameworkSettings`)."""
    if not index.complete:
        return RestFrameworkSettings(found=False)
    modules: list[str] = []
    entries: list[tuple[str, Value]] = []
    opaque = False
    elsewhere: set[str] = set()
    for facts in index.modules.values():
        names = [*facts.assignments, *(name for name, _, _ in facts.item_assignments)]
        if not is_settings_module(facts.module, names, facts.path, facts.is_package):
            if "REST_FRAMEWORK" in names and _is_other_settings_module(facts):
                value = facts.assignments.get("REST_FRAMEWORK")
                items = _settings_items(value, index) if value is not None else None
                elsewhere |= {key for key, _ in items or ()}
                elsewhere |= {
                    text
                    for name, key, _ in facts.item_assignments
                    if name == "REST_FRAMEWORK" and (text := const_str(key)) is not None
                }
            continue
        modules.append(facts.module)
        value = facts.assignments.get("REST_FRAMEWORK")
        if value is not None:
            items = _settings_items(value, index)
            if items is None:
                opaque = True
            else:
                entries += items
        for name, key, item in facts.item_assignments:
            if name != "REST_FRAMEWORK":
                continue
            text = const_str(key)
            if text is None:
                opaque = True
            else:
                entries.append((text, item))
    return RestFrameworkSettings(
        found=bool(modules),
        modules=tuple(modules),
        entries=tuple(entries),
        opaque=opaque,
        elsewhere=frozenset(elsewhere),
    )


def _is_other_settings_module(facts: ModuleFacts) -> bool:
    """A dev, local or test Django settings module (not a template, not a
    test module's own `REST_FRAMEWORK = {...}` override fixture)."""
    names = {*facts.assignments, *(name for name, _, _ in facts.item_assignments)}
    kind = settings_kind(
        facts.path or facts.module.replace(".", "/") + ".py", facts.module, facts.is_package, names
    )
    return kind == "non-production" and bool(
        SETTINGS_NAMES.intersection(names) - {"REST_FRAMEWORK"}
    )


def _settings_items(value: Value, index: ProjectIndex) -> list[tuple[str, Value]] | None:
    """The items of a REST_FRAMEWORK value: a dict display, `dict(...)`, a
    module-level name or a project function returning one."""
    for _ in range(4):
        if isinstance(value, Mapping):
            items = [(const_str(k), v) for k, v in value.items]
            return [(k, v) for k, v in items if k is not None]
        if isinstance(value, Call) and dotted(value.func) == "builtins.dict" and not value.args:
            return list(value.kwargs)
        target = None
        if isinstance(value, Ref):
            target = index.lookup(value.name)
        elif isinstance(value, Call) and (name := dotted(value.func)) is not None:
            function = index.find_function(name)
            if function is not None and len(function.returned) == 1:
                target = function.returned[0]
        if not isinstance(target, Mapping | Call | Ref):
            return None
        value = target
    return None


# --------------------------------------------------------------------------
# Classes: the MRO of project classes down to DRF's.


class _UnknownClass:
    """A lookup reached a class outside the project and DRF before finding the
    name: that class may define it."""

    def __repr__(self) -> str:
        return "UNKNOWN_CLASS"


UNKNOWN_CLASS: Final = _UnknownClass()


@dataclass(frozen=True, slots=True)
class Member:
    """Where a lookup found a name: the class, and the project's value or
    method (None: DRF's own definition, its default)."""

    owner: str
    position: int  # in the MRO
    value: Value | FunctionFacts | None


Lookup = Member | _UnknownClass | None  # None: not defined anywhere


class DrfClasses(TrackedView):
    """The project's classes as DRF sees them (built only for projects that use
    DRF); per-class answers are computed on first demand and memoised, each
    in a `Once`: a tracked view (see `semantics.index`)."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.models: DjangoModels = index.view(django_models)
        # Classes some project class derives from: not leaves.
        self.subclassed: set[str] = set()
        if index.uses("rest_framework"):
            for _, cls in index.classes():
                for base in cls.bases:
                    name = dotted(base)
                    if name:
                        self.subclassed.add(index.canonical(name))
        self._mro: dict[str, Once[tuple[str, ...]]] = {}
        self._facts: dict[str, Once[ClassFacts | None]] = {}
        self._walks: dict[tuple[str, str], Once[tuple[Walked, ...] | None]] = {}

    def state(self) -> Any:
        return [self.subclassed, self.models.state()]

    # Classes -----------------------------------------------------------------

    def facts(self, qualname: str) -> ClassFacts | None:
        once = self._facts.get(qualname)
        if once is None:
            once = self._facts[qualname] = Once()
        return once.get(lambda: self.index.find_class(qualname))

    def bases(self, qualname: str) -> tuple[str, ...]:
        if qualname in DRF_CLASSES:
            return DRF_CLASSES[qualname]
        cls = self.facts(qualname)
        if cls is None:
            return ()
        out = []
        for base in cls.bases:
            if isinstance(base, Subscript):  # `Generic[T]`, `GenericAPIView[Order]`
                base = base.value
            name = dotted(base)
            out.append(self.index.canonical(name) if name else "?")
        return tuple(out)

    def mro(self, qualname: str) -> tuple[str, ...]:
        """C3 linearisation over project and DRF classes; other classes are
        leaves (their own bases unknown)."""
        once = self._mro.get(qualname)
        if once is None:
            once = self._mro[qualname] = Once()
        # A cycle of bases ends at the class that closes it.
        return once.get(lambda: self._linearise(qualname), (qualname,))

    def _linearise(self, qualname: str) -> tuple[str, ...]:
        bases = [b for b in self.bases(qualname) if b != "builtins.object"]
        if len(self._mro) > 10_000:
            return (qualname, *bases)
        sequences = [list(self.mro(b)) for b in bases] + [list(bases)]
        out = [qualname]
        while True:
            sequences = [s for s in sequences if s]
            if not sequences:
                return tuple(out)
            for seq in sequences:
                head = seq[0]
                if not any(head in s[1:] for s in sequences):
                    break
            else:  # inconsistent hierarchy: depth-first order, duplicates dropped
                rest = [c for s in sequences for c in s]
                return tuple(dict.fromkeys([*out, *rest]))
            out.append(head)
            for s in sequences:
                if s and s[0] == head:
                    del s[0]

    def is_subclass(self, qualname: str, base: str) -> bool:
        return base in self.mro(qualname)

    def is_view(self, qualname: str) -> bool:
        return self.is_subclass(qualname, API_VIEW)

    def is_serializer(self, qualname: str) -> bool:
        return self.is_subclass(qualname, BASE_SERIALIZER)

    def is_leaf(self, qualname: str) -> bool:
        return qualname not in self.subclassed

    def lookup(self, qualname: str, name: str, start: int = 0) -> Lookup:
        """The class attribute or method `name` as Python finds it on an
        instance of `qualname`, from MRO position `start`."""
        mro = self.mro(qualname)
        for position in range(start, len(mro)):
            owner = mro[position]
            cls = self.facts(owner)
            if cls is not None:
                method = cls.method(name)
                if method is not None:
                    return Member(owner, position, method)
                for key, value in cls.attributes:
                    if key == name:
                        return Member(owner, position, value)
                continue
            if owner in DRF_CLASSES:
                if name in DRF_MEMBERS.get(owner, ()):
                    return Member(owner, position, None)
                continue
            if owner in NEUTRAL_CLASSES:
                continue
            return UNKNOWN_CLASS
        return None

    def project_methods(self, qualname: str) -> Iterator[tuple[str, FunctionFacts]]:
        """Methods defined by the project classes of the MRO."""
        for owner in self.mro(qualname):
            cls = self.facts(owner)
            if cls is not None:
                for method in cls.methods:
                    yield owner, method

    # Views -------------------------------------------------------------------

    def is_list_view(self, qualname: str) -> bool:
        return self.is_subclass(qualname, LIST_MIXIN)

    def allows_writes(self, qualname: str) -> bool:
        """Whether the view answers a write (POST, PUT, PATCH, DELETE): a write
        mixin, a write handler or action, an `@action(methods=[...])` that
        writes; `http_method_names` limited to reads says no."""
        methods = self.lookup(qualname, "http_method_names")
        if isinstance(methods, Member) and isinstance(methods.value, Seq):
            verbs = {const_str(v) for v in methods.value.items}
            if None not in verbs:
                return bool(WRITE_VERBS & {v.lower() for v in verbs if v})
        if WRITE_MIXINS.intersection(self.mro(qualname)):
            return True
        for _, method in self.project_methods(qualname):
            if method.name in WRITE_METHODS:
                return True
            for decorator in method.decorators:
                if isinstance(decorator, Call) and dotted(decorator.func) in ACTION_DECORATORS:
                    verbs_value = decorator.kwarg("methods")
                    if isinstance(verbs_value, Seq) and any(
                        (const_str(v) or "").lower() in WRITE_VERBS for v in verbs_value.items
                    ):
                        return True
        return False

    def unknown_bases(self, qualname: str) -> bool:
        """Whether the MRO holds a class outside the project and DRF."""
        return any(
            self.facts(c) is None and c not in DRF_CLASSES and c not in NEUTRAL_CLASSES
            for c in self.mro(qualname)
        )

    # Serializers -------------------------------------------------------------

    def meta(self, serializer: str) -> ClassFacts | None:
        """The `Meta` a serializer uses (its own, else an ancestor's)."""
        for owner in self.mro(serializer):
            cls = self.facts(owner)
            meta = cls.inner_class("Meta") if cls is not None else None
            if meta is not None:
                return meta
        return None

    def serializer_model(self, serializer: str) -> Model | None:
        meta = self.meta(serializer)
        value = meta.attribute("model") if meta is not None else None
        return self.models.get(dotted(value)) if value is not None else None

    def declared_fields(self, serializer: str) -> tuple[dict[str, Call], set[str]]:
        """The serializer's declared fields, base classes first and overridden
        by subclasses (`name = None` removes one), and those of the class itself."""
        fields: dict[str, Call] = {}
        own: set[str] = set()
        mro = self.mro(serializer)
        for owner in reversed(mro):
            cls = self.facts(owner)
            if cls is None:
                continue
            for name, value in cls.attributes:
                if value == Const(None):
                    fields.pop(name, None)
                elif isinstance(value, Call) and self._is_field(value):
                    fields[name] = value
                    if owner == serializer:
                        own.add(name)
        return fields, own

    def _is_field(self, call: Call) -> bool:
        name = dotted(call.func)
        if name is None:
            return False
        name = self.index.canonical(name)
        if name.startswith("rest_framework."):
            return True
        return self.facts(name) is not None and any(
            c.startswith("rest_framework.") for c in self.mro(name)
        )

    def walked(self, serializer: str, model: Model) -> tuple[Walked, ...] | None:
        """The relations of `model` the serializer reads for each object it
        renders (see `Walked`), memoised; None when the serializer is unknown."""
        key = (serializer, model.qualname)
        once = self._walks.get(key)
        if once is None:
            once = self._walks[key] = Once()
        return once.get(lambda: self._walk(serializer, model))

    def _walk(self, serializer: str, model: Model) -> tuple[Walked, ...] | None:
        if self.facts(serializer) is None:
            return None
        out: dict[str, Walked] = {}
        _SerializerWalk(self, out).walk(serializer, model, _Path(), 0, set())
        return tuple(out.values())

    def field_kind(self, call: Call) -> tuple[str, str | None]:
        """("serializer", qualname) for a nested serializer, ("method", None),
        ("pk", None) for pk-only related fields, ("none", None) for fields that
        read nothing, ("field", None) for the rest."""
        name = self.index.canonical(dotted(call.func) or "")
        short = name.rsplit(".", 1)[-1]
        if name.startswith("rest_framework."):
            if short == METHOD_FIELD:
                return "method", None
            if short in NO_READ_FIELDS:
                return "none", None
            if short in PK_ONLY_FIELDS and const_str(call.kwarg("lookup_field")) in (None, "pk"):
                return "pk", None
            if name in DRF_SERIALIZER_CLASSES:
                return "serializer", name
            return "field", None
        if self.facts(name) is not None and self.is_serializer(name):
            return "serializer", name
        if self._pk_only_subclass(name, call):
            return "pk", None
        return "field", None

    def _pk_only_subclass(self, name: str, call: Call) -> bool:
        """A project subclass of a pk-only DRF field (`class OwnerField(
        PrimaryKeyRelatedField)` that narrows `get_queryset()`) still reads
        only the key, unless it changes what is read or rendered."""
        if self.facts(name) is None:
            return False
        lookup_field = call.kwarg("lookup_field")
        for owner in self.mro(name):
            if owner.startswith("rest_framework."):
                if owner.rsplit(".", 1)[-1] not in PK_ONLY_FIELDS:
                    return False
                break
            cls = self.facts(owner)
            if cls is None or any(cls.method(m) is not None for m in _PK_READ_METHODS):
                return False
            if lookup_field is None:
                lookup_field = cls.attribute("lookup_field")
        else:
            return False
        return lookup_field is None or const_str(lookup_field) == "pk"


@tracked_view
def drf_classes(index: ProjectIndex) -> DrfClasses:
    return DrfClasses(index)


# --------------------------------------------------------------------------
# What a serializer walks.


@dataclass(frozen=True, slots=True)
class Walked:
    """A relation path a serializer reads for each object it renders."""

    path: str  # `__` path from the rendered model: "customer", "items__product"
    select: bool  # every step is a FK/OneToOne: `select_related` can load it
    under_many: bool  # read once per row of a to-many relation: N+1 even for one object
    via: str  # the field that reads it


@dataclass(frozen=True, slots=True)
class _Path:
    path: str = ""
    select: bool = True
    under_many: bool = False

    def step(self, name: str, select: bool, many_before: bool) -> _Path:
        return _Path(
            f"{self.path}__{name}" if self.path else name,
            self.select and select,
            self.under_many or many_before,
        )


_SELECT_KINDS = frozenset({"fk", "o2o", "reverse_o2o"})


class _SerializerWalk:
    def __init__(self, classes: DrfClasses, out: dict[str, Walked]) -> None:
        self.classes = classes
        self.models = classes.models
        self.out = out

    def record(self, at: _Path, via: str) -> None:
        if at.path and at.path not in self.out:
            self.out[at.path] = Walked(at.path, at.select, at.under_many, via)

    def walk(
        self, serializer: str, model: Model, at: _Path, depth: int, seen: set[tuple[str, str]]
    ) -> None:
        if depth > 6 or (serializer, at.path) in seen:
            return
        seen = seen | {(serializer, at.path)}
        name = serializer.rsplit(".", 1)[-1]
        # A `to_representation` of the project's reads what it reads; unless it
        # builds on DRF's (`super().to_representation(...)`), the declared
        # fields are not rendered at all.
        found = self.classes.lookup(serializer, "to_representation")
        custom = found.value if isinstance(found, Member) else None
        if isinstance(custom, FunctionFacts):
            self._reads(custom, model, at, f"{name}.to_representation()")
            if not any(_is_super_call(v, "to_representation") for v in custom.returned):
                return
        fields, own = self.classes.declared_fields(serializer)
        meta = self.classes.meta(serializer)
        included = self._included(fields, own, meta)
        for field_name in included:
            call = fields[field_name]
            if call.kwarg("write_only") == Const(True):
                continue
            source = const_str(call.kwarg("source")) or field_name
            kind, nested = self.classes.field_kind(call)
            via = f"{name}.{field_name}"
            if kind == "method":
                method_name = const_str(call.kwarg("method_name")) or f"get_{field_name}"
                self._method(serializer, method_name, model, at, via)
                continue
            if kind == "none":
                continue
            many = call.kwarg("many") == Const(True)
            steps = [] if source == "*" else source.split(".")
            if kind == "pk" and not many:
                steps = steps[:-1]
            end = self._follow(steps, model, at, via)
            if kind == "serializer" and nested is not None and end is not None:
                target, end_at = end
                self.walk(nested, target, end_at, depth + 1, seen)
        self._depth(meta, fields, model, at, depth, via_name=name)

    def _included(
        self, fields: dict[str, Call], own: set[str], meta: ClassFacts | None
    ) -> list[str]:
        """Declared fields the serializer renders: those listed in
        `Meta.fields` (a subclass may leave out inherited ones), all of them
        with `"__all__"` or no `Meta.fields`, less `Meta.exclude`."""
        listed = meta.attribute("fields") if meta is not None else None
        if listed is None or const_str(listed) == "__all__" or dotted(listed) == _S + "ALL_FIELDS":
            excluded = meta.attribute("exclude") if meta is not None else None
            names = _strings(excluded) if isinstance(excluded, Seq) else set()
            return [n for n in fields if n not in names]
        if isinstance(listed, Seq):
            names = _strings(listed)
            return [n for n in fields if n in names]
        return [n for n in fields if n in own]  # unreadable list: those it must include

    def _depth(
        self,
        meta: ClassFacts | None,
        fields: dict[str, Call],
        model: Model,
        at: _Path,
        depth: int,
        via_name: str,
    ) -> None:
        """`Meta.depth = n`: relations in `fields` (not declared) are rendered
        as nested serializers of every field, n levels deep."""
        level = meta.attribute("depth") if meta is not None else None
        levels = level.value if isinstance(level, Const) and isinstance(level.value, int) else 0
        if not levels or meta is None:
            return
        listed = meta.attribute("fields")
        names = _strings(listed) if isinstance(listed, Seq) else None
        self._implicit(model, at, levels, names, set(fields), f"{via_name}.Meta.depth")

    def _implicit(
        self,
        model: Model,
        at: _Path,
        levels: int,
        names: set[str] | None,
        declared: set[str],
        via: str,
    ) -> None:
        if levels <= 0:
            return
        for relation in model.relations.values():
            if relation.name in declared or (names is not None and relation.name not in names):
                continue
            if names is None and relation.kind not in ("fk", "o2o", "m2m"):
                continue  # `__all__` renders forward relations only
            target = self.models.get(relation.target)
            next_at = at.step(relation.name, relation.kind in _SELECT_KINDS, False)
            self.record(next_at, via)
            if target is not None:
                deeper = replace(next_at, under_many=next_at.under_many or relation.manager)
                self._implicit(target, deeper, levels - 1, None, set(), via)

    def _follow(
        self, steps: list[str], model: Model, at: _Path, via: str
    ) -> tuple[Model, _Path] | None:
        """Record the relations of a `source` path; the model and path it ends at
        when every step is a relation."""
        current: Model | None = model
        for i, step in enumerate(steps):
            relation = current.relation(step) if current is not None else None
            if relation is None:
                return None  # a field, a property or a method: nothing more to follow
            at = at.step(step, relation.kind in _SELECT_KINDS, False)
            if relation.manager and i < len(steps) - 1:
                return None  # `source="items.first"`: not a plain read
            self.record(at, via)
            current = self.models.get(relation.target)
            if relation.manager:
                at = replace(at, under_many=True)
        if current is None:
            return None
        return current, at

    def _method(self, serializer: str, method: str, model: Model, at: _Path, via: str) -> None:
        found = self.classes.lookup(serializer, method)
        if isinstance(found, Member) and isinstance(found.value, FunctionFacts):
            self._reads(found.value, model, at, f"{via} ({method}())")

    def _reads(self, function: FunctionFacts, model: Model, at: _Path, via: str) -> None:
        for position, chain in function.param_reads:
            if position == 1:
                self._chain(chain.split("."), model, at, via)

    def _chain(self, steps: list[str], model: Model, at: _Path, via: str) -> None:
        """Record the relations an attribute chain read from the instance walks
        (`author.name`, `items.all.product`); a to-many relation counts when it
        is iterated (`all()`) or its cache answers (`count()`, `exists()`), not
        when a new query is built on it (`filter()`), which no prefetch serves."""
        current: Model | None = model
        i = 0
        while i < len(steps) and current is not None:
            relation = current.relation(steps[i])
            if relation is None:
                return
            nxt = steps[i + 1] if i + 1 < len(steps) else None
            if (
                relation.manager
                and nxt is not None
                and nxt not in _MANAGER_ITERATE | (_MANAGER_CACHED)
            ):
                return
            at = at.step(steps[i], relation.kind in _SELECT_KINDS, False)
            self.record(at, via)
            if relation.manager:
                if nxt not in _MANAGER_ITERATE:
                    return
                at = replace(at, under_many=True)
                i += 1
            current = self.models.get(relation.target)
            i += 1


def _strings(value: Value | None) -> set[str]:
    if not isinstance(value, Seq):
        return set()
    return {s for s in (const_str(v) for v in value.items) if s is not None}


# --------------------------------------------------------------------------
# A view's queryset and serializers.


@dataclass(frozen=True, slots=True)
class ViewData:
    """What a generic view lists and renders."""

    queryset: QuerySet
    serializers: tuple[str, ...]
    defines: bool  # the class itself sets queryset/get_queryset/serializer_class/...


# What a view sets to choose what it lists and how it renders it.
VIEW_OWN_NAMES = ("queryset", "get_queryset", "serializer_class", "get_serializer_class")


def view_data(classes: DrfClasses, qualname: str, qs: QuerySets) -> ViewData | None:
    """The queryset and serializer classes of a generic view, when known."""
    if not classes.is_subclass(qualname, GENERIC_API_VIEW):
        return None
    for name in ("filter_queryset", "paginate_queryset"):
        found = classes.lookup(qualname, name)
        if not (isinstance(found, Member) and found.value is None):
            return None  # the project (or an unknown class) reshapes the rows
    queryset = _get_queryset(classes, qualname, 0, qs, 0)
    if queryset is None or queryset.values:
        return None
    serializers = _serializer_classes(classes, qualname)
    if not serializers:
        return None
    cls = classes.facts(qualname)
    defines = cls is not None and any(
        cls.attribute(n) is not None or cls.method(n) is not None for n in VIEW_OWN_NAMES
    )
    return ViewData(queryset, serializers, defines)


def _get_queryset(
    classes: DrfClasses, view: str, start: int, qs: QuerySets, depth: int
) -> QuerySet | None:
    """What `get_queryset()` returns when looked up from MRO position `start`."""
    if depth > 8:
        return None
    found = classes.lookup(view, "get_queryset", start)
    if not isinstance(found, Member):
        return None
    if found.value is None:  # GenericAPIView's: `self.queryset.all()`
        return _queryset_attribute(classes, view, qs)
    if not isinstance(found.value, FunctionFacts) or not found.value.returned:
        return None
    position = found.position

    def root(value: Value) -> QuerySet | None:
        if _is_super_call(value, "get_queryset"):
            return _get_queryset(classes, view, position + 1, qs, depth + 1)
        if isinstance(value, Attr) and _is_self(value.value) and value.attr == "queryset":
            return _queryset_attribute(classes, view, qs)
        return _user_relation(classes, value)

    results = [qs.queryset_of_value(value, root) for value in found.value.returned]
    return _union(results)


def _queryset_attribute(classes: DrfClasses, view: str, qs: QuerySets) -> QuerySet | None:
    found = classes.lookup(view, "queryset")
    if not isinstance(found, Member) or not isinstance(found.value, Attr | Call):
        return None
    return qs.queryset_of_value(found.value)


def _user_relation(classes: DrfClasses, value: Value) -> QuerySet | None:
    """`self.request.user.orders`, `self.request.user.customer.orders`: a
    related manager reached from the user model."""
    steps: list[str] = []
    while isinstance(value, Attr):
        steps.append(value.attr)
        value = value.value
    steps.reverse()
    if not _is_self(value) or steps[:2] != ["request", "user"] or len(steps) < 3:
        return None
    model = classes.models.get(classes.models.user_model())
    for i, step in enumerate(steps[2:], start=2):
        relation = model.relation(step) if model is not None else None
        if relation is None:
            return None
        model = classes.models.get(relation.target)
        if relation.manager:
            if i != len(steps) - 1 or model is None:
                return None
            return QuerySet(model, is_manager=True, rooted_at_manager=False)
    return None


def _union(results: list[QuerySet | None]) -> QuerySet | None:
    """Querysets of several `return`s: what any of them loads counts as loaded
    (no false alarm from a branch backlint cannot tell apart)."""
    if not results or any(r is None for r in results):
        return None
    found = [r for r in results if r is not None]
    first = found[0]
    if any(r.model is not first.model for r in found):
        return None
    return QuerySet(
        first.model,
        values=any(r.values for r in found),
        select_all=any(r.select_all for r in found),
        select=frozenset().union(*(r.select for r in found)),
        prefetch=frozenset().union(*(r.prefetch for r in found)),
        opaque=any(r.opaque for r in found),
    )


def lists_configuration_table(classes: DrfClasses, view: str, qs: QuerySets) -> bool:
    """The view lists a hand-ordered table of its own (`DjangoModels.
    hand_ordered_table`: admin-defined ranks, `order_by("order")`), in the
    order of its position field: every `get_queryset()` return (or the
    `queryset` attribute) orders by it, or the model's `Meta.ordering` does."""
    found = classes.lookup(view, "get_queryset")
    if not isinstance(found, Member):
        return False
    if found.value is None:
        attribute = classes.lookup(view, "queryset")
        values: tuple[Value, ...] = (
            (attribute.value,)
            if isinstance(attribute, Member) and isinstance(attribute.value, Attr | Call)
            else ()
        )
    elif isinstance(found.value, FunctionFacts):
        values = found.value.returned
    else:
        return False
    if not values:
        return False
    models = classes.models
    for value in values:
        queryset = qs.queryset_of_value(value)
        if queryset is None or queryset.values:
            return False
        ordering = _ordering(value)
        if ordering is None:
            meta = models.meta_option(queryset.model, "ordering")
            ordering = _strings_of(meta) if meta is not None else []
        if not models.hand_ordered_table(queryset.model, ordering):
            return False
    return True


def _ordering(value: Value) -> list[str] | None:
    """The fields of the last `order_by(...)` of a summarised chain (None
    when there is none; an empty list when it cannot be read)."""
    current: Value = value
    while isinstance(current, Call | Attr):
        if isinstance(current, Call):
            func = current.func
            if isinstance(func, Attr) and func.attr == "order_by":
                names = [const_str(arg) for arg in current.args]
                return [n for n in names if n is not None] if None not in names else []
            current = func
        else:
            current = current.value
    return None


def _strings_of(value: Value) -> list[str]:
    if isinstance(value, Seq):
        names = [const_str(item) for item in value.items]
        return [n for n in names if n is not None] if None not in names else []
    return []


def _serializer_classes(classes: DrfClasses, view: str) -> tuple[str, ...]:
    """`serializer_class`, or every class `get_serializer_class()` returns."""
    found = classes.lookup(view, "get_serializer_class")
    if isinstance(found, Member) and isinstance(found.value, FunctionFacts):
        out: list[str] = []
        for value in found.value.returned:
            if _is_super_call(value, "get_serializer_class") or (
                isinstance(value, Attr) and _is_self(value.value)
            ):
                attr = _serializer_attribute(classes, view)
                if attr is None:
                    return ()
                out.append(attr)
                continue
            name = dotted(value)
            if name is None:
                return ()
            name = classes.index.canonical(name)
            if not classes.is_serializer(name):
                return ()
            out.append(name)
        return tuple(dict.fromkeys(out))
    if not (isinstance(found, Member) and found.value is None):
        return ()
    attr = _serializer_attribute(classes, view)
    return (attr,) if attr is not None else ()


def _serializer_attribute(classes: DrfClasses, view: str) -> str | None:
    found = classes.lookup(view, "serializer_class")
    if not isinstance(found, Member) or found.value is None:
        return None
    name = dotted(found.value) if not isinstance(found.value, FunctionFacts) else None
    if name is None:
        return None
    name = classes.index.canonical(name)
    return name if classes.is_serializer(name) else None


def _bounded_by_hand(classes: DrfClasses, view: str) -> bool:
    """A list view that bounds its rows itself: `get_queryset()`/`filter_queryset()`
    (or `queryset`) slicing the rows (`[:100]`), a `get()`/`list()` or queryset
    method handing them to a paginator of its own, or a `get()` of its own that
    does not call DRF's."""
    for name in ("get_queryset", "filter_queryset", "queryset", "get", "list"):
        found = classes.lookup(view, name)
        if not isinstance(found, Member) or found.value is None:
            continue
        values = found.value.returned if isinstance(found.value, FunctionFacts) else (found.value,)
        if name in ("get_queryset", "filter_queryset", "queryset") and any(
            isinstance(v, Subscript) for v in values
        ):
            return True
        if any("paginat" in n.lower() for v in values for n in _names_in(v)):
            return True
        if name == "get" and not (
            values and all(_is_super_call(v, "get") or _is_self_call(v, "list") for v in values)
        ):
            return True
    return False


def _is_self_call(value: Value, method: str) -> bool:
    return (
        isinstance(value, Call)
        and isinstance(value.func, Attr)
        and value.func.attr == method
        and _is_self(value.func.value)
    )


def _own_list(classes: DrfClasses, view: str) -> bool:
    """Whether the view's `list()` is the project's own (or unknown), not DRF's
    nor a wrapper returning `super().list(...)`."""
    found = classes.lookup(view, "list")
    if not isinstance(found, Member):
        return True
    if found.value is None:
        return False
    return not (
        isinstance(found.value, FunctionFacts)
        and found.value.returned
        and all(_is_super_call(v, "list") for v in found.value.returned)
    )


def _is_self(value: Value) -> bool:
    return isinstance(value, Local) and value.name == "self"


def _is_super_call(value: Value, method: str) -> bool:
    """`super().<method>(...)` (or `super(Cls, self)...`)."""
    return (
        isinstance(value, Call)
        and isinstance(value.func, Attr)
        and value.func.attr == method
        and isinstance(value.func.value, Call)
        and dotted(value.func.value.func) == "builtins.super"
    )


@dataclass(frozen=True, slots=True)
class Unloaded:
    """Relations a view's serializers read per row that its queryset does not load."""

    paths: tuple[Walked, ...]
    serializers: tuple[str, ...]


def unloaded_relations(classes: DrfClasses, view: str, qs: QuerySets) -> Unloaded | None:
    """BKL401's question: what the view's serializers walk that its queryset does
    not load. For a list view every walked relation counts; for a view of one
    object, only relations read once per row of a to-many relation. With
    several serializers (`get_serializer_class()`), a relation counts when
    every serializer walks it, or when it is read under a to-many relation."""
    data = view_data(classes, view, qs)
    if data is None or data.queryset.opaque:
        return None
    model = data.queryset.model
    is_list = classes.is_list_view(view)
    if is_list and _own_list(classes, view):
        return None  # a `list()` of its own: what it renders is unknown
    walks: list[dict[str, Walked]] = []
    for serializer in data.serializers:
        declared = classes.serializer_model(serializer)
        parents = {classes.index.canonical(b) for b in model.bases}
        if declared is not None and declared is not model and declared.qualname not in parents:
            return None  # renders another model than the view lists
        found = classes.walked(serializer, model)
        if found is None:
            return None
        walks.append({w.path: w for w in found})
    common = set(walks[0]).intersection(*walks[1:]) if walks else set()
    candidates: dict[str, Walked] = {}
    for walk in walks:
        for path, walked in walk.items():
            if (path in common and is_list) or walked.under_many:
                candidates.setdefault(path, walked)
    missing = [w for w in candidates.values() if not data.queryset.covers(w.path, single=w.select)]
    # Loading `items__product` loads `items`: keep the longest paths.
    paths = {w.path for w in missing}
    longest = tuple(
        sorted(
            (w for w in missing if not any(p.startswith(w.path + "__") for p in paths)),
            key=lambda w: w.path,
        )
    )
    if not longest:
        return None
    return Unloaded(longest, data.serializers)


def serializer_is_model_serializer(classes: DrfClasses, bases: Iterable[str]) -> bool:
    """Whether a class with these (qualified) bases is a ModelSerializer."""
    return any(classes.is_subclass(classes.index.canonical(b), MODEL_SERIALIZER) for b in bases)


# --------------------------------------------------------------------------
# Permissions and pagination.


@dataclass(frozen=True, slots=True)
class Permissions:
    """How a view decides who may call it."""

    state: str  # "default" (DRF's default, from settings), "allow_any", "set"
    owner: str = ""  # the class that sets permission_classes


def view_permissions(classes: DrfClasses, view: str) -> Permissions | None:
    """None when backlint cannot tell (a class it does not know, computed
    permission lists, `get_permissions()` of the project)."""
    if not classes.is_view(view):
        return None
    for name in ("get_permissions", "check_permissions"):
        found = classes.lookup(view, name)
        if not (isinstance(found, Member) and found.value is None):
            return None
    if _guarded_by_decorator(classes, view) or _filters_by_permission(classes, view):
        return None
    found = classes.lookup(view, "permission_classes")
    if not isinstance(found, Member):
        return None
    if found.value is None:
        return Permissions("default")
    if isinstance(found.value, FunctionFacts):
        return None
    names = class_list(found.value, classes.index)
    if names is None:
        return None
    if names and names <= ALLOW_ANY:
        return Permissions("allow_any", found.owner)
    if not names:
        return Permissions("allow_any", found.owner)  # `permission_classes = []`
    return Permissions("set", found.owner)


_GUARD_WORDS = ("login", "permission", "auth", "staff", "superuser")


def _guarded_by_decorator(classes: DrfClasses, view: str) -> bool:
    """A class decorator that may check the caller (`method_decorator(login_required)`)."""
    for owner in classes.mro(view):
        cls = classes.facts(owner)
        if cls is None:
            continue
        for decorator in cls.decorators:
            if any(word in name.lower() for name in _names_in(decorator) for word in _GUARD_WORDS):
                return True
    return False


def _filters_by_permission(classes: DrfClasses, view: str) -> bool:
    """`filter_backends` with an object-permission filter (django-guardian's
    `ObjectPermissionsFilter`, a project's `MayanObjectPermissionsFilter`):
    the queryset is restricted to the rows the caller may see, per object,
    in place of a `permission_classes` check; the view or the project's
    `DEFAULT_FILTER_BACKENDS`."""
    found = classes.lookup(view, "filter_backends")
    values: list[Value] = []
    if isinstance(found, Member) and found.value is not None:
        if not isinstance(found.value, FunctionFacts):
            values.append(found.value)
    elif found is None or isinstance(found, Member):
        values += classes.index.view(rest_framework_settings).values("DEFAULT_FILTER_BACKENDS")
    return any(
        "permission" in name.rsplit(".", 1)[-1].lower()
        for value in values
        for name in _names_in(value)
    )


def _names_in(value: Value) -> Iterator[str]:
    if isinstance(value, Ref):
        yield value.name
    elif isinstance(value, Attr):
        yield value.attr
        yield from _names_in(value.value)
    elif isinstance(value, Call):
        yield from _names_in(value.func)
        for arg in (*value.args, *(v for _, v in value.kwargs)):
            yield from _names_in(arg)
    elif isinstance(value, Seq):
        for item in value.items:
            yield from _names_in(item)
    elif isinstance(value, Const) and isinstance(value.value, str):
        yield value.value
    elif isinstance(value, Subscript):
        yield from _names_in(value.value)
    elif isinstance(value, Local):
        yield value.name


def is_anonymous_view(name: str) -> bool:
    """A view whose name says it serves anonymous callers (login, signup...)."""
    lowered = name.lower()
    return any(word in lowered for word in ANONYMOUS_VIEW_WORDS)


# Words of a view's name for the account flows a caller goes through before
# being logged in: these views must be public whatever the project writes
# (narrower than ANONYMOUS_VIEW_WORDS: a `TokenViewSet` or `WebhookViewSet`
# may manage the user's own tokens or hooks).
ACCOUNT_FLOW_WORDS = ("login", "logon", "signin", "signup", "password")
# The stem of a view for the caller's own session (log in, log out).
_SESSION_STEMS = frozenset({"session", "sessions", "authsession"})
_VIEW_SUFFIXES = ("viewset", "apiview", "view", "api", "endpoint", "resource")
# A username/email availability check (signup forms call it).
_ACCOUNT_KEYS = ("username", "email")
_AVAILABILITY = ("available", "availability", "exists", "taken")


def is_account_flow_view(name: str) -> bool:
    """A view whose name says it is a step of logging in or signing up: login,
    signup, password (set, reset, forgot), the session itself (`SessionViewSet`:
    create logs in, destroy logs out; not `ChatSessionViewSet`), a username or
    email availability check (`UsernameAvailableView`)."""
    lowered = name.lower()
    if any(word in lowered for word in ACCOUNT_FLOW_WORDS):
        return True
    stem = lowered
    stripped = True
    while stripped:
        stripped = False
        for suffix in _VIEW_SUFFIXES:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                stripped = True
    if stem in _SESSION_STEMS:
        return True
    return any(key in lowered for key in _ACCOUNT_KEYS) and any(
        word in lowered for word in _AVAILABILITY
    )


# Module names that say a module's views serve the public.
PUBLIC_MODULE_NAMES = frozenset(
    {"public", "public_api", "api_public", "public_views", "public_viewsets"}
)


def in_open_public_module(classes: DrfClasses, module: str) -> bool:
    """A module under a package or module named `public` (`core/public/api.py`,
    `content/public_api.py`; the project's top-level package aside) none of
    whose views sets permissions: an anonymous API by design (Kolibri's
    `/public/` API for peer devices, which never writes `AllowAny`). A public
    module one of whose views sets `permission_classes` (or decides in
    `get_permissions()`...) is an authenticated "public" (stable, documented)
    API, whose views are judged as usual."""
    if not PUBLIC_MODULE_NAMES.intersection(module.split(".")[1:]):
        return False
    facts = classes.index.modules.get(module)
    if facts is None:
        return False
    for name in facts.classes:
        qualname = f"{module}.{name}"
        if not classes.is_view(qualname):
            continue
        permissions = view_permissions(classes, qualname)
        if permissions is None or permissions.state == "set":
            return False
    return True


def is_declared_public(module: str) -> bool:
    """A module under a package or module named `public` (`PUBLIC_MODULE_NAMES`),
    the project's top-level package aside."""
    return bool(PUBLIC_MODULE_NAMES.intersection(module.split(".")[1:]))


# Members by which a class says which rows a view serves.
_ROWS_MEMBERS = ("get_queryset", "queryset")


@dataclass(frozen=True, slots=True)
class PublicViews:
    """The views a project serves to anyone by design, and what they build on."""

    # Views routed by an open public URLconf (`public_views`).
    routed: frozenset[str] = frozenset()
    # Project mixins (not views) defining `get_queryset()` or `queryset` in
    # the MRO of a read-only view public by design.
    row_bases: frozenset[str] = frozenset()


@data_view
def public_views(index: ProjectIndex) -> PublicViews:
    """The views public by design, read from the URLconfs and the views.

    An open public URLconf is a module declared public (`core/public/api_urls.py`)
    that routes views of declared public modules, each of them an open public
    module (`in_open_public_module`): the namespace of an anonymous API (Kolibri's
    `/public/`, "called externally by other instances of Kolibri"). The views it
    routes from elsewhere (`auth/api.py`'s `PublicFacilityViewSet`) are public
    by design like the ones of its own package; those that set permissions keep
    them. A public URLconf routing no view of a declared public module, or one of
    a public module where a view sets permissions, is not open.

    The read-only views public by design are those of open public modules and
    open public URLconfs left to an open default, and those with an explicit
    `AllowAny`; `row_bases` are the project mixins their rows come from."""
    if not index.uses("rest_framework"):
        return PublicViews()
    classes = index.view(drf_classes)
    opened: dict[str, bool] = {}

    def is_open(module: str) -> bool:
        if module not in opened:
            opened[module] = in_open_public_module(classes, module)
        return opened[module]

    routed: set[str] = set()
    for urlconf, views in index.view(url_routes).items():
        if not is_declared_public(urlconf):
            continue
        homes = set()
        for view in views:
            home = index.module_of(view)
            if home is not None and is_declared_public(home.module):
                homes.add(home.module)
        if homes and all(is_open(home) for home in homes):
            routed.update(views)
    public: set[str] = set()
    for facts in index.modules.values():
        module_open = is_declared_public(facts.module) and is_open(facts.module)
        for name in facts.classes:
            view = f"{facts.module}.{name}"
            if not (classes.is_view(view) and classes.is_leaf(view)):
                continue
            if classes.allows_writes(view):
                continue
            permissions = view_permissions(classes, view)
            if permissions is None:
                continue
            if permissions.state == "allow_any" or (
                permissions.state == "default" and (module_open or view in routed)
            ):
                public.add(view)
    row_bases: set[str] = set()
    for view in public:
        for owner in classes.mro(view)[1:]:
            cls = classes.facts(owner)
            if cls is None or classes.is_view(owner):
                continue
            if any(cls.method(m) or cls.attribute(m) for m in _ROWS_MEMBERS):
                row_bases.add(owner)
    return PublicViews(frozenset(routed), frozenset(row_bases))


def routed_publicly(classes: DrfClasses, view: str) -> bool:
    """A view routed by an open public URLconf (see `public_views`)."""
    return view in classes.index.view(public_views).routed


def serves_public_rows(classes: DrfClasses, view: str) -> bool:
    """A view whose rows come from a project mixin a view public by design
    builds on (`public_views`): its `get_queryset()` (or, DRF's left, its
    `queryset`) is that mixin's. Kolibri's learner `ChannelMetadataViewSet`
    and the anonymous `/public/v2/channel` `PublicChannelMetadataViewSet` share
    `BaseChannelMetadataMixin`: the data is served to anyone already. A view
    defining its own rows, or taking them from a view base, is not one."""
    rows = classes.lookup(view, "get_queryset")
    if not isinstance(rows, Member):
        return False
    if rows.value is None:
        rows = classes.lookup(view, "queryset")
        if not isinstance(rows, Member) or rows.value is None:
            return False
    return rows.owner != view and rows.owner in classes.index.view(public_views).row_bases


@dataclass(frozen=True, slots=True)
class Pagination:
    state: str  # "default" (from settings), "none" (`pagination_class = None`), "set"
    owner: str = ""


def view_pagination(classes: DrfClasses, view: str) -> Pagination | None:
    """How a list view pages; None for views that are not list views or that
    backlint cannot read (its own `list()` or `paginate_queryset()`)."""
    if not classes.is_list_view(view):
        return None
    if _own_list(classes, view):
        return None  # a `list()` of its own, with its own paging or none
    paging = classes.lookup(view, "paginate_queryset")
    if not (isinstance(paging, Member) and paging.value is None):
        return None
    if _bounded_by_hand(classes, view):
        return None
    found = classes.lookup(view, "pagination_class")
    if not isinstance(found, Member) or isinstance(found.value, FunctionFacts):
        return None
    if found.value is None:
        return Pagination("default")
    if found.value == Const(None):
        return Pagination("none", found.owner)
    return Pagination("set", found.owner)


__all__ = [
    "UNKNOWN_CLASS",
    "VIEW_OWN_NAMES",
    "DrfClasses",
    "Member",
    "Pagination",
    "Permissions",
    "PublicViews",
    "RestFrameworkSettings",
    "Unloaded",
    "ViewData",
    "Walked",
    "checks_request_credentials",
    "class_list",
    "drf_classes",
    "in_open_public_module",
    "is_account_flow_view",
    "is_anonymous_view",
    "is_declared_public",
    "is_settings_module",
    "public_views",
    "rest_framework_settings",
    "routed_publicly",
    "serializer_is_model_serializer",
    "serves_public_rows",
    "unloaded_relations",
    "view_data",
    "view_pagination",
    "view_permissions",
]


# ---------------------------------------------------------------------------
# A view's own code (its CST): what BKL403 reads besides the index.

# Exceptions a handler raises to refuse the caller (DRF's and Django's).
_REFUSALS = frozenset({"PermissionDenied", "NotAuthenticated", "AuthenticationFailed"})
# Calls that check the caller's rights (DRF's view API, Django's user API).
_CHECKS = frozenset(
    {
        "permission_denied",
        "check_permissions",
        "check_object_permissions",
        "has_perm",
        "has_perms",
        "has_permission",
        "has_object_permission",
    }
)
# User attributes a handler tests to let the caller in.
_USER_TESTS = frozenset({"is_authenticated", "is_anonymous", "is_staff", "is_superuser"})


def checks_caller_in_methods(node: cst.ClassDef) -> bool:
    """Whether a method of the class checks the caller itself: raises
    `PermissionDenied`/`NotAuthenticated`, calls `self.permission_denied()`,
    `check_object_permissions()`, `user.has_perm()` or a project check named
    like one (`check_permission()`, `require_permission()`), or tests
    `request.user.is_authenticated` / `is_staff` in an `if`."""
    for stmt in node.body.body:
        if not isinstance(stmt, cst.FunctionDef):
            continue
        for inner in descendants(stmt.body):
            if isinstance(inner, cst.Raise) and inner.exc is not None:
                exc = inner.exc.func if isinstance(inner.exc, cst.Call) else inner.exc
                if last_name(exc) in _REFUSALS:
                    return True
            elif isinstance(inner, cst.Call):
                called = last_name(inner.func) or ""
                if called in _CHECKS or "permission" in called.lower():
                    return True
            elif isinstance(inner, cst.If | cst.IfExp | cst.Assert) and any(
                isinstance(test, cst.Attribute) and test.attr.value in _USER_TESTS
                for test in (inner.test, *descendants(inner.test))
            ):
                return True
    return False


# Words of a function's name (split on `_`) saying it checks a credential the
# request carries, with a word saying it tests it (`valid_app_key_on_request`,
# `has_valid_token`, `is_authenticated`, `check_api_key`); `get_cache_key` is
# no test.
_CREDENTIAL_WORDS = frozenset(
    {"key", "apikey", "token", "credential", "credentials", "signature", "secret"}
    | {"auth", "authenticated", "authorized", "authorised"}
)
_TEST_WORDS = frozenset({"valid", "is", "has", "check", "verify", "verified"})


def checks_request_credentials(node: cst.ClassDef) -> bool:
    """Whether a method of the class tests, in an `if`, a check of a credential
    the request carries: a call named like one (`_CREDENTIAL_WORDS` and
    `_TEST_WORDS`) given `request` or `self.request` (Kolibri's
    `FacilityUsernameViewSet.get_queryset`: `if valid_app_key_on_request(
    self.request): return FacilityUser.objects.all()`, else only the users
    its login page lists). Like a test of `request.user.is_authenticated`,
    the view decides what each caller gets."""
    for stmt in node.body.body:
        if not isinstance(stmt, cst.FunctionDef):
            continue
        for inner in descendants(stmt.body):
            if not isinstance(inner, cst.If | cst.IfExp):
                continue
            for test in (inner.test, *descendants(inner.test)):
                if isinstance(test, cst.Call) and _is_credential_check(test):
                    return True
    return False


def _is_credential_check(call: cst.Call) -> bool:
    words = set((last_name(call.func) or "").lower().split("_"))
    if not (words & _CREDENTIAL_WORDS and words & _TEST_WORDS):
        return False
    return any(is_request(arg.value) for arg in call.args)


def takes_no_credentials(classes: DrfClasses, qualname: str) -> bool:
    """`authentication_classes = ()`: the view takes no session or token at
    all, so `AllowAny` is its design (a device pairing endpoint that checks a
    one-time code in the body), not an omission."""
    found = classes.lookup(qualname, "authentication_classes")
    return isinstance(found, Member) and isinstance(found.value, Seq) and not found.value.items


def csrf_exempt_by_drf(classes: DrfClasses, qualname: str) -> bool:
    """Whether `qualname` is a DRF view class made into a view by DRF's own
    `as_view()`, which returns `csrf_exempt(view)` (`APIView.as_view`,
    `ViewSetMixin.as_view`, and so `@api_view` too): Django's CSRF
    middleware never checks it, and `SessionAuthentication.enforce_csrf`
    runs the check itself with no view callback, so no `csrf_exempt` marker
    is consulted. A `csrf_exempt` on such a view changes nothing. A project
    class of its MRO that defines `as_view` says no (it could build the view
    another way)."""
    if not classes.is_view(qualname):
        return False
    found = classes.lookup(qualname, "as_view")
    return not (isinstance(found, Member) and found.value is not None)
