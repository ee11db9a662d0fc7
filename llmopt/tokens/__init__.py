"""Token counting per provider, budgets, and budget alerts.

- :class:`TokenCounter`: a request's tokens as its provider bills them (exact through
  OpenAI's tokenizer when its file is on this machine or Anthropic's counting endpoint
  when asked, else an estimate by the sandbox's counting rule), priced with
  :func:`llmopt.providers.cost_of`, and per-model totals for this process.
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
non-space character), the estimate is that counting, to the token, for any text: the
tests check it on real text from what is installed (the standard library's docstrings
and sources, packages' README and JSON files, Django's translations in twelve languages,
numpy's CSV vectors) and on generated text of every script, and ``uv run python
tests/benchmarks/bench_tokens.py`` prints the error (0.0% mean and p95 for every kind of
text) and the time. A request's count adds each provider's overheads (``OVERHEADS``),
checked against what the sandbox's stand-ins report. Counting a 100,000-token prompt
takes about 2 ms in ASCII and 2-7 ms for non-English text (Hindi, Arabic, CJK...), where
the regular expression takes 25-30 ms. Real tokenizers split text differently (BPE
splits rare words, and CJK text is about a token a character where this counting makes a
run of it one token), so against a real provider's bill these figures do not hold; the
budgets settle on what the provider reports, so an estimate only sizes the reservation.
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
