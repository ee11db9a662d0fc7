"""The aiconfigs document the demo starts from: one entry per kind of provider."""

from __future__ import annotations

from typing import Any

DEMO_ACTOR = "demo"

DEMO_AICONFIGS: dict[str, Any] = {
    "llm": [
        {
            "provider": "anthropic",
            "isDefault": True,
            "configuration": {
                "model": "claude-sonnet-4-6",
                "apiKey": "sk-ant-demo-not-a-real-key-7f3a9c",
                "temperature": 0.2,
                "optimizationEnabled": True,
                "cachingEnabled": True,
                "cacheTTL": 300,
                "batchingEnabled": True,
                "batchMaxSize": 500,
                "batchTimeout": 10,
            },
        },
        {
            "provider": "openAI",
            "isDefault": False,
            "configuration": {"model": "gpt-4o-mini", "apiKey": "sk-demo-openai-not-real-51be"},
        },
        {
            "provider": "ollama",
            "isDefault": False,
            "configuration": {"model": "llama3.1", "baseUrl": "http://127.0.0.1:11434"},
        },
    ],
    "embedding": [{"provider": "openAI", "configuration": {"model": "text-embedding-3-small"}}],
}
