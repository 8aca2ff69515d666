"""BKL604 django-insecure-settings."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import ScopeKind
from backlint.semantics.flow import literal_value
from backlint.semantics.settings import (
    base_setting_matters,
    checks_host_itself,
    module_settings_kind,
    overridden_by_environment,
)


class DjangoInsecureSettings(Rule):
    """`DEBUG = True` or a wildcard `ALLOWED_HOSTS` in production settings.

    What it flags:
    In a production Django settings module, `DEBUG = True` written as a
    literal, and `ALLOWED_HOSTS` (assigned or extended) holding `"*"`.
    Production settings: a single `settings.py` (or `<name>_settings.py`, or
    a module that defines `INSTALLED_APPS`/`ROOT_URLCONF`/`MIDDLEWARE`), and in a
    `settings/` package every module but `dev*`, `local*`, `test*`, `ci`
    and examples; the package's shared module (`base.py`, `common.py`,
    `__init__.py`) when a production module built on it does not set the
    name again. Reported at the assignment.

    Why:
    With `DEBUG = True` every error page shows the settings, the SQL, local
    variables and the source to whoever triggers it, and Django keeps every
    query in memory. `ALLOWED_HOSTS = ["*"]` turns off the Host header check
    that protects password-reset links and cache keys from host poisoning.

    Example:
    ```python
    # settings.py
    INSTALLED_APPS = ["django.contrib.auth", "shop"]
    ROOT_URLCONF = "shop.urls"
    DEBUG = True
    ALLOWED_HOSTS = ["*"]
    ```

    Use instead:
    ```python
    # settings.py
    import os

    INSTALLED_APPS = ["django.contrib.auth", "shop"]
    ROOT_URLCONF = "shop.urls"
    DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
    ALLOWED_HOSTS = os.environ["DJANGO_ALLOWED_HOSTS"].split(",")
    ```

    Not flagged:
    Values read from the environment (`os.environ`, `os.getenv`,
    django-environ's `env.bool("DEBUG", default=True)`), whatever their
    default, and the defaults of a module that dynaconf loads
    (`DjangoDynaconf(__name__)`: the environment overrides every setting);
    `ALLOWED_HOSTS = ["*"]` in a project that checks the Host header in its
    own middleware (a module imports `DisallowedHost`); build-only settings
    (`_build_settings.py`, `docs_settings.py`); `settings/dev*.py`,
    `local*.py`, `test*.py` and example or sandbox settings; a shared
    `base.py` whose value every production module overrides; test files.
    Settings changed at run time, or a DEBUG computed from something else,
    are not seen.

    Fix:
    None: read the value from the environment, defaulting to the safe one.
    """

    code = "BKL604"
    name = "django-insecure-settings"
    message = "{what} in production settings: {cure}"
    markers = ("DEBUG", "ALLOWED_HOSTS")
    skip_tests = True
    skip_migrations = True

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if self.ctx.scope.kind is not ScopeKind.MODULE:
            return
        for small in node.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                self._check(small, small.targets[0].target, small.value)
            elif isinstance(small, cst.AnnAssign | cst.AugAssign) and small.value is not None:
                self._check(small, small.target, small.value)

    def _check(
        self, stmt: cst.BaseSmallStatement, target: cst.BaseExpression, value: cst.BaseExpression
    ) -> None:
        if not isinstance(target, cst.Name) or target.value not in ("DEBUG", "ALLOWED_HOSTS"):
            return
        if target.value == "DEBUG":
            const = literal_value(value)
            if const is None or const.value is not True:
                return
            what, cure = "`DEBUG = True`", "read it from the environment, default False"
        else:
            if not isinstance(value, cst.List | cst.Tuple | cst.Set):
                return
            if not any(_is_star(el.value) for el in value.elements):
                return
            what, cure = '`ALLOWED_HOSTS` allows `"*"`', "list the served host names"
        if target.value == "ALLOWED_HOSTS" and self.ctx.index.view(checks_host_itself):
            return  # the project's own middleware validates the Host header
        if overridden_by_environment(self.ctx):
            return  # defaults of settings the environment overrides (dynaconf)
        kind = module_settings_kind(self.ctx)
        if kind == "production" or (
            kind == "base" and base_setting_matters(self.ctx, target.value)
        ):
            self.report(stmt, what=what, cure=cure)


def _is_star(expr: cst.BaseExpression) -> bool:
    const = literal_value(expr)
    return const is not None and const.value == "*"
