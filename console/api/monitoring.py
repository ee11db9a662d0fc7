"""``/api/monitoring``: the migration guide's post-migration monitoring endpoint.

The guide's ``GET /api/monitoring/llm-optimization`` collects each service's
``get_cache_stats()``; here the services are the ``llm`` entries, and their numbers
are what the wrappers recorded in the store's usage roll-ups (every process's calls,
not one process's memory), summed over a range as ``/api/statistics`` sums them.

===============  ===============================================================
field            meaning (per entry, over the range)
===============  ===============================================================
total_blocks     content blocks in the requests the cache planner saw
cached_blocks    of those, the blocks that carried a cache breakpoint
estimated_tokens the planner's estimate of the input tokens under a breakpoint
hit_rate         estimated_tokens over the planner's estimate of all input,
                 as ``"12.3%"`` (``"0.0%"`` when it saw none)
is_optimized     the kill switch is released, the entry is valid and its flags
                 apply caching or batching
===============  ===============================================================
"""

from __future__ import annotations

from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from llmopt.config import LLMEntry, load_document
from llmopt.killswitch import read_kill_switch

from ..clock import CLOCK
from ..roles import VIEW
from ..store import get_store
from ..usage import statistics as stats
from ..web.access import AuthedRequest
from .auth import RoleAuth
from .errors import Error, ValidationErrors

router = Router(tags=["monitoring"], auth=RoleAuth(VIEW))


class MonitoringIn(Schema):
    """Which usage to sum: the last ``24h`` (the default), ``7d`` or ``30d``, in whole
    hours (whole UTC days for ``30d``) up to now, as ``/api/statistics`` does."""

    range: stats.RangeName = stats.DEFAULT_RANGE


class EntryOptimizationOut(Schema):
    """One entry's optimization, by the migration guide's names."""

    total_blocks: int = Field(description="Content blocks in the requests the planner saw")
    cached_blocks: int = Field(description="Of those, the blocks that carried a breakpoint")
    estimated_tokens: int = Field(
        description="The planner's estimate of the input tokens under a breakpoint"
    )
    hit_rate: str = Field(
        description='estimated_tokens over the estimated input, as "12.3%" ("0.0%": none)'
    )
    is_optimized: bool = Field(
        description="The kill switch is released, the entry is valid and its flags apply "
        "caching or batching"
    )


OptimizationByEntry = dict[str, EntryOptimizationOut]
ERRORS: dict[int, Any] = {401: Error, 403: Error, 422: ValidationErrors, 503: Error}


@router.get(
    "/llm-optimization",
    response={200: OptimizationByEntry, **ERRORS},
    summary="Each entry's cache blocks, estimated cached tokens and whether it is optimized",
)
def llm_optimization(request: AuthedRequest, query: Query[MonitoringIn]) -> OptimizationByEntry:
    """Keyed by entry key: every entry of the configuration, zeros where it has no usage.

    ``is_optimized`` is what the stored state says; a backend process with
    ``LLM_OPTIMIZATION_ENABLED=false`` in its own environment optimizes nothing all the same.
    """
    store = get_store()
    released = not read_kill_switch(store).engaged
    document = load_document(store)
    usage = stats.per_entry(store, range_name=query.range, now=CLOCK.now())
    return {
        entry.key: _entry_out(entry, usage.get(entry.key, stats.Totals()), released=released)
        for entry in document.entries
    }


def _entry_out(entry: LLMEntry, totals: stats.Totals, *, released: bool) -> EntryOptimizationOut:
    config = entry.config
    applies = config is not None and (config.applies_caching or config.applies_batching)
    potential = totals.cache_hit_potential
    return EntryOptimizationOut(
        total_blocks=totals.content_blocks,
        cached_blocks=totals.cached_blocks,
        estimated_tokens=totals.estimated_cached_tokens,
        hit_rate=f"{potential or 0.0:.1%}",
        is_optimized=released and entry.valid and applies,
    )
