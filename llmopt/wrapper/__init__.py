"""``OptimizedLLMWrapper``, the ``get_generator_model`` factory, and their live-flag plumbing."""

from __future__ import annotations

from ._factory import batch_client_for_entry, build_base_model, get_generator_model
from ._recorder import UsageRecorder, recorder_for
from ._stats import CacheStats
from ._watcher import FlagSnapshot, FlagWatcher, watcher_for
from ._wrapper import OptimizedLLMWrapper

__all__ = [
    "CacheStats",
    "FlagSnapshot",
    "FlagWatcher",
    "OptimizedLLMWrapper",
    "UsageRecorder",
    "batch_client_for_entry",
    "build_base_model",
    "get_generator_model",
    "recorder_for",
    "watcher_for",
]
