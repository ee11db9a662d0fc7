"""Reference documents: what a prompt quotes for the model to work from.

A document is a string, a ``(title, text)`` pair, a ``{"title", "text"}`` mapping, a
LangChain ``Document`` (its ``title`` or ``source`` metadata names it) or a
:class:`ReferenceDocument`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmopt.prompts._problems import invalid


@dataclass(frozen=True, slots=True, order=True)
class ReferenceDocument:
    """A document a prompt quotes, with an optional title. Ordered by title, then text."""

    title: str
    text: str


def documents_of(
    documents: Iterable[Any], *, argument: str = "documents"
) -> list[ReferenceDocument]:
    """``documents`` as :class:`ReferenceDocument` s, in their order.

    Raises :class:`~llmopt.errors.ConfigError` (on ``argument``) for a document of
    another type or with no text.
    """
    if isinstance(documents, (str, bytes, Mapping)):
        raise invalid(argument, f"{argument} must be a list of documents, not one document")
    found: list[ReferenceDocument] = []
    for index, document in enumerate(documents):
        found.append(_document(document, f"{argument}[{index}]", argument))
    return found


def _document(document: Any, where: str, argument: str) -> ReferenceDocument:
    title: Any
    text: Any
    if isinstance(document, ReferenceDocument):
        title, text = document.title, document.text
    elif isinstance(document, str):
        title, text = "", document
    elif isinstance(document, tuple) and len(document) == 2:
        title, text = document
    elif isinstance(document, Mapping):
        title, text = document.get("title", ""), document.get("text")
    elif hasattr(document, "page_content") and hasattr(document, "metadata"):
        metadata = document.metadata or {}
        title = metadata.get("title") or metadata.get("source") or ""
        text = document.page_content
    else:
        raise invalid(
            argument,
            f"{where} must be a string, a (title, text) pair, a {{'title', 'text'}} mapping "
            f"or a LangChain Document, not {type(document).__name__}",
        )
    if not isinstance(title, str) or not isinstance(text, str):
        raise invalid(argument, f"{where}: its title and text must be strings")
    if not text.strip():
        raise invalid(argument, f"{where} has no text")
    return ReferenceDocument(title.strip(), text.strip())


def render_documents(documents: Iterable[ReferenceDocument]) -> str:
    """The documents as one block of text, each in a ``<document>`` element."""
    parts = ["Reference documents:"]
    for index, document in enumerate(documents, start=1):
        title = document.title.replace('"', "'")
        title = f' title="{title}"' if title else ""
        parts.append(f'<document index="{index}"{title}>\n{document.text}\n</document>')
    return "\n\n".join(parts)
