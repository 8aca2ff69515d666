"""Unit tests of the security semantics: names, settings modules, auth routes."""

from __future__ import annotations

import pytest

from backlint.semantics.ratelimit import auth_kind, is_current_user_dependency, mentions_limit
from backlint.semantics.security import (
    _groups_text,
    is_password_function,
    is_password_name,
    is_secret_name,
    is_secret_text,
    is_wildcard_origin_regex,
    marks_webhook,
)
from backlint.semantics.settings import settings_kind


@pytest.mark.parametrize(
    "name",
    ["SECRET_KEY", "api_key", "jwt_secret", "db_password", "GITHUB_TOKEN", "clientSecret"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["token_url", "access_token_expire_minutes", "password_min_length", "cache_key", "tokens"],
)
def test_names_that_only_mention_a_secret(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("value", "secret"),
    [("s3cr3t", True), ("", False), ("  ", False), ("${SECRET}", False), ("/run/key.pem", False)],
)
def test_secret_text(value: str, secret: bool) -> None:
    assert is_secret_text(value) is secret


def test_password_names_and_functions() -> None:
    assert is_password_name("raw_password")
    assert not is_password_name("password_hash")
    assert is_password_function("hash_password")
    assert not is_password_function("password_hash_id")
    assert not is_password_function("make_password_reset_token")


@pytest.mark.parametrize(
    ("path", "module", "is_package", "kind"),
    [
        ("proj/settings.py", "proj.settings", False, "production"),
        ("proj/settings/prod.py", "proj.settings.prod", False, "production"),
        ("proj/settings/base.py", "proj.settings.base", False, "base"),
        ("proj/settings/__init__.py", "proj.settings", True, "base"),
        ("proj/settings/dev.py", "proj.settings.dev", False, "non-production"),
        ("proj/settings/local_alice.py", "proj.settings.local_alice", False, "non-production"),
        ("proj/settings/test.py", "proj.settings.test", False, "non-production"),
        ("weblate/settings_example.py", "weblate.settings_example", False, "non-production"),
        ("weblate/settings_docker.py", "weblate.settings_docker", False, "production"),
        ("shop/views.py", "shop.views", False, None),
    ],
)
def test_settings_kind(path: str, module: str, is_package: bool, kind: str | None) -> None:
    assert settings_kind(path, module, is_package, set()) == kind


def test_a_module_with_django_settings_is_a_settings_module() -> None:
    assert settings_kind("app/example.py", "app.example", False, {"ROOT_URLCONF"}) == "production"


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (("login",), "login"),
        (("issue", "/auth/jwt/login"), "login"),
        (("login_for_access_token",), "login"),
        (("token",), "token"),
        (("TokenObtainPairView",), "token"),
        (("forgot_password",), "password reset"),
        (("PasswordResetConfirmView",), "password reset"),
        (("logout",), None),
        (("change_password",), None),
        (("refresh_token",), None),
        (("create_api_token",), None),
        (("PasswordResetDoneView",), None),
        (("oauth_login_callback",), None),
    ],
)
def test_auth_kind(names: tuple[str, ...], kind: str | None) -> None:
    assert auth_kind(*names) == kind


def test_limit_names() -> None:
    assert mentions_limit("limiter.limit")
    assert mentions_limit("SlowAPIMiddleware")
    assert mentions_limit("AnonRateThrottle")
    assert not mentions_limit("Depends(get_db)")


@pytest.mark.parametrize(
    ("pattern", "wildcard"),
    [(".*", True), ("^https?://.*$", True), (".+", True), (r"https://.*\.example\.com", False)],
)
def test_origin_regex(pattern: str, wildcard: bool) -> None:
    assert is_wildcard_origin_regex(pattern) is wildcard


def test_webhook_names() -> None:
    assert marks_webhook("stripe_webhook")
    assert marks_webhook("payments.webhooks")
    assert marks_webhook("GithubHookView")
    assert marks_webhook("saml_acs")
    assert not marks_webhook("update_profile")


@pytest.mark.parametrize(
    ("name", "current"),
    [
        ("app.deps.get_current_user", True),
        ("app.users.current_active_user", True),
        ("airflow.api_fastapi.core.security.get_user", True),
        ("fief.dependencies.get_user_from_grant_request", False),
        ("app.deps.get_optional_user", False),
        ("app.deps.get_db", False),
        (None, False),
    ],
)
def test_current_user_dependencies(name: str | None, current: bool) -> None:
    assert is_current_user_dependency(name) is current


def test_authenticate_is_a_login() -> None:
    assert auth_kind("authenticate", "/authenticate") == "login"


@pytest.mark.parametrize(
    ("pattern", "groups"),
    [(r"'(\d{4})-(\d{2})'", r"\d{4}\d{2}"), (r"name=(.+)", ".+"), (r"^\w+$", r"^\w+$")],
)
def test_regex_group_text(pattern: str, groups: str) -> None:
    assert _groups_text(pattern) == groups


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("pretix/_build_settings.py", "pretix._build_settings"),
        ("docs/settings.py", "docs.settings"),
    ],
)
def test_build_settings_are_not_deployed(path: str, module: str) -> None:
    assert settings_kind(path, module, False, {"SECRET_KEY"}) == "non-production"


def test_facts_keep_forms_that_count_attempts_in_the_cache() -> None:
    import ast

    from backlint.semantics.facts import summarise
    from backlint.semantics.facts_codec import decode_module, encode_module

    source = """\
from django import forms
from django.core.cache import cache as django_cache, caches


class LoginForm(forms.Form):
    def _failed(self, key):
        django_cache.incr(key)

    def clean(self):
        if (django_cache.get(self.key) or 0) >= 10:
            raise forms.ValidationError("wait")
        self._failed(self.key)


class AliasForm(forms.Form):
    def clean(self):
        if caches["auth"].get("n") > 5:
            raise forms.ValidationError("wait")
        caches["auth"].incr("n")


class StatsForm(forms.Form):
    def clean(self):
        django_cache.incr("logins")  # counted, never refused


class EqualForm(forms.Form):
    def clean(self):
        if django_cache.get("n") == 5:  # no threshold
            django_cache.incr("n")


class NotClean(forms.Form):
    def save(self):
        if django_cache.get("n") > 5:
            django_cache.incr("n")
"""
    facts = summarise(ast.parse(source), "app.forms", "app/forms.py", False, source)
    assert facts.cache_counters == ("AliasForm", "LoginForm")
    assert decode_module(encode_module(facts)) == facts
    # Another module's `cache` is not Django's.
    other = source.replace("django.core.cache", "app.cache")
    assert summarise(ast.parse(other), "m", "m.py", False, other).cache_counters == ()
    # Without `.incr(` in the text the classes are not walked.
    plain = "from django.core.cache import cache\n"
    assert summarise(ast.parse(plain), "m", "m.py", False, plain).cache_counters == ()
