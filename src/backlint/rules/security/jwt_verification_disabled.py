"""BKL605 jwt-verification-disabled."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext
from backlint.semantics.flow import literal_value, local_values
from backlint.semantics.security import JWT_DECODE
from backlint.semantics.tree import descendants


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
    unverified header to pick a key (`jwt.get_unverified_header`); unverified
    claims read only for the issuer, key id or expiry (`.get("iss")` to pick
    the provider before a verified decode, `["exp"]` of a token the server
    stored), directly or through a local used for nothing else; options
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
                if not self._reads_routing_claims_only(node):
                    self.report(node, func=name, what="skips the signature check")
                return
            if key == "verify" and _is_false(arg.value):
                self.report(node, func=name, what="skips the signature check (`verify=False`)")
                return
            if key == "algorithms" and self._allows_none(arg.value):
                self.report(node, func=name, what='accepts the unsigned `"none"` algorithm')
                return

    def _reads_routing_claims_only(self, node: cst.Call) -> bool:
        """The unverified claims serve only to route or schedule: the issuer
        to pick a provider and its keys before a verified decode, the expiry
        of a token the server stored itself (`jwt.decode(t, options=...).get("exp")`,
        or a local whose every use reads such a claim)."""
        ctx = self.ctx
        if _claim_read(ctx, node):
            return True
        parent = ctx.parent(node)
        if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
            return False
        target = parent.targets[0].target
        function = ctx.scope.function()
        if not isinstance(target, cst.Name) or function is None:
            return False
        uses = [
            n
            for n in descendants(function.node, parents=ctx.parents)
            if isinstance(n, cst.Name) and n.value == target.value and n is not target
        ]
        return bool(uses) and all(_claim_read(ctx, n) for n in uses)

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


# Claims that say who issued a token, which key signed it and when it expires:
# read unverified to choose the provider and key, or to schedule a refresh.
ROUTING_CLAIMS = frozenset({"iss", "exp", "iat", "nbf", "kid", "tid", "alg", "typ"})


def _claim_read(ctx: FileContext, node: cst.CSTNode) -> bool:
    """`node.get("iss")` or `node["exp"]` (through parentheses)."""
    parent = ctx.parent(node)
    if isinstance(parent, cst.Attribute) and parent.attr.value == "get":
        call = ctx.parent(parent)
        return (
            isinstance(call, cst.Call)
            and call.func is parent
            and bool(call.args)
            and _string(call.args[0].value) in ROUTING_CLAIMS
        )
    if isinstance(parent, cst.Subscript) and parent.value is node and len(parent.slice) == 1:
        index = parent.slice[0].slice
        return isinstance(index, cst.Index) and _string(index.value) in ROUTING_CLAIMS
    return False


def _string(expr: cst.BaseExpression) -> str | None:
    const = literal_value(expr)
    return const.value if const is not None and isinstance(const.value, str) else None


def _is_false(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"
