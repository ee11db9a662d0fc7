"""Python's documentation topics (``pydoc_data.topics``) cut into headed sections.

    uv run python tests/benchmarks/bench_retrieval_corpus.py   (prints the collection's size)

Shared by the retrieval benchmarks (imported by them). Each topic is split at its reST
headings (a line underlined with ``*``, ``=``, ``-``, ``~``, ``^`` or ``"``); a
section's text is its body *without* its heading, so a heading used as a question is
not found verbatim.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pydoc_data.topics import topics

from langchain_core.documents import Document

_HEADING = re.compile(r"^(?P<title>\S[^\n]*)\n(?P<rule>[*=\-~^\"])(?P=rule){2,}[ \t]*$", re.M)


@dataclass(frozen=True)
class Section:
    topic: str
    number: int
    heading: str
    body: str

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.number:02d}"

    def as_document(self) -> Document:
        return Document(
            page_content=self.body,
            metadata={"source": self.source, "topic": self.topic, "section": self.number},
        )


def sections() -> list[Section]:
    """Every headed section of every distinct topic text, in a fixed order."""
    seen: set[str] = set()
    found: list[Section] = []
    for topic in sorted(topics):
        text = topics[topic]
        if text in seen:  # a few topics share one text under two names
            continue
        seen.add(text)
        marks = list(_HEADING.finditer(text))
        for number, mark in enumerate(marks):
            end = marks[number + 1].start() if number + 1 < len(marks) else len(text)
            body = text[mark.end() : end].strip()
            if body:
                found.append(Section(topic, number, mark.group("title").strip(), body))
    return found


def questions(all_sections: list[Section]) -> list[tuple[str, set[str]]]:
    """(question, relevant sources): each heading of two words or more that names one
    section only. A topic's title (section 0) counts every section of the topic as
    relevant; a subsection heading, its own section."""
    counts = Counter(s.heading.lower() for s in all_sections)
    by_topic: dict[str, set[str]] = {}
    for s in all_sections:
        by_topic.setdefault(s.topic, set()).add(s.source)
    asked: list[tuple[str, set[str]]] = []
    for s in all_sections:
        if counts[s.heading.lower()] > 1 or len(re.findall(r"\w+", s.heading)) < 2:
            continue
        relevant = by_topic[s.topic] if s.number == 0 else {s.source}
        asked.append((s.heading, relevant))
    return asked


if __name__ == "__main__":
    found = sections()
    asked = questions(found)
    print(
        f"{len({s.topic for s in found})} topics, {len(found)} sections, "
        f"{sum(len(s.body) for s in found) / 1e6:.2f} MB of text, {len(asked)} questions"
    )
    for question, relevant in asked[:5]:
        print(f"  {question!r} -> {sorted(relevant)[:3]}{' ...' if len(relevant) > 3 else ''}")
