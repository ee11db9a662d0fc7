"""``/api/responses``: the response cache per entry (last day's statistics, settings);
saving an entry's settings, and invalidating stored answers."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Router, Schema
from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from llmopt.config import REFUSED_CHARACTERS_PATTERN, free_text_problem, load_document
from llmopt.errors import ConfigError, FieldProblem
from llmopt.killswitch import read_kill_switch
from llmopt.responses import RESPONSE_CACHE
from llmopt.store import Store

from ..responses.edit import invalidate_answers, update_response_cache
from ..responses.forms import PATTERN_MAX_LENGTH
from ..responses.overview import STATS_HOURS, EntryResponses, entry_responses, read_stats
from ..roles import EDIT, OPERATE, VIEW
from ..store import get_store
from ..web.access import AuthedRequest
from .auth import RoleAuth, actor
from .errors import READ_ERRORS, Conflict, Error, ValidationErrors
from .strict import InputSchema, Reason

router = Router(tags=["responses"], auth=RoleAuth(VIEW))


def _free_text(name: str, max_length: int) -> Any:
    """A validator holding a string field to the core's free-text rule."""

    def check(value: str) -> str:
        problem = free_text_problem(value, field=name, max_length=max_length)
        if problem is not None:
            raise PydanticCustomError("free_text", problem)
        return value

    return AfterValidator(check)


def _schema(max_length: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "maxLength": max_length,
            "pattern": REFUSED_CHARACTERS_PATTERN,
            "description": description,
        }
    )


EntryName = Annotated[
    str, _free_text("entry", 200), _schema(200, "An entry's key, or * for every entry")
]
ModelName = Annotated[
    str, _free_text("model", 200), _schema(200, "Only this model's answers (blank: any model)")
]
QuestionPattern = Annotated[
    str,
    _free_text("pattern", PATTERN_MAX_LENGTH),
    _schema(
        PATTERN_MAX_LENGTH,
        "A glob on the question (* any text, ? one character); * alone: every question",
    ),
]


class ResponseStatsOut(Schema):
    """One entry's response cache over the last ``hours``: whole answers served without
    a call (exact and semantic hits), misses, answers stored in that time, what the
    answers served would have cost (``savedUsd``), and the answers stored now."""

    exactHits: int
    semanticHits: int
    misses: int
    hitRate: float | None
    savedUsd: float
    stored: int
    answers: int


class EntryResponsesOut(Schema):
    """One entry: its statistics; ``settings`` in force (defaults filled in; the
    defaults, off, when the stored object is invalid, which ``problems`` says);
    ``responseCache`` as stored (``null``: none). ``inDocument`` is false for an entry
    the cache still holds answers or counters of, since removed from the document."""

    entryKey: str
    model: str | None
    inDocument: bool
    stats: ResponseStatsOut
    settings: dict[str, Any]
    responseCache: dict[str, Any] | None
    problems: list[str]


class ResponsesOut(Schema):
    """The response cache per entry, at one revision of the configuration. This is not
    prompt caching: its hit rates are under ``/api/statistics``."""

    revision: str | None
    killSwitchEngaged: bool
    hours: int
    entries: list[EntryResponsesOut]


class ResponseSettingsIn(InputSchema):
    """An entry's whole ``responseCache`` object (``enabled``, ``semantic``,
    ``similarityThreshold``, ``ttlSeconds``, ``maxEntries``, ``priority``,
    ``allowTemperature``), the revision it was read at, and why. Checked by the core
    (``ResponseCacheSettings``): each problem answers 422 beside ``settings.<field>``,
    and nothing is written. Turning ``semantic`` on needs ``llmopt[embeddings]``."""

    settings: dict[str, Any]
    revision: str
    reason: Reason = ""


class InvalidateIn(InputSchema):
    """Which answers to drop: ``entry`` (a key, or ``*`` for every entry), optionally
    only ``model``'s, optionally only those whose question matches ``pattern``; and why
    (required, for the audit log)."""

    entry: EntryName
    model: ModelName = ""
    pattern: QuestionPattern = "*"
    reason: Reason


class InvalidatedOut(Schema):
    """How many stored answers were dropped, and by which filters."""

    removed: int
    entry: str
    model: str | None
    pattern: str


def _entry_out(row: EntryResponses) -> EntryResponsesOut:
    stats = row.stats
    return EntryResponsesOut(
        entryKey=row.entry_key,
        model=row.model,
        inDocument=row.in_document,
        stats=ResponseStatsOut(
            exactHits=stats.exact_hits,
            semanticHits=stats.semantic_hits,
            misses=stats.misses,
            hitRate=stats.hit_rate if row.lookups else None,
            savedUsd=stats.saved_usd,
            stored=stats.stored,
            answers=stats.answers,
        ),
        settings=row.settings.to_dict(),
        responseCache=row.stored,
        problems=list(row.problems),
    )


def _responses_out(store: Store) -> ResponsesOut:
    document = load_document(store)
    rows = entry_responses(document, read_stats(store))
    return ResponsesOut(
        revision=document.revision,
        killSwitchEngaged=read_kill_switch(store).engaged,
        hours=STATS_HOURS,
        entries=[_entry_out(row) for row in rows],
    )


@router.get("", response={200: ResponsesOut, **READ_ERRORS}, summary="The response cache")
def get_responses(request: AuthedRequest) -> ResponsesOut:
    return _responses_out(get_store())


@router.put(
    "/{key}/settings",
    auth=RoleAuth(EDIT),
    response={200: ResponsesOut, 404: Error, 409: Conflict, 422: ValidationErrors, **READ_ERRORS},
    summary="Save an entry's response cache settings",
)
def put_settings(request: AuthedRequest, key: str, payload: ResponseSettingsIn) -> ResponsesOut:
    """Validated by the core (422, nothing written), refused when stale (409), audited
    as ``responses.update``; 404 for a ``key`` that is no entry. The rest of the entry
    and of the document is kept."""
    store = get_store()
    try:
        update_response_cache(
            store,
            key,
            payload.settings,
            expected_revision=payload.revision,
            actor=actor(request),
            reason=payload.reason,
        )
    except ConfigError as exc:
        raise ConfigError([_in_body(problem) for problem in exc.problems]) from None
    return _responses_out(store)


def _in_body(problem: FieldProblem) -> FieldProblem:
    """A problem with the stored object's field named as the body's (``settings.x``)."""
    prefix = f"{RESPONSE_CACHE}."
    if problem.field == RESPONSE_CACHE or problem.field.startswith(prefix):
        field = "settings" + problem.field[len(RESPONSE_CACHE) :]
        return FieldProblem(field, problem.message)
    return problem


@router.post(
    "/invalidate",
    auth=RoleAuth(OPERATE),
    response={200: InvalidatedOut, 404: Error, 422: ValidationErrors, **READ_ERRORS},
    summary="Drop stored answers",
)
def invalidate(request: AuthedRequest, payload: InvalidateIn) -> InvalidatedOut:
    """Drops the answers matching every filter; audited as ``responses.invalidate``
    with the reason and how many went. 404 for an ``entry`` neither the configuration
    nor the cache knows."""
    removed = invalidate_answers(
        get_store(),
        entry=payload.entry,
        model=payload.model,
        pattern=payload.pattern,
        actor=actor(request),
        reason=payload.reason,
    )
    return InvalidatedOut(
        removed=removed,
        entry=payload.entry,
        model=payload.model.strip() or None,
        pattern=payload.pattern.strip() or "*",
    )
