"""``MultiLLMOrchestrator``: one request to several models, and which answer to keep.

Use it when one model's answer is not enough or costs too much: ask several at once and
keep what they agree on (high-stakes decisions), or try the cheap model first and pay
for the strong one only when the cheap answer falls short (the cascade, the pattern
that saves money). Models are named by entry key and may be ``OptimizedLLMWrapper``\\s
or any LangChain chat model. Every run returns a record of each call's latency, cost
and tokens and the strategy's totals; no model failure is raised, it is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    BaseMessage,
    HumanMessage,
    MessageLikeRepresentation,
    convert_to_messages,
)

from llmopt.orchestration import _calling, _consensus, _task
from llmopt.orchestration._records import (
    CallRecord,
    CascadeResult,
    ConsensusResult,
    ParallelResult,
)
from llmopt.orchestration._scoring import Scorer, rank_results, usable_answer_score, with_score
from llmopt.orchestration._settings import OrchestrationSettings
from llmopt.orchestration._task import TaskResult

Messages = str | Sequence[MessageLikeRepresentation]
Clock = Callable[[], datetime]

CONSENSUS_METHODS = ("majority", "similarity", "judge")
DEFAULT_TIMEOUT_SECONDS = 60.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_messages(messages: Messages) -> list[BaseMessage]:
    # A bare string is one user message, not a sequence of one-letter messages.
    if isinstance(messages, str):
        return [HumanMessage(messages)]
    return convert_to_messages(messages)


class MultiLLMOrchestrator:
    """Parallel calls, consensus, cascades and ranking over named chat models.

    ``models`` maps entry keys to chat models (or lists ``(key, model)`` pairs; their
    order is the default order of calls and breaks ties). ``scorer`` is the default
    for cascades and ranking (:func:`usable_answer_score` when unset). ``timer``
    (seconds, monotonic) and ``clock`` (the run's start time) are seams for tests.

    Raises ``ValueError`` when no model is given or a key repeats, and ``KeyError``
    when a strategy names an entry it does not know.
    """

    def __init__(
        self,
        models: Mapping[str, BaseChatModel] | Sequence[tuple[str, BaseChatModel]],
        *,
        scorer: Scorer | None = None,
        timer: Callable[[], float] = time.perf_counter,
        clock: Clock = _utcnow,
    ) -> None:
        pairs = list(models.items()) if isinstance(models, Mapping) else list(models)
        if not pairs:
            raise ValueError("an orchestrator needs at least one model")
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"entry keys must be unique, got {keys}")
        self._models = dict(pairs)
        self.scorer: Scorer = scorer or usable_answer_score
        self._timer = timer
        self._clock = clock

    @property
    def entries(self) -> tuple[str, ...]:
        """The entry keys, in the order given."""
        return tuple(self._models)

    # -- parallel -----------------------------------------------------------------------

    def parallel_llm_call(
        self,
        messages: Messages,
        entries: Sequence[str] | None = None,
        *,
        timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> ParallelResult:
        """Ask every entry (all by default) at once, one thread each.

        Calls that fail or take longer than ``timeout_seconds`` are recorded as such and
        the others still returned (partial results). A timed-out synchronous call cannot
        be interrupted; it finishes in the background and its answer is dropped.
        """
        request = _as_messages(messages)
        started_at, started = self._clock(), self._timer()
        calls = _calling.call_all(
            self._pick(entries), request, self._timer, timeout=timeout_seconds
        )
        return ParallelResult(tuple(calls), self._timer() - started, started_at)

    async def aparallel_llm_call(
        self,
        messages: Messages,
        entries: Sequence[str] | None = None,
        *,
        timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> ParallelResult:
        """:meth:`parallel_llm_call` on the running event loop; a call that times out
        is cancelled."""
        request = _as_messages(messages)
        started_at, started = self._clock(), self._timer()
        calls = await _calling.acall_all(
            self._pick(entries), request, self._timer, timeout=timeout_seconds
        )
        return ParallelResult(tuple(calls), self._timer() - started, started_at)

    # -- consensus ----------------------------------------------------------------------

    def consensus_resolution(
        self,
        result: ParallelResult,
        method: str = "majority",
        *,
        similarity: _consensus.Similarity | Embeddings | None = None,
        threshold: float = 0.5,
        judge: str | BaseChatModel | None = None,
        request: Messages = (),
        timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> ConsensusResult:
        """The answer of ``result`` that wins by ``method`` (see the table in
        :mod:`llmopt.orchestration._consensus`), its support, and why.

        ``similarity`` and ``threshold`` apply to ``"similarity"``; ``judge`` (an entry
        key or a chat model) and ``request`` (what the answers reply to) to
        ``"judge"``. Raises ``ValueError`` for an unknown method or a judge method
        without a judge.
        """
        prepared = self._prepare_consensus(result, method, judge)
        if isinstance(prepared, ConsensusResult):
            return prepared
        answers, judge_key, judge_model = prepared
        if judge_model is None:
            return self._agree(result, method, answers, similarity, threshold)
        started = self._timer()
        verdict = _calling.call_all(
            [(judge_key, judge_model)],
            _consensus.judge_prompt(_as_messages(request), answers),
            self._timer,
            timeout=timeout_seconds,
            role="judge",
        )[0]
        return self._judged(result, answers, verdict, self._timer() - started)

    async def aconsensus_resolution(
        self,
        result: ParallelResult,
        method: str = "majority",
        *,
        similarity: _consensus.Similarity | Embeddings | None = None,
        threshold: float = 0.5,
        judge: str | BaseChatModel | None = None,
        request: Messages = (),
        timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> ConsensusResult:
        """:meth:`consensus_resolution` with the judge called on the running loop."""
        prepared = self._prepare_consensus(result, method, judge)
        if isinstance(prepared, ConsensusResult):
            return prepared
        answers, judge_key, judge_model = prepared
        if judge_model is None:
            return self._agree(result, method, answers, similarity, threshold)
        started = self._timer()
        verdict = await _calling.acall_one(
            judge_key,
            judge_model,
            _consensus.judge_prompt(_as_messages(request), answers),
            self._timer,
            timeout=timeout_seconds,
            role="judge",
        )
        return self._judged(result, answers, verdict, self._timer() - started)

    def _prepare_consensus(
        self, result: ParallelResult, method: str, judge: str | BaseChatModel | None
    ) -> ConsensusResult | tuple[list[CallRecord], str, BaseChatModel | None]:
        if method not in CONSENSUS_METHODS:
            raise ValueError(f"unknown consensus method {method!r}; use one of {CONSENSUS_METHODS}")
        if method == "judge" and judge is None:
            raise ValueError("the judge method needs a judge (an entry key or a chat model)")
        answers = list(result.answers)
        if not answers:
            return self._consensus(result, method, None, [], "no entry answered")
        if method != "judge":
            return answers, "", None
        if isinstance(judge, str):
            return answers, judge, self._model(judge)
        assert judge is not None  # checked above
        return answers, f"judge:{judge.get_name()}", judge

    def _agree(
        self,
        result: ParallelResult,
        method: str,
        answers: list[CallRecord],
        similarity: _consensus.Similarity | Embeddings | None,
        threshold: float,
    ) -> ConsensusResult:
        if method == "majority":
            winner, members, why = _consensus.majority(answers)
        else:
            matrix = _consensus.similarity_matrix([call.text for call in answers], similarity)
            winner, members, why = _consensus.cluster(answers, matrix, threshold)
        return self._consensus(result, method, winner, members, why)

    def _judged(
        self,
        result: ParallelResult,
        answers: list[CallRecord],
        verdict: CallRecord,
        seconds: float,
    ) -> ConsensusResult:
        if not verdict.ok:
            why = f"the judge gave no verdict ({verdict.error})"
            return self._consensus(result, "judge", None, [], why, verdict, seconds)
        picked = _consensus.judge_pick(verdict.text, len(answers))
        if picked is None:
            why = f"the judge's reply names no answer: {verdict.text[:80]!r}"
            return self._consensus(result, "judge", None, [], why, verdict, seconds)
        winner = answers[picked]
        why = f"the judge picked answer {picked + 1} of {len(answers)} ({winner.entry})"
        return self._consensus(result, "judge", winner, [winner], why, verdict, seconds)

    def _consensus(
        self,
        result: ParallelResult,
        method: str,
        winner: CallRecord | None,
        members: Sequence[CallRecord],
        why: str,
        judge_call: CallRecord | None = None,
        judge_seconds: float = 0.0,
    ) -> ConsensusResult:
        calls = result.calls + ((judge_call,) if judge_call is not None else ())
        return ConsensusResult(
            method=method,
            answer=winner,
            support=len(members),
            answered=len(result.answers),
            reason=why,
            calls=calls,
            wall_seconds=result.wall_seconds + judge_seconds,
            started_at=result.started_at,
            agreeing=tuple(call.entry for call in members),
        )

    # -- cascade ------------------------------------------------------------------------

    def cascade_execution(
        self,
        messages: Messages,
        entries: Sequence[str] | None = None,
        *,
        threshold: float = 0.5,
        scorer: Scorer | None = None,
        timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> CascadeResult:
        """Ask ``entries`` (ordered cheapest to strongest; all by default) one at a
        time, and stop at the first answer whose score reaches ``threshold``.

        The next entry is called only when the previous one failed, timed out or
        scored below ``threshold``; ``scorer`` defaults to the orchestrator's.
        """
        request = _as_messages(messages)
        score = scorer or self.scorer
        started_at, started = self._clock(), self._timer()
        calls: list[CallRecord] = []
        for pair in self._pick(entries):
            call = _calling.call_all([pair], request, self._timer, timeout=timeout_seconds)[0]
            calls.append(self._scored(call, request, score))
            if self._good_enough(calls[-1], threshold):
                break
        return self._cascade(calls, threshold, started_at, self._timer() - started)

    async def acascade_execution(
        self,
        messages: Messages,
        entries: Sequence[str] | None = None,
        *,
        threshold: float = 0.5,
        scorer: Scorer | None = None,
        timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    ) -> CascadeResult:
        """:meth:`cascade_execution` on the running event loop."""
        request = _as_messages(messages)
        score = scorer or self.scorer
        started_at, started = self._clock(), self._timer()
        calls: list[CallRecord] = []
        for entry, model in self._pick(entries):
            call = await _calling.acall_one(
                entry, model, request, self._timer, timeout=timeout_seconds
            )
            calls.append(self._scored(call, request, score))
            if self._good_enough(calls[-1], threshold):
                break
        return self._cascade(calls, threshold, started_at, self._timer() - started)

    @staticmethod
    def _scored(call: CallRecord, request: Sequence[BaseMessage], scorer: Scorer) -> CallRecord:
        return call if call.answer is None else with_score(call, scorer(request, call.answer))

    @staticmethod
    def _good_enough(call: CallRecord, threshold: float) -> bool:
        return call.score is not None and call.score >= threshold

    @staticmethod
    def _cascade(
        calls: list[CallRecord], threshold: float, started_at: datetime, seconds: float
    ) -> CascadeResult:
        accepted = bool(calls) and MultiLLMOrchestrator._good_enough(calls[-1], threshold)
        scored = [call for call in calls if call.score is not None]
        # Nothing reached the threshold: offer the best-scoring answer (the later, i.e.
        # stronger, entry on a tie) rather than nothing.
        best = max(reversed(scored), key=lambda call: call.score or 0.0) if scored else None
        answer = calls[-1] if accepted else best
        return CascadeResult(answer, accepted, threshold, tuple(calls), seconds, started_at)

    # -- one task, any strategy ---------------------------------------------------------

    def orchestrate_task(
        self,
        task: Messages,
        strategy: str | OrchestrationSettings = "cascade",
        entries: Sequence[str] | None = None,
        *,
        scorer: Scorer | None = None,
        **options: Any,
    ) -> TaskResult:
        """Run ``task`` by ``strategy`` (``single``, ``cascade``, ``parallel`` or
        ``consensus``) over ``entries`` (all by default, in order) and return the
        :class:`TaskResult`: the answer kept, whether it was accepted, every call.

        ``options`` are the strategy's settings as an entry's ``orchestration`` object
        takes them (``threshold``, ``method``, ``judge``, ``timeout_seconds``), checked
        the same way: one the strategy does not use raises
        :class:`~llmopt.errors.ConfigError`. Or pass an :class:`OrchestrationSettings`
        as ``strategy``. ``scorer`` defaults to the orchestrator's.
        """
        chosen = self._keys(entries)
        settings = _task.settings_from(strategy, chosen, options)
        return _task.run(self, settings, task, scorer=scorer, entries=chosen)

    async def aorchestrate_task(
        self,
        task: Messages,
        strategy: str | OrchestrationSettings = "cascade",
        entries: Sequence[str] | None = None,
        *,
        scorer: Scorer | None = None,
        **options: Any,
    ) -> TaskResult:
        """:meth:`orchestrate_task` on the running event loop."""
        chosen = self._keys(entries)
        settings = _task.settings_from(strategy, chosen, options)
        return await _task.arun(self, settings, task, scorer=scorer, entries=chosen)

    def _keys(self, entries: Sequence[str] | None) -> list[str]:
        if isinstance(entries, str):
            entries = [entries]
        return [entry for entry, _ in self._pick(entries)]

    # -- ranking ------------------------------------------------------------------------

    def rank_results(
        self, result: ParallelResult, *, scorer: Scorer | None = None, request: Messages = ()
    ) -> list[CallRecord]:
        """The answers of ``result``, best first (see :func:`rank_results`), scored by
        ``scorer`` or the orchestrator's."""
        return rank_results(result, scorer or self.scorer, request=_as_messages(request))

    # -- entries ------------------------------------------------------------------------

    def _model(self, entry: str) -> BaseChatModel:
        try:
            return self._models[entry]
        except KeyError:
            raise KeyError(f"unknown entry {entry!r}; known: {list(self._models)}") from None

    def _pick(self, entries: Sequence[str] | None) -> list[tuple[str, BaseChatModel]]:
        if isinstance(entries, str):
            entries = [entries]
        chosen = self.entries if entries is None else entries
        return [(entry, self._model(entry)) for entry in chosen]
