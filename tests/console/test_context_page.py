"""The Context page: the retrieval indexes beside the store with their sizes, embedding
model and freshness (live), each index's documents; a search showing each chunk's source,
heading path, offsets and three scores and the assembled context's token count; re-index
and delete for operators (a reason, audited); no index yet; the extra not installed."""

from __future__ import annotations

import html
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from console.context.indexes import close_indexes
from llmopt.retrieval import DEFAULT_EMBEDDER, ContextRetriever
from llmopt.store import Store

pytestmark = pytest.mark.django_db
URL = "/context/"
SEARCH_URL = "/context/search/"
REINDEX_URL = "/context/reindex/"
DELETE_URL = "/context/delete/"
INSTALL = "guide/install.md"

DOCS = [
    Document(
        "# Install\n\nInstall llmopt with pip. The retrieval extra brings numpy and WordLlama."
        "\n\n## Upgrade\n\nUpgrade llmopt with pip install --upgrade llmopt.",
        metadata={"source": INSTALL},
    ),
    Document(
        "# Penguins\n\nPenguins are flightless seabirds of the southern ocean; they swim fast.",
        metadata={"source": "animals/penguins.md"},
    ),
    Document(
        "# Walrus\n\nThe walrus operator := assigns a value inside an expression.",
        metadata={"source": "python/walrus.md"},
    ),
]


def index_path(name: str = "docs") -> Path:
    return Path(settings.LLMOPT_SQLITE_PATH).parent / f"retrieval-{name}.sqlite3"


@pytest.fixture
def no_index(store: Store) -> Iterator[Store]:
    """The store, no index beside it; every index the console opens is closed after."""
    yield store
    close_indexes()


@pytest.fixture
def docs(no_index: Store) -> Iterator[ContextRetriever]:
    """An index ``docs`` of three small documents, embedded by the default model."""
    retriever = ContextRetriever(index_path())
    retriever.embed_and_index(DOCS)
    yield retriever
    retriever.close()


class OtherEmbeddings(Embeddings):
    """Another embedding model (its vectors mean nothing to WordLlama's)."""

    embedder_name = "other-model"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), 1.0, 0.5] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(len(text)), 1.0, 0.5]


def search(client: Client, **params: Any) -> Any:
    query = {"index": "docs", "q": "install with pip", "top_k": 5, "max_tokens": 2000}
    query.update(params)
    return client.get(SEARCH_URL, {k: v for k, v in query.items() if v is not None})


def test_a_viewer_sees_each_index_with_its_size_model_and_freshness(
    signed_in: Client, docs: ContextRetriever
) -> None:
    response = signed_in.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    start = page.index('data-index="docs"')
    row = page[start : page.index("</tr>", start)]
    cells = [cell.split(">")[-1] for cell in row.split("</td>")[:-1]]
    assert cells[1:4] == ["3", str(docs.index.count()), "256"]
    assert DEFAULT_EMBEDDER in row and "KB" in row and " ago)" in row
    for document in DOCS:
        assert f'data-document="{document.metadata["source"]}"' in page
    assert '<a href="/context/">Context</a>' in page
    assert 'id="read-only"' in page and 'id="reindex-form"' not in page


def test_the_index_list_refreshes_live_as_its_own_fragment(
    signed_in: Client, docs: ContextRetriever
) -> None:
    page = signed_in.get(URL).content.decode()
    assert 'id="context-live"' in page and 'hx-get="/context/"' in page
    fragment = signed_in.get(URL, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="context-live"')
    assert 'data-index="docs"' in fragment and "<h1>" not in fragment


def test_a_search_shows_each_chunk_with_its_scores_and_the_contexts_token_count(
    signed_in: Client, docs: ContextRetriever
) -> None:
    response = search(signed_in, mode="hybrid")
    assert response.status_code == 200
    page = response.content.decode()
    first = page[page.index('id="hit-1"') : page.index("</tr>", page.index('id="hit-1"'))]
    assert INSTALL in first and "Install" in first
    assert "–" in first  # the offsets
    scores = [cell.split(">")[-1] for cell in first.split("</td>")[4:7]]
    assert all(score != "—" for score in scores)  # fused, vector and lexical
    assert 'id="context-tokens"' in page
    tokens = page.split('id="context-tokens"><strong>')[1].split("<")[0]
    assert 0 < int(tokens) <= 2000
    assert f"[{INSTALL}]" in page  # the assembled text names each chunk's source


def test_a_lexical_search_has_no_vector_score_and_a_tight_budget_leaves_chunks_out(
    signed_in: Client, docs: ContextRetriever
) -> None:
    page = search(signed_in, mode="lexical", q="pip upgrade", max_tokens=20).content.decode()
    first = page[page.index('id="hit-1"') : page.index("</tr>", page.index('id="hit-1"'))]
    assert [cell.split(">")[-1] for cell in first.split("</td>")[5:6]] == ["—"]
    assert "no (over budget)" in page


def test_htmx_gets_the_results_alone(signed_in: Client, docs: ContextRetriever) -> None:
    response = signed_in.get(
        SEARCH_URL,
        {"index": "docs", "q": "penguins", "top_k": 3, "max_tokens": 500, "mode": "vector"},
        headers={"HX-Request": "true"},
    )
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="search-results"')
    assert "animals/penguins.md" in fragment and "<h1>" not in fragment


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"top_k": 0}, "top_k", "greater than or equal to 1"),
        ({"max_tokens": 99999}, "max_tokens", "less than or equal to 32000"),
        ({"mode": "fuzzy"}, "mode", "Select a valid choice"),
        ({"q": ""}, "q", "required"),
        ({"index": "nowhere"}, "index", "no retrieval index called 'nowhere'"),
    ],
)
def test_a_search_with_a_bad_field_says_which(
    signed_in: Client, docs: ContextRetriever, params: dict[str, Any], field: str, message: str
) -> None:
    response = search(signed_in, **params)
    assert response.status_code == 422
    page = html.unescape(response.content.decode())
    assert f'data-field="{field}"' in page and message in page


def test_an_index_made_by_another_model_is_refused_by_vector_search_but_not_by_words(
    signed_in: Client, no_index: Store
) -> None:
    other = ContextRetriever(index_path(), embeddings=OtherEmbeddings())
    other.embed_and_index(DOCS)
    other.close()
    refused = search(signed_in, mode="hybrid")
    assert refused.status_code == 422
    assert "holds vectors made by other-model" in refused.content.decode()
    assert search(signed_in, mode="lexical").status_code == 200


def test_an_operator_re_indexes_the_whole_index_with_a_reason_audited(
    operator: Client, no_index: Store
) -> None:
    other = ContextRetriever(index_path(), embeddings=OtherEmbeddings())
    other.embed_and_index(DOCS)
    chunks = other.index.count()
    other.close()
    page = operator.get(URL).content.decode()
    assert 'id="reindex-form"' in page and "data-confirm=" in page
    response = operator.post(
        REINDEX_URL, {"index": "docs", "document": "", "reason": "new embedding model"}
    )
    assert response.status_code == 302
    shown = operator.get(URL).content.decode()
    assert f"Re-indexed docs: {chunks} chunks of 3 documents embedded again" in shown
    assert DEFAULT_EMBEDDER in shown and "other-model" not in shown
    [event] = no_index.list_audit(action="retrieval.reindex")
    assert (event.actor, event.target, event.reason) == (
        "operator",
        "retrieval:docs",
        "new embedding model",
    )
    assert event.before == {"embedder": "other-model"}
    assert search(operator, mode="vector").status_code == 200


def test_re_indexing_one_document_is_audited_against_that_document(
    operator: Client, docs: ContextRetriever, no_index: Store
) -> None:
    operator.post(REINDEX_URL, {"index": "docs", "document": INSTALL, "reason": "vectors off"})
    [event] = no_index.list_audit(action="retrieval.reindex")
    assert event.target == f"retrieval:docs/{INSTALL}" and event.after["documents"] == 1
    page = operator.get(URL).content.decode()
    assert f"Re-indexed {INSTALL} in docs:" in page


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        (REINDEX_URL, {"index": "docs", "reason": ""}, "needs a reason"),
        (DELETE_URL, {"index": "docs", "document": INSTALL, "reason": ""}, "needs a reason"),
        (REINDEX_URL, {"index": "docs", "document": "nope.md", "reason": "x"}, "no document"),
        (DELETE_URL, {"index": "docs", "document": "nope.md", "reason": "x"}, "no document"),
        (REINDEX_URL, {"index": "nowhere", "reason": "x"}, "no retrieval index"),
    ],
)
def test_a_change_without_a_reason_or_target_is_refused_and_not_audited(
    operator: Client,
    docs: ContextRetriever,
    no_index: Store,
    url: str,
    data: dict[str, str],
    message: str,
) -> None:
    response = operator.post(url, data)
    assert response.status_code == 422
    assert message in html.unescape(response.content.decode())
    assert no_index.list_audit(action="retrieval.reindex") == []
    assert no_index.list_audit(action="retrieval.delete") == []


def test_an_operator_deletes_a_document_audited_with_how_many_chunks_went(
    operator: Client, docs: ContextRetriever, no_index: Store
) -> None:
    chunks = len(docs.index.chunks_of(INSTALL))
    response = operator.post(
        DELETE_URL, {"index": "docs", "document": INSTALL, "reason": "withdrawn"}
    )
    assert response.status_code == 302
    page = operator.get(URL).content.decode()
    assert f"Deleted {INSTALL} from docs: {chunks} chunk" in page
    assert f'data-document="{INSTALL}"' not in page
    [event] = no_index.list_audit(action="retrieval.delete")
    assert (event.target, event.reason, event.before) == (
        f"retrieval:docs/{INSTALL}",
        "withdrawn",
        {"chunks": chunks},
    )


@pytest.mark.parametrize("url", [REINDEX_URL, DELETE_URL])
def test_a_viewer_cannot_change_an_index(
    signed_in: Client, docs: ContextRetriever, no_index: Store, url: str
) -> None:
    response = signed_in.post(url, {"index": "docs", "document": INSTALL, "reason": "x"})
    assert response.status_code == 403
    assert docs.index.chunks_of(INSTALL)
    assert no_index.list_audit(action="retrieval.delete") == []


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", URL), ("get", SEARCH_URL), ("post", REINDEX_URL), ("post", DELETE_URL)],
)
def test_an_outsider_gets_nothing(
    outsider: Client, docs: ContextRetriever, method: str, url: str
) -> None:
    response = getattr(outsider, method)(url, {"index": "docs", "q": "pip"})
    assert response.status_code == 403
    assert "walrus" not in response.content.decode()


def test_without_an_index_the_page_says_how_to_create_one(
    signed_in: Client, no_index: Store
) -> None:
    page = signed_in.get(URL).content.decode()
    assert 'id="no-index"' in page
    assert "ContextRetriever(default_index_path(&quot;docs&quot;)).embed_and_index(" in page
    assert 'id="search-form"' not in page


def test_without_the_retrieval_extra_the_page_names_it(
    signed_in: Client, no_index: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_retrieval(monkeypatch)
    response = signed_in.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "pip install &#x27;llmopt[retrieval]&#x27;" in page
    assert 'id="search-form"' not in page


def hide_retrieval(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if numpy were not installed: importing it (and so llmopt.retrieval) fails."""
    monkeypatch.setitem(sys.modules, "numpy", None)
    for name in [n for n in sys.modules if n.startswith("llmopt.retrieval")]:
        monkeypatch.delitem(sys.modules, name)


def test_the_console_loads_and_routes_without_numpy() -> None:
    program = (
        "import sys; sys.modules['numpy'] = None\n"
        "import django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'console.settings')\n"
        "django.setup()\n"
        "import console.urls\n"
        "from django.urls import reverse\n"
        "print(reverse('context'), reverse('api:post_search', args=['docs']))\n"
        "assert 'numpy' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["/context/", "/api/context/docs/search"]
