"""BKL603 weak-password-hash."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext, ScopeKind
from backlint.semantics.flow import literal_value, local_values
from backlint.semantics.ratelimit import class_ancestry
from backlint.semantics.security import (
    CRYPT_CONTEXT,
    FAST_HASH_NAMES,
    FAST_HASHES,
    WEAK_DJANGO_HASHERS,
    WEAK_PASSLIB_SCHEMES,
    is_password_function,
    mentions_password,
    name_words,
)
from backlint.semantics.settings import base_setting_matters, module_settings_kind
from backlint.semantics.tree import descendants

_DATA_KEYWORDS = frozenset({"data", "string"})
# Words of a function that handles the old scheme during a migration.
LEGACY_WORDS = frozenset(
    {"legacy", "old", "migrate", "migration", "upgrade", "rehash", "deprecated"}
)
DJANGO_HASHERS_MODULE = "django.contrib.auth.hashers."
# Strong password hashing: a function using one of these is migrating.
_STRONG_PREFIXES = ("bcrypt.", "argon2.", "passlib.", "pwdlib.", DJANGO_HASHERS_MODULE)
_STRONG_FUNCTIONS = frozenset({"hashlib.pbkdf2_hmac", "hashlib.scrypt"})
# Constant-time comparisons of a computed hash with a stored one.
_COMPARISONS = frozenset(
    {"hmac.compare_digest", "secrets.compare_digest", "django.utils.crypto.constant_time_compare"}
)


def _compared(ctx: FileContext, node: cst.CSTNode) -> bool:
    """The hash (through `.hexdigest()`, `.digest()`) is compared with something."""
    child = node
    for parent in ctx.ancestors(node):
        if isinstance(parent, cst.Comparison):
            return True
        if isinstance(parent, cst.Arg):
            call = ctx.parent(parent)
            return isinstance(call, cst.Call) and ctx.qualified_name(call.func) in _COMPARISONS
        if not isinstance(parent, cst.Attribute | cst.Call) or (
            isinstance(parent, cst.Call) and parent.func is not child
        ):
            return False
        child = parent
    return False


def _uses_strong_hash(ctx: FileContext, function: cst.FunctionDef) -> bool:
    for child in descendants(function.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if isinstance(child, cst.Call):
            name = ctx.qualified_name(child.func)
            if name is not None and (
                name.startswith(_STRONG_PREFIXES) or name in _STRONG_FUNCTIONS
            ):
                return True
            func = child.func
            # `pwd_context.verify(...)`, `bcrypt.checkpw(...)` through a local name
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in ("checkpw", "verify")
                and isinstance(func.value, cst.Name)
            ):
                target = ctx.qualified_name(func.value)
                found = ctx.index.lookup(target) if target is not None else None
                if target is not None and (
                    target.startswith(_STRONG_PREFIXES) or found is not None
                ):
                    return True
    return False


class WeakPasswordHash(Rule):
    """A password hashed with a fast hash, or a weak password hasher configured.

    What it flags:
    `hashlib.md5/sha1/sha256/sha512/...(data)`, `hashlib.new("md5", data)`
    and `.update(data)` on such a hash, when the data is a password (a name,
    attribute or key named `password`, `passwd`, `pwd`: `raw_password`,
    `user.password`, `form.cleaned_data["password"]`) or the enclosing
    function hashes passwords by its name (`hash_password`, `make_pwd`,
    `check_password`); Django's `PASSWORD_HASHERS` led by an MD5, SHA1,
    unsalted or crypt hasher in a production settings module; passlib's
    `CryptContext` whose default scheme is weak (`md5_crypt`, `des_crypt`,
    `plaintext`, `hex_*`, `ldap_md5`...), and direct calls such as
    `md5_crypt.hash(password)`.

    Why:
    MD5 and the SHA family are built to be fast: a GPU tries billions of
    candidate passwords a second against a leaked table of such hashes, salt
    or not. Password hashes must be slow and salted: bcrypt, argon2, scrypt,
    PBKDF2 (Django's default hasher).

    Example:
    ```python
    import hashlib

    def store_user(email: str, password: str) -> dict[str, str]:
        return {"email": email, "password": hashlib.sha256(password.encode()).hexdigest()}
    ```

    Use instead:
    ```python
    from django.contrib.auth.hashers import make_password

    def store_user(email: str, password: str) -> dict[str, str]:
        return {"email": email, "password": make_password(password)}
    ```

    Not flagged:
    bcrypt, argon2, scrypt, `hashlib.pbkdf2_hmac`, `hashlib.scrypt`; fast
    hashes of other data (file checksums, cache keys, ETags, tokens, a
    password-reset token function); a hasher list or `CryptContext` led by a
    strong scheme that keeps weak ones only to verify old hashes; old hashes
    verified during a migration (a fast hash compared to a stored one in a
    function that also uses a strong hash, or in one named `legacy`/`old`/
    `migrate`); the methods of Django password hasher classes
    (`MD5PasswordHasher`: `PASSWORD_HASHERS` decides whether they hash new
    passwords, and is judged); weak
    hashers in dev and test settings (the documented speed-up); test files.
    A password reaching the hash under another name (`secret`, `text`) is not
    seen (missed alarm).

    Fix:
    None: switch to the framework's password hasher (Django's
    `make_password`, passlib/pwdlib with argon2 or bcrypt) and rehash on the
    next login.
    """

    code = "BKL603"
    name = "weak-password-hash"
    message = "{what}: use a slow salted password hash (argon2, bcrypt, scrypt, PBKDF2)"
    markers = ("hashlib", "passlib", "PASSWORD_HASHERS")
    skip_tests = True
    skip_migrations = True

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "update":
            self._update(node, func)
            return
        name = ctx.qualified_name(func)
        if name is None:
            return
        if name in FAST_HASHES:
            if any(
                a.keyword is not None and a.keyword.value == "usedforsecurity" for a in node.args
            ):
                return  # declared not for security
            data = self._data(node, 0)
            if data is not None and self._password(data) and not self._legacy(node):
                self.report(node, what=f"`{name}` hashes a password")
        elif name == "hashlib.new":
            algorithm = literal_value(node.args[0].value) if node.args else None
            data = self._data(node, 1)
            if (
                algorithm is not None
                and isinstance(algorithm.value, str)
                and algorithm.value.lower() in FAST_HASH_NAMES
                and data is not None
                and self._password(data)
                and not self._legacy(node)
            ):
                self.report(node, what=f'`hashlib.new("{algorithm.value}")` hashes a password')
        elif name in CRYPT_CONTEXT:
            scheme = self._default_scheme(node)
            if scheme in WEAK_PASSLIB_SCHEMES:
                self.report(node, what=f"`CryptContext` hashes passwords with `{scheme}`")
        elif name.startswith("passlib.hash."):
            parts = name.split(".")
            if len(parts) >= 4 and parts[2] in WEAK_PASSLIB_SCHEMES:
                self.report(node, what=f"passlib's `{parts[2]}` is a weak password hash")

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if self.ctx.scope.kind is not ScopeKind.MODULE:
            return
        for small in node.body:
            if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                continue
            target = small.targets[0].target
            if not (isinstance(target, cst.Name) and target.value == "PASSWORD_HASHERS"):
                continue
            value = small.value
            if not isinstance(value, cst.List | cst.Tuple) or not value.elements:
                continue
            first = literal_value(value.elements[0].value)
            if first is None or first.value not in WEAK_DJANGO_HASHERS:
                continue
            kind = module_settings_kind(self.ctx)
            if kind == "production" or (
                kind == "base" and base_setting_matters(self.ctx, "PASSWORD_HASHERS")
            ):
                hasher = str(first.value).rsplit(".", 1)[1]
                self.report(small, what=f"`PASSWORD_HASHERS` is led by `{hasher}`")

    # ------------------------------------------------------------------

    def _legacy(self, node: cst.Call) -> bool:
        """Old hashes checked, not new ones made: a method of a Django
        password hasher class (`MD5PasswordHasher`: `PASSWORD_HASHERS`
        decides whether it hashes new passwords, and is judged there); a
        function named for the legacy scheme (`verify_legacy_password`); or a
        fast hash compared to a stored one in a function that also uses a
        strong password hash (verifying old hashes during a migration)."""
        ctx = self.ctx
        function = ctx.scope.function()
        if function is None or not isinstance(function.node, cst.FunctionDef):
            return False
        owner = function.parent
        if isinstance(owner.node if owner is not None else None, cst.ClassDef):
            assert owner is not None and isinstance(owner.node, cst.ClassDef)
            ancestry = class_ancestry(ctx, owner.node, owner.parent or ctx.module_scope)
            if any(name.startswith(DJANGO_HASHERS_MODULE) for name in ancestry):
                return True
        if set(name_words(function.node.name.value)) & LEGACY_WORDS:
            return True
        return _compared(ctx, node) and _uses_strong_hash(ctx, function.node)

    @staticmethod
    def _data(node: cst.Call, position: int) -> cst.BaseExpression | None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if len(positional) > position:
            return positional[position].value
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in _DATA_KEYWORDS:
                return arg.value
        return None

    def _password(self, data: cst.BaseExpression) -> bool:
        if mentions_password(data):
            return True
        function = self.ctx.scope.function()
        return (
            function is not None
            and isinstance(function.node, cst.FunctionDef)
            and is_password_function(function.node.name.value)
        )

    def _update(self, node: cst.Call, func: cst.Attribute) -> None:
        """`h = hashlib.md5(); h.update(password)`."""
        if not isinstance(func.value, cst.Name) or not node.args:
            return
        local = local_values(self.ctx, func.value.value)
        if local is None:
            return
        for value in local.values:
            if isinstance(value, cst.Call):
                name = self.ctx.qualified_name(value.func, local.scope)
                if name in FAST_HASHES and self._password(node.args[0].value):
                    self.report(node, what=f"`{name}` hashes a password")
                    return

    def _default_scheme(self, node: cst.Call) -> str | None:
        schemes: cst.BaseExpression | None = None
        for arg in node.args:
            if arg.keyword is None:
                continue
            if arg.keyword.value == "default":
                const = literal_value(arg.value)
                return const.value if const is not None and isinstance(const.value, str) else None
            if arg.keyword.value == "schemes":
                schemes = arg.value
        if isinstance(schemes, cst.List | cst.Tuple) and schemes.elements:
            const = literal_value(schemes.elements[0].value)
            return const.value if const is not None and isinstance(const.value, str) else None
        return None
