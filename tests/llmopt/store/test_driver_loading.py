"""Store drivers load only when a store of their kind is opened.

Each check runs in a fresh interpreter: this test session has long since imported
python-arango for the contract tests.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Run first in a child: python-arango cannot be found, as when the extra is not installed.
_WITHOUT_ARANGO = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "arango":
            raise ModuleNotFoundError(f"No module named {name!r}", name="arango")
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_importing_llmopt_and_its_packages_does_not_load_python_arango() -> None:
    out = _run(
        """
        import sys
        import llmopt, llmopt.store, llmopt.config, llmopt.migrate, llmopt.killswitch
        import llmopt.caching, llmopt.providers, llmopt.batching, llmopt.wrapper
        llmopt.OptimizedLLMWrapper
        print('arango' in sys.modules)
        """
    )
    assert out == "False"


def test_opening_a_sqlite_store_does_not_load_python_arango(tmp_path: Path) -> None:
    out = _run(
        f"""
        import sys
        from llmopt import open_store, store_from_env
        open_store("sqlite:///:memory:").close()
        store_from_env({{"LLMOPT_SQLITE_PATH": "{tmp_path}/s.sqlite3"}}).close()
        print('arango' in sys.modules)
        """
    )
    assert out == "False"


def test_opening_an_arango_store_from_the_environment_loads_python_arango() -> None:
    out = _run(
        """
        import sys
        from llmopt import StoreError, store_from_env
        before = 'arango' in sys.modules
        try:  # port 9 on loopback refuses at once: the driver is loaded all the same
            store_from_env({"ARANGO_URL": "http://127.0.0.1:9", "ARANGO_PASSWORD": "x"})
        except StoreError:
            pass
        print(before, 'arango' in sys.modules)
        """
    )
    assert out == "False True"


@pytest.mark.parametrize("name", ["ArangoStore", "ArangoCollections"])
def test_asking_for_the_arango_adapter_loads_python_arango(name: str) -> None:
    module = "llmopt" if name == "ArangoStore" else "llmopt.store"
    out = _run(
        f"""
        import sys
        import {module}
        before = 'arango' in sys.modules
        getattr({module}, {name!r})
        print(before, 'arango' in sys.modules)
        """
    )
    assert out == "False True"


def test_without_python_arango_an_arango_url_is_a_store_error_naming_the_extra() -> None:
    out = _run(
        _WITHOUT_ARANGO
        + """
from llmopt import StoreError, store_from_env
try:
    store_from_env({"ARANGO_URL": "http://127.0.0.1:9"})
except StoreError as exc:
    print(exc)
"""
    )
    assert "ARANGO_URL is set" in out
    assert "pip install 'llmopt[arango]'" in out


def test_without_python_arango_the_adapter_is_an_import_error_naming_the_extra() -> None:
    out = _run(
        _WITHOUT_ARANGO
        + """
import llmopt
try:
    llmopt.ArangoStore
except ModuleNotFoundError as exc:
    print(exc.name, "|", exc)
"""
    )
    assert out.startswith("arango | ArangoStore needs python-arango")
    assert "pip install 'llmopt[arango]'" in out
