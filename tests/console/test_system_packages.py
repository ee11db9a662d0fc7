"""The rule for tests that need a program from a Debian package: skip, or fail in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from .system_packages import REQUIRE_SYSTEM_TESTS, require_system_binary


@pytest.fixture
def present(tmp_path: Path) -> Path:
    """A fake executable in a temporary folder."""
    binary = tmp_path / "bin" / "fake-server"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return binary


@pytest.fixture
def missing(tmp_path: Path) -> Path:
    return tmp_path / "nowhere" / "fake-server"


def test_it_returns_the_path_of_a_binary_that_is_present(present: Path) -> None:
    assert require_system_binary(str(present), package="fake-server") == str(present)


def test_it_finds_a_command_by_name_on_the_path(
    present: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(present.parent))
    assert require_system_binary("fake-server", package="fake-server") == str(present)


def test_it_returns_a_present_binary_also_when_system_tests_are_required(
    present: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REQUIRE_SYSTEM_TESTS, "1")
    assert require_system_binary(str(present), package="fake-server") == str(present)


def test_it_skips_with_one_line_naming_the_package_when_the_binary_is_missing(
    missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_SYSTEM_TESTS, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_system_binary(str(missing), package="fake-server")
    assert skipped.value.msg == "needs Debian's fake-server: apt-get install fake-server"


def test_it_skips_when_a_command_is_not_on_the_path(
    missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_SYSTEM_TESTS, raising=False)
    monkeypatch.setenv("PATH", str(missing.parent))
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_system_binary("fake-server", package="fake-server")
    assert skipped.value.msg == "needs Debian's fake-server: apt-get install fake-server"


@pytest.mark.parametrize("value", ["0", "", "true", "yes"])
def test_it_skips_when_the_variable_is_anything_but_1(
    value: str, missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REQUIRE_SYSTEM_TESTS, value)
    with pytest.raises(pytest.skip.Exception):
        require_system_binary(str(missing), package="fake-server")


def test_it_names_the_alternative_to_installing_the_package_in_the_line(
    missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_SYSTEM_TESTS, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_system_binary(
            str(missing), package="chromium", otherwise="set LLMOPT_CHROMIUM to a Chromium binary"
        )
    assert skipped.value.msg == (
        "needs Debian's chromium: apt-get install chromium"
        " (or set LLMOPT_CHROMIUM to a Chromium binary)"
    )


def test_it_fails_with_the_same_line_when_system_tests_are_required(
    missing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REQUIRE_SYSTEM_TESTS, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_system_binary(str(missing), package="fake-server")
    assert failed.value.msg == "needs Debian's fake-server: apt-get install fake-server"
    assert failed.value.pytrace is False  # the one line, not a traceback
