"""``OptimizedLLMWrapper``, the ``get_generator_model`` factory, and their live-flag plumbing."""

from __future__ import annotations

from ._factory import batch_client_for_entry, build_base_model, get_generator_model
from ._learning import SharedLearning, learning_for
from ._recorder import UsageRecorder, recorder_for
from ._stats import CacheStats
from ._watcher import FlagSnapshot, FlagWatcher, watcher_for
from ._wrapper import OptimizedLLMWrapper

__all__ = [
    "CacheStats",
    "FlagSnapshot",
    "FlagWatcher",
    "OptimizedLLMWrapper",
    "SharedLearning",
    "UsageRecorder",
    "batch_client_for_entry",
    "build_base_model",
    "get_generator_model",
    "learning_for",
    "recorder_for",
    "watcher_for",
]
