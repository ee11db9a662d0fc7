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
==================================  ===================================================
"""

from __future__ import annotations

from llmopt.quality._code import check_code, validate_json_schema
from llmopt.quality._completeness import check_completeness, is_truncated
from llmopt.quality._judge import judge_response
from llmopt.quality._monitor import LLMQualityMonitor
from llmopt.quality._relevance import check_relevance, check_support
from llmopt.quality._safety import check_refusal_and_safety, leaked_secrets
from llmopt.quality._score import DEFAULT_WEIGHTS, CheckResult, QualityScore, combine

__all__ = [
    "DEFAULT_WEIGHTS",
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
