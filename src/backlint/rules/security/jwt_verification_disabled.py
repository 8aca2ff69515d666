"""BKL605 jwt-verification-disabled."""

from __future__ import annotations

import itertools

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext
from backlint.semantics.flow import literal_value, local_values
from backlint.semantics.security import JWT_DECODE, name_words
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
    stored), directly or through a local used for nothing else; a token
    someone else vouches for: a decode in the branch of a setting that says
    tokens come verified (`if settings.EXTERNAL_AUTH_TRUSTED_JWT_DECODE:`,
    not negated, not its `else`), or a token that earlier in the same
    function went to a call that checks it (the issuer's
    `await client.userinfo(token={"access_token": token})`, an
    `introspect`/`verify`/`validate` function, a verified `jwt.decode` of
    it), directly or in a local holding it; options
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
                if not self._reads_routing_claims_only(node) and not self._vouched_for(node):
                    self.report(node, func=name, what="skips the signature check")
                return
            if key == "verify" and _is_false(arg.value):
                if not self._vouched_for(node):
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

    def _vouched_for(self, node: cst.Call) -> bool:
        """Someone else checked the token: the decode sits in the branch of a
        setting that says so (`if settings.TRUSTED_JWT_DECODE:`, a proxy in
        front verified it), or the same token went, earlier in the function,
        to a call that checks it (`await client.userinfo(token=...)`: the
        issuer accepted it; `verify_token(token)`)."""
        return self._in_trusted_branch(node) or self._checked_before(node)

    def _in_trusted_branch(self, node: cst.Call) -> bool:
        ctx = self.ctx
        child: cst.CSTNode = node
        parent = ctx.parent(child)
        while parent is not None and not isinstance(parent, cst.FunctionDef | cst.Module):
            if isinstance(parent, cst.If) and child is parent.body and _names_trust(parent.test):
                return True
            child, parent = parent, ctx.parent(parent)
        return False

    def _checked_before(self, node: cst.Call) -> bool:
        token = next((a.value for a in node.args if a.keyword is None), None)
        function = self.ctx.scope.function()
        if not isinstance(token, cst.Name | cst.Attribute) or function is None:
            return False
        code = self.ctx.tree.code_for_node(token)
        for found in descendants(function.node):
            if found is node:
                return False
            if (
                isinstance(found, cst.Call)
                and (_checks_tokens(found.func) or self._verified_decode(found))
                and any(self._carries(arg.value, code) for arg in found.args)
            ):
                return True
        return False

    def _verified_decode(self, call: cst.Call) -> bool:
        """`jwt.decode(token, key, ...)` with the signature checked."""
        if self.ctx.qualified_name(call.func) not in JWT_DECODE:
            return False
        positional = [a for a in call.args if a.keyword is None]
        has_key = len(positional) > 1 or any(
            a.keyword is not None and a.keyword.value == "key" for a in call.args
        )
        return has_key and not any(
            a.keyword is not None
            and (
                (a.keyword.value == "options" and self._signature_off(a.value))
                or (a.keyword.value == "verify" and _is_false(a.value))
                or (a.keyword.value == "algorithms" and self._allows_none(a.value))
            )
            for a in call.args
        )

    def _carries(self, expr: cst.BaseExpression, code: str) -> bool:
        """`expr` is the token, holds it (`{"access_token": token}`), or is a
        local bound to such a value."""
        values = [expr]
        if isinstance(expr, cst.Name):
            values += self._resolve(expr)
        tree = self.ctx.tree
        return any(
            isinstance(n, cst.Name | cst.Attribute) and tree.code_for_node(n) == code
            for value in values
            for n in (value, *descendants(value))
        )

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


# A setting that says tokens come already verified (langflow's
# `EXTERNAL_AUTH_TRUSTED_JWT_DECODE`, behind a proxy that checks them).
TRUST_WORDS = frozenset({"trusted", "preverified", "preauthenticated"})
# Calls that check a token: the issuer's userinfo or introspection endpoint,
# or a verifying function of the project.
CHECK_WORDS = frozenset({"userinfo", "introspect", "introspection", "verify", "validate"})


def _names_trust(test: cst.BaseExpression) -> bool:
    """`if settings.TRUSTED_JWT_DECODE:` or `if trusted and ...` (not negated)."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _names_trust(test.left) or _names_trust(test.right)
    if isinstance(test, cst.Attribute):
        return bool(TRUST_WORDS & set(name_words(test.attr.value)))
    if isinstance(test, cst.Name):
        return bool(TRUST_WORDS & set(name_words(test.value)))
    return False


def _checks_tokens(func: cst.BaseExpression) -> bool:
    name = func.attr.value if isinstance(func, cst.Attribute) else None
    if isinstance(func, cst.Name):
        name = func.value
    words = name_words(name) if name else []
    pairs = {f"{a}{b}" for a, b in itertools.pairwise(words)}
    return bool(CHECK_WORDS & (set(words) | pairs))


def _string(expr: cst.BaseExpression) -> str | None:
    const = literal_value(expr)
    return const.value if const is not None and isinstance(const.value, str) else None


def _is_false(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"
