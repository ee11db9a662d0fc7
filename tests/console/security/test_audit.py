"""Every change leaves an audit record naming who made it: pages, API, commands, tokens.

The API's mutations come from its OpenAPI schema and the pages that accept POST from
the resolver: one added later without a sample change below fails here, on purpose,
until someone shows that it is audited.
"""

from __future__ import annotations

import asyncio
import copy
import getpass
import json
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from console.audit.actions import AUDIT_ACTIONS
from llmopt.batching import BatchRequest
from llmopt.config import load_document
from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.sandbox import BatchOptions, SandboxServer, running_sandbox
from llmopt.store import BatchRecord, Store
from llmopt.wrapper import batch_client_for_entry

from ..conftest import AICONFIGS, user_in
from ..crawl import KEY, Site, operations, pages, seed_site

pytestmark = pytest.mark.django_db
CLI = f"cli:{getpass.getuser()}"


def _other_ttl(store: Store) -> int:
    config = load_document(store).entry(KEY).config
    assert config is not None
    return 300 if config.flags()["cacheTTL"] == 3600 else 3600


# One valid change per API mutation, built from the store's current state.
API_CHANGES: dict[str, Callable[[Site], dict[str, Any]]] = {
    "PATCH /api/config/{key}": lambda site: {
        "flags": {"cacheTTL": _other_ttl(site.store)},
        "revision": load_document(site.store).revision,
        "reason": "audit test",
    },
    "POST /api/kill-switch": lambda site: {"engaged": not read_kill_switch(site.store).engaged},
    "POST /api/batches/{batch_id}/cancel": lambda site: {"reason": "audit test"},
    "PUT /api/routing": lambda site: {
        "routing": {"enabled": not _routing(site.store).get("enabled", False)},
        "revision": load_document(site.store).revision,
        "reason": "audit test",
    },
    "POST /api/routing/circuits/{key}": lambda site: {
        "state": _other_force(site.store),
        "reason": "audit test",
    },
    "PUT /api/budgets": lambda site: {
        "budgets": [{"name": "daily", "period": "day", "limitUsd": _other_limit(site.store)}],
        "revision": load_document(site.store).revision,
        "reason": "audit test",
    },
    "PUT /api/responses/{key}/settings": lambda site: {
        "settings": {"enabled": not _response_cache(site.store).get("enabled", False)},
        "revision": load_document(site.store).revision,
        "reason": "audit test",
    },
    # Audited even when nothing was stored: the record says how many answers went.
    "POST /api/responses/invalidate": lambda site: {"entry": KEY, "reason": "audit test"},
    "PUT /api/quality": lambda site: {
        "quality": {"enabled": not _quality(site.store).get("enabled", False)},
        "revision": load_document(site.store).revision,
        "reason": "audit test",
    },
    "PUT /api/quality/orchestration/{key}": lambda site: {
        "orchestration": _other_strategy(site.store),
        "revision": load_document(site.store).revision,
        "reason": "audit test",
    },
    "POST /api/context/{index}/reindex": lambda site: _context_index(site, {"reason": "drill"}),
    "DELETE /api/context/{index}/documents/{document}": lambda site: _context_index(
        site, {"reason": "drill"}
    ),
}


def _context_index(site: Site, change: dict[str, Any], *, form: bool = False) -> dict[str, Any]:
    """``change`` (for a form: with the index and the document), once the retrieval index
    the samples name holds the sample document."""
    from langchain_core.documents import Document

    from llmopt.retrieval import ContextRetriever

    path = Path(settings.LLMOPT_SQLITE_PATH).parent / f"retrieval-{site.samples['index']}.sqlite3"
    retriever = ContextRetriever(path)
    try:
        text = "# Install\n\nInstall llmopt with pip."
        retriever.embed_and_index([Document(text, id=site.samples["document"])])
    finally:
        retriever.close()
    if not form:
        return change
    return {"index": site.samples["index"], "document": site.samples["document"], **change}


def _quality(store: Store) -> dict[str, Any]:
    quality = load_document(store).body.get("quality") or {}
    assert isinstance(quality, dict)
    return quality


def _other_strategy(store: Store) -> dict[str, Any]:
    stored = load_document(store).entry(KEY).configuration or {}
    if stored.get("orchestration"):
        return {"strategy": "single"}
    other = next(e.key for e in load_document(store).entries if e.key != KEY)
    return {"strategy": "cascade", "entries": [other, KEY]}


def _quality_form(site: Site) -> dict[str, Any]:
    form: dict[str, Any] = {
        "revision": load_document(site.store).revision,
        "sampleRate": 1,
        "passThreshold": 0.7,
        "windowMinutes": 60,
        "baselineHours": 24,
        "drop": 0.1,
        "minSamples": 20,
        "abTests": "[]",
        "reason": "audit test",
    }
    if not _quality(site.store).get("enabled"):
        form["enabled"] = "on"
    return form


def _strategy_form(site: Site) -> dict[str, Any]:
    wanted = _other_strategy(site.store)
    return {
        "entry": KEY,
        "revision": load_document(site.store).revision,
        "strategy": wanted["strategy"],
        "entries": ", ".join(wanted.get("entries", [])),
        "reason": "audit test",
    }


def _routing(store: Store) -> dict[str, Any]:
    routing = load_document(store).body.get("routing") or {}
    assert isinstance(routing, dict)
    return routing


def _other_force(store: Store) -> str:
    circuit = store.circuits([KEY]).get(KEY)
    return "closed" if circuit is not None and circuit.forced == "open" else "open"


def _response_cache(store: Store) -> dict[str, Any]:
    stored = load_document(store).entry(KEY).configuration or {}
    settings = stored.get("responseCache") or {}
    assert isinstance(settings, dict)
    return settings


def _responses_form(site: Site) -> dict[str, Any]:
    form: dict[str, Any] = {
        "entry": KEY,
        "revision": load_document(site.store).revision,
        "similarityThreshold": 0.9,
        "ttlSeconds": 3600,
        "maxEntries": 100,
        "priority": 0,
        "reason": "audit test",
    }
    if not _response_cache(site.store).get("enabled"):
        form["enabled"] = "on"
    return form


def _other_limit(store: Store) -> int:
    budgets = load_document(store).body.get("budgets") or []
    return 20 if budgets and budgets[0].get("limitUsd") == 10 else 10


def _routing_form(site: Site) -> dict[str, Any]:
    return {
        "revision": load_document(site.store).revision,
        "enabled": "" if _routing(site.store).get("enabled") else "on",
        "fallbackChain": KEY,
        "optimize": "balanced",
        "failureThreshold": 5,
        "windowSeconds": 60,
        "coolDownSeconds": 30,
        "halfOpenMaxCalls": 1,
        "rules": "[]",
        "reason": "audit test",
    }


def _edit_form(site: Site) -> dict[str, Any]:
    document = load_document(site.store)
    config = document.entry(KEY).config
    assert config is not None
    form: dict[str, Any] = {"revision": document.revision}
    for name, value in config.flags().items():
        if value is not False and value is not None:
            form[name] = "on" if value is True else value
    form["cacheTTL"] = _other_ttl(site.store)
    return form


# One valid change per page that accepts POST: (url name, role, form), by a readable id.
PAGE_CHANGES: dict[str, tuple[str, str, Callable[[Site], dict[str, Any]]]] = {
    "flag edit": ("config-edit", "operator", _edit_form),
    "rollback": ("rollback", "operator", lambda site: {"action": "engage", "reason": "drill"}),
    "restore": ("rollback", "operator", lambda site: {"action": "release", "reason": "drill"}),
    "token create": (
        "tokens",
        "admin",
        lambda site: {"user": site.samples["object_id"], "name": "new"},
    ),
    "token revoke": ("token-revoke", "admin", lambda site: {"reason": "rotated"}),
    "batch cancel": ("batch-cancel", "operator", lambda site: {"reason": "audit test"}),
    "routing edit": ("routing", "operator", _routing_form),
    "circuit force": (
        "routing-circuit",
        "operator",
        lambda site: {"entry": KEY, "state": _other_force(site.store), "reason": "drill"},
    ),
    "budgets edit": (
        "budgets",
        "operator",
        lambda site: {
            "revision": load_document(site.store).revision,
            "budgets": json.dumps(
                [{"name": "daily", "period": "day", "limitUsd": _other_limit(site.store)}]
            ),
            "reason": "audit test",
        },
    ),
    "responses edit": ("responses-settings", "operator", _responses_form),
    "responses invalidate": (
        "responses-invalidate",
        "operator",
        lambda site: {"entry": KEY, "pattern": "*", "reason": "drill"},
    ),
    "quality edit": ("quality-settings", "operator", _quality_form),
    "strategy edit": ("quality-orchestration", "operator", _strategy_form),
    "context re-index": (
        "context-reindex",
        "operator",
        lambda site: _context_index(site, {"reason": "drill"}, form=True),
    ),
    "context delete": (
        "context-delete",
        "operator",
        lambda site: _context_index(site, {"reason": "drill"}, form=True),
    ),
    "user create": (
        "users",
        "admin",
        lambda site: {"action": "create", "username": "newcomer", "role": "viewer"},
    ),
    "user role": (
        "users",
        "admin",
        lambda site: {"action": "role", "user": site.samples["object_id"], "role": "viewer"},
    ),
    "user deactivate": (
        "users",
        "admin",
        lambda site: {"action": "active", "user": site.samples["object_id"], "active": "0"},
    ),
    "password reset": (
        "users",
        "admin",
        lambda site: {"action": "password", "user": site.samples["object_id"]},
    ),
    # A viewer: changing one's own password needs no role.
    "password change": (
        "password-change",
        "viewer",
        lambda site: {
            "old_password": "pw-1",
            "new_password1": "a long new passphrase",
            "new_password2": "a long new passphrase",
        },
    ),
}
NOT_CHANGES = {"login", "logout"}  # sessions, not data


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # Batches that take an hour: the one the site submits is still cancellable.
    with running_sandbox(batches=BatchOptions(item_seconds=3600)) as server:
        yield server


@pytest.fixture
def site(store: Store, django_user_model: Any, sandbox: SandboxServer) -> Site:
    """The crawl's site, its Anthropic entry pointed at the sandbox, with a real batch
    in flight there, so that cancelling it is a real change (and must be audited)."""
    release_kill_switch(store, actor="setup")
    aiconfigs = copy.deepcopy(AICONFIGS)
    aiconfigs["llm"][0]["configuration"]["baseUrl"] = sandbox.base_url
    site = seed_site(store, django_user_model, aiconfigs)

    async def submit_one() -> BatchRecord:
        client = batch_client_for_entry(store, KEY)
        try:
            request = {"max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
            [record] = await client.submit([BatchRequest(request)])
            return record
        finally:
            await client.aclose()

    record = asyncio.run(submit_one())
    site.samples.update(id=record.id, batch_id=record.id)
    return site


def actors_since(store: Store, before: set[str]) -> set[str]:
    """Who the audit records written since ``before`` name (empty: nothing was recorded).

    Each of those records must also name an action the audit page's filter offers.
    """
    records = [r for r in store.list_audit(limit=10_000) if r.id not in before]
    unknown = {r.action for r in records} - set(AUDIT_ACTIONS)
    assert not unknown, f"add {sorted(unknown)} to console.audit.actions.AUDIT_ACTIONS"
    return {r.actor for r in records}


def ids(store: Store) -> set[str]:
    return {r.id for r in store.list_audit(limit=10_000)}


def test_every_api_mutation_has_a_sample_change_here(site: Site) -> None:
    mutations = {str(op) for op in operations(site.samples) if op.changes}
    assert mutations - set(API_CHANGES) == set()


@pytest.mark.parametrize("credential", ["session", "token"])
def test_every_api_mutation_is_audited_with_its_actor(
    site: Site, client: Client, django_user_model: Any, credential: str
) -> None:
    extra: dict[str, Any] = {}
    if credential == "session":
        client.force_login(user_in(django_user_model, "operator"))
        expected = "operator"
    else:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {site.operator_token}"
        expected = "robot (token crawler)"
    for op in operations(site.samples):
        if not op.changes:
            continue
        before = ids(site.store)
        body = API_CHANGES[str(op)](site)
        response = getattr(client, op.method)(
            op.url, body, content_type="application/json", **extra
        )
        assert response.status_code in (200, 202), (str(op), response.content)
        assert actors_since(site.store, before) == {expected}, str(op)


def test_every_page_that_accepts_post_has_a_sample_change_here(
    site: Site, operator: Client
) -> None:
    covered = {name for name, _role, _form in PAGE_CHANGES.values()} | NOT_CHANGES
    accepting = set()
    for page in pages(site.samples):
        if page.public or page.name in covered:
            continue
        if operator.post(page.url, {}).status_code != 405:
            accepting.add(page.name)
    assert accepting == set()


@pytest.mark.parametrize("change", list(PAGE_CHANGES))
def test_every_page_change_is_audited_with_its_actor(
    site: Site, client: Client, django_user_model: Any, change: str
) -> None:
    name, role, form = PAGE_CHANGES[change]
    client.force_login(user_in(django_user_model, role))
    [page] = [p for p in pages(site.samples) if p.name == name]
    if change == "restore":
        client.post(page.url, {"action": "engage"})
    before = ids(site.store)
    response = client.post(page.url, form(site))
    assert response.status_code in (200, 302), response.content[:300]
    assert actors_since(site.store, before) == {role}


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("llmopt_rollback", ["--reason", "drill"]),
        ("llmopt_rollback", ["--restore"]),
        ("llmopt_migrate", []),
        ("llmopt_token", ["create", "--user", "robot", "--name", "cli"]),
        ("llmopt_token", ["revoke", "--user", "robot", "--name", "crawler"]),
    ],
)
def test_every_command_change_is_audited_with_the_shell_user(
    site: Site, command: str, args: list[str]
) -> None:
    if args == ["--restore"]:
        call_command("llmopt_rollback", stdout=StringIO())
    before = ids(site.store)
    call_command(command, *args, stdout=StringIO(), stderr=StringIO())
    assert actors_since(site.store, before) == {CLI}
