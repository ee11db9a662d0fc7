"""Answers in Redis, shared by every process on every machine (``llmopt[redis]``).

Keys, under a prefix (``llmopt:responses:`` by default):

=============================== =====================================================
``a:<key>``                     a hash: the answer's fields and its vector; expires
                                with the answer (Redis drops it at ``expires_at``)
``seq``                         the counter that numbers writes
``written``                     a sorted set: answer key by write number (``since``)
``used:<entry>``                a sorted set: the entry's answer keys by last use
                                (eviction, invalidation by entry)
``kept``                        a sorted set: every answer key by priority, then
                                last use (the global size bound)
``stats:<entry>:<hour>``        a hash of the entry's counters for one hour
=============================== =====================================================

Sorted-set members whose answer has expired are dropped when met. The URL's password
never appears in an error or a log (:func:`llmopt.tokens.masked_webhook` shows URLs).
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Iterable
from typing import Any

from llmopt._secrets import masked_url
from llmopt.errors import ConfigError, FieldProblem

from ._backend import EntryStats, StoredAnswer


class RedisResponses:
    """The :class:`~llmopt.responses.ResponseBackend` on Redis at ``url``."""

    def __init__(self, url: str, *, prefix: str = "llmopt:responses:") -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                [
                    FieldProblem(
                        "LLMOPT_RESPONSE_CACHE_URL",
                        "a redis:// response cache needs the redis package: "
                        "pip install 'llmopt[redis]'",
                    )
                ]
            ) from None
        self.url = masked_url(url)
        self._prefix = prefix
        self._redis: Any = redis.Redis.from_url(url)

    def get(self, key: str, *, now: float) -> StoredAnswer | None:
        fields = self._redis.hgetall(self._answer_key(key))
        if not fields:
            return None
        answer = _answer(key, fields)
        return answer if answer.expires_at > now else None

    def put(self, answer: StoredAnswer) -> int:
        seq = int(self._redis.incr(self._prefix + "seq"))
        mapping: dict[str, Any] = {
            "entry_key": answer.entry_key,
            "model": answer.model,
            "context_key": answer.context_key,
            "question": answer.question,
            "answer": answer.answer,
            "created_at": repr(answer.created_at),
            "expires_at": repr(answer.expires_at),
            "last_used": repr(answer.last_used or answer.created_at),
            "priority": answer.priority,
            "seq": seq,
        }
        if answer.cost_usd is not None:
            mapping["cost_usd"] = repr(answer.cost_usd)
        if answer.vector is not None:
            mapping["vector"] = answer.vector
            mapping["embedder"] = answer.embedder
        name = self._answer_key(answer.key)
        pipe = self._redis.pipeline()
        pipe.delete(name)
        pipe.hset(name, mapping=mapping)
        pipe.expireat(name, math.ceil(answer.expires_at))
        if answer.vector is not None:
            pipe.zadd(self._prefix + "written", {answer.key: seq})
        used = answer.last_used or answer.created_at
        pipe.zadd(self._used_key(answer.entry_key), {answer.key: used})
        pipe.zadd(self._prefix + "kept", {answer.key: _rank(answer.priority, used)})
        pipe.execute()
        return seq

    def touch(self, keys: Iterable[str], *, now: float) -> None:
        keys = list(keys)
        if not keys:
            return
        pipe = self._redis.pipeline()
        for key in keys:
            pipe.hmget(self._answer_key(key), "entry_key", "priority")
        found = pipe.execute()
        pipe = self._redis.pipeline()
        for key, (entry, priority) in zip(keys, found, strict=True):
            if entry is not None:
                pipe.hset(self._answer_key(key), "last_used", repr(now))
                pipe.zadd(self._used_key(entry.decode()), {key: now})
                pipe.zadd(self._prefix + "kept", {key: _rank(int(priority or 0), now)})
        pipe.execute()

    def since(self, seq: int, *, limit: int = 10_000) -> list[StoredAnswer]:
        keys = self._redis.zrangebyscore(
            self._prefix + "written", f"({seq}", "+inf", start=0, num=limit
        )
        found = []
        gone = []
        for raw in keys:
            key = raw.decode()
            fields = self._redis.hgetall(self._answer_key(key))
            if fields:
                found.append(_answer(key, fields))
            else:
                gone.append(key)
        if gone:
            self._redis.zrem(self._prefix + "written", *gone)
        return sorted(found, key=lambda a: a.seq)

    def evict(self, entry_key: str, *, keep: int, now: float) -> int:
        used = self._used_key(entry_key)
        members = [m.decode() for m in self._redis.zrange(used, 0, -1)]  # oldest first
        live = [k for k in members if self._redis.exists(self._answer_key(k))]
        dead = set(members) - set(live)  # expired: Redis dropped the answer already
        over = live[: max(0, len(live) - keep)]
        if over:
            self._redis.delete(*(self._answer_key(k) for k in over))
        if over or dead:
            self._redis.zrem(used, *(set(over) | dead))
        return len(over)

    def evict_all(self, *, keep: int, now: float) -> int:
        kept = self._prefix + "kept"
        members = [m.decode() for m in self._redis.zrange(kept, 0, -1)]  # lowest rank first
        live = [k for k in members if self._redis.exists(self._answer_key(k))]
        dead = set(members) - set(live)
        over = live[: max(0, len(live) - keep)]
        if over:
            self._redis.delete(*(self._answer_key(k) for k in over))
        if over or dead:
            self._redis.zrem(kept, *(set(over) | dead))
        return len(over)

    def invalidate(
        self,
        *,
        entry_key: str | None = None,
        model: str | None = None,
        pattern: str | None = None,
    ) -> int:
        removed = 0
        for name in self._redis.scan_iter(match=self._prefix + "a:*", count=1000):
            entry, answer_model, question = self._redis.hmget(
                name, "entry_key", "model", "question"
            )
            if entry is None:
                continue
            if entry_key is not None and entry.decode() != entry_key:
                continue
            if model is not None and (answer_model or b"").decode() != model:
                continue
            if pattern is not None and not fnmatch.fnmatchcase((question or b"").decode(), pattern):
                continue
            key = name.decode()[len(self._prefix) + 2 :]
            pipe = self._redis.pipeline()
            pipe.delete(name)
            pipe.zrem(self._used_key(entry.decode()), key)
            pipe.zrem(self._prefix + "written", key)
            pipe.zrem(self._prefix + "kept", key)
            pipe.execute()
            removed += 1
        return removed

    def count(self, entry_key: str | None = None, *, now: float) -> int:
        entries = [entry_key] if entry_key is not None else self._entries()
        total = 0
        for entry in entries:
            members = self._redis.zrange(self._used_key(entry), 0, -1)
            total += sum(1 for m in members if self._redis.exists(self._answer_key(m.decode())))
        return total

    def add_stats(self, entry_key: str, hour: float, delta: EntryStats) -> None:
        name = f"{self._prefix}stats:{entry_key}:{int(hour)}"
        pipe = self._redis.pipeline()
        for field in ("exact_hits", "semantic_hits", "misses", "stored"):
            value = getattr(delta, field)
            if value:
                pipe.hincrby(name, field, value)
        if delta.saved_usd:
            pipe.hincrbyfloat(name, "saved_usd", delta.saved_usd)
        pipe.execute()

    def stats(self, *, start: float, end: float) -> dict[str, EntryStats]:
        found: dict[str, EntryStats] = {}
        for raw in self._redis.scan_iter(match=self._prefix + "stats:*", count=1000):
            entry, _, hour = raw.decode()[len(self._prefix) + 6 :].rpartition(":")
            if not start <= float(hour) < end:
                continue
            fields = {k.decode(): v for k, v in self._redis.hgetall(raw).items()}
            stats = found.setdefault(entry, EntryStats())
            stats.exact_hits += int(fields.get("exact_hits", 0))
            stats.semantic_hits += int(fields.get("semantic_hits", 0))
            stats.misses += int(fields.get("misses", 0))
            stats.stored += int(fields.get("stored", 0))
            stats.saved_usd += float(fields.get("saved_usd", 0))
        for entry in self._entries():
            answers = self.count(entry, now=time.time())
            if answers:
                found.setdefault(entry, EntryStats()).answers = answers
        return found

    def close(self) -> None:
        self._redis.close()

    def _answer_key(self, key: str) -> str:
        return f"{self._prefix}a:{key}"

    def _used_key(self, entry_key: str) -> str:
        return f"{self._prefix}used:{entry_key}"

    def _entries(self) -> list[str]:
        skip = len(self._prefix) + 5
        return [raw.decode()[skip:] for raw in self._redis.scan_iter(match=self._prefix + "used:*")]


def _rank(priority: int, last_used: float) -> float:
    # Priority bands far apart (a use time is ~1.8e9 s), last use inside each band.
    return priority * 1e11 + last_used


def _answer(key: str, raw: dict[bytes, bytes]) -> StoredAnswer:
    fields = {k.decode(): v for k, v in raw.items()}
    cost = fields.get("cost_usd")
    return StoredAnswer(
        key=key,
        entry_key=fields["entry_key"].decode(),
        model=fields["model"].decode(),
        context_key=fields["context_key"].decode(),
        question=fields["question"].decode(),
        answer=fields["answer"].decode(),
        created_at=float(fields["created_at"]),
        expires_at=float(fields["expires_at"]),
        last_used=float(fields["last_used"]),
        seq=int(fields.get("seq", 0)),
        priority=int(fields.get("priority", 0)),
        cost_usd=None if cost is None else float(cost),
        vector=fields.get("vector"),
        embedder=(fields.get("embedder") or b"").decode(),
    )
