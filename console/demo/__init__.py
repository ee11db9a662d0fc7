"""The demo: the console, a sandbox, traffic and a Celery worker on one machine.

=============  ==============================================================
module         holds
=============  ==============================================================
``seed``       the aiconfigs document the demo starts from, pointed at its sandbox
``processes``  the supervisor that starts the demo's children and stops them all
``child``      what each child runs first, so it dies with its supervisor
``traffic``    a backend's calls through a real ``OptimizedLLMWrapper``
``prompts``    what that traffic asks
=============  ==============================================================

The commands that run them, ``manage.py demo`` and ``manage.py demo_traffic``, stay in
``console/management/commands/``, where Django finds them.
"""

from __future__ import annotations
