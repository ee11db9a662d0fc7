"""``get_generator_model``: the hook backends call to get a (possibly optimized) chat model."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from llmopt.batching import AnthropicBatchClient
from llmopt.config import OptimizationConfig, load_document
from llmopt.errors import ConfigError, FieldProblem, LLMOptError
from llmopt.providers import ProviderCapabilities
from llmopt.store import Store

from ._anthropic import async_client
from ._model_classes import BUILDERS, same_provider
from ._wrapper import OptimizedLLMWrapper

logger = logging.getLogger("llmopt.wrapper")

# Plain keyword settings every builder takes under the same name.
_COMMON = {"temperature": "temperature", "timeout": "timeout", "maxRetries": "max_retries"}


def get_generator_model(
    provider: str,
    config: Mapping[str, Any],
    model_name: str | None = None,
    enable_optimization: bool = True,
    *,
    store: Store | None = None,
    entry_key: str | None = None,
    batch_options: Mapping[str, Any] | None = None,
) -> BaseChatModel:
    """The chat model for one ``llm`` entry: wrapped when its optimization is on, else bare.

    ``config`` is the whole ``llm`` entry (``{"provider", "configuration": {...},
    "optimization": {...}}``, as the migration guide passes it) or its
    ``configuration`` alone (``model``, ``apiKey``, ``baseUrl``, ``temperature``,
    ``maxTokens`` ... and the optimization flags, flat or nested); ``model_name``
    overrides its ``model``. ``enable_optimization=False`` always gives the bare model.

    With a ``store`` the wrapper follows the entry's live flags and the kill switch
    (entry ``entry_key``, by default the entry's ``modelKey`` or ``provider:model``), so
    it is returned even while the flags are off, to pick up an edit without a restart.
    ``batch_options`` go to the wrapper's batch client (polling, deadline; the defaults
    suit production). If the flags are invalid or wrapping fails, the reason is logged
    and the bare model is returned: optimization never stops a backend.

    Raises :class:`~llmopt.errors.ConfigError` when the provider is unknown, its
    LangChain package is not installed, the model is missing, or a whole entry names
    another provider (there is no model to return at all).
    """
    configuration, entry = _configuration_of(provider, config)
    base = build_base_model(provider, configuration, model_name)
    if not enable_optimization:
        logger.debug("%s: optimization not asked for, using the bare model", provider)
        return base
    try:
        flags = OptimizationConfig.from_dict(entry or configuration, provider=provider)
    except ConfigError as exc:
        logger.warning("%s: optimization flags invalid, using the bare model: %s", provider, exc)
        return base
    live = store is not None and ProviderCapabilities.detect(provider).optimizable
    if not flags.optimization_enabled and not live:
        return base
    if entry_key is None and isinstance(entry.get("modelKey"), str) and entry["modelKey"]:
        entry_key = entry["modelKey"]
    try:
        model = OptimizedLLMWrapper(
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
    logger.info("Enabling LLM optimizations for provider: %s (entry %s)", provider, model.entry_key)
    return model


def _configuration_of(
    provider: str, config: Mapping[str, Any]
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(the configuration, the whole entry or ``{}``) of what the caller passed."""
    if not isinstance(config, Mapping):
        kind = type(config).__name__
        raise ConfigError(
            [FieldProblem("", f"config must be an llm entry or its configuration, not {kind}")]
        )
    if "configuration" not in config:
        return config, {}
    configuration = config["configuration"]
    if not isinstance(configuration, Mapping):
        raise ConfigError([FieldProblem("configuration", "configuration must be an object")])
    named = config.get("provider")
    if isinstance(named, str) and not same_provider(named, provider):
        raise ConfigError(
            [
                FieldProblem(
                    "provider",
                    f"the entry's provider is {named!r} but {provider!r} was asked for; "
                    "pass the entry's own provider",
                )
            ]
        )
    return configuration, config


def build_base_model(
    provider: str, config: Mapping[str, Any], model_name: str | None = None
) -> BaseChatModel:
    """The provider's LangChain chat model for this configuration, unwrapped."""
    known = ProviderCapabilities.detect(provider)
    spec = BUILDERS.get(known.provider)
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
    _adjust_options(known.provider, config, options)
    try:
        built = model_class(**options)
    except (ValidationError, ValueError) as exc:
        # The class's own check (AzureChatOpenAI without apiVersion, say), as a ConfigError.
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            [FieldProblem("configuration", f"{class_name} could not be built: {reason}")]
        ) from exc
    asked = options.get("temperature")
    if asked is not None and getattr(built, "temperature", asked) != asked:
        logger.warning(
            "%s: %s does not take temperature %s; %s drops it",
            provider,
            model,
            asked,
            class_name,
        )
    return built


def _adjust_options(provider: str, config: Mapping[str, Any], options: dict[str, Any]) -> None:
    """What one provider's class needs beyond the plain renames."""
    if provider in ("openAI", "openAICompatible"):
        if config.get("useResponsesApi") is not None:
            options["use_responses_api"] = config["useResponsesApi"]
        # ChatOpenAI asks for a stream's usage only from OpenAI's own URL; a gateway or
        # a compatible server then reports none, and cost and budgets would miss it.
        stream_usage = config.get("streamUsage")
        if stream_usage is None and "base_url" in options:
            stream_usage = True
        if stream_usage is not None:
            options["stream_usage"] = stream_usage
    if provider == "openAICompatible":
        if "base_url" not in options:
            raise ConfigError(
                [FieldProblem("baseUrl", "baseUrl must name the OpenAI-compatible server")]
            )
        # Compatible servers speak Chat Completions, not OpenAI's Responses API, and
        # local ones take any key (vLLM's docs use "EMPTY").
        options.setdefault("use_responses_api", False)
        options.setdefault("api_key", "EMPTY")
    if provider == "ollama":
        # ChatOllama ignores keywords it does not know, so map or report each one.
        timeout = options.pop("timeout", None)
        if timeout is not None:
            options["client_kwargs"] = {"timeout": timeout}
        if options.pop("max_retries", None) is not None:
            logger.warning(
                "ollama: maxRetries is not applied: the Ollama client never retries "
                "(llmopt's failover retries a routed Ollama entry with backoff)"
            )


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
