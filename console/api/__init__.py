"""The console's JSON API: one ``NinjaAPI`` with a router per feature, docs at ``/api/docs``.

The browser calls it with its Django session (CSRF checked on changes), automation with
an API token (``Authorization: Bearer``, see ``console.api.auth``); each endpoint needs
the same role as its page (``console.roles``). Every error is ``{"detail": ...}``.
Bodies are strict JSON (``console.api.strict``): 413, 415 or 422, nothing written.

==============  ==========================================  ==========
path            does                                        needs
==============  ==========================================  ==========
config          list and read entries; PATCH their flags    VIEW/EDIT
kill-switch     read; POST to engage (rollback) or release  VIEW/OPERATE
audit           the audit log, newest first                 VIEW
batches         the batch ledger                            VIEW
statistics      usage, cost and savings over time           VIEW
monitoring      the migration guide's per-entry cache view  VIEW
routing         settings, circuits, decisions; PUT, force   VIEW/EDIT
budgets         budgets, spend this period, alerts; PUT     VIEW/EDIT
responses       response cache per entry; PUT settings      VIEW/EDIT
                POST invalidate                             OPERATE
quality         scores, degradation, alerts, A/B results;   VIEW/EDIT
                PUT settings, PUT orchestration/{key}
context         retrieval indexes; POST {index}/search      VIEW
                POST {index}/reindex, DELETE documents      EDIT
==============  ==========================================  ==========
"""

from __future__ import annotations

from ninja import NinjaAPI

from . import (
    audit,
    batches,
    budgets,
    config,
    context,
    killswitch,
    monitoring,
    quality,
    responses,
    routing,
    statistics,
)
from .auth import docs_access, register_auth_handlers
from .errors import register_error_handlers
from .strict import require_json_body

api = NinjaAPI(
    title="llmopt console API",
    version="1",
    description="Read and change the LLM optimization configuration, as the console does.",
    urls_namespace="api",
    docs_decorator=docs_access,  # signed-in users only, unless LLMOPT_PUBLIC_API_DOCS
)
register_error_handlers(api)
register_auth_handlers(api)
api.add_decorator(require_json_body, mode="view")  # 415 for a body that is not JSON
api.add_router("/config", config.router)
api.add_router("/kill-switch", killswitch.router)
api.add_router("/audit", audit.router)
api.add_router("/batches", batches.router)
api.add_router("/statistics", statistics.router)
api.add_router("/monitoring", monitoring.router)
api.add_router("/routing", routing.router)
api.add_router("/budgets", budgets.router)
api.add_router("/responses", responses.router)
api.add_router("/quality", quality.router)
api.add_router("/context", context.router)

__all__ = ["api"]
