"""The migration guide's code (``shared/seeds/004_9c9a0cf70c549dcd.txt``), as written
(laid out by ruff format).

Only the imports changed: ``app.utils.aimodels`` and ``app.utils.llm_optimization.*``
are ``llmopt``, and LangChain's old ``langchain.chat_models.base`` is ``langchain_core``.
Everything else, comments included, is the guide's, so that these classes behave as a
backend team's copy of them would. Where the guide leaves a body to the reader
(``_load_config``, ``_get_config_for_purpose``, ``get_all_services``), the tests
supply it.
"""

# ruff: noqa: E501, SIM108, B006, UP006, UP035
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Dict

from langchain_core.language_models import BaseChatModel

from llmopt import OptimizationConfig, OptimizedLLMWrapper, get_generator_model

# -- Step 2, After (With Optimization) --------------------------------------------------


class IndexingService:
    def __init__(self, config):
        # Create base model (unchanged)
        base_model = get_generator_model(
            provider="anthropic", config=config, model_name="claude-sonnet-4-5-20250929"
        )

        # NEW: Wrap with optimization if configured
        if "optimization" in config:
            opt_config = OptimizationConfig.from_dict(config["optimization"])
            self.model = OptimizedLLMWrapper(base_model, opt_config)
        else:
            self.model = base_model  # Fallback to base model

    def index_content(self, content):
        # Unchanged! Code works exactly the same
        messages = [
            {"role": "system", "content": "Extract key information..."},
            {"role": "user", "content": content},
        ]
        return self.model.invoke(messages)  # Transparent optimization


# -- Step 2, Before (Existing Code) -----------------------------------------------------


class IndexingServiceBefore:
    def __init__(self, config):
        # Existing model creation
        self.model = get_generator_model(
            provider="anthropic", config=config, model_name="claude-sonnet-4-5-20250929"
        )

    def index_content(self, content):
        messages = [
            {"role": "system", "content": "Extract key information..."},
            {"role": "user", "content": content},
        ]
        return self.model.invoke(messages)


# -- Pattern 1: Service-Level Wrapper ----------------------------------------------------


class AIService:
    def __init__(self, load_config: Callable[[str], Dict[str, Any]]):
        self.models = {}
        self._loader = load_config  # the guide's "existing config loading logic"

    def get_model(self, provider: str, model_name: str):
        """Get or create optimized model."""
        key = f"{provider}:{model_name}"

        if key not in self.models:
            # Load config from ArangoDB
            config = self._load_config(provider)

            # Create base model
            base_model = get_generator_model(provider, config, model_name)

            # Apply optimization if configured
            if config.get("optimization"):
                opt_config = OptimizationConfig.from_dict(config["optimization"])
                self.models[key] = OptimizedLLMWrapper(base_model, opt_config)
            else:
                self.models[key] = base_model

        return self.models[key]

    def _load_config(self, provider: str):
        """Load configuration from ArangoDB."""
        # Your existing config loading logic
        return self._loader(provider)


# -- Pattern 3: Repository Pattern -------------------------------------------------------


class LLMRepository:
    def __init__(self, db_connection):
        self.db = db_connection
        self._models_cache = {}

    def get_model(self, provider: str, purpose: str = "general"):
        """Get optimized model for specific purpose."""
        cache_key = f"{provider}:{purpose}"

        if cache_key in self._models_cache:
            return self._models_cache[cache_key]

        # Load purpose-specific configuration
        config = self._get_config_for_purpose(provider, purpose)

        # Create and cache model
        base_model = get_generator_model(provider, config)

        if config.get("optimization"):
            opt_config = OptimizationConfig.from_dict(config["optimization"])

            # Purpose-specific optimization tuning
            if purpose == "indexing":
                # Indexing benefits from caching domain definitions
                opt_config.cache.domain_definitions_ttl_seconds = 3600

            model = OptimizedLLMWrapper(base_model, opt_config)
        else:
            model = base_model

        self._models_cache[cache_key] = model
        return model

    def _get_config_for_purpose(self, provider: str, purpose: str):
        return self.db(provider, purpose)


# -- Rollback Option 2: Conditional Wrapper ----------------------------------------------


def conditional_wrapper(base_model, config, opt_config):
    # Add feature flag
    USE_OPTIMIZATION = os.getenv("LLM_OPTIMIZATION_ENABLED", "false").lower() == "true"

    if USE_OPTIMIZATION and "optimization" in config:
        model = OptimizedLLMWrapper(base_model, opt_config)
    else:
        model = base_model
    return model


# -- Monitoring Post-Migration: 2. Statistics Collection ---------------------------------


class _App:
    """Stands in for the guide's web framework: ``@app.get(path)`` registers a route."""

    def __init__(self) -> None:
        self.routes: Dict[str, Callable[..., Any]] = {}

    def get(self, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.routes[path] = function
            return function

        return register


app = _App()
SERVICES: Dict[str, Any] = {}


def get_all_services():
    return SERVICES.items()


# endpoints/monitoring.py


@app.get("/api/monitoring/llm-optimization")
async def get_optimization_stats():
    """Get LLM optimization statistics."""
    # Collect stats from all services
    stats = {}

    for service_name, service in get_all_services():
        if hasattr(service, "model") and isinstance(service.model, OptimizedLLMWrapper):
            service_stats = service.model.get_cache_stats()
            stats[service_name] = {
                "total_blocks": service_stats.total_content_blocks,
                "cached_blocks": service_stats.cached_blocks,
                "estimated_tokens": service_stats.estimated_cached_tokens,
                "hit_rate": f"{service_stats.cache_hit_potential:.1%}",
                "is_optimized": service.model.is_optimized,
            }

    return stats


# -- Troubleshooting: Type Errors ---------------------------------------------------------


class MyService:
    def __init__(self, create_model):
        self._create_model = create_model
        self.model: BaseChatModel = self._create_model()  # Works with wrapper!
