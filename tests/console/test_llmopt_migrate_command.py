from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from llmopt.config import OptimizationConfig, load_document
from llmopt.store import Store

from .conftest import seed


def run(*args: str) -> str:
    out = StringIO()
    call_command("llmopt_migrate", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_prints_the_diff_and_writes_nothing(store: Store) -> None:
    seed(store)
    revision = load_document(store).revision
    output = run("--dry-run")
    assert "ollama:llama3.1\n  + optimizationEnabled: false" in output
    assert "dry run: nothing was written" in output
    assert load_document(store).revision == revision


def test_it_migrates_then_reverses(store: Store) -> None:
    seed(store)
    output = run("--reason", "rollout")
    assert "backup of the document before the change:" in output
    assert load_document(store).entry("ollama:llama3.1").configuration == {
        "model": "llama3.1",
        **OptimizationConfig().flags(),
    }
    assert "nothing to change: already done" in run()
    run("--reverse")
    assert load_document(store).entry("ollama:llama3.1").configuration == {"model": "llama3.1"}


def test_it_warns_that_the_kill_switch_keeps_optimization_off(store: Store) -> None:
    seed(store)
    assert "kill switch engaged: all optimization is off" in run()


def test_without_a_document_it_fails_with_a_clear_error(store: Store) -> None:
    with pytest.raises(CommandError, match="no aiconfigs document"):
        run()
