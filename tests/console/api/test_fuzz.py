"""Fuzz the API from its own OpenAPI schema (schemathesis): no 5xx, nothing invalid stored.

Every operation gets schema-conforming and schema-violating requests as an operator
(API token), over WSGI. Bounded and derandomized, so a run is quick and repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from console.wsgi import application
from llmopt.config import OptimizationConfig, load_document
from llmopt.store import Store

from ..crawl import KEY, Site, seed_site

pytestmark = pytest.mark.django_db
EXAMPLES = 20  # per operation and mode: about 300 requests in all


@contextmanager
def same_connection() -> Iterator[None]:
    # As Django's test client does: keep the test's transaction across WSGI requests.
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_finished.connect(close_old_connections)


def stored_flags_are_valid(store: Store) -> None:
    """Every entry's flags pass the core's validation (raises ``ConfigError`` if not)."""
    for entry in load_document(store).entries:
        assert entry.problems == (), entry.key
        OptimizationConfig.from_dict(dict(entry.configuration or {}))


def test_no_operation_answers_5xx_and_nothing_invalid_is_ever_stored(
    store: Store, django_user_model: Any
) -> None:
    site: Site = seed_site(store, django_user_model)
    headers = {"Authorization": f"Bearer {site.operator_token}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, headers=headers)
    calls: list[tuple[str, int]] = []

    def exercise(operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            if case.method == "PATCH" and isinstance(case.body, dict):
                # Aim the edit at a real entry at its current revision, so the fuzzed flags
                # reach the validator instead of stopping at 404 or 409.
                case.path_parameters = {**(case.path_parameters or {}), "key": KEY}
                case.body["revision"] = load_document(store).revision
            response = case.call(headers=headers)
            calls.append((f"{case.method} {case.path}", response.status_code))
            assert response.status_code < 500, (case.method, case.formatted_path, case.body)
            stored_flags_are_valid(store)

        run()

    with same_connection():
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                exercise(operation, mode)

    # The run reached every operation, and some edits got through validation and were stored.
    assert len({name for name, _status in calls}) == len(list(schema.get_all_operations()))
    assert ("PATCH /config/{key}", 200) in calls or ("PATCH /api/config/{key}", 200) in calls
    stored_flags_are_valid(store)
