"""``LLMCacheLayer``: answer a request from a stored answer, exactly or by meaning.

Per request (:meth:`LLMCacheLayer.lookup`): when the entry opts in (its
:class:`ResponseCacheSettings`), and the request is not one asking for variety
(temperature above 0, unless ``allowTemperature``), the exact key is looked up first;
then, with ``semantic`` on, the question is embedded and compared with the questions
stored for the same entry and context (:mod:`llmopt.responses._index`). A semantic
candidate is served only when it is at least ``similarityThreshold`` similar, still
stored and live, and the lexical guard finds no difference embeddings miss (a number, a
negation, a name: :func:`llmopt.responses._guard.mismatch`).

After a call that the cache could not answer, :meth:`LLMCacheLayer.save` keeps its
answer with what it cost (the provider's price of the answer: what each later hit
saves), its TTL and priority. Counters (exact hits, semantic hits, misses, stored,
money saved) are summed in memory and written to the backend every few seconds, with
the evictions the entries' ``maxEntries`` call for, by one background thread per layer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.messages.utils import message_chunk_to_message

from llmopt.failover._classify import classify_response
from llmopt.store import AuditEvent, Store

from ._backend import EntryStats, ResponseBackend, StoredAnswer
from ._guard import mismatch
from ._request import CanonicalRequest
from ._settings import ACTION_INVALIDATE, ResponseCacheSettings

logger = logging.getLogger("llmopt.responses")

METADATA_KEY = "llmopt_response_cache"
HOUR = 3600.0
DEFAULT_MAX_ANSWERS = 1_000_000
# Our own annotations are about one call; a stored answer must not carry them to another.
_CALL_METADATA = ("llmopt_route", "llmopt_failover", METADATA_KEY)

HitKind = Literal["exact", "semantic"]


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A stored answer served: the message, how it matched, and what it saved."""

    message: AIMessage
    kind: HitKind
    similarity: float
    saved_usd: float | None
    stored_question: str
    key: str


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What :meth:`LLMCacheLayer.lookup` found: a hit, or a miss (``hit`` ``None``) to
    pass on to :meth:`LLMCacheLayer.save` with the question's ``vector`` already made."""

    request: CanonicalRequest
    entry_key: str
    settings: ResponseCacheSettings
    hit: CacheHit | None = None
    vector: Any = None
    used: bool = True


class LLMCacheLayer:
    """Stored answers in ``backend``; see the module docstring.

    ``embeddings`` is any LangChain ``Embeddings`` (``None``: the offline default of
    ``llmopt[embeddings]``, loaded when an entry first asks for semantic matching);
    ``clock`` gives Unix seconds. ``max_answers`` bounds the answers of all entries
    together: beyond it the lowest ``priority`` go first, the least recently used among
    equals (each entry's ``maxEntries`` applies too). Thread-safe. ``close()`` writes
    what is pending.
    """

    def __init__(
        self,
        backend: ResponseBackend,
        *,
        embeddings: Embeddings | None = None,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 5.0,
        store: Store | None = None,
        max_answers: int = DEFAULT_MAX_ANSWERS,
    ) -> None:
        self.backend = backend
        self.store = store  # the llmopt store whose entries these are (for audits)
        self._embeddings = embeddings
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, float], EntryStats] = {}
        self._touched: set[str] = set()
        self._grown: dict[str, int] = {}
        self._index: Any = None
        self._seq = 0
        self._synced_at = 0.0
        self._flush_interval = flush_interval
        self.max_answers = max_answers
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()

    def use_embeddings(self, embeddings: Embeddings) -> None:
        """Embed questions with ``embeddings`` from now on (any LangChain ``Embeddings``).

        Vectors of another model are not comparable: each vector is stored with the
        model that made it, and only the current model's are searched; answers stored
        before stay reachable by exact key."""
        with self._lock:
            self._embeddings = embeddings
            if self._index is not None:
                self._index.clear()
            self._seq = 0
            self._synced_at = 0.0

    # -- the call path ------------------------------------------------------------------

    def lookup(
        self, request: CanonicalRequest, *, entry_key: str, settings: ResponseCacheSettings
    ) -> CacheLookup:
        """A stored answer for ``request`` of ``entry_key``, if one may be served."""
        if not self.applies(request, settings):
            return CacheLookup(request, entry_key, settings, used=False)
        now = self._clock()
        stored = self.backend.get(request.key, now=now)
        if stored is not None:
            exact = self._hit(stored, "exact", 1.0)
            self._count(entry_key, now, exact)
            return CacheLookup(request, entry_key, settings, hit=exact)
        vector = None
        if settings.semantic and request.question.strip():
            vector = self._embed(request.question)
            near = self._semantic(request, entry_key, settings, vector, now)
            if near is not None:
                self._count(entry_key, now, near)
                return CacheLookup(request, entry_key, settings, hit=near, vector=vector)
        self._count(entry_key, now, None)
        return CacheLookup(request, entry_key, settings, vector=vector)

    def save(
        self,
        lookup: CacheLookup,
        message: BaseMessage,
        *,
        model: str,
        cost_usd: float | None,
    ) -> bool:
        """Keep ``message``, the answer to a request ``lookup`` missed; False when it
        may not be kept: the entry is off, the request asked for variety, or the answer is
        not one to give again (not an AI message, empty, or a refusal, which another try
        or another provider may not repeat)."""
        if not lookup.used or lookup.hit is not None or not isinstance(message, AIMessage):
            return False
        if isinstance(message, AIMessageChunk):
            message = message_chunk_to_message(message)
            assert isinstance(message, AIMessage)
        if not (message.content or message.tool_calls) or classify_response(message) is not None:
            return False
        settings = lookup.settings
        now = self._clock()
        kept = message.model_copy(
            update={
                "response_metadata": {
                    k: v for k, v in message.response_metadata.items() if k not in _CALL_METADATA
                }
            }
        )
        vector = lookup.vector
        if vector is None and settings.semantic and lookup.request.question.strip():
            vector = self._embed(lookup.request.question)
        answer = StoredAnswer(
            key=lookup.request.key,
            entry_key=lookup.entry_key,
            model=model,
            context_key=lookup.request.context_key,
            question=lookup.request.question,
            answer=json.dumps(message_to_dict(kept)),
            created_at=now,
            expires_at=now + settings.ttl_seconds,
            priority=settings.priority,
            cost_usd=cost_usd,
            vector=None if vector is None else vector.tobytes(),
            embedder="" if vector is None else self._embedder_name(),
            last_used=now,
        )
        self.backend.put(answer)
        if vector is not None:
            self._index_vector((lookup.entry_key, answer.context_key), answer.key, vector)
        with self._lock:
            self._delta(lookup.entry_key, now).stored += 1
            self._grown[lookup.entry_key] = settings.max_entries
        self._start_flusher()
        return True

    # -- the design document's names ---------------------------------------------------

    def get_cached_response(self, prompt_hash: str) -> AIMessage | None:
        """The live answer stored under an exact key (:attr:`CanonicalRequest.key`)."""
        stored = self.backend.get(prompt_hash, now=self._clock())
        return None if stored is None else _message(stored)

    def store_response(
        self, prompt: CanonicalRequest, response: BaseMessage, metadata: Mapping[str, Any]
    ) -> bool:
        """Keep ``response`` to ``prompt``; ``metadata`` gives ``entry_key``, ``model``,
        ``cost_usd`` and ``settings`` (a :class:`ResponseCacheSettings` or its dict)."""
        raw = metadata.get("settings")
        settings = (
            raw
            if isinstance(raw, ResponseCacheSettings)
            else ResponseCacheSettings.from_dict(raw if raw is not None else {"enabled": True})
        )
        entry_key = str(metadata.get("entry_key") or "default")
        lookup = CacheLookup(prompt, entry_key, settings, used=self.applies(prompt, settings))
        cost = metadata.get("cost_usd")
        return self.save(
            lookup,
            response,
            model=str(metadata.get("model") or ""),
            cost_usd=None if cost is None else float(cost),
        )

    def invalidate_cache(
        self,
        pattern: str | None = None,
        *,
        entry_key: str | None = None,
        model: str | None = None,
        actor: str | None = None,
        reason: str = "",
    ) -> int:
        """Drop the stored answers matching every filter given (``pattern``: a glob on
        the question); every answer when none is. With ``actor``, the drop is recorded in
        the store's audit log (``responses.invalidate``). Returns how many went."""
        removed = self.backend.invalidate(entry_key=entry_key, model=model, pattern=pattern)
        with self._lock:
            if self._index is not None:
                self._index.clear()
            self._seq = 0
        if actor is not None and self.store is not None:
            self.store.record_audit(
                AuditEvent(
                    actor=actor,
                    action=ACTION_INVALIDATE,
                    target=f"responses:{entry_key or '*'}",
                    after={
                        "entry": entry_key,
                        "model": model,
                        "pattern": pattern,
                        "removed": removed,
                    },
                    reason=reason,
                )
            )
        logger.info(
            "response cache: %d answers invalidated (entry %s, model %s, pattern %s)",
            removed,
            entry_key,
            model,
            pattern,
        )
        return removed

    def get_cache_stats(self, *, hours: float = 24.0) -> dict[str, EntryStats]:
        """Per entry: exact hits, semantic hits, misses, stored, money saved over the
        last ``hours`` (what is still pending included), and the live answers."""
        self.flush()
        now = self._clock()
        start = (now // HOUR) * HOUR - (max(hours, 1.0) - 1) * HOUR
        return self.backend.stats(start=start, end=now + HOUR)

    # -- upkeep -------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the pending counters and last uses, and evict what ``maxEntries`` asks."""
        with self._lock:
            pending, self._pending = self._pending, {}
            touched, self._touched = self._touched, set()
            grown, self._grown = self._grown, {}
        for (entry_key, hour), delta in pending.items():
            self.backend.add_stats(entry_key, hour, delta)
        now = self._clock()
        if touched:
            self.backend.touch(touched, now=now)
        for entry_key, keep in grown.items():
            gone = self.backend.evict(entry_key, keep=keep, now=now)
            if gone:
                logger.debug("response cache: %d answers of %s evicted", gone, entry_key)
        if grown:
            gone = self.backend.evict_all(keep=self.max_answers, now=now)
            if gone:
                logger.info(
                    "response cache: %d answers evicted (at most %d)", gone, self.max_answers
                )

    def close(self) -> None:
        """Stop the background writer and write what is pending."""
        self._stop.set()
        flusher = self._flusher
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join(timeout=5.0)
        self.flush()

    # -- internals ----------------------------------------------------------------------

    def applies(self, request: CanonicalRequest, settings: ResponseCacheSettings) -> bool:
        """Whether ``settings`` let ``request`` be served and stored: the entry opted in,
        and the request does not ask for variety (temperature above 0) unless allowed."""
        if not settings.enabled:
            return False
        hot = request.temperature is not None and request.temperature > 0
        return not hot or settings.allow_temperature

    def _semantic(
        self,
        request: CanonicalRequest,
        entry_key: str,
        settings: ResponseCacheSettings,
        vector: Any,
        now: float,
    ) -> CacheHit | None:
        self._sync(now)
        index = self._vector_index()
        group = (entry_key, request.context_key)
        for key, similarity in index.search(group, vector, threshold=settings.similarity_threshold):
            stored = self.backend.get(key, now=now)
            if stored is None:
                index.remove(group, key)
                continue
            reason = mismatch(request.question, stored.question)
            if reason is not None:
                logger.debug("response cache: a near match refused (%s)", reason)
                continue
            return self._hit(stored, "semantic", similarity)
        return None

    def _sync(self, now: float) -> None:
        """Fetch the vectors other processes stored, at most once a second."""
        if now - self._synced_at < 1.0:
            return
        self._synced_at = now
        while True:
            fresh = self.backend.since(self._seq)
            if not fresh:
                return
            embedder = self._embedder_name()
            for answer in fresh:
                if answer.vector is None or answer.embedder != embedder:
                    continue  # another model's vector: its similarities mean nothing here
                if answer.expires_at > now:
                    self._index_vector(
                        (answer.entry_key, answer.context_key), answer.key, _vector(answer.vector)
                    )
            self._seq = max(self._seq, fresh[-1].seq)

    def _index_vector(self, group: tuple[str, str], key: str, vector: Any) -> None:
        try:
            self._vector_index().add(group, key, vector)
        except ValueError as exc:  # another embedding model's vector: never compared
            logger.debug("response cache: %s not indexed: %s", key, exc)

    def _hit(self, stored: StoredAnswer, kind: HitKind, similarity: float) -> CacheHit:
        message = _message(stored)
        message.response_metadata[METADATA_KEY] = {
            "hit": kind,
            "similarity": round(similarity, 4),
            "saved_usd": stored.cost_usd,
            "stored_question": stored.question if kind == "semantic" else None,
            "entry": stored.entry_key,
            "stored_at": stored.created_at,
        }
        with self._lock:
            self._touched.add(stored.key)
        return CacheHit(message, kind, similarity, stored.cost_usd, stored.question, stored.key)

    def _count(self, entry_key: str, now: float, hit: CacheHit | None) -> None:
        with self._lock:
            delta = self._delta(entry_key, now)
            if hit is None:
                delta.misses += 1
            elif hit.kind == "exact":
                delta.exact_hits += 1
            else:
                delta.semantic_hits += 1
            if hit is not None and hit.saved_usd:
                delta.saved_usd += hit.saved_usd
        self._start_flusher()

    def _delta(self, entry_key: str, now: float) -> EntryStats:
        hour = (now // HOUR) * HOUR
        delta = self._pending.get((entry_key, hour))
        if delta is None:
            delta = self._pending[(entry_key, hour)] = EntryStats()
        return delta

    def _embed(self, text: str) -> Any:
        from ._index import unit_vector

        return unit_vector(self._embedder().embed_query(text))

    def _embedder_name(self) -> str:
        """Which model makes the vectors: its class and, where it says, its model name."""
        model = self._embedder()
        name = getattr(model, "model_name", None) or getattr(model, "model", None) or ""
        return f"{type(model).__module__}.{type(model).__qualname__}:{name}"

    def _embedder(self) -> Embeddings:
        with self._lock:
            if self._embeddings is None:
                from llmopt.embeddings import default_embeddings

                self._embeddings = default_embeddings()
            return self._embeddings

    def _vector_index(self) -> Any:
        with self._lock:
            if self._index is None:
                from ._index import VectorIndex

                self._index = VectorIndex()
            return self._index

    def _start_flusher(self) -> None:
        if self._flusher is not None or self._stop.is_set():
            return
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="llmopt-response-cache", daemon=True
                )
                self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            try:
                self.flush()
            except Exception:  # the next round tries again; calls never wait on this
                logger.exception("response cache: writing counters failed")


def _message(stored: StoredAnswer) -> AIMessage:
    [message] = messages_from_dict([json.loads(stored.answer)])
    if not isinstance(message, AIMessage):
        raise TypeError(f"stored answer {stored.key} is not an AI message")
    return message


def _vector(raw: bytes) -> Any:
    import numpy as np

    return np.frombuffer(raw, dtype=np.float32)
