"""What the Responses page and ``/api/responses`` show per entry: its response cache
statistics over the last day and its settings, as stored and in force."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmopt.config import AIConfigDocument
from llmopt.errors import ConfigError
from llmopt.responses import (
    RESPONSE_CACHE,
    EntryStats,
    ResponseCacheSettings,
    response_cache_for,
)
from llmopt.store import Store

STATS_HOURS = 24


@dataclass(frozen=True, slots=True)
class EntryResponses:
    """One entry's response cache: statistics, settings in force, the object as stored
    (``None`` when the entry has none: the defaults, off), and why the stored object
    cannot be used (then the defaults are in force). ``in_document`` is false for an
    entry the cache still holds answers or counters of, since removed."""

    entry_key: str
    model: str | None
    stats: EntryStats
    settings: ResponseCacheSettings
    stored: dict[str, Any] | None
    problems: tuple[str, ...]
    in_document: bool = True

    @property
    def lookups(self) -> int:
        return self.stats.exact_hits + self.stats.semantic_hits + self.stats.misses


def read_stats(store: Store) -> dict[str, EntryStats]:
    """Each entry's counters over the last day and its answers stored now, from the
    process's response cache for ``store`` (whose layer imports LangChain on first use)."""
    return response_cache_for(store).get_cache_stats(hours=STATS_HOURS)


def entry_responses(
    document: AIConfigDocument, stats: dict[str, EntryStats]
) -> list[EntryResponses]:
    """Every entry of the document in its order, then any the cache knows since removed."""
    rows = []
    for entry in document.entries:
        raw = (entry.configuration or {}).get(RESPONSE_CACHE)
        problems: tuple[str, ...] = ()
        try:
            settings = ResponseCacheSettings.from_dict(raw)
        except ConfigError as exc:
            settings, problems = ResponseCacheSettings(), tuple(p.message for p in exc.problems)
        rows.append(
            EntryResponses(
                entry_key=entry.key,
                model=entry.model,
                stats=stats.get(entry.key, EntryStats()),
                settings=settings,
                stored=dict(raw) if isinstance(raw, dict) else None,
                problems=problems,
            )
        )
    known = {entry.key for entry in document.entries}
    for key in sorted(set(stats) - known):
        rows.append(
            EntryResponses(
                entry_key=key,
                model=None,
                stats=stats[key],
                settings=ResponseCacheSettings(),
                stored=None,
                problems=(),
                in_document=False,
            )
        )
    return rows
