from __future__ import annotations

import getpass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from llmopt.config import OptimizationConfig, load_document
from llmopt.killswitch import engage_kill_switch, read_kill_switch
from llmopt.store import DocumentName, Store

from ..conftest import seed


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


def test_it_warns_that_an_engaged_kill_switch_keeps_optimization_off(store: Store) -> None:
    seed(store)
    engage_kill_switch(store, actor="oncall", reason="incident")
    output = run()
    assert "the kill switch record exists (engaged); left as it is" in output
    assert "kill switch engaged: all optimization is off (incident)" in output
    assert read_kill_switch(store).engaged


@pytest.mark.django_db
def test_on_a_fresh_store_it_creates_the_kill_switch_released_so_the_flags_apply(
    store: Store, signed_in: Client
) -> None:
    seed(store)
    output = run()
    # After the diff and the write: what happened to the kill switch.
    assert output.splitlines()[-1] == (
        "created the kill switch record, released: each entry's flags apply"
    )
    assert "kill switch engaged" not in output
    switch = read_kill_switch(store)
    assert not switch.engaged and switch.problem is None
    assert switch.actor == f"cli:{getpass.getuser()}"
    [record] = store.list_audit(action="killswitch.release")
    assert record.target == "kill_switch"

    status = StringIO()
    call_command("llmopt_status", stdout=status)
    assert status.getvalue().startswith("kill switch released: each entry's own flags apply")
    assert "Optimization is ON per entry" in signed_in.get("/").content.decode()
    assert "the kill switch record exists (released); left as it is" in run()


def test_keep_off_leaves_the_kill_switch_record_missing_and_says_so(store: Store) -> None:
    seed(store)
    output = run("--keep-off")
    assert "no kill switch record: left missing as asked" in output
    assert "kill switch engaged: all optimization is off (no kill switch record" in output
    assert store.read_document(DocumentName.KILL_SWITCH) is None
    configuration = load_document(store).entry("ollama:llama3.1").configuration or {}
    assert configuration["optimizationEnabled"] is False  # the document was migrated all the same


def test_a_dry_run_creates_no_kill_switch_record(store: Store) -> None:
    seed(store)
    output = run("--dry-run")
    assert "no kill switch record: the migration would create it, released" in output
    assert store.read_document(DocumentName.KILL_SWITCH) is None
    assert store.list_audit(action="killswitch.release") == []


def test_keep_off_is_refused_with_reverse(store: Store) -> None:
    seed(store)
    with pytest.raises(CommandError, match="--keep-off is for the migration"):
        run("--reverse", "--keep-off")


def test_without_a_document_it_fails_with_a_clear_error(store: Store) -> None:
    with pytest.raises(CommandError, match="no aiconfigs document"):
        run()
