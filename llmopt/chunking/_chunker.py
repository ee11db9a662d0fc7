"""``SemanticChunker``: one entry point for every chunking strategy."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from langchain_core.documents import BaseDocumentTransformer, Document
from langchain_core.embeddings import Embeddings

from llmopt.chunking._language import detect_language
from llmopt.chunking._markdown import markdown_pieces
from llmopt.chunking._pieces import Grain, Packer, Piece
from llmopt.chunking._semantic import meaning_breaks
from llmopt.chunking._sentences import paragraph_spans, sentence_spans
from llmopt.tokens import TokenCounter

STRATEGIES: Final = ("characters", "sentences", "paragraphs", "structure", "semantic", "window")
DEFAULT_MODEL: Final = "claude-sonnet-4-6"
# The units of the window strategy: the token counter's own notion of a token (a run of
# word characters, or any other character that is not a space).
_WINDOW_UNIT: Final = re.compile(r"\w+|[^\w\s]")


class SemanticChunker(BaseDocumentTransformer):
    """Splits texts into LangChain ``Document`` chunks of at most ``max_tokens`` tokens.

    Use it before indexing documents for retrieval. ``strategy`` picks where chunks
    end; in every strategy a piece too long for the budget is cut finer, down to single
    characters, so every chunk fits and none is empty:

    ================  ==========================================================
    strategy          chunks end
    ================  ==========================================================
    ``characters``    where LangChain's recursive splitter cuts: blank lines,
                      line breaks, spaces, then anywhere (the fallback)
    ``sentences``     between sentences (multilingual, abbreviation-aware)
    ``paragraphs``    between paragraphs (blank lines), else sentences
    ``structure``     at Markdown headings (always), between blocks: fenced code
                      kept whole when it fits, list items, paragraphs
    ``semantic``      where the meaning of neighbouring sentences drops
                      (``embeddings``; default ``llmopt.embeddings``' WordLlama)
    ``window``        every ``max_tokens - overlap_tokens`` tokens: a sliding
                      window of ``max_tokens`` repeating ``overlap_tokens``
    ================  ==========================================================

    Tokens are counted by ``counter`` (a ``TokenCounter``, default a new one) for
    ``model``. ``overlap_tokens`` repeats up to that many tokens of whole pieces
    (sentences, blocks, words) from the end of a chunk at the start of the next, never
    across a Markdown heading or a drop in meaning. ``language`` (an ISO 639-1 code)
    sets the sentence rules; by default it is guessed per text from its scripts.

    Each chunk's metadata: the input's own metadata, then ``source``, ``start_index``
    and ``end_index`` (``text[start_index:end_index] == page_content``: chunks are
    trimmed of surrounding whitespace and offsets point at the trimmed text),
    ``heading_path`` (the Markdown headings above, outermost first; ``structure``
    only, else empty), ``language`` (guessed per chunk), ``strategy``,
    ``chunk_index``, ``token_count`` and ``content_hash`` (sha256 of the text).

    Raises ``ValueError`` for an unknown strategy or a bad size, and
    ``llmopt.errors.ConfigError`` when ``semantic`` needs the default embeddings and
    ``llmopt[embeddings]`` is not installed.
    """

    def __init__(
        self,
        strategy: str = "structure",
        *,
        max_tokens: int = 512,
        overlap_tokens: int = 0,
        embeddings: Embeddings | None = None,
        counter: TokenCounter | None = None,
        model: str = DEFAULT_MODEL,
        language: str | None = None,
        semantic_percentile: float = 5.0,
    ) -> None:
        if strategy not in STRATEGIES:
            choices = ", ".join(STRATEGIES)
            raise ValueError(f"unknown strategy {strategy!r}: choose one of {choices}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
            raise ValueError(f"max_tokens must be a positive integer, not {max_tokens!r}")
        if (
            isinstance(overlap_tokens, bool)
            or not isinstance(overlap_tokens, int)
            or not 0 <= overlap_tokens < max_tokens
        ):
            raise ValueError(
                f"overlap_tokens must be an integer from 0 to max_tokens - 1 ({max_tokens - 1}), "
                f"not {overlap_tokens!r}"
            )
        if not 0 < semantic_percentile < 100:
            raise ValueError(
                f"semantic_percentile must be between 0 and 100, not {semantic_percentile!r}"
            )
        self.strategy = strategy
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.model = model
        self.language = language
        self.semantic_percentile = semantic_percentile
        self._embeddings = embeddings
        self._counter = counter if counter is not None else TokenCounter()

    # The interface.

    def split_text(
        self, text: str, *, source: str = "", metadata: Mapping[str, Any] | None = None
    ) -> list[Document]:
        """The chunks of ``text``, in order, as ``Document`` s (none for blank text)."""
        language = self.language or detect_language(text)
        packer = Packer(
            self._count,
            self.max_tokens,
            self.overlap_tokens,
            lambda t, start, end: sentence_spans(t, start, end, language),
        )
        spans = packer.pack(text, self._pieces(text, language))
        base = dict(metadata or {})
        documents = []
        for index, span in enumerate(spans):
            content = text[span.start : span.end]
            chunk_language = detect_language(content[:400])
            documents.append(
                Document(
                    page_content=content,
                    metadata={
                        **base,
                        "source": source,
                        "start_index": span.start,
                        "end_index": span.end,
                        "heading_path": list(span.heading_path),
                        "language": language if chunk_language == "und" else chunk_language,
                        "strategy": self.strategy,
                        "chunk_index": index,
                        "token_count": span.tokens,
                        "content_hash": hashlib.sha256(content.encode()).hexdigest(),
                    },
                )
            )
        return documents

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        """Every document's chunks; each keeps its document's metadata, and its
        ``source`` (empty when it has none)."""
        chunks: list[Document] = []
        for document in documents:
            source = str(document.metadata.get("source", ""))
            chunks.extend(
                self.split_text(document.page_content, source=source, metadata=document.metadata)
            )
        return chunks

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[Document]:
        """LangChain's document-transformer interface: :meth:`split_documents`."""
        return self.split_documents(documents)

    # The design's names (semantic_chunking.py in the design documents).

    def chunk_document(
        self,
        text: str,
        max_chunk_size: int | None = None,
        *,
        source: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Document]:
        """:meth:`split_text`, with ``max_chunk_size`` tokens instead of ``max_tokens``."""
        chunker = self if max_chunk_size is None else self._like(max_tokens=max_chunk_size)
        return chunker.split_text(text, source=source, metadata=metadata)

    def chunk_by_structure(
        self, text: str, *, source: str = "", metadata: Mapping[str, Any] | None = None
    ) -> list[Document]:
        """:meth:`split_text` with the ``structure`` strategy."""
        return self._like(strategy="structure").split_text(text, source=source, metadata=metadata)

    def chunk_by_meaning(
        self, text: str, *, source: str = "", metadata: Mapping[str, Any] | None = None
    ) -> list[Document]:
        """:meth:`split_text` with the ``semantic`` strategy."""
        return self._like(strategy="semantic").split_text(text, source=source, metadata=metadata)

    def get_embeddings(self, chunks: Sequence[Document | str]) -> list[list[float]]:
        """The chunks' vectors from this chunker's embeddings, in order."""
        texts = [c.page_content if isinstance(c, Document) else c for c in chunks]
        return self._embedding_model().embed_documents(texts)

    # The strategies.

    def _pieces(self, text: str, language: str) -> list[Piece]:
        if self.strategy == "characters":
            return [Piece(0, len(text), Grain.CODE)]
        if self.strategy == "paragraphs":
            return [Piece(s, e) for s, e in paragraph_spans(text, 0, len(text))]
        if self.strategy == "structure":
            return markdown_pieces(text)
        if self.strategy == "window":
            return [Piece(m.start(), m.end(), Grain.CODE) for m in _WINDOW_UNIT.finditer(text)]
        sentences = [
            (s, e) for s, e in sentence_spans(text, 0, len(text), language) if text[s:e].strip()
        ]
        if self.strategy == "sentences":
            return [Piece(s, e, Grain.SENTENCE) for s, e in sentences]
        breaks = meaning_breaks(
            [text[s:e] for s, e in sentences],
            self._embedding_model(),
            percentile=self.semantic_percentile,
        )
        return [
            Piece(s, e, Grain.SENTENCE, starts_chunk=i in breaks)
            for i, (s, e) in enumerate(sentences)
        ]

    def _count(self, text: str) -> int:
        return self._counter.count_tokens(text, self.model)

    def _embedding_model(self) -> Embeddings:
        if self._embeddings is None:
            from llmopt.embeddings import default_embeddings

            self._embeddings = default_embeddings()
        return self._embeddings

    def _like(self, **changes: Any) -> SemanticChunker:
        options: dict[str, Any] = {
            "strategy": self.strategy,
            "max_tokens": self.max_tokens,
            "overlap_tokens": self.overlap_tokens,
            "embeddings": self._embeddings,
            "counter": self._counter,
            "model": self.model,
            "language": self.language,
            "semantic_percentile": self.semantic_percentile,
        }
        options.update(changes)
        strategy = options.pop("strategy")
        return SemanticChunker(strategy, **options)
