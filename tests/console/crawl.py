"""Every URL of the console, found from the URL resolver and the API's OpenAPI schema.

The security tests walk these lists, so a page or endpoint added later is covered
without editing them; path parameters get sample values by name (``SAMPLES``) and
pages that need a query string get one from ``QUERIES``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import Group, User
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.accounts.tokens import issue_token
from console.models import ApiToken
from llmopt.store import BatchRecord, BatchStatus, DocumentName, Store

from .conftest import seed

KEY = "anthropic:claude-sonnet-4-6"
BATCH_ID = "batch-sample-1"

# Pages anyone may open: signing in and the load balancer's probe. ``api:api-root`` is
# ninja's: it always answers 404, naming the docs' address. The API's docs and schema
# are for signed-in users (unless LLMOPT_PUBLIC_API_DOCS opens them).
PUBLIC_NAMES = {
    "login",
    "healthz",
    "api:api-root",
}
UNSAFE_METHODS = ("post", "put", "patch", "delete")
ALL_METHODS = ("get", "head", "options", *UNSAFE_METHODS)

# Query strings a page reads its subject from (a path parameter would need none).
QUERIES = {"config-edit": f"?key={KEY.replace(':', '%3A')}"}


@dataclass(frozen=True)
class Page:
    """One non-API URL with its parameters filled in."""

    name: str
    url: str

    @property
    def public(self) -> bool:
        return self.name in PUBLIC_NAMES


# POSTs that change nothing: a search whose query is a body.
READ_ONLY_POSTS = frozenset({"POST /api/context/{index}/search"})


@dataclass(frozen=True)
class Operation:
    """One API operation from the OpenAPI schema, its path parameters filled in."""

    method: str
    template: str
    url: str

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.template}"

    @property
    def changes(self) -> bool:
        """Whether it may change data: every method but GET, except the read-only POSTs."""
        return self.method != "get" and str(self) not in READ_ONLY_POSTS


@dataclass
class Site:
    """A seeded console: the store, a batch, an operator token, and their sample ids."""

    store: Store
    samples: dict[str, str]
    operator_token: str


def seed_site(
    store: Store, django_user_model: Any, aiconfigs: dict[str, Any] | None = None
) -> Site:
    """Seed the store (entries with the API key, one running batch) and a token."""
    seed(store, aiconfigs)
    store.insert_batch(
        BatchRecord(
            id=BATCH_ID,
            provider="anthropic",
            model="claude-sonnet-4-6",
            entry_key=KEY,
            provider_batch_id="msgbatch_sample",
            status=BatchStatus.IN_PROGRESS,
            request_counts={
                "processing": 3,
                "succeeded": 1,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )
    owner = django_user_model.objects.create_user(username="robot", password="pw-robot-1")
    owner.groups.add(Group.objects.get(name="operator"))
    token, secret = issue_token(owner, "crawler", actor="setup")
    samples = {
        "key": KEY,
        "id": BATCH_ID,
        "batch_id": BATCH_ID,
        "token_id": str(token.pk),
        "object_id": str(owner.pk),
        "index": "docs",  # a retrieval index; none exists on the crawled site: 404
        "document": "guide/install.md",
    }
    return Site(store=store, samples=samples, operator_token=secret)


def pages(samples: dict[str, str]) -> list[Page]:
    """Every URL the resolver knows, except the API's operations (see ``operations``)."""
    found: list[Page] = []
    for route, name, view in _walk(get_resolver(), "", ""):
        if is_api_operation(view):
            continue  # covered, with their methods, by the OpenAPI schema
        url = "/" + _fill(route, samples)
        found.append(Page(name=name or url, url=url + QUERIES.get(name, "")))
    return found


def api_routes() -> set[str]:
    """The resolver's routes that serve API operations, as ``/api/config/{key}``."""
    return {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for route, _name, view in _walk(get_resolver(), "", "")
        if is_api_operation(view)
    }


def is_api_operation(view: Any) -> bool:
    # ninja serves every operation through one wrapper per path (``PathView.get_view``).
    return getattr(view, "__name__", "") in ("sync_view_wrapper", "async_view_wrapper")


def operations(samples: dict[str, str]) -> list[Operation]:
    """Every operation in ``/api/openapi.json``, path parameters replaced by samples."""
    with override_settings(LLMOPT_PUBLIC_API_DOCS=True):  # read it without signing in
        schema = Client().get("/api/openapi.json").json()
    found = []
    for template, methods in schema["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: _sample(m.group(1), samples), template)
        for method in methods:
            found.append(Operation(method=method, template=template, url=url))
    return found


def lands_on_login(client: Client, response: Any) -> bool:
    """Whether this response, followed through redirects, asks the visitor to sign in."""
    login_paths = {reverse("login")}
    for _hop in range(4):
        if response.status_code not in (301, 302, 303, 307, 308):
            return False
        location = response["Location"]
        if location.split("?")[0] in login_paths:
            return True
        response = client.get(location)
    return False


def snapshot(store: Store) -> dict[str, Any]:
    """Everything a mutation could change: the store's documents, audit, batches; users."""
    documents = {}
    for name in DocumentName:
        document = store.read_document(name)
        documents[name.value] = None if document is None else (document.revision, document.body)
    return {
        "documents": documents,
        "audit": [record.id for record in store.list_audit(limit=10_000)],
        "batches": [b.model_dump() for b in store.list_batches(limit=10_000)],
        # ``last_used_at`` moves with calls made with a token: reading, not changing.
        "tokens": list(ApiToken.objects.order_by("pk").values(*_TOKEN_STATE)),
        "users": list(User.objects.order_by("pk").values()),
    }


_TOKEN_STATE = ("pk", "user", "name", "prefix", "secret_hash", "expires_at", "revoked_at")


@contextmanager
def every_log_line() -> Iterator[list[str]]:
    """Collect every log record, at DEBUG, from every logger, formatted with tracebacks."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.root or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield lines
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)


def _walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[tuple[str, str, Any]]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, route, inner)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name}" if entry.name else "", entry.callback


def _fill(route: str, samples: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: _sample(m.group(1), samples), route)


def _sample(name: str, samples: dict[str, str]) -> str:
    if name not in samples:
        raise AssertionError(
            f"a URL has a parameter {name!r} with no sample value: add one to "
            "tests/console/crawl.py so the security tests can reach it"
        )
    return samples[name]
