"""How the prompt engineer reports input it cannot use: a ConfigError naming the argument."""

from __future__ import annotations

from llmopt.errors import ConfigError, FieldProblem


def invalid(argument: str, message: str) -> ConfigError:
    """A :class:`ConfigError` whose one problem is on ``argument`` (a parameter name)."""
    return ConfigError([FieldProblem(argument, message)])
