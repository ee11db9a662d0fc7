"""Choosing a store from a URL or from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmopt.errors import StoreError
from llmopt.store import DocumentName, SQLiteStore, open_store, store_from_env


def test_an_in_memory_sqlite_url_opens_an_empty_store() -> None:
    store = open_store("sqlite:///:memory:")

    assert isinstance(store, SQLiteStore)
    assert store.read_document(DocumentName.AI_CONFIG) is None
    store.close()


def test_a_relative_sqlite_url_opens_a_file_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    open_store("sqlite:///relative.db").close()

    assert (tmp_path / "relative.db").exists()


def test_an_absolute_sqlite_url_opens_that_file(tmp_path: Path) -> None:
    path = tmp_path / "absolute.db"

    open_store(f"sqlite:///{path}").close()

    assert str(path).startswith("/") and path.exists()


@pytest.mark.parametrize(
    "url", ["", "sqlite:///", "sqlite://relative.db", "postgres://db/x", "var/llmopt.db"]
)
def test_a_url_of_another_form_is_a_store_error_naming_the_accepted_forms(url: str) -> None:
    with pytest.raises(StoreError, match=r"sqlite:///:memory:"):
        open_store(url)


@pytest.mark.parametrize("url", ["http://localhost:8529", "https://arango.example:8529"])
def test_an_arango_url_is_refused_in_favour_of_store_from_env(url: str) -> None:
    with pytest.raises(StoreError, match="store_from_env"):
        open_store(url)


def test_without_arango_url_the_environment_gives_sqlite_at_the_configured_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "deep" / "er" / "llmopt.sqlite3"

    store = store_from_env({"LLMOPT_SQLITE_PATH": str(path)})

    assert isinstance(store, SQLiteStore)
    assert path.exists()
    store.close()


def test_without_any_setting_the_environment_gives_sqlite_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store_from_env({}).close()

    assert (tmp_path / "var" / "llmopt.sqlite3").exists()


def test_with_arango_url_an_unreachable_server_is_a_store_error() -> None:
    # Port 9 (discard) on loopback refuses connections at once.
    with pytest.raises(StoreError, match="ArangoDB"):
        store_from_env({"ARANGO_URL": "http://127.0.0.1:9", "ARANGO_PASSWORD": "x"})
