"""BKL607 cors-wildcard-with-credentials."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import Assigned, ScopeKind
from backlint.semantics.facts import Const
from backlint.semantics.flow import literal_value, local_values, module_constant
from backlint.semantics.security import (
    CORS_ALLOW_ALL_SETTINGS,
    CORS_CREDENTIALS_SETTING,
    CORS_MIDDLEWARE,
    is_wildcard_origin_regex,
)
from backlint.semantics.settings import (
    base_modules,
    base_setting_matters,
    module_settings_kind,
    settings_kind,
    siblings,
)


class CorsWildcardWithCredentials(Rule):
    """CORS that lets every origin make credentialed requests.

    What it flags:
    Starlette/FastAPI's `CORSMiddleware` (through `app.add_middleware(...)`,
    `Middleware(...)` or a direct call) with `allow_credentials=True` and
    `allow_origins` holding `"*"` or an `allow_origin_regex` that names no
    domain (`".*"`); django-cors-headers' `CORS_ALLOW_ALL_ORIGINS = True` (or
    the older `CORS_ORIGIN_ALLOW_ALL`) in production settings whose
    `CORS_ALLOW_CREDENTIALS` is `True` (in the same module or the shared
    `base.py` it builds on). Reported at the call, or at the allow-all
    assignment.

    Why:
    With credentials allowed, the middleware echoes the caller's `Origin`
    back instead of `*`: any web page a logged-in user visits can call the
    API with their cookies and read the answers.

    Example:
    ```python
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware

    app = FastAPI()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_credentials=True,
        allow_methods=["*"],
    )
    ```

    Use instead:
    ```python
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware

    app = FastAPI()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["https://app.example.com"],
        allow_credentials=True,
        allow_methods=["*"],
    )
    ```

    Not flagged:
    Explicit origin lists; an `allow_origin_regex` that names a domain
    (`r"https://.*\\.example\\.com"`); every origin without credentials;
    values read from configuration or the environment (backlint cannot see
    them); dev, local and test settings; test files.

    Fix:
    None: list the origins that may call the API with credentials.
    """

    code = "BKL607"
    name = "cors-wildcard-with-credentials"
    message = (
        "{what} together with credentials: any site can call the API as the user; "
        "list the allowed origins"
    )
    markers = ("CORSMiddleware", "CORS_")
    skip_tests = True
    skip_migrations = True

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        args = list(node.args)
        func = node.func
        if (isinstance(func, cst.Attribute) and func.attr.value == "add_middleware") or (
            ctx.qualified_name(func)
            in ("starlette.middleware.Middleware", "fastapi.middleware.Middleware")
        ):
            if not args or ctx.qualified_name(args[0].value) not in CORS_MIDDLEWARE:
                return
        elif ctx.qualified_name(func) not in CORS_MIDDLEWARE:
            return
        keywords = {a.keyword.value: a.value for a in args if a.keyword is not None}
        credentials = keywords.get("allow_credentials")
        if credentials is None or not self._true(credentials):
            return
        origins = keywords.get("allow_origins")
        if origins is not None and self._has_star(origins):
            self.report(node, what='`allow_origins=["*"]`')
            return
        regex = keywords.get("allow_origin_regex")
        if regex is not None:
            pattern = self._string(regex)
            if pattern is not None and is_wildcard_origin_regex(pattern):
                self.report(node, what=f'`allow_origin_regex="{pattern}"`')

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if self.ctx.scope.kind is not ScopeKind.MODULE:
            return
        for small in node.body:
            if not isinstance(small, cst.Assign | cst.AnnAssign) or small.value is None:
                continue
            target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
            if not (isinstance(target, cst.Name) and target.value in CORS_ALLOW_ALL_SETTINGS):
                continue
            const = literal_value(small.value)
            if const is None or const.value is not True:
                continue
            if self._django_credentials(target.value):
                self.report(small, what=f"`{target.value} = True`")

    # ------------------------------------------------------------------

    def _django_credentials(self, setting: str) -> bool:
        ctx = self.ctx
        kind = module_settings_kind(ctx)
        if kind is None or kind == "non-production":
            return False
        if kind == "base" and not base_setting_matters(ctx, setting):
            return False
        own = ctx.scope_facts(ctx.module_scope).bindings.get(CORS_CREDENTIALS_SETTING)
        if own is not None:
            values = [b.value if isinstance(b, Assigned) else None for b in own]
            return all(
                v is not None and (lit := literal_value(v)) is not None and lit.value is True
                for v in values
            )
        modules = base_modules(ctx)
        if kind == "base":
            modules += [
                f
                for f in siblings(ctx.index, ctx.module, ctx.is_package)
                if settings_kind(f.path, f.module, f.is_package, set(f.assignments)) == "production"
            ]
        return any(f.assignments.get(CORS_CREDENTIALS_SETTING) == Const(True) for f in modules)

    def _values(self, expr: cst.BaseExpression) -> list[cst.BaseExpression]:
        if isinstance(expr, cst.Name) and literal_value(expr) is None:
            local = local_values(self.ctx, expr.value)
            if local is not None:
                return list(local.values)
            _owner, bindings = self.ctx.bindings(expr.value)
            return [v for b in bindings if (v := getattr(b, "value", None)) is not None]
        return [expr]

    def _true(self, expr: cst.BaseExpression) -> bool:
        values = self._values(expr)
        return bool(values) and all(
            (c := literal_value(v)) is not None and c.value is True for v in values
        )

    def _has_star(self, expr: cst.BaseExpression) -> bool:
        for value in self._values(expr):
            if isinstance(value, cst.List | cst.Tuple | cst.Set):
                for element in value.elements:
                    if self._string(element.value) == "*":
                        return True
        return False

    def _string(self, expr: cst.BaseExpression) -> str | None:
        const = literal_value(expr) or module_constant(self.ctx, expr)
        return const.value if const is not None and isinstance(const.value, str) else None
