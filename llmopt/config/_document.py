"""The ``aiconfigs`` document as admins see it: its ``llm`` entries, stably addressed, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from llmopt._secrets import redact
from llmopt.errors import ConfigError, FieldProblem, RecordNotFound

from ._nested import BLOCK
from ._schema import OptimizationConfig

LLM_LIST = "llm"


@dataclass(frozen=True, slots=True)
class LLMEntry:
    """One entry of the document's ``llm`` list, as read; never raises on a malformed entry.

    ``key`` addresses it stably: its ``modelKey`` where it has one, otherwise
    ``provider:model`` (with ``#2``, ``#3`` ... on repeats). ``config`` holds the flags
    from every place the entry keeps them (flat in ``configuration``, or the nested
    ``optimization`` block inside it or beside it). ``config`` is ``None`` and
    ``problems`` says why when the entry cannot be read, or its places disagree; then
    the wrapper gives it no optimization.
    """

    key: str
    index: int
    provider: str | None
    model: str | None
    is_default: bool
    configuration: Mapping[str, Any] | None
    config: OptimizationConfig | None
    problems: tuple[FieldProblem, ...]
    optimization: Mapping[str, Any] | None = None
    """The migration guide's nested block beside ``configuration``, when the entry has one."""

    @property
    def valid(self) -> bool:
        return not self.problems

    def safe_configuration(self) -> dict[str, Any]:
        """The configuration with secrets masked: what a page, API response or log may show."""
        safe: dict[str, Any] = redact(dict(self.configuration or {}))
        return safe

    def safe_optimization(self) -> dict[str, Any] | None:
        """The block beside the configuration with secrets masked, or ``None``."""
        if self.optimization is None:
            return None
        safe: dict[str, Any] = redact(dict(self.optimization))
        return safe

    def as_item(self) -> dict[str, Any]:
        """The parts of the stored entry llmopt reads: ``configuration`` and the block beside."""
        item: dict[str, Any] = {"configuration": dict(self.configuration or {})}
        if self.optimization is not None:
            item[BLOCK] = dict(self.optimization)
        return item

    def __repr__(self) -> str:
        # Tracebacks, debug logs and template-variable errors print entries: never the key.
        shown = None if self.configuration is None else self.safe_configuration()
        block = self.safe_optimization()
        return (
            f"LLMEntry(key={self.key!r}, index={self.index}, provider={self.provider!r}, "
            f"model={self.model!r}, is_default={self.is_default}, configuration={shown!r}, "
            f"config={self.config!r}, problems={self.problems!r}, "
            f"optimization={block!r})"
        )


class AIConfigDocument:
    """A read-only view of the ``aiconfigs`` document at one revision.

    Reading never rewrites anything, however malformed the document: problems are
    reported per entry (``LLMEntry.problems``) and for the whole (``problems``).
    """

    def __init__(self, body: Mapping[str, Any] | None, revision: str | None) -> None:
        self.body: dict[str, Any] = dict(body or {})
        self.revision = revision
        self.problems: tuple[FieldProblem, ...] = ()
        raw = self.body.get(LLM_LIST, [])
        if not isinstance(raw, list):
            self.problems = (FieldProblem(LLM_LIST, "llm must be a list of model entries"),)
            raw = []
        self.entries: tuple[LLMEntry, ...] = _read_entries(raw)

    @property
    def exists(self) -> bool:
        return self.revision is not None

    def entry(self, key: str) -> LLMEntry:
        """The entry with this key; raises :class:`~llmopt.errors.RecordNotFound`."""
        for entry in self.entries:
            if entry.key == key:
                return entry
        raise RecordNotFound(f"no llm entry with key {key!r}")

    def body_with_configuration(self, key: str, configuration: Mapping[str, Any]) -> dict[str, Any]:
        """A new body in which entry ``key`` has ``configuration``; nothing else changes."""
        return self.body_with_entry_fields(key, {"configuration": dict(configuration)})

    def body_with_entry_fields(self, key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A new body in which entry ``key`` has these top-level ``fields`` (its
        ``configuration``, its ``optimization`` block); nothing else changes."""
        index = self.entry(key).index
        entries = list(self.body[LLM_LIST])
        entries[index] = {**entries[index], **fields}
        return {**self.body, LLM_LIST: entries}


def _read_entries(raw: list[Any]) -> tuple[LLMEntry, ...]:
    entries: list[LLMEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        entry = _read_entry(index, item)
        count = seen.get(entry.key, 0) + 1
        seen[entry.key] = count
        if count > 1:
            problem = FieldProblem(
                "modelKey",
                f"entry {index + 1} has the same provider and model as an earlier entry; "
                "give each a distinct modelKey so it can be addressed",
            )
            entry = replace(entry, key=f"{entry.key}#{count}", problems=(*entry.problems, problem))
        entries.append(entry)
    return tuple(entries)


def _read_entry(index: int, item: Any) -> LLMEntry:
    if not isinstance(item, Mapping):
        problem = FieldProblem("", f"entry {index + 1} must be an object")
        return LLMEntry(f"#{index + 1}", index, None, None, False, None, None, (problem,))

    problems: list[FieldProblem] = []
    provider = item.get("provider")
    if not isinstance(provider, str) or not provider:
        problems.append(FieldProblem("provider", "provider must be a provider name"))
        provider = None
    configuration = item.get("configuration")
    if not isinstance(configuration, Mapping):
        what = "is missing" if configuration is None else "must be an object"
        problems.append(FieldProblem("configuration", f"configuration {what}"))
        configuration = None
    model = configuration.get("model") if configuration is not None else None
    model = model if isinstance(model, str) and model else None

    beside = item.get(BLOCK)
    config: OptimizationConfig | None = None
    if configuration is not None:
        fields: dict[str, Any] = {"configuration": configuration}
        if BLOCK in item:
            fields[BLOCK] = beside
        try:
            config = OptimizationConfig.from_dict(fields, provider=provider, model=model)
        except ConfigError as exc:
            problems.extend(exc.problems)

    model_key = item.get("modelKey")
    if isinstance(model_key, str) and model_key:
        key = model_key
    else:
        key = f"{provider or '?'}:{model or '?'}"
    return LLMEntry(
        key=key,
        index=index,
        provider=provider,
        model=model,
        is_default=item.get("isDefault") is True,
        configuration=configuration,
        config=config,
        problems=tuple(problems),
        optimization=beside if isinstance(beside, Mapping) else None,
    )
