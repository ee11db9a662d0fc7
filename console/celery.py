"""The console's Celery app: background polling of batches and pruning, on a beat schedule.

Configured from Django settings (every ``CELERY_*`` setting, see ``console/settings.py``);
tasks live in ``console/tasks.py``. Run a worker with its beat scheduler with::

    uv run celery -A console.celery worker --beat --pool=solo -l INFO

With ``CELERY_BROKER_URL`` unset this uses the embedded broker under ``var/broker/``,
so nothing else needs to run.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["console"])


@after_setup_logger.connect
def _log_once(**_: Any) -> None:
    """In a worker, let llmopt's and the console's records reach Celery's root handler only.

    Django's LOGGING gives those loggers a handler of their own (for the web process);
    in a worker that would print every line twice.
    """
    for name in ("llmopt", "console"):
        logging.getLogger(name).handlers.clear()
