from __future__ import annotations

import getpass
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from llmopt.config import NAME_MAX_LENGTH, REASON_MAX_LENGTH, free_text_problem
from llmopt.errors import LLMOptError

from ...accounts.tokens import TokenError, issue_token, revoke_token
from ...models import ApiToken


class Command(BaseCommand):
    help = "Create, list or revoke the API tokens automation calls the console API with."

    def add_arguments(self, parser: ArgumentParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True)
        create = verbs.add_parser("create", help="create a token and print it (only this once)")
        create.add_argument("--user", required=True, help="the user the token acts as")
        create.add_argument("--name", required=True, help="what uses it, e.g. ci-alerts")
        create.add_argument("--expires-days", type=int, default=None, help="lifetime in days")
        listing = verbs.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", default=None, help="only this user's tokens")
        revoke = verbs.add_parser("revoke", help="revoke a user's live token by name")
        revoke.add_argument("--user", required=True)
        revoke.add_argument("--name", required=True)
        revoke.add_argument("--reason", default="", help="why, for the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = f"cli:{getpass.getuser()}"
        _check_free_text(options)
        try:
            if options["verb"] == "create":
                self._create(options, actor)
            elif options["verb"] == "revoke":
                self._revoke(options, actor)
            else:
                self._list(options)
        except (TokenError, LLMOptError) as exc:
            raise CommandError(str(exc)) from exc

    def _create(self, options: dict[str, Any], actor: str) -> None:
        user = _user(options["user"])
        token, secret = issue_token(
            user, options["name"], actor=actor, expires_in_days=options["expires_days"]
        )
        self.stdout.write(secret)
        until = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "no expiry"
        self.stderr.write(
            f"token {token.name!r} for {user.get_username()} ({until}); "
            "it is shown only now: store it in your secret manager"
        )

    def _revoke(self, options: dict[str, Any], actor: str) -> None:
        user = _user(options["user"])
        token = ApiToken.objects.filter(user=user, name=options["name"], revoked_at=None).first()
        if token is None:
            raise CommandError(f"{user.get_username()} has no live token named {options['name']!r}")
        try:
            revoke_token(token, actor=actor, reason=options["reason"])
        except TokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"revoked {token}"))

    def _list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user")
        if options["user"]:
            tokens = tokens.filter(user=_user(options["user"]))
        for token in tokens:
            self.stdout.write(
                f"{token.user.get_username()}\t{token.name}\t{token.prefix}…\t{token.state()}"
                f"\tcreated {token.created_at:%Y-%m-%d %H:%M}"
                f"\tlast used {_when(token.last_used_at)}\texpires {_when(token.expires_at)}"
            )


def _check_free_text(options: dict[str, Any]) -> None:
    """The free-text rule on the name a token is created with and on a revoke's reason."""
    limits = {"name": NAME_MAX_LENGTH, "reason": REASON_MAX_LENGTH}
    for option, limit in limits.items():
        value = options.get(option)
        if options["verb"] == "revoke" and option == "name":
            continue  # names an existing token: looked up, never written
        if value is not None:
            problem = free_text_problem(value, field=f"--{option}", max_length=limit)
            if problem is not None:
                raise CommandError(problem)


def _user(username: str) -> Any:
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist as exc:
        raise CommandError(f"there is no user {username!r}") from exc


def _when(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"
