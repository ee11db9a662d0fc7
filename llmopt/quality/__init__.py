"""How good is an answer: cheap checks and a combined score, no LLM call by default.

A cascade tries the cheap model first and escalates only when its answer falls short;
that needs a score that costs far less than the call it judges. These checks parse,
match patterns and compare embeddings; an LLM judge is opt-in and its cost is counted.

==================================  ===================================================
name                                use it to
==================================  ===================================================
``LLMQualityMonitor``               score an answer (``evaluate_response``) from all
                                    the checks that apply
``QualityScore`` / ``CheckResult``  the combined score with its parts, and one check's
                                    verdict (``to_dict()`` for JSON)
``combine`` / ``DEFAULT_WEIGHTS``   the weighted average (fatal parts give 0; checks
                                    that do not apply are left out)
``check_code``                      Python / JSON (+ schema) / SQL syntax
``check_completeness``              truncated at max_tokens; numbered questions answered
``check_relevance``                 answer about the request (embeddings or lexical)
``check_support``                   claims the retrieved context does not back
``check_refusal_and_safety``        refusals, "As an AI", leaked credentials
``judge_response``                  the opt-in LLM judge on its own
``QualitySettings``                 the document's ``quality`` object (monitoring,
                                    degradation alerts, A/B tests); saved by
                                    ``update_quality``, shown by ``masked_quality``
``QualityTracker``                  scores routed answers in the background, records
                                    them per entry and model, raises degradation
                                    alerts (``quality_tracker_for(store)``)
``QualitySummary`` / ``ABResult``   what recorded scores say (``judge_degradation``,
                                    ``compare_arms``, ``draw_arm``)
``welch_t_test`` / ...              the significance tests A/B verdicts use
==================================  ===================================================
"""

from __future__ import annotations

from llmopt.quality._code import check_code, validate_json_schema
from llmopt.quality._completeness import check_completeness, is_truncated
from llmopt.quality._edit import masked_quality, update_quality
from llmopt.quality._judge import judge_response
from llmopt.quality._metrics import (
    SIGNIFICANCE,
    ABResult,
    Degradation,
    QualitySummary,
    compare_arms,
    draw_arm,
    judge_degradation,
)
from llmopt.quality._monitor import LLMQualityMonitor
from llmopt.quality._relevance import check_relevance, check_support
from llmopt.quality._safety import check_refusal_and_safety, leaked_secrets
from llmopt.quality._score import DEFAULT_WEIGHTS, CheckResult, QualityScore, combine
from llmopt.quality._settings import (
    ACTION_UPDATE_QUALITY,
    QUALITY,
    ABTest,
    DegradationSettings,
    QualitySettings,
)
from llmopt.quality._stats import TestResult, two_proportion_z_test, welch_t_test
from llmopt.quality._tracker import (
    QualityTracker,
    alert_body,
    answer_flags,
    quality_tracker_for,
    window_start,
)

__all__ = [
    "ACTION_UPDATE_QUALITY",
    "DEFAULT_WEIGHTS",
    "QUALITY",
    "SIGNIFICANCE",
    "ABResult",
    "ABTest",
    "Degradation",
    "DegradationSettings",
    "QualitySettings",
    "QualitySummary",
    "QualityTracker",
    "TestResult",
    "alert_body",
    "answer_flags",
    "compare_arms",
    "draw_arm",
    "judge_degradation",
    "masked_quality",
    "quality_tracker_for",
    "two_proportion_z_test",
    "update_quality",
    "welch_t_test",
    "window_start",
    "CheckResult",
    "LLMQualityMonitor",
    "QualityScore",
    "check_code",
    "check_completeness",
    "check_refusal_and_safety",
    "check_relevance",
    "check_support",
    "combine",
    "is_truncated",
    "judge_response",
    "leaked_secrets",
    "validate_json_schema",
]
