"""The chaos run, short: two worker processes, real SDKs, one outage, one rate limit.

It runs ``tests/benchmarks/bench_chaos.py`` (the 1,000-request run of the closing note)
with 150 requests over 15 s and a 2 s cool-down; the script checks the issue's claims
itself and exits 1 when one fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "bench_chaos.py"


@pytest.mark.timeout(240)
def test_every_request_is_answered_once_or_refused_clearly_through_an_outage() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *("--requests", "150", "--seconds", "15"),
            *("--outage-start", "3", "--outage-seconds", "5", "--cool-down", "2"),
            *("--claude-budget-usd", "0.02", "--budget-tokens", "7500"),
        ],
        capture_output=True,
        text=True,
        timeout=220,
    )

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "ALL CHECKS PASSED" in done.stdout
    # The refusing budget was reached, and the requests after it were refused clearly.
    assert re.search(r"refused \d+x BudgetExceeded", done.stdout), done.stdout[-4000:]
