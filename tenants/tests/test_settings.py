"""Production settings (DEBUG off), checked the way an operator starts the panel: in a new process.

With every required variable given, `manage.py check --deploy` reports nothing; without one of
them, start-up stops and says which variable is missing.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
REQUIRED = ["SECRET_KEY", "PAAS_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"]
# Variables of the environment the tests run in that would change what production means.
NOT_INHERITED = [*REQUIRED, "DEBUG", "PAAS_TESTING", "PAAS_HTTPS", "DJANGO_SETTINGS_MODULE"]


def production_env(**overrides: str | None) -> dict[str, str]:
    """os.environ without the panel's settings, plus a complete production configuration."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(60),
        PAAS_ENCRYPTION_KEYS="k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=settings.REDIS_URL,
        PYTHONUNBUFFERED="1",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=120,
    )


MANAGE_CHECK = ["manage.py", "check"]
ASGI_IMPORT = ["-c", "from config.asgi import application"]


def test_check_deploy_reports_nothing_in_production():
    result = run(["manage.py", "check", "--deploy"], production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS" not in output and "ERRORS" not in output, output


def test_production_settings_are_secure():
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS > 0, s.STORAGES['staticfiles']['BACKEND'].startswith('whitenoise'))"
    )
    env = production_env(DJANGO_SETTINGS_MODULE="config.settings")
    result = run(["-c", f"import django; django.setup(); {code}"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "True"]


def test_production_content_security_policy_names_https_origins_on_the_default_port():
    code = ("from django.conf import settings; from django.utils.csp import build_policy; "
            "print(build_policy(settings.SECURE_CSP))")
    env = production_env(DJANGO_SETTINGS_MODULE="config.settings", PAAS_DOMAIN="panel.example")
    result = run(["-c", f"import django; django.setup(); {code}"], env)
    assert result.returncode == 0, result.stderr
    policy = dict(part.split(" ", 1) for part in result.stdout.strip().split("; "))
    assert policy["connect-src"] == "'self' wss://*.panel.example"
    assert policy["form-action"] == ("'self' https://panel.example https://*.panel.example"
                                     " https://github.com")
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("entry_point", [MANAGE_CHECK, ASGI_IMPORT], ids=["manage", "asgi"])
@pytest.mark.parametrize("name", REQUIRED)
def test_start_up_without_a_required_variable_fails_naming_it(name, entry_point):
    result = run(entry_point, production_env(**{name: None}))
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"{name} is not set" in result.stderr, result.stderr
    for other in REQUIRED:
        if other != name:
            assert f"{other} is not set" not in result.stderr


@pytest.mark.parametrize("name", REQUIRED)
def test_a_blank_required_variable_counts_as_missing(name):
    result = run(MANAGE_CHECK, production_env(**{name: "  "}))
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"{name} is not set" in result.stderr, result.stderr


def test_a_malformed_encryption_key_stops_start_up_without_showing_it():
    bad_key = "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()  # 128-bit
    result = run(MANAGE_CHECK, production_env(PAAS_ENCRYPTION_KEYS=bad_key))
    assert result.returncode != 0
    assert "PAAS_ENCRYPTION_KEYS key 'k1' has 16 bytes; AES-256 needs 32." in result.stderr
    assert bad_key.split(":", 1)[1] not in result.stdout + result.stderr
