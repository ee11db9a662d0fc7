"""WordLlama, loaded from its own wheel, behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.embeddings import Embeddings

from llmopt.errors import ConfigError, FieldProblem

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

EMBEDDINGS_MISSING = (
    "semantic matching needs the wordllama package, which llmopt installs with its "
    "'embeddings' extra: pip install 'llmopt[embeddings]'"
)
# The model the wheel bundles (weights/l2_supercat_256.safetensors and its tokenizer).
_CONFIG = "l2_supercat"
_DIMENSIONS = 256


class _Model(Protocol):
    """The part of ``wordllama.WordLlamaInference`` used here."""

    def embed(self, texts: list[str], norm: bool = ...) -> Any: ...


def load_wordllama_offline() -> Any:
    """Load WordLlama's bundled 256-dimension model from the installed package.

    Use :func:`default_embeddings` instead unless you need a private copy: this loads
    anew on every call (about 0.1 s and 33 MB). Nothing is downloaded and nothing is
    written: the weights and the tokenizer are read from the wheel's own folder, which
    ``WordLlama.load()`` with its defaults does not do (it looks for the tokenizer in
    the wrong folder and then tries Hugging Face). The root logger's handlers, which
    importing wordllama changes (``logging.basicConfig``), are put back.

    Raises ``ConfigError`` when wordllama is not installed (the message says which
    extra to install) or when the installed version does not bundle its model.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        import wordllama
    except ModuleNotFoundError as exc:
        if exc.name != "wordllama":
            raise
        raise ConfigError([FieldProblem("", EMBEDDINGS_MISSING)]) from exc
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    try:
        return wordllama.WordLlama.load(
            config=_CONFIG,
            dim=_DIMENSIONS,
            cache_dir=Path(wordllama.__file__).parent,
            disable_download=True,
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            [
                FieldProblem(
                    "",
                    f"the installed wordllama {wordllama.__version__} does not bundle its "
                    f"{_CONFIG} model ({exc}); llmopt needs wordllama>=0.4.0.post1,<0.5",
                )
            ]
        ) from exc


class WordLlamaEmbeddings(Embeddings):
    """Sentence embeddings from WordLlama: 256 dimensions, offline, no torch.

    Use it (or :func:`default_embeddings`, which shares one) wherever a LangChain
    ``Embeddings`` is expected. ``model`` is a loaded ``WordLlamaInference``; by
    default the process-wide one from :func:`load_wordllama_offline`. Vectors are
    unit length, so a dot product is the cosine similarity; an empty text gets the
    zero vector (similarity 0 to everything). Safe to share between threads.

    WordLlama averages token vectors, so word order barely matters and a changed
    number, a negation or another name can score as high as a paraphrase: check
    such differences separately (``llmopt.responses._guard``).

    Raises ``ConfigError`` when wordllama is not installed.
    """

    def __init__(self, model: _Model | None = None) -> None:
        self._model: _Model = _shared_model() if model is None else model
        self.dimensions: int = int(self._model.embed([""], norm=False).shape[1])

    def embed_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The texts' unit vectors as one ``(len(texts), dimensions)`` float32 array.

        The fast path for many texts or for cosine by matrix product; the LangChain
        methods below call it and convert to lists.
        """
        import numpy as np

        batch = list(texts)
        if not batch:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors: npt.NDArray[np.float32] = np.asarray(
            self._model.embed(batch, norm=False), dtype=np.float32
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text (LangChain's interface)."""
        result: list[list[float]] = self.embed_batch(texts).tolist()
        return result

    def embed_query(self, text: str) -> list[float]:
        """The text's unit vector (LangChain's interface)."""
        result: list[float] = self.embed_batch([text])[0].tolist()
        return result


_lock = threading.Lock()
_model: Any = None
_default: WordLlamaEmbeddings | None = None


def _shared_model() -> Any:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = load_wordllama_offline()
    return _model


def default_embeddings() -> WordLlamaEmbeddings:
    """The embedding model semantic matching uses when the caller passes none.

    Loaded offline on first use and then shared by the whole process (thread-safe).
    Raises ``ConfigError`` naming ``pip install 'llmopt[embeddings]'`` when wordllama
    is not installed; the next call tries again.
    """
    global _default
    if _default is None:
        model = _shared_model()
        with _lock:
            if _default is None:
                _default = WordLlamaEmbeddings(model)
    return _default
