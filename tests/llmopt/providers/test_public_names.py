from __future__ import annotations

import subprocess
import sys

import llmopt.providers


def test_the_providers_package_exports_exactly_its_public_names() -> None:
    assert llmopt.providers.__all__ == [
        "KNOWN_PROVIDERS",
        "PRICES_CHECKED",
        "BatchLimits",
        "CachingStyle",
        "CallCost",
        "ProviderCapabilities",
        "TokenUsage",
        "cost_of",
        "get_batch_limits",
        "get_cache_config",
        "supports_batching",
        "supports_caching",
    ]
    assert all(hasattr(llmopt.providers, name) for name in llmopt.providers.__all__)


def test_importing_the_providers_package_loads_neither_django_nor_langchain() -> None:
    code = (
        "import sys, llmopt.providers; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'langchain_core'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
