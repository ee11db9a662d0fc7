from __future__ import annotations

from langchain_core.documents import Document

DOCS = [
    Document(
        page_content=(
            "# Walrus\n\nThe walrus operator := assigns a value inside an expression.\n\n"
            "# Comprehensions\n\nList comprehensions build a list from an iterable."
        ),
        metadata={"source": "python.md", "topic": "python"},
    ),
    Document(
        page_content=(
            "# Mammals\n\nA walrus is a large marine mammal with tusks.\n\n"
            "# Birds\n\nPenguins are flightless birds of the southern ocean."
        ),
        metadata={"source": "animals.md", "topic": "nature"},
    ),
    Document(
        page_content="# Tea\n\nGreen tea is steeped at eighty degrees for two minutes.",
        metadata={"source": "kitchen.md", "topic": "food"},
    ),
]
