"""DEMO DATA: a small real retrieval index for the Context page, built at demo start.

The documents are real: the first topics of Python's own documentation that ship with
the interpreter (``pydoc_data.topics``, what ``help("assignment")`` prints), each under
12,000 characters, as ``retrieval-python-docs.sqlite3`` beside the demo's store. Built
with llmopt's defaults (structure chunking, WordLlama offline), only when
``llmopt[retrieval]`` is installed, and once: an existing index is left as it is.
"""

from __future__ import annotations

from pathlib import Path

DEMO_INDEX = "python-docs"
DEMO_TOPICS = 40
_MAX_CHARACTERS = 12_000


def demo_topics() -> dict[str, str]:
    """The topics indexed: ``{key: text}``, in key order."""
    from pydoc_data.topics import topics

    small = sorted(key for key, text in topics.items() if len(text) <= _MAX_CHARACTERS)
    return {key: topics[key] for key in small[:DEMO_TOPICS]}


def seed_demo_context(folder: Path) -> int | None:
    """Build the demo index in ``folder`` unless it exists or the extra is missing;
    how many chunks it holds when it was built now, else ``None``."""
    path = folder / f"retrieval-{DEMO_INDEX}.sqlite3"
    if path.exists():
        return None
    try:
        from langchain_core.documents import Document

        from llmopt.retrieval import ContextRetriever
    except ModuleNotFoundError:
        return None
    documents = [
        Document(
            f"# {key}\n\n{text.strip()}",
            id=f"topics/{key}",
            metadata={"source": f"pydoc_data.topics/{key}"},
        )
        for key, text in demo_topics().items()
    ]
    retriever = ContextRetriever(path)
    try:
        retriever.embed_and_index(documents)
        return retriever.index.count()
    finally:
        retriever.close()
