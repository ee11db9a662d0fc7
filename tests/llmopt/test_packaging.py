"""The repository ships three distributions, and a backend installs the core alone.

``llmopt`` (pyproject.toml) is the core; ``llmopt-console`` (console/pyproject.toml) the
Django console with the demo; ``llmopt-sandbox`` (llmopt/sandbox/pyproject.toml) the
stand-in provider APIs, as the ``llmopt.sandbox`` portion of the ``llmopt`` package. The
wheels are built here with hatchling (a dev dependency, so this works offline) and the
core's is installed into a fresh venv with nothing but its locked dependencies.
"""

from __future__ import annotations

import email.parser
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import llmopt

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = {
    "llmopt": ROOT,
    "llmopt-console": ROOT / "console",
    "llmopt-sandbox": ROOT / "llmopt" / "sandbox",
}

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None,
    reason="hatchling (the build backend, in the dev group) is not installed",
)


def _build_wheel(project: str, into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(into)],
        cwd=PROJECTS[project],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = into.glob(f"{project.replace('-', '_')}-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    into = tmp_path_factory.mktemp("wheels")
    return {project: _build_wheel(project, into) for project in PROJECTS}


def _files(wheel: Path) -> set[str]:
    return {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(z.read(name).decode())


def _requirements(wheel: Path) -> dict[str, Requirement]:
    return {r.name: r for r in map(Requirement, _metadata(wheel).get_all("Requires-Dist", []))}


def _sources(folder: Path) -> Iterator[str]:
    for path in folder.rglob("*"):
        ignored = "__pycache__" in path.parts or path.suffix in (".pyc", ".sqlite3")
        if path.is_file() and not ignored and path.name != "pyproject.toml":
            yield path.relative_to(ROOT).as_posix()


def test_the_core_wheel_ships_llmopt_without_the_sandbox_and_the_console(
    wheels: dict[str, Path],
) -> None:
    files = _files(wheels["llmopt"])

    assert {
        "llmopt/__init__.py",
        "llmopt/py.typed",  # backends type-check against the core
        "llmopt/wrapper/_anthropic.py",
    } <= files
    assert not {f for f in files if not f.startswith("llmopt/")}
    assert not {f for f in files if f.startswith("llmopt/sandbox/")}
    core_sources = {f for f in _sources(ROOT / "llmopt") if not f.startswith("llmopt/sandbox/")}
    assert files == core_sources


def test_the_core_requires_neither_django_nor_the_console_nor_the_sandbox_nor_arango(
    wheels: dict[str, Path],
) -> None:
    requirements = _requirements(wheels["llmopt"])
    unconditional = {name for name, r in requirements.items() if r.marker is None}

    assert unconditional == {"anthropic", "langchain-anthropic", "langchain-core", "pydantic"}
    assert str(requirements["python-arango"].marker) == 'extra == "arango"'
    assert _metadata(wheels["llmopt"]).get_all("Provides-Extra") == [
        "arango",
        "chunking",
        "embeddings",
        "ollama",
        "openai",
        "redis",
        "retrieval",
    ]
    # The retrieval extra takes the chunking and embeddings extras' packages too.
    markers: dict[str, set[str]] = {}
    for requirement in map(Requirement, _metadata(wheels["llmopt"]).get_all("Requires-Dist", [])):
        markers.setdefault(requirement.name, set()).add(str(requirement.marker))
    assert markers["wordllama"] == {'extra == "embeddings"', 'extra == "retrieval"'}
    assert markers["sentencex"] == {'extra == "chunking"', 'extra == "retrieval"'}
    assert markers["numpy"] == {'extra == "retrieval"'}
    assert str(requirements["redis"].marker) == 'extra == "redis"'
    assert str(requirements["langchain-openai"].marker) == 'extra == "openai"'
    assert str(requirements["langchain-ollama"].marker) == 'extra == "ollama"'


def test_the_sandbox_wheel_ships_only_the_llmopt_sandbox_portion(
    wheels: dict[str, Path],
) -> None:
    files = _files(wheels["llmopt-sandbox"])

    assert files == set(_sources(ROOT / "llmopt" / "sandbox"))
    assert "llmopt/sandbox/__init__.py" in files and "llmopt/__init__.py" not in files
    assert set(_requirements(wheels["llmopt-sandbox"])) == {"llmopt", "pydantic"}


def test_the_console_wheel_ships_the_console_and_takes_the_sandbox_only_for_the_demo(
    wheels: dict[str, Path],
) -> None:
    files = _files(wheels["llmopt-console"])
    requirements = _requirements(wheels["llmopt-console"])
    site = {  # the top-level templates/ and static/, inside the package
        f"console/site/{f}" for folder in ("templates", "static") for f in _sources(ROOT / folder)
    }

    assert files == set(_sources(ROOT / "console")) - {"console/hatch_build.py"} | site
    assert {"console/settings.py", "console/site/templates/base.html"} <= files
    assert requirements["llmopt"].extras == {"arango"}
    assert "django" in requirements and requirements["django"].marker is None
    assert str(requirements["llmopt-sandbox"].marker) == 'extra == "demo"'


def test_the_three_distributions_are_released_together_at_one_version(
    wheels: dict[str, Path],
) -> None:
    versions = {p: _metadata(w)["Version"] for p, w in wheels.items()}
    pins = [
        _requirements(wheels["llmopt-console"])["llmopt"].specifier,
        _requirements(wheels["llmopt-console"])["llmopt-sandbox"].specifier,
        _requirements(wheels["llmopt-sandbox"])["llmopt"].specifier,
    ]

    assert set(versions.values()) == {llmopt.__version__}, versions
    assert {str(pin) for pin in pins} == {f"=={llmopt.__version__}"}


def test_the_workspace_lists_each_member_and_the_lock_knows_them() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())

    assert pyproject["tool"]["uv"]["workspace"]["members"] == ["console", "llmopt/sandbox"]
    assert {"llmopt", "llmopt-console", "llmopt-sandbox"} <= set(lock["manifest"]["members"])


_CHECK_CORE = """
import sys
import llmopt

llmopt.OptimizedLLMWrapper  # loads the wrapper and LangChain
loaded = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("arango", "django", "console", "celery", "ninja")
    or m.startswith("llmopt.sandbox")
)
print("loaded:", loaded)
try:
    import llmopt.sandbox
except ModuleNotFoundError as exc:
    print("sandbox:", exc.name)
try:
    import django
except ModuleNotFoundError as exc:
    print("django:", exc.name)
"""


class Venv:
    """A fresh venv that installs wheels offline, every dependency at its locked version."""

    def __init__(self, path: Path) -> None:
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("uv is not on PATH: it makes the fresh venv from its cache, offline")
        self.uv, self.python = uv, path / "venv" / "bin" / "python"
        self.pins = path / "locked.txt"
        self._run(  # every third-party package at its locked version
            [uv, "export", "--locked", "--quiet", "--no-hashes", "--no-emit-workspace"]
            + ["--all-extras", "--project", str(ROOT), "--output-file", str(self.pins)],
            cwd=path,
        )
        self._run([uv, "venv", "--quiet", "--python", sys.executable, str(path / "venv")])

    def install(self, *wheels: str) -> None:
        self._run(
            [self.uv, "pip", "install", "--quiet", "--offline", "--python", str(self.python)]
            + ["--constraints", str(self.pins), *wheels]
        )

    def run(self, code: str, **env: str) -> str:
        """``code`` in the venv; -I: its site-packages only, not this checkout."""
        environment = {"PATH": os.environ["PATH"], **env}
        return self._run([str(self.python), "-I", "-c", textwrap.dedent(code)], env=environment)

    @staticmethod
    def _run(command: list[str], **options: Any) -> str:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=300, **options
        )
        assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def test_a_backend_installs_the_core_alone_and_gets_the_wrapper_and_nothing_else(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv = Venv(tmp_path)

    venv.install(str(wheels["llmopt"]))

    assert venv.run(_CHECK_CORE).splitlines() == [
        "loaded: []",
        "sandbox: llmopt.sandbox",
        "django: django",
    ]

    venv.install(str(wheels["llmopt-sandbox"]))
    sandbox = venv.run("import llmopt.sandbox as s; print(s.__file__, s.SandboxServer)")

    assert str(tmp_path / "venv") in sandbox and "SandboxServer" in sandbox


_CHECK_CONSOLE = """
import django
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import get_template

django.setup()
print(get_template("base.html").origin.name.startswith(settings.SITE_DIR.as_posix()))
print(bool(finders.find("console/console.css")))
print(settings.SITE_DIR.relative_to(settings.PACKAGE_DIR).as_posix())
"""


def test_the_console_installs_from_its_wheels_and_finds_its_templates_and_static(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv = Venv(tmp_path)

    venv.install(
        f"{wheels['llmopt']}[arango]", str(wheels["llmopt-sandbox"]), str(wheels["llmopt-console"])
    )
    found = venv.run(
        _CHECK_CONSOLE,
        DJANGO_SETTINGS_MODULE="console.settings",
        LLMOPT_VAR_DIR=str(tmp_path / "var"),
    )

    assert found.splitlines() == ["True", "True", "site"]
