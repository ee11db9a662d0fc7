"""Sentence embeddings that run offline from an installed package.

The response cache's semantic matching compares a new question with stored ones by
cosine similarity. :func:`default_embeddings` gives the embedding model llmopt uses
when the caller passes none: WordLlama, whose weights and tokenizer ship inside its
wheel, loaded without any download (``pip install 'llmopt[embeddings]'``). Any
LangChain ``Embeddings`` works in its place.

=============================  ===================================================
name                           use it to
=============================  ===================================================
``default_embeddings()``       get the shared offline model (loaded once per process)
``WordLlamaEmbeddings``        the LangChain ``Embeddings`` it returns; ``embed_batch``
                               gives unit vectors as one float32 array
``EMBEDDINGS_MISSING``         the sentence shown when the extra is not installed
=============================  ===================================================
"""

from __future__ import annotations

from llmopt.embeddings._wordllama import (
    EMBEDDINGS_MISSING,
    WordLlamaEmbeddings,
    default_embeddings,
    load_wordllama_offline,
)

__all__ = [
    "EMBEDDINGS_MISSING",
    "WordLlamaEmbeddings",
    "default_embeddings",
    "load_wordllama_offline",
]
