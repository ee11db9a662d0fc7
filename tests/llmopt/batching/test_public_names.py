from __future__ import annotations

import subprocess
import sys

import llmopt.batching


def test_the_batching_package_exports_exactly_its_public_names() -> None:
    assert llmopt.batching.__all__ == [
        "AnthropicBatchClient",
        "BatchOutcome",
        "BatchRequest",
        "InFlight",
        "fingerprint",
    ]
    assert all(hasattr(llmopt.batching, name) for name in llmopt.batching.__all__)


def test_importing_the_batching_package_loads_neither_django_nor_langchain() -> None:
    code = (
        "import sys, llmopt.batching; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'langchain_core'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
