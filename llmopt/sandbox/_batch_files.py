"""The sandbox's data directory: what survives a restart when ``data_dir`` is set.

| file                                   | holds                                        |
|----------------------------------------|----------------------------------------------|
| ``state.json``                         | billing counters and every batch's metadata; |
|                                        | the commit point: it names the files below   |
| ``batches/{id}.requests.jsonl``        | an unfinished batch's requests, one a line   |
| ``batches/{id}.progress-{a}-{b}.jsonl``| results of positions ``a`` to ``b`` so far   |
| ``batches/{id}.results.jsonl``         | an ended batch's results file, as served     |

Every file is written whole to a temporary name, flushed to disk and renamed into
place, so a crash leaves either the old file or the new one. Data files are written
before the ``state.json`` that refers to them; at start-up files it does not name (left
by a crash in between) are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

_STATE = "state.json"
_BATCHES = "batches"
STATE_VERSION = 1
_READ_CHUNK = 256 * 1024


class DataDir:
    """Reads and writes one data directory (created if missing). Not thread-safe on its
    own: the batch store serializes writes of ``state.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.batches = root / _BATCHES
        self.batches.mkdir(parents=True, exist_ok=True)

    def load_state(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` for a new directory. Raises ``ValueError`` for a
        state file of another version."""
        path = self.root / _STATE
        if not path.exists():
            return None
        state: dict[str, Any] = json.loads(path.read_bytes())
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: unsupported sandbox state version {state.get('version')}")
        return state

    def save_state(self, state: Mapping[str, Any]) -> None:
        """Replace ``state.json`` with ``state`` (its ``version`` is added)."""
        data = json.dumps({**state, "version": STATE_VERSION}, separators=(",", ":"))
        _write_atomically(self.root / _STATE, [data.encode()])

    def write_requests(
        self, batch_id: str, rows: Iterable[tuple[str, bytes, dict[str, Any] | None]]
    ) -> str:
        """Save a new batch's requests (custom_id, params as JSON, fault) as
        ``[custom_id, params, fault]`` lines; returns the file name."""
        name = f"{batch_id}.requests.jsonl"
        lines = (
            b"[%s,%s,%s]\n" % (json.dumps(cid).encode(), params, json.dumps(fault).encode())
            for cid, params, fault in rows
        )
        _write_atomically(self.batches / name, lines)
        return name

    def read_requests(self, name: str) -> Iterator[list[Any]]:
        """The rows :meth:`write_requests` saved."""
        with (self.batches / name).open("rb") as file:
            for line in file:
                row: list[Any] = json.loads(line)
                yield row

    def write_progress(self, batch_id: str, start: int, lines: Sequence[bytes]) -> str:
        """Save results lines of positions ``start`` onwards (an empty line for an item
        still unfinished); returns the file name."""
        name = f"{batch_id}.progress-{start}-{start + len(lines)}.jsonl"
        _write_atomically(self.batches / name, (line or b"\n" for line in lines))
        return name

    def read_progress(self, name: str) -> list[bytes]:
        """The lines :meth:`write_progress` saved (empty bytes for unfinished items)."""
        data = (self.batches / name).read_bytes()
        return [b"" if line == b"" else line + b"\n" for line in data.split(b"\n")[:-1]]

    def write_results(self, batch_id: str, lines: Iterable[bytes]) -> str:
        """Save an ended batch's results file; returns its name."""
        name = f"{batch_id}.results.jsonl"
        _write_atomically(self.batches / name, lines)
        return name

    def open_results(self, name: str) -> IO[bytes]:
        """The results file, open for reading (it stays readable if deleted meanwhile)."""
        return (self.batches / name).open("rb")

    def remove(self, names: Iterable[str]) -> None:
        """Delete these files of ``batches/``; missing ones are ignored."""
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.batches / name).unlink()

    def sweep(self, keep: set[str]) -> None:
        """Delete every file of ``batches/`` not in ``keep``, and temporary files:
        leftovers of a crash."""
        self.remove(p.name for p in self.batches.iterdir() if p.name not in keep)
        for temporary in self.root.glob(f".{_STATE}.*.tmp"):
            temporary.unlink(missing_ok=True)


class FileChunks:
    """An open file's bytes in chunks, as a response stream: closed at the end of the
    iteration, or by :meth:`close` (the server closes every stream it was given)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def __iter__(self) -> Iterator[bytes]:
        with self._file:
            while chunk := self._file.read(_READ_CHUNK):
                yield chunk

    def close(self) -> None:
        self._file.close()


def _write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _sync_directory(path.parent)


def _sync_directory(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
