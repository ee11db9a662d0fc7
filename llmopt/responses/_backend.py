"""Where stored answers live: the :class:`ResponseBackend` protocol and its SQLite form.

A backend keeps :class:`StoredAnswer` records by their exact key, with what eviction and
invalidation need (entry, model, question, priority, last use, expiry) and the vector of
the question for semantic matching. Every record gets a sequence number when written, so
a process's in-memory vector index can fetch only what other processes added since it
last looked (:meth:`ResponseBackend.since`). Per-entry counters (exact hits, semantic
hits, misses, money saved) are kept per hour beside the answers.

:class:`SQLiteResponses` is the embedded backend for one machine (WAL mode: many
processes may share the file); ``llmopt.responses._redis`` has the shared one.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    entry_key TEXT NOT NULL,
    model TEXT NOT NULL,
    context_key TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    last_used REAL NOT NULL,
    priority INTEGER NOT NULL,
    cost_usd REAL,
    vector BLOB,
    embedder TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS answers_seq ON answers (seq);
CREATE INDEX IF NOT EXISTS answers_entry ON answers (entry_key, priority, last_used);
CREATE TABLE IF NOT EXISTS answer_stats (
    entry_key TEXT NOT NULL,
    hour REAL NOT NULL,
    exact_hits INTEGER NOT NULL DEFAULT 0,
    semantic_hits INTEGER NOT NULL DEFAULT 0,
    misses INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0,
    saved_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (entry_key, hour)
);
CREATE TABLE IF NOT EXISTS answer_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO answer_seq (id, seq) VALUES (1, 0);
"""
_COLUMNS = (
    "key, seq, entry_key, model, context_key, question, answer, created_at, expires_at, "
    "last_used, priority, cost_usd, vector, embedder"
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One stored answer. ``answer`` is the message as JSON
    (``langchain_core.messages.message_to_dict``); ``cost_usd`` what the provider charged
    for it, which is what serving it again saves (``None``: unpriced); times are Unix
    seconds; ``vector`` the question's embedding as float32 bytes (``None`` without
    semantic matching) and ``embedder`` the model that made it (vectors of two models are
    never compared)."""

    key: str
    entry_key: str
    model: str
    context_key: str
    question: str
    answer: str
    created_at: float
    expires_at: float
    priority: int = 0
    cost_usd: float | None = None
    vector: bytes | None = None
    embedder: str = ""
    last_used: float = 0.0
    seq: int = 0


@dataclass(slots=True)
class EntryStats:
    """One entry's counters over a span of hours (or counters to add, ``answers`` unused)."""

    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    stored: int = 0
    saved_usd: float = 0.0
    answers: int = 0

    @property
    def hit_rate(self) -> float:
        """Hits (exact and semantic) as a share of lookups."""
        lookups = self.exact_hits + self.semantic_hits + self.misses
        return (self.exact_hits + self.semantic_hits) / lookups if lookups else 0.0


class ResponseBackend(Protocol):
    """What :class:`~llmopt.responses.LLMCacheLayer` needs of a place to keep answers."""

    def get(self, key: str, *, now: float) -> StoredAnswer | None:
        """The live answer stored under ``key`` (``None`` when absent or expired)."""
        ...

    def put(self, answer: StoredAnswer) -> int:
        """Store ``answer`` (replacing one with its key); returns its sequence number."""
        ...

    def touch(self, keys: Iterable[str], *, now: float) -> None:
        """Mark answers as used now (least recently used goes first)."""
        ...

    def since(self, seq: int, *, limit: int = 10_000) -> list[StoredAnswer]:
        """Answers with a vector written after ``seq``, oldest first."""
        ...

    def evict(self, entry_key: str, *, keep: int, now: float) -> int:
        """Drop the entry's expired answers, then its least recently used ones beyond
        ``keep``; returns how many went."""
        ...

    def evict_all(self, *, keep: int, now: float) -> int:
        """Over all entries: drop the expired answers, then beyond ``keep`` the lowest
        ``priority`` first and, among equals, the least recently used."""
        ...

    def invalidate(
        self,
        *,
        entry_key: str | None = None,
        model: str | None = None,
        pattern: str | None = None,
    ) -> int:
        """Drop the answers matching every filter given (``pattern``: a glob on the
        question, ``*`` and ``?``); all of them when none is. Returns how many went."""
        ...

    def count(self, entry_key: str | None = None, *, now: float) -> int:
        """Live answers, of one entry or all."""
        ...

    def add_stats(self, entry_key: str, hour: float, delta: EntryStats) -> None:
        """Add counters to an entry's hour (Unix seconds at the hour's start)."""
        ...

    def stats(self, *, start: float, end: float) -> dict[str, EntryStats]:
        """Counters per entry over the hours in ``[start, end)``."""
        ...

    def close(self) -> None: ...


class SQLiteResponses:
    """Answers in a SQLite file (``":memory:"`` for one process); see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Answers may hold anything a user asked: the file is the owner's alone.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def get(self, key: str, *, now: float) -> StoredAnswer | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM answers WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
        return None if row is None else _answer(row)

    def put(self, answer: StoredAnswer) -> int:
        with self._lock, self._db:
            seq = self._next_seq()
            self._db.execute(
                f"INSERT OR REPLACE INTO answers ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer.key,
                    seq,
                    answer.entry_key,
                    answer.model,
                    answer.context_key,
                    answer.question,
                    answer.answer,
                    answer.created_at,
                    answer.expires_at,
                    answer.last_used or answer.created_at,
                    answer.priority,
                    answer.cost_usd,
                    answer.vector,
                    answer.embedder,
                ),
            )
        return seq

    def touch(self, keys: Iterable[str], *, now: float) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "UPDATE answers SET last_used = ? WHERE key = ?", ((now, k) for k in keys)
            )

    def since(self, seq: int, *, limit: int = 10_000) -> list[StoredAnswer]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM answers WHERE seq > ? AND vector IS NOT NULL "
                "ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [_answer(row) for row in rows]

    def evict(self, entry_key: str, *, keep: int, now: float) -> int:
        with self._lock, self._db:
            expired = self._db.execute(
                "DELETE FROM answers WHERE entry_key = ? AND expires_at <= ?", (entry_key, now)
            ).rowcount
            over = self._db.execute(
                "DELETE FROM answers WHERE key IN (SELECT key FROM answers WHERE entry_key = ? "
                "ORDER BY last_used DESC LIMIT -1 OFFSET ?)",
                (entry_key, keep),
            ).rowcount
        return expired + over

    def evict_all(self, *, keep: int, now: float) -> int:
        with self._lock, self._db:
            expired = self._db.execute("DELETE FROM answers WHERE expires_at <= ?", (now,)).rowcount
            over = self._db.execute(
                "DELETE FROM answers WHERE key IN (SELECT key FROM answers "
                "ORDER BY priority DESC, last_used DESC LIMIT -1 OFFSET ?)",
                (keep,),
            ).rowcount
        return expired + over

    def invalidate(
        self,
        *,
        entry_key: str | None = None,
        model: str | None = None,
        pattern: str | None = None,
    ) -> int:
        where, args = [], []
        if entry_key is not None:
            where.append("entry_key = ?")
            args.append(entry_key)
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if pattern is not None:
            where.append("question GLOB ?")
            args.append(_sqlite_glob(pattern))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock, self._db:
            return self._db.execute(f"DELETE FROM answers{clause}", args).rowcount

    def count(self, entry_key: str | None = None, *, now: float) -> int:
        query = "SELECT COUNT(*) FROM answers WHERE expires_at > ?"
        args: list[Any] = [now]
        if entry_key is not None:
            query += " AND entry_key = ?"
            args.append(entry_key)
        with self._lock:
            return int(self._db.execute(query, args).fetchone()[0])

    def add_stats(self, entry_key: str, hour: float, delta: EntryStats) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO answer_stats (entry_key, hour, exact_hits, semantic_hits, misses, "
                "stored, saved_usd) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (entry_key, hour) DO UPDATE SET "
                "exact_hits = exact_hits + excluded.exact_hits, "
                "semantic_hits = semantic_hits + excluded.semantic_hits, "
                "misses = misses + excluded.misses, stored = stored + excluded.stored, "
                "saved_usd = saved_usd + excluded.saved_usd",
                (
                    entry_key,
                    hour,
                    delta.exact_hits,
                    delta.semantic_hits,
                    delta.misses,
                    delta.stored,
                    delta.saved_usd,
                ),
            )

    def stats(self, *, start: float, end: float) -> dict[str, EntryStats]:
        with self._lock:
            rows = self._db.execute(
                "SELECT entry_key, SUM(exact_hits), SUM(semantic_hits), SUM(misses), "
                "SUM(stored), SUM(saved_usd) FROM answer_stats WHERE hour >= ? AND hour < ? "
                "GROUP BY entry_key",
                (start, end),
            ).fetchall()
            counts = dict(
                self._db.execute(
                    "SELECT entry_key, COUNT(*) FROM answers WHERE expires_at > ? "
                    "GROUP BY entry_key",
                    (time.time(),),
                ).fetchall()
            )
        found = {
            row[0]: EntryStats(int(row[1]), int(row[2]), int(row[3]), int(row[4]), float(row[5]))
            for row in rows
        }
        for key, answers in counts.items():
            found.setdefault(key, EntryStats()).answers = int(answers)
        return found

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _next_seq(self) -> int:
        self._db.execute("UPDATE answer_seq SET seq = seq + 1 WHERE id = 1")
        return int(self._db.execute("SELECT seq FROM answer_seq WHERE id = 1").fetchone()[0])


def _sqlite_glob(pattern: str) -> str:
    # SQLite's GLOB also reads [...] classes; a user's pattern means only * and ?.
    return pattern.replace("[", "[[]")


def _answer(row: Sequence[Any]) -> StoredAnswer:
    return StoredAnswer(
        key=row[0],
        seq=int(row[1]),
        entry_key=row[2],
        model=row[3],
        context_key=row[4],
        question=row[5],
        answer=row[6],
        created_at=float(row[7]),
        expires_at=float(row[8]),
        last_used=float(row[9]),
        priority=int(row[10]),
        cost_usd=None if row[11] is None else float(row[11]),
        vector=row[12],
        embedder=row[13],
    )
