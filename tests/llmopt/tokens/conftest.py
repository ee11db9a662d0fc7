from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import anthropic
import pytest

from llmopt.sandbox import SandboxServer, running_sandbox


def load_corpus_module() -> ModuleType:
    """corpus.py, loaded by path (the tests are not a package)."""
    spec = importlib.util.spec_from_file_location(
        "token_corpus", Path(__file__).with_name("corpus.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def corpus() -> dict[str, list[str]]:
    samples: dict[str, list[str]] = load_corpus_module().corpus()
    return samples


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture
def anthropic_client(sandbox: SandboxServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=sandbox.base_url, api_key=sandbox.api_key, max_retries=0
    ) as client:
        yield client
