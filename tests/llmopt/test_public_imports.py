"""What ships apart from the core (the console, manage.py, the llmopt-sandbox distribution)
imports only the core's public modules: a private one (``llmopt._secrets``,
``llmopt.store._records``, ``llmopt.sandbox.__main__``: any part of the dotted path that
starts with ``_``) may change without notice. The sandbox's own private modules are its
business.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("console", "manage.py", "llmopt/sandbox")
SANDBOX = "llmopt.sandbox"


def test_nothing_outside_the_core_imports_a_private_core_module() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in _python_files()
        for line, module in private_core_imports(path)
    ]
    assert not found, "private core modules imported (make what is needed public):\n" + (
        "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "where", "expected"),
    [
        ("from llmopt._secrets import redact", "console/x.py", ["llmopt._secrets"]),
        ("import llmopt.store._records as r", "console/x.py", ["llmopt.store._records"]),
        ("from llmopt import _secrets", "console/x.py", ["llmopt._secrets"]),
        ("from llmopt.sandbox.__main__ import X", "console/x.py", ["llmopt.sandbox.__main__"]),
        ("from llmopt.sandbox._server import S", "console/x.py", ["llmopt.sandbox._server"]),
        ("from .._secrets import redact", "llmopt/sandbox/_x.py", ["llmopt._secrets"]),
        ("from llmopt.sandbox._server import S", "llmopt/sandbox/_x.py", []),
        ("from . import _errors", "llmopt/sandbox/_x.py", []),
        ("from llmopt import redact\nfrom llmopt.sandbox import X", "console/x.py", []),
        ("from ._private import x", "console/x.py", []),
        ("import os._thing", "console/x.py", []),
    ],
)
def test_the_scan_finds_private_core_imports(
    tmp_path: Path, source: str, where: str, expected: list[str]
) -> None:
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n")
    assert [module for _, module in private_core_imports(path, root=tmp_path)] == expected


def private_core_imports(path: Path, *, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, module) for each import in ``path`` of a private module of the core."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    own = SANDBOX if package == SANDBOX or package.startswith(SANDBOX + ".") else None
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            # ``from llmopt import _secrets`` names a module (or a private member) too.
            modules = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            if _is_private_core(module, own):
                yield node.lineno, module
                break


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _is_private_core(module: str, own: str | None) -> bool:
    parts = module.split(".")
    if parts[0] != "llmopt":
        return False
    if own is not None and (module + ".").startswith(own + "."):
        return False  # the sandbox's own modules
    return any(part.startswith("_") for part in parts[1:])


def _python_files() -> Iterator[Path]:
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            yield path
        else:
            yield from sorted(path.rglob("*.py"))
