"""The LangChain side: a BaseRetriever in an LCEL chain, and WordLlama by default."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough

from llmopt.retrieval import ContextRetriever, LLMOptRetriever

from ._corpus import DOCS
from .conftest import CountingEmbeddings


def test_as_retriever_drops_into_an_lcel_chain(embeddings: CountingEmbeddings) -> None:
    retriever = ContextRetriever(":memory:", embeddings=embeddings)
    retriever.embed_and_index(DOCS)
    as_lc = retriever.as_retriever(top_k=2, filters={"topic": "food"})
    assert isinstance(as_lc, BaseRetriever) and isinstance(as_lc, LLMOptRetriever)

    prompts: list[str] = []

    def join(documents: list[Document]) -> str:
        return "\n".join(d.page_content for d in documents)

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Context:\n{context}"), ("human", "{question}")]
    )
    chain = (
        {"context": as_lc | join, "question": RunnablePassthrough()}
        | prompt
        | (lambda value: prompts.append(value.to_string()) or value)
        | FakeListChatModel(responses=["eighty degrees"])
        | StrOutputParser()
    )
    assert chain.invoke("tea temperature") == "eighty degrees"
    assert "Green tea is steeped" in prompts[0]
    documents = as_lc.invoke("tea temperature")
    assert documents[0].metadata["source"] == "kitchen.md"
    assert "score" in documents[0].metadata


def test_the_default_embeddings_are_wordllama_offline() -> None:
    retriever = ContextRetriever(":memory:")
    retriever.embed_and_index(DOCS)
    assert retriever.index.dimensions == 256
    hits = retriever.semantic_search("marine animal with tusks", 1, mode="vector")
    assert hits[0].chunk.source == "animals.md"
