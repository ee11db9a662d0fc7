"""``get_generator_model``: the hook backends call to get a (possibly optimized) chat model."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel

from llmopt.batching import AnthropicBatchClient
from llmopt.config import OptimizationConfig, load_document
from llmopt.errors import ConfigError, FieldProblem, LLMOptError
from llmopt.providers import ProviderCapabilities
from llmopt.store import Store

from ._anthropic import async_client
from ._wrapper import OptimizedLLMWrapper

logger = logging.getLogger("llmopt.wrapper")

# provider -> (module, class, {our configuration field: the class's keyword})
_BUILDERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "anthropic": (
        "langchain_anthropic",
        "ChatAnthropic",
        {"apiKey": "api_key", "baseUrl": "base_url", "maxTokens": "max_tokens"},
    ),
    "openAI": (
        "langchain_openai",
        "ChatOpenAI",
        {"apiKey": "api_key", "baseUrl": "base_url", "maxTokens": "max_tokens"},
    ),
    "azureOpenAI": (
        "langchain_openai",
        "AzureChatOpenAI",
        {"apiKey": "api_key", "endpoint": "azure_endpoint", "apiVersion": "api_version"},
    ),
    "ollama": ("langchain_ollama", "ChatOllama", {"baseUrl": "base_url"}),
    "groq": ("langchain_groq", "ChatGroq", {"apiKey": "api_key"}),
    "mistral": ("langchain_mistralai", "ChatMistralAI", {"apiKey": "api_key"}),
    "gemini": ("langchain_google_genai", "ChatGoogleGenerativeAI", {"apiKey": "google_api_key"}),
    "cohere": ("langchain_cohere", "ChatCohere", {"apiKey": "cohere_api_key"}),
    "fireworks": ("langchain_fireworks", "ChatFireworks", {"apiKey": "api_key"}),
    "together": ("langchain_together", "ChatTogether", {"apiKey": "api_key"}),
    "xai": ("langchain_xai", "ChatXAI", {"apiKey": "api_key"}),
    "bedrock": ("langchain_aws", "ChatBedrockConverse", {"region": "region_name"}),
    "vertexAI": ("langchain_google_vertexai", "ChatVertexAI", {}),
}
# Plain keyword settings every builder takes under the same name.
_COMMON = {"temperature": "temperature", "timeout": "timeout", "maxRetries": "max_retries"}


def get_generator_model(
    provider: str,
    config: Mapping[str, Any],
    model_name: str | None = None,
    *,
    store: Store | None = None,
    entry_key: str | None = None,
    batch_options: Mapping[str, Any] | None = None,
) -> BaseChatModel:
    """The chat model for one ``llm`` entry: wrapped when its optimization is on, else bare.

    ``config`` is the entry's ``configuration`` (``model``, ``apiKey``, ``baseUrl``,
    ``temperature``, ``maxTokens`` ... and the optimization flags); ``model_name``
    overrides its ``model``. With a ``store`` the wrapper follows the entry's live flags
    and the kill switch. ``batch_options`` go to the wrapper's batch client (polling,
    deadline; the defaults suit production). If the flags are invalid or wrapping
    fails, the reason is logged and the bare model is returned: optimization never
    stops a backend.

    Raises :class:`~llmopt.errors.ConfigError` when the provider is unknown or its
    LangChain package is not installed (there is no model to return at all).
    """
    base = build_base_model(provider, config, model_name)
    try:
        flags = OptimizationConfig.from_dict(config, provider=provider)
    except ConfigError as exc:
        logger.warning("%s: optimization flags invalid, using the bare model: %s", provider, exc)
        return base
    if not flags.optimization_enabled:
        return base
    try:
        return OptimizedLLMWrapper(
            base,
            provider,
            flags,
            store=store,
            entry_key=entry_key,
            batch_options=dict(batch_options or {}),
        )
    except (LLMOptError, ValueError, TypeError) as exc:
        logger.warning("%s: could not wrap the model, using it bare: %s", provider, exc)
        return base


def build_base_model(
    provider: str, config: Mapping[str, Any], model_name: str | None = None
) -> BaseChatModel:
    """The provider's LangChain chat model for this configuration, unwrapped."""
    known = ProviderCapabilities.detect(provider)
    spec = _BUILDERS.get(known.provider)
    if spec is None:
        raise ConfigError(
            [FieldProblem("provider", f"llmopt cannot build a chat model for {provider!r}")]
        )
    module_name, class_name, renames = spec
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = module_name.replace("_", "-")
        raise ConfigError(
            [
                FieldProblem(
                    "provider", f"{provider} needs the {package} package: pip install {package}"
                )
            ]
        ) from exc
    model_class: Callable[..., BaseChatModel] = getattr(module, class_name)
    model = model_name or config.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError([FieldProblem("model", "model must name the model to use")])
    options: dict[str, Any] = {"model": model}
    for ours, theirs in {**_COMMON, **renames}.items():
        if config.get(ours) not in (None, ""):
            options[theirs] = config[ours]
    return model_class(**options)


def batch_client_for_entry(store: Store, entry_key: str, **options: Any) -> AnthropicBatchClient:
    """A batch client for one ``llm`` entry of the stored aiconfigs, for pollers and operators.

    Built from the entry's own configuration (key, URL, model, ``fallbackToStandard``),
    so a Celery task or a console view that only holds an ``entry_key`` reaches the
    same provider account the entry's wrappers use. ``options`` go to
    :class:`~llmopt.batching.AnthropicBatchClient`. Close the client when done.

    Raises ``RecordNotFound`` for an unknown entry, ``ConfigError`` when the entry is
    not an Anthropic one, and ``StoreError`` when the document cannot be read.
    """
    entry = load_document(store).entry(entry_key)
    provider = ProviderCapabilities.detect(entry.provider or "").provider
    if provider != "anthropic":
        raise ConfigError(
            [FieldProblem("provider", f"{entry_key} is not an Anthropic entry; it has no batches")]
        )
    configuration = entry.configuration or {}
    model = build_base_model("anthropic", configuration)
    assert isinstance(model, ChatAnthropic)
    try:
        flags = OptimizationConfig.from_dict(configuration, provider=provider)
    except ConfigError:
        fallback_to_standard = True
    else:
        fallback_to_standard = flags.fallback_to_standard
    return AnthropicBatchClient(
        async_client(model),
        store,
        entry_key=entry_key,
        model=model.model,
        fallback_to_standard=fallback_to_standard,
        **options,
    )
