from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "llmopt console"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers the system checks)
        from .accounts.signin import on_locked_out, on_sign_in_failed
        from .roles import ensure_roles

        post_migrate.connect(ensure_roles, sender=self)
        user_login_failed.connect(on_sign_in_failed, dispatch_uid="console-sign-in-failed")
        user_locked_out.connect(on_locked_out, dispatch_uid="console-locked-out")
