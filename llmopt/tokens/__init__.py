"""Token counting per provider, budgets, and budget alerts.

- :class:`TokenCounter`: a request's tokens as its provider bills them (exact through
  OpenAI's tokenizer when its file is on this machine or Anthropic's counting endpoint
  when asked, else a calibrated estimate), priced with :func:`llmopt.providers.cost_of`,
  and per-model totals for this process.
- :class:`BudgetSettings`: one budget of the ``budgets`` list (USD and/or tokens per day
  or month, for one entry or overall, what to do at the limit, alert thresholds).
- :class:`BudgetGuard`: reserves each call's estimate against every budget that applies
  before the call (:class:`~llmopt.errors.BudgetExceeded` when a ``refuse`` budget is
  spent), settles the actual usage after it, and records each threshold's alert once.
- :func:`update_budgets` saves the list; :func:`masked_budgets` and
  :func:`masked_webhook` show it without the secrets webhook URLs carry.

The estimate
============

Measured against the providers' counting as the sandbox does it (its Anthropic, OpenAI
and Ollama stand-ins count alike: a token per run of word characters and per other
non-space character), on real text from what is installed (the standard library's
docstrings and sources, packages' README and JSON files, Django's translations in twelve
languages, numpy's CSV vectors); ``uv run python tests/benchmarks/bench_tokens.py``
prints the figures. Relative error of a text's count:

===========  =======  ======
kind         mean     p95
===========  =======  ======
prose        0.0%     0.0%
code         0.0%     0.0%
JSON         0.0%     0.0%
numbers      0.0%     0.0%
non-English  0.2%     1.4%
===========  =======  ======

The same for every provider, since they count alike; a request's count adds each
provider's overheads (``OVERHEADS``), which for Anthropic are the sandbox's own. ASCII
text is counted exactly by the character classes; the non-English error comes from the
combining marks of Devanagari and Arabic script, weighed rather than counted
(``MARK_WEIGHT``, fitted on the same catalogues, so that figure is in-sample). Counting a
100,000-token prompt: about 3 ms for ASCII prose and code on a quiet machine, 12 ms for the
corpus's prose-and-code prompt on a busy one (it holds non-ASCII punctuation, replaced a
pass at a time), and about 35 ms for non-English text (one pass per punctuation character
and combining mark present: over the 10 ms target; the regular expression takes 55-70 ms).
Real tokenizers split text differently (BPE splits rare words, and CJK text is
about a token a character where this counting makes a run of it one token), so against
a real provider's bill these figures do not hold; the budgets settle on what the
provider reports, so an estimate only sizes the reservation.
"""

from __future__ import annotations

from llmopt.errors import BudgetExceeded
from llmopt.tokens._budget_guard import Admission, BudgetGuard, BudgetStatus
from llmopt.tokens._budget_settings import BudgetSettings
from llmopt.tokens._counter import Method, ModelUsage, TokenCounter
from llmopt.tokens._edit import ACTION_UPDATE_BUDGETS, masked_budgets, update_budgets
from llmopt.tokens._webhook import WebhookSender, masked_webhook

__all__ = [
    "ACTION_UPDATE_BUDGETS",
    "Admission",
    "BudgetExceeded",
    "BudgetGuard",
    "BudgetSettings",
    "BudgetStatus",
    "Method",
    "ModelUsage",
    "TokenCounter",
    "WebhookSender",
    "masked_budgets",
    "masked_webhook",
    "update_budgets",
]
