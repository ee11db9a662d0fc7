"""The response cache behind LangChain's own cache interface, for any LangChain model.

::

    from langchain_core.globals import set_llm_cache
    set_llm_cache(LangChainResponseCache(response_cache_for(store), {"enabled": True}))

LangChain asks the cache with the serialised messages and a string describing the model
and its parameters (``llm_string``); the exact key covers both, and a semantic match
must share everything but the last human message's wording, as in the wrapper. The
temperature is read from ``llm_string``, so the same rule applies: a request with a
temperature above 0 is neither served nor stored unless the settings allow it. The
saving of an answer is not known here (LangChain does not say which provider priced
it), so this adapter's hits count with no money saved.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.load import loads
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration

from ._layer import CacheLookup, LLMCacheLayer
from ._request import CanonicalRequest, canonical_request
from ._settings import ResponseCacheSettings

logger = logging.getLogger("llmopt.responses")


class LangChainResponseCache(BaseCache):
    """LangChain's ``BaseCache`` over an :class:`LLMCacheLayer`; see the module docstring.

    ``settings`` are the response cache settings every model using this cache gets
    (a :class:`ResponseCacheSettings` or its dict; ``enabled`` defaults to true here,
    since installing the cache is the opt-in); ``entry_key`` names the answers in the
    statistics and for invalidation.
    """

    def __init__(
        self,
        layer: LLMCacheLayer,
        settings: ResponseCacheSettings | Mapping[str, Any] | None = None,
        *,
        entry_key: str = "langchain",
    ) -> None:
        if isinstance(settings, ResponseCacheSettings):
            self.settings = settings
        else:
            self.settings = ResponseCacheSettings.from_dict({"enabled": True, **(settings or {})})
        self.layer = layer
        self.entry_key = entry_key

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        found = self.layer.lookup(
            _request(prompt, llm_string), entry_key=self.entry_key, settings=self.settings
        )
        if found.hit is None:
            return None
        return [ChatGeneration(message=found.hit.message)]

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        if not return_val:
            return
        generation = return_val[0]
        message: BaseMessage = (
            generation.message
            if isinstance(generation, ChatGeneration)
            else AIMessage(content=generation.text)
        )
        request = _request(prompt, llm_string)
        lookup = CacheLookup(
            request, self.entry_key, self.settings, used=self.layer.applies(request, self.settings)
        )
        self.layer.save(lookup, message, model=_model_of(llm_string), cost_usd=None)

    def clear(self, **kwargs: Any) -> None:
        """Drop this cache's answers (``pattern=`` a glob on the question, optional)."""
        self.layer.invalidate_cache(kwargs.get("pattern"), entry_key=self.entry_key)


def _request(prompt: str, llm_string: str) -> CanonicalRequest:
    messages = _messages(prompt)
    params: dict[str, Any] = {}
    temperature = _temperature(llm_string)
    if temperature is not None:
        params["temperature"] = temperature
    return canonical_request(messages, provider="langchain", model=llm_string, params=params)


def _messages(prompt: str) -> Sequence[BaseMessage]:
    """A chat model's prompt is its messages serialised; an LLM's is plain text."""
    try:
        value = loads(prompt)
    except Exception:
        return [HumanMessage(prompt)]
    if isinstance(value, list) and all(isinstance(m, BaseMessage) for m in value):
        return value
    return [HumanMessage(prompt)]


def _temperature(llm_string: str) -> float | None:
    head = llm_string.split("---", 1)[0]
    try:
        described = json.loads(head)
    except ValueError:
        return None
    kwargs = described.get("kwargs") if isinstance(described, dict) else None
    value = kwargs.get("temperature") if isinstance(kwargs, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _model_of(llm_string: str) -> str:
    head = llm_string.split("---", 1)[0]
    try:
        described = json.loads(head)
    except ValueError:
        return ""
    kwargs = described.get("kwargs") if isinstance(described, dict) else None
    model = kwargs.get("model") or kwargs.get("model_name") if isinstance(kwargs, dict) else None
    return str(model or "")
