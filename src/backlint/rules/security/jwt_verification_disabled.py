"""BKL605 jwt-verification-disabled."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.flow import literal_value, local_values
from backlint.semantics.security import JWT_DECODE


class JwtVerificationDisabled(Rule):
    """A JWT decoded without verifying its signature.

    What it flags:
    `jwt.decode(...)` of PyJWT or python-jose with
    `options={"verify_signature": False}` (a dict display, `dict(...)`, or a
    local variable holding one), with `verify=False` (PyJWT 1.x), or with
    `algorithms` that allow `"none"`. Reported at the call.

    Why:
    Without the signature check a token says whatever its bearer wrote in
    it: anyone can make themselves any user, or an admin. The `none`
    algorithm is the same hole: a token that declares it carries no
    signature at all.

    Example:
    ```python
    import jwt

    def current_user_id(token: str) -> str:
        claims = jwt.decode(token, options={"verify_signature": False})
        return claims["sub"]
    ```

    Use instead:
    ```python
    import os

    import jwt

    def current_user_id(token: str) -> str:
        claims = jwt.decode(token, os.environ["JWT_KEY"], algorithms=["HS256"])
        return claims["sub"]
    ```

    Not flagged:
    Turning off other checks (`verify_exp`, `verify_aud`); reading the
    unverified header to pick a key (`jwt.get_unverified_header`); options
    built elsewhere than in the function (a parameter, a module constant);
    test files.

    Fix:
    None: pass the key and the expected `algorithms`; to read claims before
    choosing a key, verify once the key is known.
    """

    code = "BKL605"
    name = "jwt-verification-disabled"
    message = "`{func}` {what}: anyone can forge a token; verify the signature"
    markers = ("jwt",)
    skip_tests = True
    skip_migrations = True

    def visit_Call(self, node: cst.Call) -> None:
        name = self.ctx.qualified_name(node.func)
        if name not in JWT_DECODE:
            return
        for arg in node.args:
            if arg.keyword is None:
                continue
            key = arg.keyword.value
            if key == "options" and self._signature_off(arg.value):
                self.report(node, func=name, what="skips the signature check")
                return
            if key == "verify" and _is_false(arg.value):
                self.report(node, func=name, what="skips the signature check (`verify=False`)")
                return
            if key == "algorithms" and self._allows_none(arg.value):
                self.report(node, func=name, what='accepts the unsigned `"none"` algorithm')
                return

    def _resolve(self, expr: cst.BaseExpression) -> list[cst.BaseExpression]:
        if isinstance(expr, cst.Name):
            local = local_values(self.ctx, expr.value)
            return list(local.values) if local is not None else []
        return [expr]

    def _signature_off(self, expr: cst.BaseExpression) -> bool:
        for value in self._resolve(expr):
            if isinstance(value, cst.Dict):
                for element in value.elements:
                    if (
                        isinstance(element, cst.DictElement)
                        and _string(element.key) == "verify_signature"
                        and _is_false(element.value)
                    ):
                        return True
            elif isinstance(value, cst.Call) and self.ctx.qualified_name(value.func) == (
                "builtins.dict"
            ):
                for arg in value.args:
                    if (
                        arg.keyword is not None
                        and arg.keyword.value == "verify_signature"
                        and _is_false(arg.value)
                    ):
                        return True
        return False

    def _allows_none(self, expr: cst.BaseExpression) -> bool:
        for value in self._resolve(expr):
            items = (
                [el.value for el in value.elements]
                if isinstance(value, cst.List | cst.Tuple | cst.Set)
                else [value]
            )
            if any((_string(item) or "").lower() == "none" for item in items):
                return True
        return False


def _string(expr: cst.BaseExpression) -> str | None:
    const = literal_value(expr)
    return const.value if const is not None and isinstance(const.value, str) else None


def _is_false(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"
