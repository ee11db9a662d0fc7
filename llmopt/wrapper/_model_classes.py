"""Which LangChain chat model class serves which provider, both ways."""

from __future__ import annotations

from typing import Any

from llmopt.providers import ProviderCapabilities

# provider -> (module, class, {our configuration field: the class's keyword})
BUILDERS: dict[str, tuple[str, str, dict[str, str]]] = {
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
    # OpenAI-compatible servers (vLLM, LiteLLM, LM Studio, a gateway) speak Chat Completions.
    "openAICompatible": (
        "langchain_openai",
        "ChatOpenAI",
        {"apiKey": "api_key", "baseUrl": "base_url", "maxTokens": "max_tokens"},
    ),
    "ollama": (
        "langchain_ollama",
        "ChatOllama",
        {"baseUrl": "base_url", "maxTokens": "num_predict", "contextLength": "num_ctx"},
    ),
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
# A subclass of ChatOpenAI may serve another provider; the nearest class decides. A bare
# ChatOpenAI is OpenAI's: openAICompatible shares the class and cannot be told from it.
_PROVIDER_OF_CLASS = {
    (module, name): provider
    for provider, (module, name, _) in BUILDERS.items()
    if provider != "openAICompatible"
} | {("langchain_aws", "ChatBedrock"): "bedrock"}


def provider_of(model: Any) -> str | None:
    """The provider whose LangChain class ``model`` is (or derives from), else ``None``."""
    for cls in type(model).__mro__:
        package = cls.__module__.split(".", 1)[0]
        provider = _PROVIDER_OF_CLASS.get((package, cls.__name__))
        if provider is not None:
            return provider
    return None


def same_provider(first: str, second: str) -> bool:
    """Whether two provider names name one provider (``openai`` is ``openAI``)."""
    return (
        ProviderCapabilities.detect(first).provider == ProviderCapabilities.detect(second).provider
    )
