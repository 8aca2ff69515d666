"""Configuration knowledge: Django settings modules, values read from the
environment, pydantic `BaseSettings` classes, and project-wide settings such as
`REST_FRAMEWORK` or `INSTALLED_APPS` read from the index.

Which settings module is a production one:

* a single `settings.py` (or `<x>_settings.py`) is production settings;
* in split settings (a `settings/` package), `prod.py`, `production.py`,
  `live.py`, `staging.py`, `deploy.py`... are production; `dev*.py`,
  `develop*.py`, `local*.py`, `test*.py`, `ci.py` are not;
* a split package's shared module (`base.py`, `common.py`, `defaults.py`, the
  package's `__init__.py`) is deployed only through the modules built on it:
  a value it sets matters when a production sibling exists that does not set
  the same name again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

import libcst as cst

from backlint.semantics.context import FileContext, Imported, Scope
from backlint.semantics.facts import ModuleFacts, Seq, Value, const_str, dotted
from backlint.semantics.index import ProjectIndex, data_view
from backlint.types import NON_PRODUCTION_PACKAGES

# Names a module assigns that make it a Django settings module whatever its name.
DJANGO_SETTINGS_NAMES = frozenset(
    {"INSTALLED_APPS", "ROOT_URLCONF", "MIDDLEWARE", "WSGI_APPLICATION", "DATABASES"}
)
# Words of a settings module's file name that mark it as not deployed.
NON_PRODUCTION_WORDS = frozenset(
    {
        "dev",
        "devel",
        "develop",
        "development",
        "local",
        "test",
        "tests",
        "testing",
        "ci",
        "debug",
        "example",
        "sample",
        "sandbox",
        # Settings for building a wheel or the docs (`_build_settings.py`):
        # `collectstatic` or Sphinx run with them, no site does.
        "build",
        "docs",
    }
)
# File names of the shared module of split settings.
BASE_NAMES = frozenset({"base", "common", "defaults", "default", "shared", "core", "__init__"})
# Calls that read the environment: os, django-environ, python-decouple, pydantic.
ENVIRONMENT_CALLS = frozenset(
    {
        "os.getenv",
        "os.environ.get",
        "os.environ.setdefault",
        "os.environ.__getitem__",
        "decouple.config",
        "environ.Env",
    }
)
# Classes whose annotated fields pydantic fills from the environment.
BASE_SETTINGS = frozenset(
    {
        "pydantic.BaseSettings",
        "pydantic.env_settings.BaseSettings",
        "pydantic_settings.BaseSettings",
        "pydantic_settings.main.BaseSettings",
    }
)

SettingsKind = Literal["production", "base", "non-production"]

_WORD = re.compile(r"[a-z0-9]+")


def _words(stem: str) -> list[str]:
    return _WORD.findall(stem.lower())


def settings_kind(
    path: str, module: str, is_package: bool, assigned: frozenset[str] | set[str]
) -> SettingsKind | None:
    """What kind of Django settings module a file is, or None when it is not one.

    `assigned`: the names the module assigns at module level. The package
    comes from the module name (directories with `__init__.py`), never from
    directories above the project.
    """
    stem = PurePath(path).stem
    packages = module.split(".") if is_package else module.split(".")[:-1]
    parent = packages[-1].lower() if packages else ""
    in_settings_package = parent == "settings" or parent.endswith("_settings")
    named_settings = "settings" in _words(stem)
    if not (in_settings_package or named_settings or assigned & DJANGO_SETTINGS_NAMES):
        return None
    if NON_PRODUCTION_PACKAGES.intersection(p.lower() for p in packages):
        return "non-production"  # `tests/settings.py`, `test_project.settings`
    if any("template" in f.lower() or "{{" in f for f in PurePath(path).parts[:-1]):
        return "non-production"  # `project_template/`, a cookiecutter's `{{...}}/`
    words = set(_words(stem)) | set(_words(parent))
    if any(w.startswith(("dev", "test", "local")) for w in words):
        return "non-production"
    if (in_settings_package or named_settings) and words & NON_PRODUCTION_WORDS:
        return "non-production"  # `settings_example.py`, `sandbox/settings.py`
    if in_settings_package and stem in BASE_NAMES:
        return "base"
    return "production"


# Loaders that let the environment override every setting of the module
# (dynaconf: `PULP_ALLOWED_HOSTS=...` replaces `ALLOWED_HOSTS`): the values the
# module writes are defaults, like `env("X", default=...)`.
ENVIRONMENT_LOADERS = frozenset({"dynaconf.DjangoDynaconf", "dynaconf.contrib.DjangoDynaconf"})
# Exceptions a project raises when it checks the Host header itself.
HOST_CHECK_EXCEPTIONS = frozenset(
    {"django.core.exceptions.DisallowedHost", "django.http.request.DisallowedHost"}
)


def overridden_by_environment(ctx: FileContext) -> bool:
    """The settings module hands itself to a loader that reads every setting
    from the environment (`settings = DjangoDynaconf(__name__)`)."""
    key = ("settings.env_loader", 0)
    if key not in ctx.cache:
        found = False
        if "Dynaconf(" in ctx.source:
            for bindings in ctx.scope_facts(ctx.module_scope).bindings.values():
                for binding in bindings:
                    if isinstance(binding, Imported) and binding.qualified in ENVIRONMENT_LOADERS:
                        found = True
        ctx.cache[key] = found
    result: bool = ctx.cache[key]
    return result


@data_view
def checks_host_itself(index: ProjectIndex) -> bool:
    """A module of the project (not a test) imports `DisallowedHost`: the
    project validates the Host header in its own middleware (multi-domain
    sites), and `ALLOWED_HOSTS = ["*"]` only hands that check over to it."""
    return any(
        not _is_test_path(facts.path)
        and any(q in HOST_CHECK_EXCEPTIONS for q in facts.imports.values())
        for facts in index.modules.values()
    )


def _is_test_path(path: str) -> bool:
    parts = PurePath(path).parts
    name = parts[-1] if parts else ""
    return (
        not NON_PRODUCTION_PACKAGES.isdisjoint(parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def module_settings_kind(ctx: FileContext) -> SettingsKind | None:
    """`settings_kind` of the file being linted."""
    key = ("settings.kind", 0)
    if key not in ctx.cache:
        # The names the module binds, from the file itself (its index entry
        # may be another file of the same module name).
        assigned = set(ctx.scope_facts(ctx.module_scope).bindings)
        ctx.cache[key] = settings_kind(ctx.path, ctx.module, ctx.is_package, assigned)
    kind: SettingsKind | None = ctx.cache[key]
    return kind


def siblings(index: ProjectIndex, module: str, is_package: bool = False) -> list[ModuleFacts]:
    """The other modules of the package `module` belongs to (is, for an
    `__init__.py`)."""
    package = module if is_package else module.rpartition(".")[0]
    if not package:
        return []
    prefix = package + "."
    return [
        facts
        for name, facts in index.modules.items()
        if name != module and name.startswith(prefix) and "." not in name[len(prefix) :]
    ]


def base_setting_matters(ctx: FileContext, name: str) -> bool:
    """For a split settings package's shared module: whether a production
    sibling exists that leaves `name` as the shared module set it."""
    production = [
        facts
        for facts in siblings(ctx.index, ctx.module, ctx.is_package)
        if settings_kind(facts.path, facts.module, facts.is_package, set(facts.assignments))
        == "production"
    ]
    return any(name not in facts.assignments for facts in production)


def base_modules(ctx: FileContext) -> list[ModuleFacts]:
    """The shared modules a split settings module builds on (its siblings
    named `base`, `common`... and the package's `__init__`)."""
    out = [f for f in siblings(ctx.index, ctx.module) if PurePath(f.path).stem in BASE_NAMES]
    package = ctx.index.modules.get(ctx.module.rpartition(".")[0])
    if package is not None and package.is_package:
        out.append(package)
    return out


# --------------------------------------------------------------------------
# Values.


def is_environment_read(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    """`os.environ["X"]`, `os.getenv(...)`, `env("X")`/`env.bool(...)` of
    django-environ (an `environ.Env()` instance), `config("X")` of decouple."""
    if isinstance(expr, cst.Subscript):
        return ctx.qualified_name(expr.value) == "os.environ"
    if not isinstance(expr, cst.Call):
        return False
    func = expr.func
    name = ctx.qualified_name(func)
    if name in ENVIRONMENT_CALLS:
        return True
    # `env.bool(...)`, `env.str(...)`, `env(...)` with `env = environ.Env()`.
    target = func.value if isinstance(func, cst.Attribute) else func
    if isinstance(target, cst.Name):
        _, bindings = ctx.bindings(target.value)
        for binding in bindings:
            value = getattr(binding, "value", None)
            if isinstance(value, cst.Call) and ctx.qualified_name(value.func) == "environ.Env":
                return True
    return False


# --------------------------------------------------------------------------
# Project-wide settings, from every module's assignments.


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """What the project's settings modules say, merged over every module."""

    # A login-attempt limiter for Django: django-axes or django-defender in
    # INSTALLED_APPS, MIDDLEWARE or AUTHENTICATION_BACKENDS.
    django_login_limiter: bool
    # The project deploys Django: a production or base settings module sets
    # ROOT_URLCONF or lists INSTALLED_APPS or MIDDLEWARE. Without one it is a
    # library of apps (Django itself, a CMS): how a site that installs them
    # limits rates is not in view.
    deploys_django: bool


_LIMITER_APPS = ("axes", "defender")


def _strings(value: Value | None) -> list[str]:
    if isinstance(value, Seq):
        return [s for s in (const_str(v) for v in value.items) if s is not None]
    return []


def _configures_a_site(facts: ModuleFacts) -> bool:
    """Sets ROOT_URLCONF, or lists INSTALLED_APPS or MIDDLEWARE (Django's own
    `global_settings` leaves them empty)."""
    if "ROOT_URLCONF" in facts.assignments:
        return True
    for name in ("INSTALLED_APPS", "MIDDLEWARE"):
        value = facts.assignments.get(name)
        if value is not None and not (isinstance(value, Seq) and not value.items):
            return True
    return False


@data_view
def project_settings(index: ProjectIndex) -> ProjectSettings:
    limiter = False
    deploys = False
    for facts in index.modules.values():
        for name in ("INSTALLED_APPS", "MIDDLEWARE", "AUTHENTICATION_BACKENDS"):
            for entry in _strings(facts.assignments.get(name)):
                if entry.split(".", 1)[0] in _LIMITER_APPS:
                    limiter = True
        if not deploys and _configures_a_site(facts):
            kind = settings_kind(facts.path, facts.module, facts.is_package, set(facts.assignments))
            deploys = kind in ("production", "base")
    return ProjectSettings(limiter, deploys)


# --------------------------------------------------------------------------
# pydantic settings classes.


def _is_settings_class_name(index: ProjectIndex, qualname: str, depth: int = 0) -> bool:
    qualname = index.canonical(qualname)
    if qualname in BASE_SETTINGS:
        return True
    cls = index.find_class(qualname) if depth < 10 else None
    if cls is None:
        return False
    return any(
        _is_settings_class_name(index, name, depth + 1)
        for name in (dotted(base) for base in cls.bases)
        if name is not None
    )


def is_pydantic_settings_class(ctx: FileContext, node: cst.ClassDef, scope: Scope) -> bool:
    """A subclass of pydantic's `BaseSettings` (through project classes too)."""
    for base in node.bases:
        name = ctx.qualified_name(base.value, scope)
        if name is not None and _is_settings_class_name(ctx.index, name):
            return True
    return False
