"""The command-line twins of the rollback button, for when the web console is down."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from llmopt.errors import StoreError
from llmopt.killswitch import read_kill_switch, release_kill_switch
from llmopt.store import DocumentName, Store, UsageRollup

from ..conftest import SECRET, seed


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_rollback_engages_the_switch_with_who_and_why_and_restore_releases_it(
    store: Store,
) -> None:
    seed(store)
    release_kill_switch(store, actor="setup")
    before = store.read_document(DocumentName.AI_CONFIG)
    output = run("llmopt_rollback", "--reason", "error spike")
    assert "kill switch ENGAGED" in output and "reason: error spike" in output
    state = read_kill_switch(store)
    assert state.engaged and state.actor is not None and state.actor.startswith("cli:")
    [record] = store.list_audit(action="killswitch.engage")
    assert record.reason == "error spike"
    assert "kill switch released" in run("llmopt_rollback", "--restore")
    assert not read_kill_switch(store).engaged
    assert store.read_document(DocumentName.AI_CONFIG) == before  # flags untouched


def test_rollback_says_clearly_when_the_store_cannot_be_written(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(store, "read_document", broken)
    with pytest.raises(CommandError, match="could not be written: database is locked"):
        run("llmopt_rollback")


def test_status_shows_the_switch_entries_batches_and_todays_savings(store: Store) -> None:
    seed(store)
    now = datetime.now(UTC)
    store.add_usage(
        [
            UsageRollup(
                minute=now,
                entry_key="anthropic:claude-sonnet-4-6",
                calls=3,
                cost_usd=0.5,
                baseline_cost_usd=2.0,
            )
        ]
    )
    output = run("llmopt_status")
    assert "kill switch ENGAGED" in output  # no record yet: the safe state
    assert "anthropic:claude-sonnet-4-6: caching (5 min)" in output
    assert "active batches: 0" in output
    assert "today: 3 calls, cost $0.5000, without optimization $2.0000, saved $1.5000" in output
    assert SECRET not in output


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("false", "this process: LLM_OPTIMIZATION_ENABLED=false in this process's environment: "),
        ("0", "this process: LLM_OPTIMIZATION_ENABLED=0 in this process's environment: "),
        ("maybe", "this process: LLM_OPTIMIZATION_ENABLED='maybe' is not true or false"),
    ],
)
def test_status_says_right_after_the_kill_switch_when_this_process_optimizes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    seed(store)
    release_kill_switch(store, actor="setup")
    monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", value)
    lines = run("llmopt_status").splitlines()
    assert lines[0].startswith("kill switch released")
    assert lines[1].startswith(said) and "optimizes nothing" in lines[1]


@pytest.mark.parametrize("value", [None, "true", ""])
def test_status_says_nothing_of_the_environment_when_it_leaves_optimization_on(
    store: Store, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    seed(store)
    if value is None:
        monkeypatch.delenv("LLM_OPTIMIZATION_ENABLED", raising=False)
    else:
        monkeypatch.setenv("LLM_OPTIMIZATION_ENABLED", value)
    output = run("llmopt_status")
    assert "this process" not in output and "LLM_OPTIMIZATION_ENABLED" not in output


def test_the_console_and_its_commands_load_without_langchain_or_the_sdk(tmp_path: Path) -> None:
    # Those take seconds to import; on call, `llmopt_rollback` must not wait for them.
    code = (
        "import sys, django; django.setup(); "
        "from django.core.management import get_commands, load_command_class; "
        "import console.urls; "
        "[load_command_class(app, name) for name, app in get_commands().items() "
        "if name.startswith('llmopt_')]; "
        "bad = sorted(m for m in sys.modules if m.startswith(('langchain', 'anthropic')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "LLMOPT_VAR_DIR": str(tmp_path),
        "LLMOPT_SQLITE_PATH": str(tmp_path / "llmopt.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("reason", ["x" * 501, "spike\u202e", "one\nline"])
def test_rollback_refuses_a_reason_the_free_text_rule_refuses_and_changes_nothing(
    store: Store, reason: str
) -> None:
    release_kill_switch(store, actor="setup")
    with pytest.raises(CommandError, match="reason must"):
        run("llmopt_rollback", "--reason", reason)
    assert not read_kill_switch(store).engaged
    assert store.list_audit(action="killswitch.engage") == []
