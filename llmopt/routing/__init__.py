"""Routing: choose an ``llm`` entry per request from rules, capabilities, health and cost.

- :class:`LLMRouter` decides (:class:`RouteDecision`, with the reason and every
  candidate's score or exclusion), from :class:`RoutingSettings` (the document's
  ``routing`` object) and the entries' :class:`Candidate` views.
- :func:`profile_request` reads what a request needs (:class:`RequestProfile`), and
  :func:`infer_task` its :class:`TaskKind` when the caller does not say.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._candidates import Candidate, candidates_of
from ._edit import ACTION_UPDATE_ROUTING, update_routing
from ._models import ModelFacts, model_facts
from ._performance import Performance, PerformanceBook
from ._settings import EntryRouting, RoutingRule, RoutingSettings
from ._tasks import TaskKind, infer_task

if TYPE_CHECKING:
    from ._profile import RequestProfile, profile_request
    from ._routed_model import ROUTE_KEY, RoutedChatModel, get_routed_model
    from ._router import CandidateReport, LLMRouter, RouteDecision

# These import LangChain; the console (settings, edits) loads without it.
_LAZY = {
    "RequestProfile": "._profile",
    "profile_request": "._profile",
    "ROUTE_KEY": "._routed_model",
    "RoutedChatModel": "._routed_model",
    "get_routed_model": "._routed_model",
    "CandidateReport": "._router",
    "LLMRouter": "._router",
    "RouteDecision": "._router",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'llmopt.routing' has no attribute {name!r}")


__all__ = [
    "ACTION_UPDATE_ROUTING",
    "ROUTE_KEY",
    "Candidate",
    "CandidateReport",
    "EntryRouting",
    "LLMRouter",
    "ModelFacts",
    "Performance",
    "PerformanceBook",
    "RequestProfile",
    "RouteDecision",
    "RoutedChatModel",
    "RoutingRule",
    "RoutingSettings",
    "TaskKind",
    "candidates_of",
    "get_routed_model",
    "infer_task",
    "model_facts",
    "profile_request",
    "update_routing",
]
