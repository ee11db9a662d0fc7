"""LangChain's standard unit tests for chat models, on the wrapper with ChatAnthropic inside."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_tests.unit_tests import ChatModelUnitTests

from llmopt.wrapper import OptimizedLLMWrapper

# ChatAnthropic itself warns that it maps method="json_mode" to "json_schema"; the
# standard test asks for json_mode on every model, so the bare model warns too.
pytestmark = pytest.mark.filterwarnings("ignore:Unrecognized structured output method")


class WrappedChatAnthropic(OptimizedLLMWrapper):
    """Built from ChatAnthropic's own keyword arguments, as the standard tests build models."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            ChatAnthropic(**kwargs),
            "anthropic",
            {"optimizationEnabled": True, "cachingEnabled": True},
        )


class TestWrapperStandardUnitTests(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[WrappedChatAnthropic]:
        return WrappedChatAnthropic

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "claude-sonnet-4-6"}
