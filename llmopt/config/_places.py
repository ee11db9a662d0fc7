"""Where an entry keeps its optimization flags, for each shape ``from_dict`` is given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt.errors import FieldProblem

from ._nested import BLOCK, Place, looks_like_block

CONFIGURATION = "configuration"


def places_of(
    given: Mapping[Any, Any], *, flat_flags: frozenset[str]
) -> tuple[list[Place], dict[Any, Any], list[FieldProblem], Mapping[Any, Any]]:
    """The places ``given`` keeps flags in, its other configuration fields, the problems
    with its shape, and the entry around it (empty unless ``given`` is a whole entry).

    ``given`` is a whole ``llm`` entry when it has a ``configuration``; the nested block
    itself when it looks like one (sections, no flat flag, no model); otherwise an
    entry's ``configuration``.
    """
    problems: list[FieldProblem] = []
    if CONFIGURATION in given:
        entry = given
        configuration = given[CONFIGURATION]
        if not isinstance(configuration, Mapping):
            problems.append(FieldProblem(CONFIGURATION, "configuration must be an object"))
            configuration = {}
        places, others = _configuration_places(configuration, flat_flags, problems)
        if BLOCK in entry:
            places.append(_block(BLOCK, entry[BLOCK], problems))
        return [p for p in places if p is not None], others, problems, entry
    if looks_like_block(given, flat_flags):
        return [Place(BLOCK, given, block=True)], {}, problems, {}
    places, others = _configuration_places(given, flat_flags, problems)
    return [p for p in places if p is not None], others, problems, {}


def _configuration_places(
    configuration: Mapping[Any, Any], flat_flags: frozenset[str], problems: list[FieldProblem]
) -> tuple[list[Place | None], dict[Any, Any]]:
    places: list[Place | None] = [Place(CONFIGURATION, configuration, block=False)]
    if BLOCK in configuration:
        places.append(_block(f"{CONFIGURATION}.{BLOCK}", configuration[BLOCK], problems))
    others = {k: v for k, v in configuration.items() if k not in flat_flags and k != BLOCK}
    return places, others


def _block(label: str, value: Any, problems: list[FieldProblem]) -> Place | None:
    if isinstance(value, Mapping):
        return Place(label, value, block=True)
    problems.append(
        FieldProblem(label, f"{label} must be an object holding the nested optimization settings")
    )
    return None
