from __future__ import annotations

import subprocess
import sys

import llmopt.caching


def test_the_caching_package_exports_exactly_its_public_names() -> None:
    assert llmopt.caching.__all__ == [
        "BREAKPOINT_LITERAL",
        "LOOKBACK_BLOCKS",
        "Breakpoint",
        "CacheManager",
        "CachePlan",
        "PrefixMemory",
        "plan_breakpoints",
    ]
    assert all(hasattr(llmopt.caching, name) for name in llmopt.caching.__all__)


def test_importing_the_caching_package_loads_neither_django_nor_langchain() -> None:
    code = (
        "import sys, llmopt.caching; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'langchain_core'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
