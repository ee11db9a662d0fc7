"""A wrapper's cache plans reach the store through its usage recorder, for the entry's page."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from llmopt.sandbox import SandboxServer
from llmopt.store import SQLiteStore
from llmopt.wrapper import OptimizedLLMWrapper, UsageRecorder

from .conftest import CACHING, SYSTEM, chat, words


def test_each_calls_plan_is_recorded_with_its_breakpoints_and_reasons(
    sandbox: SandboxServer,
) -> None:
    store = SQLiteStore(":memory:")
    recorder = UsageRecorder(store)
    model = OptimizedLLMWrapper(
        chat(sandbox), "anthropic", CACHING, recorder=recorder, entry_key="support-bot"
    )
    for question in ("first", "second", "third"):
        model.invoke([SystemMessage(SYSTEM), HumanMessage(words(50, question))])
    recorder.flush()

    plans = store.recent_plans("support-bot")

    assert len(plans) == 3
    assert plans[0].at >= plans[1].at >= plans[2].at
    newest = plans[0]
    assert newest.breakpoints and all(b.reason for b in newest.breakpoints)
    assert newest.breakpoints[0].location.startswith("system")
    assert newest.decisions
    # The planner explains by structure and counts; the prompt's words stay out.
    assert "policy" not in newest.model_dump_json()
    assert "third" not in newest.model_dump_json()
