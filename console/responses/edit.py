"""Change the response cache: an entry's ``configuration.responseCache`` (validated by
the core, optimistic on the document's revision, audited as ``responses.update``), and
dropping stored answers (audited by the layer as ``responses.invalidate``).

The page and the API both change it through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmopt.config import (
    AIConfigDocument,
    LLMEntry,
    check_reason,
    load_document,
    save_entry_field,
)
from llmopt.errors import ConfigError, FieldProblem, RecordNotFound
from llmopt.responses import (
    ACTION_INVALIDATE,
    RESPONSE_CACHE,
    ResponseCacheSettings,
    response_cache_for,
)
from llmopt.store import Store

from .overview import read_stats

ACTION_UPDATE_RESPONSES = "responses.update"
ACTION_INVALIDATE_RESPONSES = ACTION_INVALIDATE
ALL_ENTRIES = "*"
REASON_REQUIRED = "Say why, for the audit log: dropping stored answers needs a reason."


def load_embeddings() -> object:
    """The offline embedding model semantic matching needs; raises ``ConfigError`` with
    the sentence naming ``llmopt[embeddings]`` when the package is missing."""
    from llmopt.embeddings import default_embeddings  # imports LangChain: only when asked

    return default_embeddings()


def update_response_cache(
    store: Store,
    key: str,
    settings: Mapping[str, Any],
    *,
    expected_revision: str,
    actor: str,
    reason: str = "",
    embeddings: Callable[[], object] | None = None,
) -> AIConfigDocument:
    """Replace entry ``key``'s ``responseCache`` object with ``settings`` and save.

    Checked by :meth:`ResponseCacheSettings.from_dict` (every problem raises
    :class:`~llmopt.errors.ConfigError`, field ``responseCache.<name>``, and nothing is
    written). Turning ``semantic`` on needs the embedding model: when ``embeddings()``
    (default :func:`load_embeddings`) raises ``ConfigError`` (``llmopt[embeddings]``
    missing), that is the problem, on ``responseCache.semantic``. A document changed
    since ``expected_revision`` raises :class:`~llmopt.errors.ConflictError`; an
    unknown ``key`` :class:`~llmopt.errors.RecordNotFound`. The rest of the entry and
    of the document is kept; the write and its audit record (the object before and
    after) are one operation. A change that changes nothing writes nothing.
    """
    if not isinstance(settings, Mapping):
        field = RESPONSE_CACHE
        raise ConfigError([FieldProblem(field, f"{field} must be an object")])

    def check(_document: AIConfigDocument, entry: LLMEntry) -> None:
        wanted = ResponseCacheSettings.from_dict(settings)
        before = (entry.configuration or {}).get(RESPONSE_CACHE)
        if wanted.semantic and not _semantic(before):
            try:
                (embeddings or load_embeddings)()
            except ConfigError as exc:
                field = f"{RESPONSE_CACHE}.semantic"
                raise ConfigError([FieldProblem(field, p.message) for p in exc.problems]) from None

    return save_entry_field(
        store,
        key,
        RESPONSE_CACHE,
        dict(settings),
        check=check,
        action=ACTION_UPDATE_RESPONSES,
        target=f"responses:{key}",
        expected_revision=expected_revision,
        actor=actor,
        reason=reason,
    )


def _semantic(stored: Any) -> bool:
    """Whether the stored object already has semantic matching on (an unreadable one:
    no, so turning it on is checked)."""
    try:
        return ResponseCacheSettings.from_dict(stored).semantic
    except ConfigError:
        return False


def invalidate_answers(
    store: Store,
    *,
    entry: str,
    model: str = "",
    pattern: str = "",
    actor: str,
    reason: str,
) -> int:
    """Drop the stored answers of ``entry`` (``*``: every entry), of ``model`` (blank:
    any) whose question matches the glob ``pattern`` (blank or ``*``: every question);
    recorded in the audit log by the layer, with how many went. Returns that number.

    A blank ``reason`` (or one the free-text rule refuses) raises ``ConfigError``; an
    ``entry`` that is neither in the document nor in the cache, ``RecordNotFound``.
    """
    if not reason.strip():
        raise ConfigError([FieldProblem("reason", REASON_REQUIRED)])
    check_reason(reason)
    if entry != ALL_ENTRIES:
        known = {e.key for e in load_document(store).entries} | set(read_stats(store))
        if entry not in known:
            raise RecordNotFound(f"no llm entry with key {entry!r}")
    return response_cache_for(store).invalidate_cache(
        None if pattern.strip() in ("", "*") else pattern,
        entry_key=None if entry == ALL_ENTRIES else entry,
        model=model.strip() or None,
        actor=actor,
        reason=reason,
    )
