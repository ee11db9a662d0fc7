from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMOPT_VAR_DIR": str(tmp_path), **variables}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_it_starts_with_no_configuration_at_all(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    result = check(tmp_path, DJANGO_DEBUG="perhaps")
    assert result.returncode != 0
    assert "llmopt console settings:" in result.stderr
    assert "perhaps" in result.stderr


def test_a_store_path_that_cannot_be_created_fails_the_system_check(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("")
    result = check(tmp_path, LLMOPT_SQLITE_PATH=str(not_a_folder / "store.db"))
    assert result.returncode != 0
    assert "console.E001" in result.stderr
    assert "is not a writable folder" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LLMOPT_RETENTION_USAGE_DAYS", "0"),
        ("LLMOPT_RETENTION_AUDIT_DAYS", "a year"),
        ("LLMOPT_RETENTION_BATCH_DAYS", "-3"),
        ("LLMOPT_BATCH_POLL_SECONDS", "1.5"),
        ("LLMOPT_LOCKOUT_FAILURES", "0"),
        ("LLMOPT_LOCKOUT_MINUTES", "a while"),
    ],
)
def test_a_retention_or_interval_that_is_not_a_positive_whole_number_stops_start_up(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = check(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert f"llmopt console settings: {variable} must be a whole number" in result.stderr
    assert repr(value) in result.stderr


def test_without_a_broker_url_the_embedded_broker_lives_under_the_var_folder(
    tmp_path: Path,
) -> None:
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "broker").iterdir()} == {"queue", "processed", "control"}


def test_behind_tls_cookies_are_secure_and_plain_http_is_redirected_but_healthz(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "LLMOPT_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DJANGO_HTTPS": "true",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "from django.test import Client; c = Client(HTTP_HOST='localhost'); "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "c.get('/login/').status_code, c.get('/login/', headers={'x-forwarded-proto': 'https'})"
        ".status_code, c.get('/healthz').status_code != 301)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "301", "200", "True"]


def test_a_proxy_count_that_is_not_a_whole_number_stops_start_up(tmp_path: Path) -> None:
    result = check(tmp_path, DJANGO_TRUSTED_PROXY_COUNT="one")
    assert result.returncode != 0
    assert "DJANGO_TRUSTED_PROXY_COUNT must be a whole number (0 or more), not 'one'" in (
        result.stderr
    )
