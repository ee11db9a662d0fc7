"""The rule for tests that need a program from a Debian package (``chromium``, ``redis-server``).

Such a program is not a Python dependency, so ``uv`` cannot install it. Without it the tests
that need it are skipped with one line naming the package to install, so ``uv run pytest``
passes on a machine with only Python and uv. With ``LLMOPT_REQUIRE_SYSTEM_TESTS=1`` (which
``.ci/run`` sets after installing both packages) the same line is a failure instead, so CI
never passes these tests by skipping them. Any other value, or none, means skip.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_SYSTEM_TESTS = "LLMOPT_REQUIRE_SYSTEM_TESTS"


def require_system_binary(binary: str, *, package: str, otherwise: str | None = None) -> str:
    """The path of ``binary`` (a command name or a path); if it is missing, skip or fail.

    ``package`` is the Debian package that provides it; ``otherwise`` an alternative to
    installing it, added to the message in parentheses.
    """
    found = shutil.which(binary)
    if found is not None:
        return found
    message = f"needs Debian's {package}: apt-get install {package}"
    if otherwise:
        message += f" (or {otherwise})"
    if os.environ.get(REQUIRE_SYSTEM_TESTS) == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
