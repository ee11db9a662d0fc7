"""``/api/config``: the aiconfigs entries, read and flag edits, with the core's validation."""

from __future__ import annotations

from typing import Any

from ninja import Router, Schema
from pydantic import Field

from llmopt.config import LLMEntry, load_document, update_entry_flags

from ..configuration.summaries import optimization_summary
from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import READ_ERRORS, Conflict, Error, FieldMessage, ValidationErrors
from .strict import InputSchema, Reason

router = Router(tags=["config"], auth=RoleAuth(VIEW))


class EntryOut(Schema):
    """One ``llm`` entry: its flags, what they amount to, its problems; API keys masked.

    ``flags`` are the optimization flags (``optimizationEnabled``,
    ``optimizationStrategy``, ``cachingEnabled``, ``cacheTTL``, ``cacheSystemTTL``,
    ``cacheBreakpoints``, ``cacheMinTokens``, ``batchingEnabled``, ``batchMaxSize``,
    ``batchTimeout``, ``fallbackToStandard``, ``logFallbacks``) read from every place
    the entry keeps them: flat in ``configuration``, or the migration guide's nested
    ``optimization`` block inside it or beside it (``optimization`` here). When those
    places disagree, or a block holds a key llmopt does not know, ``flags`` is empty,
    ``problems`` says why and the entry gets no optimization.
    """

    key: str
    provider: str | None
    model: str | None
    isDefault: bool
    flags: dict[str, Any] = Field(
        description="The effective flags by camelCase name; empty when they cannot be read"
    )
    summary: str
    problems: list[FieldMessage]
    configuration: dict[str, Any] = Field(description="The stored configuration, secrets masked")
    optimization: dict[str, Any] | None = Field(
        description="The nested optimization block beside the configuration, as stored "
        "(secrets masked); null when the entry has none"
    )


class ConfigOut(Schema):
    """The whole document at one revision (``null`` when there is no document yet)."""

    revision: str | None
    entries: list[EntryOut]


class EntryAtRevisionOut(Schema):
    """One entry and the document revision it was read at, to send back with a change."""

    revision: str | None
    entry: EntryOut


class FlagsPatchIn(InputSchema):
    """Some flags to change (camelCase names), the revision they were read at, and why.

    ``flags`` is checked by the core's validator, not here, so the rules and their
    messages are the same as the console's form. Each flag is written where the entry
    keeps it (flat, or under its key in the nested ``optimization`` block, e.g.
    ``cacheMinTokens`` as ``cache.min_tokens_to_cache``); a flag the entry keeps
    nowhere is added only when it changes. Sending every flag to an entry whose places
    disagree writes all of them, which resolves the disagreement. Any other field
    (``configuration``, say) is refused by name: only flags change here.
    """

    flags: dict[str, Any]
    revision: str
    reason: Reason = ""


def entry_out(entry: LLMEntry) -> EntryOut:
    config = entry.config
    return EntryOut(
        key=entry.key,
        provider=entry.provider,
        model=entry.model,
        isDefault=entry.is_default,
        flags=config.model_dump(mode="json", by_alias=True) if config is not None else {},
        summary=optimization_summary(entry),
        problems=[FieldMessage(field=p.field, message=p.message) for p in entry.problems],
        configuration=entry.safe_configuration(),
        optimization=entry.safe_optimization(),
    )


@router.get("", response={200: ConfigOut, **READ_ERRORS}, summary="List the entries")
def list_config(request: AuthedRequest) -> ConfigOut:
    document = load_document(get_store())
    return ConfigOut(revision=document.revision, entries=[entry_out(e) for e in document.entries])


@router.get(
    "/{key}", response={200: EntryAtRevisionOut, 404: Error, **READ_ERRORS}, summary="One entry"
)
def get_entry(request: AuthedRequest, key: str) -> EntryAtRevisionOut:
    document = load_document(get_store())
    return EntryAtRevisionOut(revision=document.revision, entry=entry_out(document.entry(key)))


@router.patch(
    "/{key}",
    auth=RoleAuth(EDIT),
    response={
        200: EntryAtRevisionOut,
        404: Error,
        409: Conflict,
        422: ValidationErrors,
        **READ_ERRORS,
    },
    summary="Change an entry's flags",
)
def patch_entry(request: AuthedRequest, key: str, payload: FlagsPatchIn) -> EntryAtRevisionOut:
    """Validated as a whole (422, nothing written), refused when stale (409), audited;
    each flag is written where the entry keeps it."""
    document = update_entry_flags(
        get_store(),
        key,
        payload.flags,
        expected_revision=payload.revision,
        actor=actor(request),
        reason=payload.reason,
    )
    return EntryAtRevisionOut(revision=document.revision, entry=entry_out(document.entry(key)))
