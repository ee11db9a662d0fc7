"""Counting tokens per provider, pricing them, and adding up what each model used."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from llmopt.errors import ProviderError
from llmopt.providers import CallCost, TokenUsage, cost_of
from llmopt.providers._capabilities import canonical_provider
from llmopt.tokens._estimate import estimate_text_tokens
from llmopt.tokens._messages import (
    Overheads,
    anthropic_request,
    ollama_tool,
    request_tokens,
    to_turn,
)
from llmopt.tokens._tiktoken import OfflineEncodings, default_cache_dir

Method = Literal["tiktoken", "endpoint", "estimate"]
"""How a count was made: OpenAI's tokenizer on this machine, the provider's counting
endpoint, or the estimate (the sandbox's counting rule)."""

# Each provider's as the sandbox's stand-ins count them (tests/llmopt/tokens/
# test_overheads.py sends requests through the official clients and compares): Anthropic's
# messages carry no names, its system prompt is a field, and consecutive messages of one
# role (a tool result and the next user text) are one message; OpenAI's and Ollama's follow
# OpenAI's published recipe (3 per message, 1 per name, 3 to start the reply), and an
# image is 1,600 tokens for all three. Ollama's messages carry no names (ChatOllama drops
# them), its tool calls' arguments are an object where OpenAI's are a JSON string, and the
# ollama client drops what its Tool model lacks from a tool's schema (defaults, titles...).
OVERHEADS: Final[Mapping[str, Overheads]] = {
    "anthropic": Overheads(
        message=3,
        request=4,
        name=None,
        image=1_600,
        document=1_500,
        tool=5,
        tool_call=3,
        tool_result=3,
        redacted_thinking=50,
        system_is_message=False,
        merges_turns=True,
    ),
    "openAI": Overheads(
        message=3,
        request=3,
        name=1,
        image=1_600,
        document=1_500,
        tool=5,
        tool_call=3,
        tool_result=3,
        redacted_thinking=50,
        system_is_message=True,
        arguments_as_text=True,
    ),
    "ollama": Overheads(
        message=3,
        request=3,
        name=None,
        image=1_600,
        document=1_500,
        tool=5,
        tool_call=3,
        tool_result=3,
        redacted_thinking=50,
        system_is_message=True,
        sent_tool=ollama_tool,
    ),
}
_OPENAI_PREFIXES = ("gpt-", "chatgpt", "o1", "o3", "o4", "text-embedding", "davinci", "babbage")


def infer_provider(model: str, provider: str | None = None) -> str:
    """The provider whose counting applies: ``provider`` when it is known, else guessed
    from the model's name (``claude-*`` Anthropic, ``gpt-*``/``o*`` OpenAI, anything else
    Ollama's local models)."""
    if provider:
        name = canonical_provider(provider) or provider
        if name in ("azureOpenAI", "openAICompatible"):
            return "openAI"
        if name in ("bedrock", "vertexAI") and "claude" in model.lower():
            return "anthropic"
        return name
    bare = model.lower().rsplit("/", 1)[-1]
    if "claude" in bare:
        return "anthropic"
    if bare.startswith(_OPENAI_PREFIXES):
        return "openAI"
    return "ollama"


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """What one model used in this process: calls, input and output tokens, and their
    cost in USD (``None`` when any of its calls had no known price)."""

    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class TokenCounter:
    """Counts a request's tokens the way its provider bills them, prices them, and keeps
    per-model totals for this process.

    Use it before a call (to reserve a budget, to pick a model that fits) and after it
    (to add up usage). Counts are exact where that is possible offline and an estimate
    otherwise; ``method()`` says which:

    =========  =========================================  ==========================
    provider   ``exact=False`` (default)                   ``exact=True``
    =========  =========================================  ==========================
    anthropic  estimate                                    ``count_tokens`` endpoint
    openAI     tiktoken if its file is here, else estimate  tiktoken, else ValueError
    ollama     estimate                                    ValueError
    =========  =========================================  ==========================

    ``anthropic_client`` is the ``anthropic.Anthropic`` client the endpoint is asked
    through (one pointed at the sandbox in tests). ``tiktoken_cache_dir`` is where
    OpenAI's encoding files are looked for (default: where tiktoken keeps them); tiktoken
    is never allowed to download one. Thread-safe.
    """

    def __init__(
        self,
        *,
        anthropic_client: Any | None = None,
        tiktoken_cache_dir: str | Path | None = None,
    ) -> None:
        self._client = anthropic_client
        cache_dir = Path(tiktoken_cache_dir) if tiktoken_cache_dir else default_cache_dir()
        self._encodings = OfflineEncodings(cache_dir)
        self._lock = threading.Lock()
        self._usage: dict[str, ModelUsage] = {}
        self._request_overhead: dict[str, int] = {}

    # Counting.

    def method(self, model: str, *, provider: str | None = None, exact: bool = False) -> Method:
        """How :meth:`count_tokens` would count for ``model``; raises ``ValueError``
        when ``exact`` is asked of a provider that cannot count exactly here."""
        name = infer_provider(model, provider)
        if name == "openAI" and self._encodings.for_model(model) is not None:
            return "tiktoken"
        if not exact:
            return "estimate"
        if name == "anthropic":
            if self._client is None:
                raise ValueError("exact Anthropic counts need an anthropic_client")
            return "endpoint"
        raise ValueError(
            f"{name} cannot count {model!r} exactly here: no offline tokenizer "
            "and no counting endpoint (count with exact=False for an estimate)"
        )

    def count_tokens(
        self, text: str, model: str, *, provider: str | None = None, exact: bool = False
    ) -> int:
        """The tokens of ``text`` alone (no message overheads) for ``model``.

        Raises ``ValueError`` when ``exact`` cannot be had (see the class table) and
        :class:`~llmopt.errors.ProviderError` when the counting endpoint fails.
        """
        how = self.method(model, provider=provider, exact=exact)
        if how == "estimate":
            return estimate_text_tokens(text)
        if how == "tiktoken":
            encoding: Any = self._encodings.for_model(model)
            return len(encoding.encode(text, disallowed_special=()))
        with_text = self._endpoint_count(model, [{"role": "user", "content": text}], [], [])
        return with_text - self._endpoint_overhead(model)

    def count_messages(
        self,
        messages: Iterable[Any],
        model: str,
        *,
        provider: str | None = None,
        tools: Sequence[Any] | None = None,
        exact: bool = False,
    ) -> int:
        """The input tokens of a request as the provider will bill it: every message with
        its per-message overhead, tool definitions, tool calls and results, images.

        ``messages`` are LangChain messages, ``(role, content)`` pairs, strings (user
        turns) or dicts in Anthropic's or OpenAI's shape. Raises ``TypeError`` for
        anything else, ``ValueError`` and ``ProviderError`` as :meth:`count_tokens`.
        """
        turns = [to_turn(message) for message in messages]
        name = infer_provider(model, provider)
        how = self.method(model, provider=provider, exact=exact)
        if how == "endpoint":
            anthropic_messages, system, anthropic_tools = anthropic_request(turns, tools or ())
            return self._endpoint_count(model, anthropic_messages, system, anthropic_tools)
        text_tokens = estimate_text_tokens
        if how == "tiktoken":
            encoding: Any = self._encodings.for_model(model)

            def text_tokens(text: str) -> int:
                return len(encoding.encode(text, disallowed_special=()))

        overheads = OVERHEADS.get(name, OVERHEADS["anthropic"])
        return request_tokens(turns, tools or (), overheads, text_tokens)

    def count_completion_tokens(self, response: Any, model: str) -> int:
        """The output tokens of a reply: its reported usage when it carries one
        (LangChain's ``usage_metadata``, Anthropic's ``usage.output_tokens``, OpenAI's
        ``usage.completion_tokens``, Ollama's ``eval_count``), else its text counted."""
        reported = _reported_output_tokens(response)
        if reported is not None:
            return reported
        return estimate_text_tokens(_reply_text(response))

    # Pricing and totals.

    def estimate_cost(
        self,
        tokens: int | TokenUsage,
        model: str,
        *,
        provider: str | None = None,
        output_tokens: int = 0,
    ) -> Decimal | None:
        """USD for ``tokens`` input tokens (or a whole :class:`TokenUsage`) and
        ``output_tokens`` on ``model``, at today's prices; ``None`` when the price is not
        known (never a guessed zero)."""
        cost = self._cost(tokens, model, provider, output_tokens)
        return None if cost is None else cost.total

    def track_usage(
        self,
        model: str,
        tokens: int | TokenUsage,
        *,
        provider: str | None = None,
        output_tokens: int = 0,
    ) -> ModelUsage:
        """Add one call's usage to ``model``'s totals; returns the new totals."""
        usage = _usage(tokens, output_tokens)
        cost = self._cost(usage, model, provider, 0)
        with self._lock:
            before = self._usage.get(model, ModelUsage(model, 0, 0, 0, Decimal(0)))
            total = None
            if before.cost_usd is not None and cost is not None:
                total = before.cost_usd + cost.total
            after = ModelUsage(
                model,
                before.calls + 1,
                before.input_tokens + usage.total_input_tokens,
                before.output_tokens + usage.output_tokens,
                total,
            )
            self._usage[model] = after
        return after

    def get_usage_stats(self) -> dict[str, ModelUsage]:
        """This process's totals per model, since the counter was made."""
        with self._lock:
            return dict(self._usage)

    def _cost(
        self, tokens: int | TokenUsage, model: str, provider: str | None, output_tokens: int
    ) -> CallCost | None:
        return cost_of(
            _usage(tokens, output_tokens), provider=infer_provider(model, provider), model=model
        )

    # Anthropic's counting endpoint.

    def _endpoint_count(
        self, model: str, messages: list[dict[str, Any]], system: list[Any], tools: list[Any]
    ) -> int:
        import anthropic

        options: dict[str, Any] = {"model": model, "messages": messages}
        if system:
            options["system"] = system
        if tools:
            options["tools"] = tools
        try:
            counted = self._client.messages.count_tokens(**options)  # type: ignore[union-attr]
        except anthropic.APIStatusError as error:
            status = error.status_code
            raise ProviderError(
                f"counting tokens failed: HTTP {status}: {error.message}",
                retryable=status in (408, 409, 429) or status >= 500,
                status_code=status,
            ) from error
        except anthropic.APIError as error:  # connection, timeout
            raise ProviderError(f"counting tokens failed: {error}", retryable=True) from error
        return int(counted.input_tokens)

    def _endpoint_overhead(self, model: str) -> int:
        """What the endpoint adds to a one-message request: its count of one ``x`` less
        the one token that ``x`` is (asked once per model)."""
        with self._lock:
            known = self._request_overhead.get(model)
        if known is None:
            known = self._endpoint_count(model, [{"role": "user", "content": "x"}], [], []) - 1
            with self._lock:
                self._request_overhead[model] = known
        return known


def _usage(tokens: int | TokenUsage, output_tokens: int) -> TokenUsage:
    if isinstance(tokens, TokenUsage):
        return tokens
    return TokenUsage(input_tokens=tokens, output_tokens=output_tokens)


def _field(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _reported_output_tokens(response: Any) -> int | None:
    metadata = _field(response, "usage_metadata")  # LangChain's AIMessage
    found = _field(metadata, "output_tokens") if metadata is not None else None
    usage = _field(response, "usage")  # Anthropic's and OpenAI's responses
    if found is None and usage is not None:
        found = _field(usage, "output_tokens")
        if found is None:
            found = _field(usage, "completion_tokens")
    if found is None:
        found = _field(response, "eval_count")  # Ollama's
    if found is None:
        llm_output = _field(response, "llm_output")  # a LangChain LLMResult
        usage = _field(llm_output, "usage") if llm_output is not None else None
        found = _field(usage, "output_tokens") if usage is not None else None
    if isinstance(found, int) and not isinstance(found, bool):
        return found
    return None


def _reply_text(response: Any) -> str:
    if isinstance(response, str):
        return response
    content = _field(response, "content")
    if content is None:
        message = _field(response, "message")  # Ollama's chat response
        content = _field(message, "content") if message is not None else None
    if content is None:
        choices = _field(response, "choices")  # OpenAI's
        if choices:
            message = _field(choices[0], "message")
            content = _field(message, "content") if message is not None else None
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, str):
            parts.append(block)
        else:
            text = _field(block, "text")
            if isinstance(text, str):
                parts.append(text)
    return "\n".join(parts)
