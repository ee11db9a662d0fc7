"""Several models for one request: ask them at once, pick the answer they agree on, or
try the cheap one first and escalate only when its answer falls short.

- :class:`MultiLLMOrchestrator`: ``parallel_llm_call`` (per-call timeouts, partial
  results), ``consensus_resolution`` (majority, similarity, judge),
  ``cascade_execution`` (cheap first, escalate below a score threshold) and
  ``rank_results``; async twins prefixed ``a``.
- Records: :class:`CallRecord` per call (latency, cost from real usage, tokens, score,
  error) inside :class:`ParallelResult`, :class:`ConsensusResult` and
  :class:`CascadeResult`, each with totals and ``to_dict()``.
- :meth:`MultiLLMOrchestrator.orchestrate_task` runs any strategy (``single``,
  ``cascade``, ``parallel``, ``consensus``) and returns a :class:`TaskResult`.
- Per entry, ``configuration.orchestration`` (:class:`OrchestrationSettings`, saved by
  :func:`update_orchestration`) makes the routed model answer that entry through
  :class:`OrchestratedChatModel`.
- Scoring: a scorer is ``scorer(request_messages, answer) -> float`` in 0..1;
  :func:`usable_answer_score` (the default) rejects only empty, refused and truncated
  answers. :func:`jaccard_similarity` is the default similarity for free text.
"""

from __future__ import annotations

from llmopt.orchestration._chat_model import ORCHESTRATION_KEY, OrchestratedChatModel
from llmopt.orchestration._consensus import (
    Similarity,
    jaccard_similarity,
    normalise_answer,
)
from llmopt.orchestration._edit import update_orchestration
from llmopt.orchestration._orchestrator import CONSENSUS_METHODS, MultiLLMOrchestrator
from llmopt.orchestration._records import (
    CallRecord,
    CascadeResult,
    ConsensusResult,
    ParallelResult,
)
from llmopt.orchestration._scoring import Scorer, rank_results, usable_answer_score
from llmopt.orchestration._settings import (
    ACTION_UPDATE_ORCHESTRATION,
    ORCHESTRATION,
    OrchestrationSettings,
    orchestration_of,
)
from llmopt.orchestration._task import TaskResult

__all__ = [
    "ACTION_UPDATE_ORCHESTRATION",
    "CONSENSUS_METHODS",
    "ORCHESTRATION",
    "ORCHESTRATION_KEY",
    "OrchestratedChatModel",
    "OrchestrationSettings",
    "TaskResult",
    "orchestration_of",
    "update_orchestration",
    "CallRecord",
    "CascadeResult",
    "ConsensusResult",
    "MultiLLMOrchestrator",
    "ParallelResult",
    "Scorer",
    "Similarity",
    "jaccard_similarity",
    "normalise_answer",
    "rank_results",
    "usable_answer_score",
]
