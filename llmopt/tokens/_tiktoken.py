"""OpenAI's exact tokenizer, only when its encoding file is already on this machine.

tiktoken downloads an encoding at first use, and no package ships ``o200k_base``. This
module never lets it: it looks for the file where tiktoken caches it
(``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``, else ``<tmp>/data-gym-cache``,
under the SHA-1 of its URL), checks its SHA-256 against the one tiktoken pins, parses it
itself and builds the ``tiktoken.Encoding``. tiktoken's own loaders, which fetch what is
missing, are never called. No file, a file that fails its hash, or tiktoken not
installed: ``None``, and the caller estimates.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("llmopt.tokens")

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True, slots=True)
class EncodingFile:
    """Where tiktoken fetches an encoding from, its pinned hash, and how it splits text."""

    url: str
    sha256: str
    pattern: str
    special_tokens: dict[str, int]


# From tiktoken 0.14.0, tiktoken_ext/openai_public.py.
ENCODING_FILES: dict[str, EncodingFile] = {
    "cl100k_base": EncodingFile(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        (
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
            r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        {
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": EncodingFile(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}
_SAME_VOCABULARY = {"o200k_harmony": "o200k_base"}


def default_cache_dir() -> Path | None:
    """Where tiktoken keeps its files, by its own rules; ``None`` when caching is off."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def encoding_name(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI ``model``, or ``None`` (tiktoken missing, or
    a model it does not know)."""
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return None
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return None
    return _SAME_VOCABULARY.get(name, name)


class OfflineEncodings:
    """The encodings found on disk, loaded once per process and cache directory."""

    def __init__(self, cache_dir: Path | None) -> None:
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}

    def for_model(self, model: str) -> Any | None:
        """The ``tiktoken.Encoding`` for ``model`` when its file is here, else ``None``."""
        name = encoding_name(model)
        if name is None or name not in ENCODING_FILES:
            return None
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            return self._loaded[name]

    def _load(self, name: str) -> Any | None:
        spec = ENCODING_FILES[name]
        if self._cache_dir is None:
            return None
        path = self._cache_dir / hashlib.sha1(spec.url.encode()).hexdigest()
        try:
            contents = path.read_bytes()
        except OSError:
            logger.debug("no %s file at %s: OpenAI counts are estimates", name, path)
            return None
        if hashlib.sha256(contents).hexdigest() != spec.sha256:
            logger.warning("%s at %s fails its SHA-256 check; not used", name, path)
            return None
        import tiktoken

        ranks: dict[bytes, int] = {}
        for line in contents.splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
        return tiktoken.Encoding(
            name,
            pat_str=spec.pattern,
            mergeable_ranks=ranks,
            special_tokens=spec.special_tokens,
        )
