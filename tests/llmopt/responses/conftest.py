from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmopt.responses import SQLiteResponses


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Each backend behind the same tests (Redis: Debian's redis-server, as the console's
    broker tests run it)."""
    if request.param == "sqlite":
        made: Any = SQLiteResponses(tmp_path / "answers.sqlite3")
        yield made
        made.close()
        return
    from llmopt.responses._redis import RedisResponses
    from tests.console.redis_server import running_redis

    with running_redis(tmp_path / "redis") as url:
        made = RedisResponses(url)
        yield made
        made.close()
