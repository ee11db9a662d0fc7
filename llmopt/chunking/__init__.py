"""Document chunking for retrieval: token-bounded LangChain ``Document`` chunks.

``SemanticChunker`` splits texts by one of six strategies (characters, sentences,
paragraphs, Markdown structure, meaning, sliding window), every chunk within a token
budget counted by :class:`llmopt.tokens.TokenCounter`, with its character offsets,
heading path, language and content hash in its metadata. Needs the ``chunking`` extra
(``pip install 'llmopt[chunking]'``); the ``semantic`` strategy's default embeddings need
``llmopt[embeddings]``. ``docs/chunking.md`` explains the design.

What comes from libraries and what is written here, and why:

=================================  =================================================
piece                              from
=================================  =================================================
sentence boundaries                sentencex (multilingual, abbreviations, offsets)
last-resort cuts of long pieces    LangChain's ``RecursiveCharacterTextSplitter``
                                   sized by the token counter
token counts                       ``llmopt.tokens.TokenCounter``
sentence vectors                   any LangChain ``Embeddings`` (WordLlama by default)
Markdown blocks, heading paths     here: LangChain's Markdown splitters lose offsets
meaning boundaries                 here: the packages bind it to one model
packing, overlap, offsets          here: shared by every strategy
language guess                     here: a script heuristic (no model installed)
=================================  =================================================
"""

from __future__ import annotations

from llmopt.chunking._chunker import STRATEGIES, SemanticChunker
from llmopt.chunking._language import detect_language

__all__ = ["STRATEGIES", "SemanticChunker", "detect_language"]
