"""The door, probed as an attacker would: guessing passwords and tokens, reading the API's
docs anonymously, framing or scripting the pages, reading the data files or ``ps``.

=========================  =================================================================
what                       enforced
=========================  =================================================================
sign-in                    5 failures per account and per client address in 15 minutes lock
                           it out (even the right password), audited; an admin lifts it
API tokens                 5 refused tokens from one address: 429 + ``Retry-After``
client address             the connection's, unless ``DJANGO_TRUSTED_PROXY_COUNT`` is set
headers                    a Content-Security-Policy the pages satisfy; ``Cache-Control:
                           no-store`` on every page, fragment and API response
API docs                   signed-in users only, unless ``LLMOPT_PUBLIC_API_DOCS``
data at rest               ``LLMOPT_VAR_DIR`` 0700, databases and keys 0600, no secret in argv
=========================  =================================================================
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from console.audit.actions import AUDIT_ACTIONS
from console.demo.seed import DEMO_AICONFIGS, DEMO_API_KEY
from llmopt.store import Store

from ..conftest import user_in
from ..crawl import Site, every_log_line, operations, pages
from ..demo_process import ROOT, running_demo

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.2"
WRONG = "hunter2-not-the-password"
LOCKED_OUT = "Too many failed sign-ins for this account or address"
BAD_TOKEN = "llmopt_" + "x" * 43


def sign_in(username: str, password: str, address: str = ATTACKER, **extra: Any) -> Any:
    client = Client(REMOTE_ADDR=address, **extra)
    response = client.post("/login/", {"username": username, "password": password})
    response.signed_in = "_auth_user_id" in client.session
    return response


def audit_actions(store: Store) -> list[str]:
    return [record.action for record in reversed(store.list_audit(limit=1000))]


# -- sign-in -----------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_out_even_for_the_right_one_from_anywhere(
    store: Store, django_user_model: Any
) -> None:
    user_in(django_user_model, "viewer")
    for _ in range(4):
        failed = sign_in("viewer", WRONG)
        assert failed.status_code == 200 and not failed.signed_in
    # The fifth failure says so at once.
    assert LOCKED_OUT in sign_in("viewer", WRONG).content.decode()
    locked = sign_in("viewer", "pw-1")
    assert locked.status_code == 429 and not locked.signed_in
    page = locked.content.decode()
    assert LOCKED_OUT in page and "try again in 15 minutes" in page
    assert "ask an admin to unlock it" in page
    assert 14 * 60 < int(locked["Retry-After"]) <= 15 * 60
    # The account, not only the address: the right password from elsewhere is refused too.
    assert sign_in("viewer", "pw-1", address=ELSEWHERE).status_code == 429
    # Someone else is not locked out by it.
    user_in(django_user_model, "operator")
    assert sign_in("operator", "pw-1", address=ELSEWHERE).signed_in


def test_one_address_guessing_many_accounts_is_locked_out_but_no_one_else(
    store: Store, django_user_model: Any
) -> None:
    user_in(django_user_model, "viewer")
    codes = [sign_in(f"guess{number}", WRONG).status_code for number in range(5)]
    assert codes == [200] * 4 + [429]
    assert sign_in("viewer", "pw-1").status_code == 429
    assert sign_in("viewer", "pw-1", address=ELSEWHERE).signed_in


def test_thirty_fast_guesses_are_refused_after_the_fifth_and_the_lockout_ends_after_15_minutes(
    store: Store, django_user_model: Any
) -> None:
    from axes.models import AccessAttempt

    user_in(django_user_model, "viewer")
    codes = [sign_in("viewer", f"{WRONG}{n}").status_code for n in range(30)]
    assert codes == [200] * 4 + [429] * 26
    # Refused guesses do not extend the lockout: its end is fixed by the fifth failure.
    assert AccessAttempt.objects.get().failures_since_start == 5
    assert sign_in("viewer", "pw-1").status_code == 429
    # 15 minutes later (the failures moved back in time rather than waiting).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert sign_in("viewer", "pw-1").signed_in


def test_failed_sign_ins_are_logged_and_audited_without_the_password(
    store: Store, django_user_model: Any
) -> None:
    user_in(django_user_model, "viewer")
    with every_log_line() as lines:
        for _ in range(6):
            sign_in("viewer", WRONG)
    log = "\n".join(lines)
    assert WRONG not in log
    assert re.search(rf"failed sign-in .*viewer.* from {re.escape(ATTACKER)}", log), log
    assert "locked out account viewer from sign-in" in log
    assert f"locked out address {ATTACKER} from sign-in" in log
    assert f"sign-in refused: 'viewer' from {ATTACKER} is locked out" in log
    records = store.list_audit(limit=100)
    assert WRONG not in json.dumps([r.model_dump(mode="json") for r in records])
    actions = audit_actions(store)
    # Five counted failures lock out the account and the address; the refused sixth try
    # is only logged.
    assert actions.count("signin.fail") == 5
    assert {r.target for r in store.list_audit(action="lockout.start")} == {
        "account viewer",
        f"address {ATTACKER}",
    }
    assert set(actions) <= set(AUDIT_ACTIONS)
    [failure, *_] = store.list_audit(action="signin.fail")
    assert ATTACKER in failure.actor and failure.target == "user viewer"


def test_the_lockout_page_names_no_account_it_does_not_show(
    store: Store, django_user_model: Any
) -> None:
    # The same answer for an account that does not exist: the lockout reveals nothing.
    for _ in range(6):
        response = sign_in("nobody-by-that-name", WRONG)
    assert response.status_code == 429 and LOCKED_OUT in response.content.decode()


def test_an_admin_lifts_a_lockout_on_the_users_page_and_it_is_audited(
    store: Store, django_user_model: Any
) -> None:
    user_in(django_user_model, "viewer")
    for _ in range(5):
        sign_in("viewer", WRONG)
    admin = Client()
    admin.force_login(user_in(django_user_model, "admin"))
    page = admin.get("/users/").content.decode()
    assert 'id="lockout-account-viewer"' in page and f'id="lockout-address-{ATTACKER}"' in page
    response = admin.post("/users/", {"action": "unlock", "kind": "account", "value": "viewer"})
    assert response.status_code == 302
    # The account is open again from elsewhere; the address stays locked until lifted too.
    assert sign_in("viewer", "pw-1", address=ELSEWHERE).signed_in
    assert sign_in("viewer", "pw-1").status_code == 429
    admin.post("/users/", {"action": "unlock", "kind": "address", "value": ATTACKER})
    assert sign_in("viewer", "pw-1").signed_in
    lifted = store.list_audit(action="lockout.lift")
    assert {(r.actor, r.target) for r in lifted} == {
        ("admin", "account viewer"),
        ("admin", f"address {ATTACKER}"),
    }


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_configured(
    store: Store, django_user_model: Any, settings: Any
) -> None:
    user_in(django_user_model, "viewer")
    # No proxy configured: a client cannot dodge the address lock by inventing addresses.
    for number in range(5):
        sign_in(f"guess{number}", WRONG, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
    assert sign_in("viewer", "pw-1", HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429

    # Behind one trusted proxy (REMOTE_ADDR is the proxy), the address it appended counts,
    # and whatever the client put before it does not.
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"
    for number in range(5):
        sign_in(
            f"guess{number}",
            WRONG,
            address=proxy,
            HTTP_X_FORWARDED_FOR=f"1.1.1.{number}, {ELSEWHERE}",
        )
    behind = sign_in("viewer", "pw-1", address=proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert behind.status_code == 429
    other_client = sign_in("viewer", "pw-1", address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert other_client.signed_in


# -- API tokens --------------------------------------------------------------------------


def call_api(token: str, address: str = ATTACKER) -> Any:
    client = Client(REMOTE_ADDR=address)
    return client.get("/api/config", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_repeated_bad_tokens_from_one_address_get_429_with_retry_after_and_the_envelope(
    site: Site,
) -> None:
    with every_log_line() as lines:
        codes = [call_api(BAD_TOKEN).status_code for _ in range(5)]
        throttled = call_api(BAD_TOKEN)
    assert codes == [401] * 5
    assert throttled.status_code == 429
    assert "too many refused API tokens" in throttled.json()["detail"]
    assert 0 < int(throttled["Retry-After"]) <= 15 * 60
    # Checked before the token: a good one from that address waits too; elsewhere it works.
    assert call_api(site.operator_token).status_code == 429
    assert call_api(site.operator_token, address=ELSEWHERE).status_code == 200
    log = "\n".join(lines)
    assert BAD_TOKEN not in log and BAD_TOKEN[:12] not in log
    assert re.search(rf"refused an API token from {re.escape(ATTACKER)}", log), log
    assert "lockout.start" in audit_actions(site.store)


def test_a_revoked_token_counts_as_refused(site: Site, django_user_model: Any) -> None:
    from console.accounts.tokens import revoke_token
    from console.models import ApiToken

    revoke_token(ApiToken.objects.get(name="crawler"), actor="setup")
    assert [call_api(site.operator_token).status_code for _ in range(6)] == [401] * 5 + [429]


# -- headers -----------------------------------------------------------------------------


def csp_directives(response: Any) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    parts = (part.split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def assert_door_headers(response: Any, what: str) -> None:
    directives = csp_directives(response)
    assert directives.get("default-src") == ["'none'"], f"{what}: {directives}"
    assert directives.get("script-src") == ["'self'"], f"{what}: {directives}"
    assert directives.get("style-src") == ["'self'"], f"{what}: {directives}"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: {directives}"
    assert "no-store" in response.get("Cache-Control", ""), (
        f"{what}: {response.get('Cache-Control')}"
    )


def test_every_page_fragment_and_api_response_carries_the_csp_and_no_store(
    site: Site, django_user_model: Any
) -> None:
    admin = Client()
    admin.force_login(user_in(django_user_model, "admin"))
    checked = 0
    for page in pages(site.samples):
        for htmx in ({}, {"HTTP_HX_REQUEST": "true"}):
            assert_door_headers(admin.get(page.url, **htmx), f"GET {page.url} {htmx}")
            assert_door_headers(Client().get(page.url, **htmx), f"anonymous GET {page.url}")
            checked += 2
    for op in operations(site.samples):
        if op.method == "get":
            response = Client().get(op.url, HTTP_AUTHORIZATION=f"Bearer {site.operator_token}")
            assert response.status_code < 500, op
            assert_door_headers(response, str(op))
            assert_door_headers(admin.get(op.url), f"{op} (session)")
            checked += 2
    assert_door_headers(Client().get("/api/nowhere"), "an API 404")
    assert checked > 40


def test_no_page_carries_inline_script_style_or_event_handlers(
    site: Site, django_user_model: Any
) -> None:
    admin = Client()
    admin.force_login(user_in(django_user_model, "admin"))
    # A JSON data block (the API docs' settings) is not script: the browser runs none.
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|<style|\sstyle=|\son[a-z]+="
        r"|javascript:",
        re.I,
    )
    found = []
    for page in pages(site.samples):
        for client in (admin, Client()):
            for htmx in ({}, {"HTTP_HX_REQUEST": "true"}):
                html = client.get(page.url, **htmx).content.decode(errors="replace")
                found += [f"{page.url}: {m.group(0)}" for m in inline.finditer(html)]
    assert found == []


# -- API docs ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/docs", "/api/openapi.json"])
def test_the_api_docs_are_for_signed_in_users_only(
    url: str, store: Store, django_user_model: Any, settings: Any
) -> None:
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    outsider = Client()
    outsider.force_login(user_in(django_user_model, None))
    assert outsider.get(url).status_code == 403
    viewer = Client()
    viewer.force_login(user_in(django_user_model, "viewer"))
    assert viewer.get(url).status_code == 200
    settings.LLMOPT_PUBLIC_API_DOCS = True
    assert Client().get(url).status_code == 200


def test_an_api_token_reads_the_schema(site: Site) -> None:
    response = Client().get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {site.operator_token}")
    assert response.status_code == 200 and "/api/config" in response.json()["paths"]


# -- secrets at rest and on command lines -------------------------------------------------


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def assert_owner_only(var_dir: Path) -> None:
    expected = [var_dir, var_dir / "broker", var_dir / "backups", var_dir / "secret_key"]
    databases = [p for p in var_dir.iterdir() if ".sqlite3" in p.name]
    assert {p.name for p in databases} >= {"llmopt.sqlite3", "console.sqlite3"}
    backups = list((var_dir / "backups").iterdir())
    assert backups  # the migration's backup holds the API keys
    loose = [
        f"{p} {stat.filemode(p.stat().st_mode)}"
        for p in expected + databases + backups
        if not owner_only(p)
    ]
    assert loose == []


def test_the_demo_keeps_its_data_owner_only(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"  # not there yet: the demo creates it
    env = {**os.environ, "LLMOPT_VAR_DIR": str(var_dir)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert_owner_only(var_dir)


def test_the_demo_builds_no_command_line_with_a_secret(settings: Any) -> None:
    from console.management.commands.demo import Command

    options = {"sandbox_port": 8765, "addrport": "127.0.0.1:8000", "no_traffic": False}
    children = Command()._children(options)
    secrets = [
        key for key in (e["configuration"].get("apiKey") for e in DEMO_AICONFIGS["llm"]) if key
    ]
    for child in children:
        assert not any(secret in arg for arg in child.argv for secret in secrets), child.name
    [sandbox] = [child for child in children if child.name == "sandbox"]
    assert sandbox.env is not None and DEMO_API_KEY in sandbox.env.values()


@pytest.mark.timeout(180)
def test_the_running_demo_shows_no_api_key_in_ps_and_its_files_stay_owner_only(
    tmp_path: Path,
) -> None:
    var_dir = tmp_path / "var"
    with running_demo(var_dir) as demo:
        children = demo.pids()
        assert set(children) >= {"sandbox", "celery", "console"}
        for name, pid in {**children, "demo": demo.process.pid}.items():
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert not any(DEMO_API_KEY.encode() in arg for arg in argv), name
        sandbox = f"http://127.0.0.1:{demo.sandbox_port}/v1/messages"
        body = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        }
        headers = {"anthropic-version": "2023-06-01"}
        # The sandbox took the key from its environment: it accepts that key and no other.
        good = httpx.post(sandbox, json=body, headers={**headers, "x-api-key": DEMO_API_KEY})
        bad = httpx.post(sandbox, json=body, headers={**headers, "x-api-key": "sk-ant-guess"})
        assert (good.status_code, bad.status_code) == (200, 401)
        # While it runs, with SQLite's side files (-wal, -shm) in place.
        assert_owner_only(var_dir)
        static = httpx.get(f"{demo.base}/static/console/console.css")
        assert static.status_code == 200 and "no-store" not in static.headers.get(
            "cache-control", ""
        )
        login = httpx.get(f"{demo.base}/login/")
        assert "no-store" in login.headers["cache-control"]
        assert "script-src 'self'" in login.headers["content-security-policy"]
