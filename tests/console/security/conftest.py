"""The site the security sweeps crawl: every page and API operation of a seeded console."""

from __future__ import annotations

from typing import Any

import pytest

from llmopt.killswitch import release_kill_switch
from llmopt.store import Store

from ..crawl import Site, seed_site


@pytest.fixture
def site(store: Store, django_user_model: Any) -> Site:
    """The seeded site, its kill switch in the safe state a new store has (engaged)."""
    return seed_site(store, django_user_model)


@pytest.fixture
def released_site(store: Store, django_user_model: Any) -> Site:
    """The seeded site with the kill switch released first, so that a change an operator
    makes is refused only by what the test checks."""
    release_kill_switch(store, actor="setup")
    return seed_site(store, django_user_model)
