"""``LLMQualityMonitor``: score one answer from the cheap checks, and a judge if asked.

The design document's ``LLMQualityMonitor`` (``evaluate_response``,
``check_hallucinations``, ``validate_code``); its rolling per-model tracking and
degradation alerts build on the :class:`~llmopt.quality.QualityScore` this returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from llmopt.quality._code import Language, check_code, labelled_language
from llmopt.quality._completeness import check_completeness
from llmopt.quality._judge import judge_response
from llmopt.quality._relevance import (
    EmbeddingsChoice,
    check_relevance,
    check_support,
    resolve_embeddings,
)
from llmopt.quality._safety import check_refusal_and_safety
from llmopt.quality._score import DEFAULT_WEIGHTS, CheckResult, QualityScore, combine
from llmopt.quality._settings import QualitySettings
from llmopt.quality._text import message_text
from llmopt.quality._tracker import quality_tracker_for
from llmopt.store import Store


class LLMQualityMonitor:
    """Scores answers so a cascade, an alert or a person can tell good from poor.

    ============================  ====================================================
    option                        meaning
    ============================  ====================================================
    ``embeddings``                for relevance: a LangChain ``Embeddings``, ``None``
                                  (llmopt's default model, lexical when it is not
                                  installed) or ``"lexical"``
    ``support_embeddings``        for support: a model to also accept paraphrases
                                  (default: lexical overlap and numbers only)
    ``weights``                   per-check weights (default :data:`DEFAULT_WEIGHTS`)
    ``judge``                     a LangChain chat model rating each answer 0-10;
                                  opt-in, its cost is in ``judge_cost_usd``
    ``store``                     where :meth:`track_model_metrics` records scores and
                                  :meth:`alert_on_degradation` reads them
    ============================  ====================================================

    Without a judge nothing here calls an LLM. The default embedding model is loaded
    once, on first use.
    """

    def __init__(
        self,
        *,
        embeddings: EmbeddingsChoice = None,
        support_embeddings: Embeddings | None = None,
        weights: Mapping[str, float] = DEFAULT_WEIGHTS,
        judge: BaseChatModel | None = None,
        store: Store | None = None,
    ) -> None:
        if any(w < 0 for w in weights.values()):
            raise ValueError("weights cannot be negative")
        self._embeddings_choice = embeddings
        self._resolved: tuple[Embeddings | None, str | None] | None = None
        self._support_embeddings = support_embeddings
        self._weights = dict(weights)
        self._judge = judge
        self._store = store

    def _relevance_embeddings(self) -> EmbeddingsChoice:
        if self._resolved is None:
            self._resolved = resolve_embeddings(self._embeddings_choice)
        model, _ = self._resolved
        return model if model is not None else "lexical"

    def evaluate_response(
        self,
        request: Any,
        response: Any,
        *,
        context: Sequence[str] | None = None,
        schema: Mapping[str, Any] | None = None,
        language: Language | None = None,
    ) -> QualityScore:
        """The combined :class:`QualityScore` of ``response`` to ``request``.

        ``request`` is text, a message or a message list (the last is the question);
        ``response`` is the answer's text or, better, its LangChain message (truncation
        and provider refusals are read from its metadata). Code is checked when
        ``language`` is given (``"json"`` when only ``schema`` is), or else in the
        language of the answer's first labelled code block (```python, ```json,
        ```sql), support when
        ``context`` (the retrieved chunks) is given. Errors of the embedding model or
        the judge propagate.
        """
        parts: list[CheckResult] = []
        skipped: dict[str, str] = {}
        if language is None and schema is not None:
            language = "json"
        if language is None:
            # Code the answer labels itself (```python ...) is checked in that language.
            language = labelled_language(message_text(response))
        if language is not None:
            parts.append(check_code(message_text(response), language=language, schema=schema))
        else:
            skipped["code"] = "no code language or schema was given, and no labelled code block"
        parts.append(check_completeness(response, request=request))
        if message_text(request).strip():
            parts.append(check_relevance(request, response, self._relevance_embeddings()))
        else:
            skipped["relevance"] = "the request has no text"
        if context is not None:
            parts.append(check_support(response, context, embeddings=self._support_embeddings))
        else:
            skipped["support"] = "no retrieved context was given"
        parts.append(check_refusal_and_safety(response))
        judge_cost: Decimal | None = None
        if self._judge is not None:
            verdict, judge_cost, note = judge_response(
                self._judge, request, response, context=context
            )
            if verdict is not None:
                parts.append(verdict)
            else:
                skipped["judge"] = note
        else:
            skipped["judge"] = "no judge model was given (opt-in)"
        return combine(parts, weights=self._weights, judge_cost_usd=judge_cost, skipped=skipped)

    def check_hallucinations(self, response: Any, context: Sequence[str]) -> CheckResult:
        """The claims of ``response`` the retrieved ``context`` does not back
        (:func:`check_support`)."""
        return check_support(response, context, embeddings=self._support_embeddings)

    def validate_code(
        self,
        code_response: Any,
        *,
        language: Language,
        schema: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        """Whether the code in ``code_response`` parses (:func:`check_code`)."""
        return check_code(message_text(code_response), language=language, schema=schema)

    def as_scorer(
        self,
        *,
        context: Sequence[str] | None = None,
        schema: Mapping[str, Any] | None = None,
        language: Language | None = None,
    ) -> Callable[[Any, Any], float]:
        """A cascade scorer, ``scorer(request, answer) -> combined score``, checking
        what :meth:`evaluate_response` would with these options."""

        def score(request: Any, answer: Any) -> float:
            return self.evaluate_response(
                request, answer, context=context, schema=schema, language=language
            ).combined

        return score

    def track_model_metrics(
        self, entry_key: str, metrics: QualityScore, *, model: str = "", test: str = ""
    ) -> bool:
        """Record ``metrics`` (a score from :meth:`evaluate_response`) for ``entry_key``
        and ``model`` in the store's per-minute roll-ups (written within seconds, in
        the background); ``test`` names the A/B test the answer belonged to. Returns
        True. Raises ``ValueError`` when the monitor was built without a ``store``."""
        tracker = quality_tracker_for(self._tracked_store())
        tracker.record(entry_key, model, metrics, test=test)
        return True

    def alert_on_degradation(self, entry_key: str, settings: QualitySettings | None = None) -> bool:
        """Judge ``entry_key``'s recent scores against its baseline now (``settings``:
        the document's ``quality`` object, by default its defaults). Returns whether
        a new degradation alert was recorded (and sent to the webhook)."""
        tracker = quality_tracker_for(self._tracked_store())
        tracker.write()
        return tracker.alert_on_degradation(entry_key, settings=settings) is not None

    def _tracked_store(self) -> Store:
        if self._store is None:
            raise ValueError("build the LLMQualityMonitor with store=... to track metrics")
        return self._store
