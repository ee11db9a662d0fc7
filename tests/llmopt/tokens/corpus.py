"""Real text of five kinds from what is installed, to measure token estimates against.

Nothing here is written to fit the estimator: English prose is the standard library's
module docstrings and the README files of installed packages; code is the standard
library's sources; JSON is the JSON files installed packages ship; non-English text is
the translations in Django's and django-axes' catalogues (German, Russian, Arabic,
Japanese, Korean, Chinese...); numbers are numpy's CSV test vectors. Each kind is cut
into samples of about ``SAMPLE_CHARS`` characters, the same ones on every run. A kind
whose sources are missing has fewer samples (or none).

Both the tests (through conftest.py) and tests/benchmarks/bench_tokens.py load this
file by path.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

SAMPLE_CHARS = 4_000
PER_KIND = 40

_STDLIB_MODULES = [
    "argparse",
    "asyncio",
    "collections",
    "concurrent.futures",
    "contextlib",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email",
    "enum",
    "fractions",
    "functools",
    "heapq",
    "http.client",
    "inspect",
    "ipaddress",
    "itertools",
    "json",
    "logging",
    "os",
    "pathlib",
    "pickle",
    "pprint",
    "queue",
    "random",
    "re",
    "shutil",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib.parse",
    "uuid",
    "warnings",
    "zipfile",
]

_SITE = Path(sysconfig.get_paths()["purelib"])
_STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _chunks(text: str, limit: int) -> Iterator[str]:
    start = 0
    while start < len(text) and limit > 0:
        end = min(len(text), start + SAMPLE_CHARS)
        # End on a line break when one is near, as a prompt would.
        cut = text.rfind("\n", start + SAMPLE_CHARS // 2, end)
        end = cut if cut > 0 and end < len(text) else end
        piece = text[start:end].strip()
        if len(piece) > SAMPLE_CHARS // 4:
            yield piece
            limit -= 1
        start = end


def _take(texts: Iterator[str], count: int = PER_KIND, per_source: int = 3) -> list[str]:
    samples: list[str] = []
    for text in texts:
        samples.extend(_chunks(text, min(per_source, count - len(samples))))
        if len(samples) >= count:
            break
    return samples


def _documented(member: object) -> bool:
    return inspect.isclass(member) or inspect.isfunction(member)


def _docstrings() -> Iterator[str]:
    for name in _STDLIB_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        parts = [inspect.getdoc(module) or ""]
        for _, member in inspect.getmembers(module, _documented):
            doc = inspect.getdoc(member)
            if doc and getattr(member, "__module__", None) == module.__name__:
                parts.append(doc)
        yield "\n\n".join(p for p in parts if p)


def _readmes() -> Iterator[str]:
    for path in sorted(_SITE.glob("**/README*"))[:60]:
        if path.suffix.lower() in {".md", ".rst", ".txt", ""} and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > 1_000:
                yield text


def _sources() -> Iterator[str]:
    for name in _STDLIB_MODULES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(".py"):
            yield Path(origin).read_text(encoding="utf-8")


def _json_files() -> Iterator[str]:
    for number, path in enumerate(sorted(_SITE.glob("**/*.json"))):
        try:
            text = path.read_text(encoding="utf-8")
            value = json.loads(text)
        except (OSError, ValueError):
            continue
        if len(text) >= 2_000:
            # Compact or indented, as requests and tool results carry both.
            yield json.dumps(value, indent=2 if number % 2 else None, ensure_ascii=False)


_MSGSTR = re.compile(r'^msgstr(?:\[\d\])? "(.*)"$|^"(.*)"$', re.MULTILINE)
_LANGUAGES = ("de", "fr", "es", "ru", "uk", "ar", "fa", "hi", "ja", "ko", "zh_Hans", "zh_Hant")


def _translations() -> Iterator[str]:
    for language in _LANGUAGES:
        for path in sorted(_SITE.glob(f"*/**/locale/{language}/LC_MESSAGES/django.po"))[:4]:
            text = path.read_text(encoding="utf-8")
            body = text.split("\n\n", 1)[-1]  # the header is English metadata
            lines, in_msgstr = [], False
            for line in body.splitlines():
                if line.startswith("msgstr"):
                    in_msgstr = True
                elif line.startswith("msgid") or not line.strip():
                    in_msgstr = False
                if in_msgstr:
                    found = _MSGSTR.match(line)
                    if found:
                        lines.append((found[1] or found[2] or "").replace("\\n", "\n"))
            yield "\n".join(line for line in lines if line)


def _numbers() -> Iterator[str]:
    for path in sorted(_SITE.glob("numpy/**/*.csv")):
        yield path.read_text(encoding="utf-8")


def corpus() -> dict[str, list[str]]:
    """Samples per kind: ``prose``, ``code``, ``json``, ``non_english``, ``numbers``."""
    prose = _take(_docstrings(), PER_KIND // 2) + _take(_readmes(), PER_KIND // 2)
    # Several languages: a few samples from each catalogue's text.
    non_english: list[str] = []
    for text in _translations():
        non_english.extend(_chunks(text, 4))
    return {
        "prose": prose,
        "code": _take(_sources()),
        "json": _take(_json_files()),
        "non_english": non_english,
        "numbers": _take(_numbers()),
    }


if __name__ == "__main__":  # a quick look: samples and characters per kind
    for kind, samples in corpus().items():
        print(kind, len(samples), sum(map(len, samples)), file=sys.stdout)
