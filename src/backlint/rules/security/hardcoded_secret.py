"""BKL602 hardcoded-secret."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext, ScopeKind
from backlint.semantics.facts import Const
from backlint.semantics.flow import literal_value, module_constant
from backlint.semantics.security import (
    JWT_DECODE,
    JWT_ENCODE,
    is_password_name,
    is_placeholder_text,
    is_secret_literal,
    is_secret_name,
    is_secret_text,
    sentinel_defaults,
)
from backlint.semantics.settings import (
    base_setting_matters,
    is_pydantic_settings_class,
    module_settings_kind,
    overridden_by_environment,
)
from backlint.semantics.tree import descendants
from backlint.types import SourceFile

# Calls of pydantic that wrap a field's default.
_FIELD_CALLS = frozenset({"pydantic.Field", "pydantic.fields.Field", "pydantic_settings.Field"})
_SECRET_WRAPPERS = frozenset(
    {"pydantic.SecretStr", "pydantic.types.SecretStr", "pydantic.SecretBytes"}
)


# A file with one of these may hold a secret the rule sees.
_MARKERS = ("jwt", "secret_key", "SECRET_KEY", "Settings", "INSTALLED_APPS", "ROOT_URLCONF")
_SECRET_WORDS = ("SECRET", "secret", "PASSWORD", "password", "TOKEN", "token", "KEY", "_key")


class HardcodedSecret(Rule):
    """A literal secret in configuration.

    What it flags:
    A non-empty string literal given to a secret: Django's `SECRET_KEY` and
    other settings named like a secret (`EMAIL_HOST_PASSWORD`,
    `AWS_SECRET_ACCESS_KEY`) in a production settings module (a single
    `settings.py`, `settings/prod.py`; in `settings/base.py` only when a
    production module does not set it again); a field of a pydantic
    `BaseSettings` class named like a secret (`secret`, `password`, `token`,
    `api_key`, `private_key`...) with a literal default, bare or through
    `Field(...)`/`SecretStr(...)`; a literal key (or a module constant holding
    one) passed to `jwt.encode`/`jwt.decode` (PyJWT, python-jose); Flask's
    `app.secret_key = "..."` and `app.config["SECRET_KEY"] = "..."`; a
    `secret_key="..."` argument (Starlette's `SessionMiddleware`). Reported
    at the assignment, or at the call.

    Why:
    A secret in the source is in every clone, fork, backup and CI log of the
    repository, and cannot be rotated without a deploy. With Django's
    `SECRET_KEY` or a JWT key, anyone who has read the code can sign session
    cookies, password-reset links and tokens.

    Example:
    ```python
    from pydantic_settings import BaseSettings

    class Settings(BaseSettings):
        database_url: str = "postgresql://localhost/app"
        jwt_secret: str = "s3cr3t-do-not-share"
    ```

    Use instead:
    ```python
    from pydantic import SecretStr
    from pydantic_settings import BaseSettings

    class Settings(BaseSettings):
        database_url: str = "postgresql://localhost/app"
        jwt_secret: SecretStr  # required: read from the JWT_SECRET variable
    ```

    Not flagged:
    Values read from the environment (`os.environ[...]`, `os.getenv(...)`,
    django-environ's `env(...)`, a `BaseSettings` field without a default),
    even with a literal fallback; empty strings; placeholders such as
    `"${SECRET}"` and file paths (`private_key = "/run/secrets/key.pem"`);
    names that mention a secret without holding one (`token_url`,
    `access_token_expire_minutes`, `password_min_length`); dev, local and
    test settings modules, build-only settings (`_build_settings.py`, used to
    build a wheel or the docs) and the defaults of a module dynaconf loads
    (`DjangoDynaconf(__name__)`); the placeholder default of a password
    field in a settings class for a connection (a class that also has a
    `host`/`server`/`port`/`url` field) when the value says it is one
    (`testpassword`, `defaultpassword`, `change-me`: only words such as
    test, default, dev, change, me, example, dummy beside password/secret):
    it is the client's password for a server the deployer sets up with its
    own, so it hides nothing; keys and tokens the application signs or
    encrypts with (`encryption_key = "test_encryption_key"`) stay flagged,
    as do a bare `"password"` and other values; keys their vendor issues to
    be embedded in clients, told by their prefix (PostHog project keys
    `phc_`, Stripe-style publishable keys `pk_live_`/`pk_test_`, Mapbox
    public tokens `pk.eyJ`): they can only send data in, and shipping them
    is the vendor's design (skyvern's telemetry key); a default the project
    compares the same setting with somewhere (`settings.SKYVERN_API_KEY !=
    "PLACEHOLDER"`, `ENCRYPTOR_AES_SECRET_KEY != "fillmein"`, in any module):
    the code treats it as "not configured", a sentinel, not a secret (missed
    alarm: another reader that uses the sentinel unchecked). Not for a
    setting named `SECRET_KEY`, the application's signing key by
    convention, which stays flagged even when compared: skyvern warns about
    its `SECRET_KEY = "PLACEHOLDER"` but still signs API-key JWTs with it; a
    comparison with something other than the literal
    (`model_fields["SECRET_KEY"].default`) is not seen either. Test files.
    Secrets in other places (a literal password passed to a database
    driver in application code) are not seen.

    Fix:
    None: read the value from the environment or a secrets manager, and
    rotate the secret that was committed.
    """

    code = "BKL602"
    name = "hardcoded-secret"
    message = "hard-coded secret {what}: read it from the environment or a secrets manager"
    skip_tests = True
    skip_migrations = True

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        """Settings modules, pydantic settings, JWT calls, Flask and session keys."""
        if file.is_test or file.is_migration:
            return False
        if any(marker in source for marker in _MARKERS):
            return True
        module = file.module.lower()
        return ("settings" in module or "config" in module) and any(
            word in source for word in _SECRET_WORDS
        )

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        source = ctx.source
        self._calls = "jwt" in source or "secret_key=" in source

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        ctx = self.ctx
        if ctx.scope.kind is ScopeKind.MODULE:
            for small in node.body:
                if isinstance(small, cst.Assign | cst.AnnAssign):
                    self._setting(small)
        elif ctx.scope.kind is not ScopeKind.CLASS:
            for small in node.body:
                if isinstance(small, cst.Assign):
                    self._flask(small)
        if self._calls:
            for child in descendants(node, prune=(cst.Lambda,)):
                if isinstance(child, cst.Call):
                    self._call(child)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        ctx = self.ctx
        if not is_pydantic_settings_class(ctx, node, ctx.scope):
            return
        if not isinstance(node.body, cst.IndentedBlock):
            return
        for stmt in node.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                target: cst.BaseExpression | None = None
                value: cst.BaseExpression | None = None
                if isinstance(small, cst.AnnAssign):
                    target, value = small.target, small.value
                elif isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target, value = small.targets[0].target, small.value
                if not isinstance(target, cst.Name) or value is None:
                    continue
                default = self._literal_default(value)
                if default is None or not is_secret_name(target.value):
                    continue
                if (
                    is_password_name(target.value)
                    and _connects(node)
                    and is_placeholder_text(default.value)
                ):
                    continue  # a dev default of a server's password, not a secret
                if self._sentinel(target.value, default.value):
                    continue
                self.report(small, what=f"`{target.value}` (settings field default)")

    # ------------------------------------------------------------------

    def _literal_default(self, value: cst.BaseExpression) -> Const | None:
        """The literal secret default of a field, bare or through
        `Field(...)`/`SecretStr(...)`."""
        if is_secret_literal(value):
            return literal_value(value)
        if isinstance(value, cst.Call):
            name = self.ctx.qualified_name(value.func)
            if name in _SECRET_WRAPPERS and value.args:
                return self._literal_default(value.args[0].value)
            if name in _FIELD_CALLS:
                for arg in value.args:
                    if arg.keyword is None or arg.keyword.value == "default":
                        return literal_value(arg.value) if is_secret_literal(arg.value) else None
        return None

    def _setting(self, stmt: cst.Assign | cst.AnnAssign) -> None:
        targets = (
            [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
        )
        value = stmt.value
        if value is None or not is_secret_literal(value):
            return
        for target in targets:
            if isinstance(target, cst.Name) and is_secret_name(target.value):
                const = literal_value(value)
                if self._production_setting(target.value) and not (
                    const is not None and self._sentinel(target.value, const.value)
                ):
                    self.report(stmt, what=f"`{target.value}`")
                return
            if isinstance(stmt, cst.Assign) and self._flask_target(target):
                self.report(stmt, what=f"`{self.ctx.tree.code_for_node(target)}`")
                return

    def _sentinel(self, name: str, value: object) -> bool:
        """A default the project compares the setting with somewhere
        (`settings.SKYVERN_API_KEY != "PLACEHOLDER"`, `!= "fillmein"`): the
        code treats it as "not configured", so it is a sentinel, not a
        secret. Not for a setting named `SECRET_KEY`: the application's
        signing key by convention (Django, Flask, Starlette, JWT helpers),
        which the framework or the auth code signs with whatever one
        caller compares (skyvern's `SECRET_KEY = "PLACEHOLDER"` is only
        warned about and still signs API-key JWTs)."""
        return (
            isinstance(value, str)
            and name.lower() != "secret_key"
            and (name, value) in self.ctx.index.view(sentinel_defaults)
        )

    def _production_setting(self, name: str) -> bool:
        if overridden_by_environment(self.ctx):
            return False  # defaults the environment overrides (dynaconf)
        kind = module_settings_kind(self.ctx)
        if kind == "production":
            return True
        return kind == "base" and base_setting_matters(self.ctx, name)

    def _flask(self, stmt: cst.Assign) -> None:
        if stmt.value is None or not is_secret_literal(stmt.value):
            return
        for target in stmt.targets:
            if self._flask_target(target.target):
                self.report(stmt, what=f"`{self.ctx.tree.code_for_node(target.target)}`")
                return

    @staticmethod
    def _flask_target(target: cst.BaseExpression) -> bool:
        """`app.secret_key`, `app.config["SECRET_KEY"]`."""
        if isinstance(target, cst.Attribute):
            return target.attr.value == "secret_key"
        if isinstance(target, cst.Subscript) and len(target.slice) == 1:
            index = target.slice[0].slice
            receiver = target.value
            name = receiver.attr.value if isinstance(receiver, cst.Attribute) else None
            name = receiver.value if isinstance(receiver, cst.Name) else name
            return (
                name is not None
                and name.lower().endswith("config")
                and isinstance(index, cst.Index)
                and isinstance(index.value, cst.SimpleString)
                and isinstance(index.value.evaluated_value, str)
                and is_secret_name(index.value.evaluated_value)
            )
        return False

    def _call(self, call: cst.Call) -> None:
        ctx = self.ctx
        for arg in call.args:
            if (
                arg.keyword is not None
                and arg.keyword.value == "secret_key"
                and is_secret_literal(arg.value)
            ):
                self.report(call, what="`secret_key=`")
                return
        name = ctx.qualified_name(call.func)
        if name not in JWT_DECODE and name not in JWT_ENCODE:
            return
        key: cst.BaseExpression | None = None
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if len(positional) >= 2:
            key = positional[1].value
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "key":
                key = arg.value
        if key is None:
            return
        if is_secret_literal(key):
            self.report(call, what=f"key passed to `{name}`")
            return
        const = module_constant(ctx, key)
        if const is not None and is_secret_text(const.value):
            self.report(call, what=f"key passed to `{name}`")


# Fields of a settings class that say it configures a connection to a server.
_CONNECTION_FIELDS = frozenset(
    {"host", "hostname", "server", "port", "url", "uri", "dsn", "address", "endpoint"}
)


def _connects(node: cst.ClassDef) -> bool:
    """A settings class for a connection: it also has a host, server, port
    or URL field (`RedisSettings.host`, `DatabaseSettings.server`)."""
    if not isinstance(node.body, cst.IndentedBlock):
        return False
    for stmt in node.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.AnnAssign)
                    and isinstance(small.target, cst.Name)
                    and small.target.value.lower() in _CONNECTION_FIELDS
                ):
                    return True
    return False
