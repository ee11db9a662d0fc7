"""Free text people type: a change's reason, a token's name. Bounded, and refused when
it holds a character that controls or disguises how the text is shown.

Such text lands in the audit log and on every page that shows it, so one rule applies
wherever it enters: the console's forms, the API's schemas, the management commands
and the core's own writers (the flag edit, the kill switch).

================  ===========================================================
refused           why
================  ===========================================================
longer than the   a reason is a sentence; a megabyte of it fills the audit
field's limit     page (``REASON_MAX_LENGTH``, ``NAME_MAX_LENGTH``)
C0 and C1         NUL, line breaks, tabs, escape sequences: they end, split or
controls          restyle the line they are shown on (U+0000-U+001F, U+007F-U+009F)
bidirectional     U+202A-U+202E and U+2066-U+2069 reorder what follows them,
overrides and     so a record could read other than it was written
isolates
lone surrogates   not text at all (U+D800-U+DFFF); stores cannot encode them
================  ===========================================================
"""

from __future__ import annotations

import re

from llmopt.errors import ConfigError, FieldProblem

REASON_MAX_LENGTH = 500
"""The most characters a reason for a change may have."""
NAME_MAX_LENGTH = 100
"""The most characters a name (an API token's, say) may have."""

_REFUSED_CLASS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_REFUSED = re.compile(f"[{_REFUSED_CLASS}]")
REFUSED_CHARACTERS_PATTERN = f"^[^{_REFUSED_CLASS}]*$"
"""A regular expression (Python's and ECMAScript's) that accepted text matches, for JSON
schemas; the length limit is separate."""


def free_text_problem(value: object, *, field: str, max_length: int) -> str | None:
    """Why ``value`` cannot be accepted as the free-text field ``field``, or ``None``.

    The sentence starts with ``field`` as given (``reason``, a form's label, ``--reason``),
    so it reads well beside a form field, in an API's 422 and on a command line.
    """
    if not isinstance(value, str):
        return f"{field} must be text"
    if len(value) > max_length:
        return f"{field} must be at most {max_length:,} characters (got {len(value):,})"
    found = _REFUSED.search(value)
    if found is not None:
        return (
            f"{field} must not contain control or bidirectional-override characters "
            f"(found U+{ord(found.group()):04X} at character {found.start() + 1:,})"
        )
    return None


def check_free_text(value: str, *, field: str, max_length: int) -> str:
    """``value`` unchanged when :func:`free_text_problem` finds nothing wrong with it.

    Raises :class:`~llmopt.errors.ConfigError` with one problem on ``field`` otherwise.
    """
    problem = free_text_problem(value, field=field, max_length=max_length)
    if problem is not None:
        raise ConfigError([FieldProblem(field, problem)])
    return value


def check_reason(reason: str) -> str:
    """:func:`check_free_text` for a change's ``reason`` (at most ``REASON_MAX_LENGTH``)."""
    return check_free_text(reason, field="reason", max_length=REASON_MAX_LENGTH)
