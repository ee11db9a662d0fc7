"""Build hook: the console's wheel and sdist carry the top-level templates/ and static/.

Built from the repository, they are copied in as ``site/``; a wheel built from the sdist
finds them already there (the sdist's ``site/``), so the hook has nothing to add.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SITE_FOLDERS = ("templates", "static")


class SiteFilesHook(BuildHookInterface):  # type: ignore[type-arg]  # hatchling is untyped
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        repository = Path(self.root).parent
        for folder in SITE_FOLDERS:
            source = repository / folder
            if source.is_dir() and (repository / "manage.py").is_file():
                build_data["force_include"][str(source)] = f"site/{folder}"
