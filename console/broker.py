"""The Celery broker: the embedded one used when no broker is configured, and its health.

With ``CELERY_BROKER_URL`` unset the console uses kombu's ``filesystem://`` transport:
each message is a file under ``VAR_DIR/broker/``, taken by a rename, so workers and the
web process on one machine share queues with no service to run. Redis (or RabbitMQ) is
the production broker; nothing here is specific to either except what is marked so.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from celery import Celery

EMBEDDED_BROKER_URL = "filesystem://localhost//"  # a host name keeps kombu from warning
PROCESSED_KEPT_SECONDS = 24 * 3600
"""How long the embedded broker keeps message files it has delivered (see below)."""


def embedded_transport_options(var_dir: Path) -> dict[str, Any]:
    """Transport options of the embedded broker under ``var_dir/broker``; creates the folders.

    Delivered messages are moved into ``processed/`` rather than the system temp
    folder: a rename within one file system is atomic, so two workers can never both
    take the same message, which a copy to another file system would allow.
    ``prune_processed`` deletes them later.
    """
    root = var_dir / "broker"
    folders = {name: root / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "store_processed": True,
        "control_folder": str(folders["control"]),
    }


def prune_processed(transport_options: dict[str, Any], *, now: float | None = None) -> int:
    """Delete the embedded broker's delivered message files older than a day; how many.

    Does nothing (returns 0) for any other broker.
    """
    folder = transport_options.get("processed_folder")
    if not transport_options.get("store_processed") or not folder:
        return 0
    cutoff = (time.time() if now is None else now) - PROCESSED_KEPT_SECONDS
    removed = 0
    for path in Path(folder).glob("*.msg"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another worker pruned it first
            continue
    return removed


class BrokerUnavailable(Exception):
    """The broker cannot be reached; the message names the broker without its password."""


def check_broker(app: Celery, *, timeout: int = 2) -> None:
    """Return if ``app``'s broker accepts a connection within ``timeout`` seconds.

    Raises ``BrokerUnavailable`` otherwise. For the embedded broker, whose "connection"
    never fails, it checks that the queue folder exists and is writable instead.
    """
    with app.connection_for_write() as connection:
        where = connection.as_uri()  # the password masked
        if connection.transport_cls == "filesystem":
            _check_folder((connection.transport_options or {}).get("data_folder_out"), where)
            return
        connection.connect_timeout = timeout
        try:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
        except Exception as exc:  # the error types are each transport's own
            raise BrokerUnavailable(f"{where}: {type(exc).__name__}") from exc


def _check_folder(folder: str | None, where: str) -> None:
    if not folder:
        raise BrokerUnavailable(f"{where}: no queue folder configured")
    try:
        # A uniquely named file, so concurrent checks cannot trip over each other.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise BrokerUnavailable(f"{where}: queue folder not writable ({exc.strerror})") from exc
