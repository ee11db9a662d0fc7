"""The console's Celery app: background polling of batches and pruning, on a beat schedule.

Configured from Django settings (every ``CELERY_*`` setting, see ``console/settings.py``);
tasks live in ``console/tasks.py``. Run a worker with its beat scheduler with::

    uv run celery -A console.celery worker --beat --pool=solo -l INFO

With ``CELERY_BROKER_URL`` unset this uses the embedded broker under ``var/broker/``,
so nothing else needs to run.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["console"])
