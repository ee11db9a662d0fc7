from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_REFUSE_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("test: this process may not use the network")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
"""

_FIRST_USE = """
import socket
assert socket.socket.connect.__name__ == "_refuse"
from llmopt.chunking import SemanticChunker
for strategy in ("sentences", "structure", "characters"):
    chunks = SemanticChunker(strategy, max_tokens=4).split_text("今天天气很好。Dr. Smith left.")
    assert chunks, strategy
print("chunks", len(chunks))
"""


def test_first_use_opens_no_connection_and_writes_nothing(tmp_path: Path) -> None:
    home, site, work, scratch = (tmp_path / d for d in ("home", "site", "work", "tmp"))
    for folder in (home, site, work, scratch):
        folder.mkdir()
    (site / "sitecustomize.py").write_text(_REFUSE_NETWORK)
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(scratch),
        "PYTHONPATH": f"{site}:{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FIRST_USE)],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "chunks" in done.stdout
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []
    assert list(scratch.iterdir()) == []
