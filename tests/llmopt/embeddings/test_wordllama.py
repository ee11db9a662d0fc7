"""The offline embedding model: unit vectors, sensible similarities, and a first use
that opens no connection and writes no file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from llmopt.embeddings import (
    EMBEDDINGS_MISSING,
    WordLlamaEmbeddings,
    default_embeddings,
    load_wordllama_offline,
)
from llmopt.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def embeddings() -> WordLlamaEmbeddings:
    return default_embeddings()


def test_it_is_a_langchain_embeddings_with_256_dimensions(
    embeddings: WordLlamaEmbeddings,
) -> None:
    assert isinstance(embeddings, Embeddings)
    assert embeddings.dimensions == 256


def test_a_batch_is_one_float32_array_of_unit_vectors(embeddings: WordLlamaEmbeddings) -> None:
    texts = ["How do I sort a list?", "Wie sortiere ich eine Liste?", "x" * 5000]

    vectors = embeddings.embed_batch(texts)

    assert vectors.shape == (3, 256)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_langchain_methods_give_the_same_unit_vectors_as_lists(
    embeddings: WordLlamaEmbeddings,
) -> None:
    documents = embeddings.embed_documents(["How do I sort a list?", "What is a tuple?"])
    query = embeddings.embed_query("How do I sort a list?")

    assert len(documents) == 2 and all(len(v) == 256 for v in documents)
    assert all(isinstance(x, float) for x in query)
    np.testing.assert_allclose(query, documents[0], atol=1e-6)
    assert float(np.linalg.norm(query)) == pytest.approx(1.0, abs=1e-5)


def test_an_empty_text_gets_the_zero_vector_and_no_batch_gets_no_rows(
    embeddings: WordLlamaEmbeddings,
) -> None:
    assert not embeddings.embed_batch([""]).any()  # no NaN, no warning
    assert embeddings.embed_batch([]).shape == (0, 256)


@pytest.mark.parametrize(
    ("question", "paraphrase", "unrelated"),
    [
        (
            "How do I sort a list in reverse order?",
            "What is the way to sort a list in reverse order?",
            "Which port does the database server listen on?",
        ),
        (
            "Can I use a custom user model?",
            "Is it possible to use a custom user model?",
            "How do I sort a list in reverse order?",
        ),
        (
            "Why does my query return duplicate rows?",
            "Why are duplicate rows returned by my query?",
            "Is it possible to use a custom user model?",
        ),
    ],
)
def test_a_paraphrase_scores_higher_than_an_unrelated_question(
    embeddings: WordLlamaEmbeddings, question: str, paraphrase: str, unrelated: str
) -> None:
    q, p, u = embeddings.embed_batch([question, paraphrase, unrelated])

    assert float(q @ p) > 0.8
    assert float(q @ u) < 0.5


def test_threads_share_one_model_and_get_the_same_vectors(
    embeddings: WordLlamaEmbeddings,
) -> None:
    texts = [f"How do I read {n} lines from a file?" for n in range(50)]
    expected = embeddings.embed_batch(texts)
    seen: list[WordLlamaEmbeddings] = []
    results: list[np.ndarray] = []

    def work() -> None:
        shared = default_embeddings()
        seen.append(shared)
        results.append(shared.embed_batch(texts))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 8 and all(s is embeddings for s in seen)
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_a_missing_wordllama_is_a_config_error_that_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)  # what an absent package raises

    with pytest.raises(ConfigError) as raised:
        load_wordllama_offline()

    assert str(raised.value) == EMBEDDINGS_MISSING
    assert "pip install 'llmopt[embeddings]'" in str(raised.value)


_REFUSE_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("test: this process may not use the network")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
"""

_FIRST_USE = """
import logging, socket
assert socket.socket.connect.__name__ == "_refuse"
from llmopt.embeddings import default_embeddings
vectors = default_embeddings().embed_batch(["How do I sort a list?", "Sorting a list"])
assert vectors.shape == (2, 256)
print("similarity", round(float(vectors[0] @ vectors[1]), 2))
print("root handlers", logging.getLogger().handlers)
"""


def _package_files(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_first_use_opens_no_connection_and_writes_nothing(tmp_path: Path) -> None:
    import wordllama

    home, site, work, scratch = (tmp_path / d for d in ("home", "site", "work", "tmp"))
    for folder in (home, site, work, scratch):
        folder.mkdir()
    (site / "sitecustomize.py").write_text(_REFUSE_NETWORK)
    package = Path(wordllama.__file__).parent
    before = _package_files(package)
    environment = {  # HF_HUB_OFFLINE and friends deliberately unset
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(scratch),
        "PYTHONPATH": f"{site}:{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FIRST_USE)],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "similarity" in done.stdout
    assert "root handlers []" in done.stdout  # importing wordllama configures logging
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []
    assert list(scratch.iterdir()) == []
    assert _package_files(package) == before
