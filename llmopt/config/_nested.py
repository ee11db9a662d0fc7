"""The migration guide's nested ``optimization`` block: read into the flat flags, edited in place.

The design documents' migration guide keeps an entry's optimization in a block of its
own, beside ``configuration`` (its Step 1) or inside it, and hands that block straight
to ``OptimizationConfig.from_dict``::

    {"provider": "anthropic", "configuration": {"apiKey": "...", "model": "..."},
     "optimization": {"cache": {"enabled": true, "default_ttl_seconds": 300,
                                "min_tokens_to_cache": 1024, "auto_detect_cacheable": true},
                      "fallback": {"enabled": true, "log_failures": true},
                      "provider": "anthropic"}}

Every key of the block maps onto one flat flag (:data:`KEYS`). An entry may keep its
flags in three places: flat in ``configuration``, in a block inside it, in a block
beside it. :func:`read_places` merges them. A flag that two places give different
values is a problem, and so is a key no mapping knows: the entry then gets no
optimization until it is fixed (the safe state), and the problem says why. A block
that turns caching or batching on without saying ``enabled`` turns the master switch
on, as the guide's Step 3 expects. :func:`write_flags` sets flags where the entry
keeps them, so an edit in the console never makes two places disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmopt.errors import FieldProblem

from ._messages import describe_value

BLOCK = "optimization"
"""The nested block's key, in an entry or in its ``configuration``."""

NOT_MANUAL = "auto, not manual"
"""What ``cache.auto_detect_cacheable: true`` says of ``cacheBreakpoints``: any automatic mode."""


def _ttl_in(value: Any) -> Any:
    return {"5m": 300, "1h": 3600}.get(value, value) if isinstance(value, str) else value


def _ttl_out(old: Any, value: Any) -> Any:
    if isinstance(old, str):
        return {300: "5m", 3600: "1h"}.get(value, value)
    return value


def _same(_old: Any, value: Any) -> Any:
    return value


def _auto_detect_in(value: Any) -> Any:
    if value is True:
        return NOT_MANUAL
    if value is False:
        return "manual"
    return value


def _auto_detect_out(_old: Any, value: Any) -> Any:
    return value != "manual"


@dataclass(frozen=True, slots=True)
class NestedKey:
    """One key of the block: its path, the flag it sets, and how values convert."""

    path: tuple[str, ...]
    flag: str
    to_flag: Callable[[Any], Any] = lambda value: value
    from_flag: Callable[[Any, Any], Any] = _same
    canonical: bool = False
    """The key an edit adds when the block lacks the flag."""

    @property
    def name(self) -> str:
        return ".".join(self.path)


KEYS: tuple[NestedKey, ...] = (
    NestedKey(("enabled",), "optimizationEnabled", canonical=True),
    NestedKey(("strategy",), "optimizationStrategy", canonical=True),
    NestedKey(("cache", "enabled"), "cachingEnabled", canonical=True),
    NestedKey(("cache", "default_ttl_seconds"), "cacheTTL", canonical=True),
    NestedKey(("cache", "ttl"), "cacheTTL", _ttl_in, _ttl_out),
    NestedKey(("cache", "domain_definitions_ttl_seconds"), "cacheSystemTTL", canonical=True),
    NestedKey(("cache", "breakpoints"), "cacheBreakpoints", canonical=True),
    NestedKey(
        ("cache", "auto_detect_cacheable"), "cacheBreakpoints", _auto_detect_in, _auto_detect_out
    ),
    NestedKey(("cache", "min_tokens_to_cache"), "cacheMinTokens", canonical=True),
    NestedKey(("batch", "enabled"), "batchingEnabled", canonical=True),
    NestedKey(("batch", "maxSize"), "batchMaxSize", canonical=True),
    NestedKey(("batch", "timeout"), "batchTimeout", canonical=True),
    NestedKey(("fallback", "enabled"), "fallbackToStandard", canonical=True),
    NestedKey(("fallback", "toStandard"), "fallbackToStandard"),
    NestedKey(("fallback", "log_failures"), "logFallbacks", canonical=True),
)
SECTIONS = ("cache", "batch", "fallback")
_BY_PATH = {key.path: key for key in KEYS}
_CANONICAL = {key.flag: key for key in KEYS if key.canonical}


def keys_of(section: str) -> tuple[NestedKey, ...]:
    """The keys of one section (``cache``, ``batch``, ``fallback``) of the block."""
    return tuple(key for key in KEYS if key.path[0] == section and len(key.path) == 2)


_TOP_LEVEL = frozenset({"enabled", "strategy", "provider", *SECTIONS})


def looks_like_block(value: Mapping[Any, Any], flat_flags: frozenset[str]) -> bool:
    """Whether ``value`` is the block itself (what the guide passes to ``from_dict``):
    no flat flag, no model, and a section or nothing but the block's own keys."""
    if any(name in value for name in flat_flags) or BLOCK in value or "model" in value:
        return False
    if any(isinstance(value.get(section), Mapping) for section in SECTIONS):
        return True
    return bool(value) and set(value) <= _TOP_LEVEL


@dataclass(slots=True)
class Reading:
    """The flags an entry's places give, merged, and everything found wrong on the way."""

    flags: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    """For each flag, the place it was read from, as a person would write it."""
    problems: list[FieldProblem] = field(default_factory=list)
    provider: str | None = None
    """The block's own ``provider``, when it names one."""


@dataclass(frozen=True, slots=True)
class Place:
    """Somewhere an entry keeps flags: flat (``block`` False) or a nested block."""

    label: str
    """How messages name it: ``configuration``, ``optimization``, ``configuration.optimization``."""
    values: Mapping[Any, Any]
    block: bool


def read_places(
    places: list[Place], *, provider: str | None, flat_flags: frozenset[str]
) -> Reading:
    """Merge the flags of every place; see the module docstring."""
    reading = Reading()
    given: dict[str, list[tuple[str, Any]]] = {}
    for place in places:
        if place.block:
            found = _read_block(place, reading, provider=provider)
        else:
            found = [
                (name, f"{place.label}.{name}", place.values[name])
                for name in flat_flags
                if name in place.values
            ]
        for flag, where, value in found:
            given.setdefault(flag, []).append((where, value))

    for flag, values in given.items():
        value = _agree(flag, values, reading)
        if value is not _DISAGREE:
            reading.flags[flag] = value
            reading.origins[flag] = values[0][0]
    return reading


_DISAGREE = object()


def _agree(flag: str, values: list[tuple[str, Any]], reading: Reading) -> Any:
    concrete = [(where, value) for where, value in values if value != NOT_MANUAL]
    distinct = {_comparable(value) for _, value in concrete}
    conflict = len(distinct) > 1
    if not conflict and concrete and len(concrete) < len(values):
        conflict = concrete[0][1] == "manual"  # auto_detect_cacheable: true, breakpoints manual
    if conflict:
        said = " but ".join(
            f"{where} is {describe_value(_shown(value))}" for where, value in values
        )
        reading.problems.append(
            FieldProblem(
                flag,
                f"{flag} is given twice and the values disagree: {said}; this entry gets no "
                "optimization until they agree (saving it in the console writes both)",
            )
        )
        return _DISAGREE
    if concrete:
        return concrete[0][1]
    return "auto"  # only auto_detect_cacheable: true, which means the automatic mode


def _comparable(value: Any) -> Any:
    # True == 1 in Python; a flag given as true in one place and 1 in another disagrees.
    return (type(value).__name__, repr(value)) if isinstance(value, bool | int) else repr(value)


def _shown(value: Any) -> Any:
    return True if value == NOT_MANUAL else value


def _read_block(
    place: Place, reading: Reading, *, provider: str | None
) -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    block = place.values
    prefix = place.label
    for name, value in block.items():
        where = f"{prefix}.{name}"
        if name == "provider":
            if not isinstance(value, str) or not value:
                reading.problems.append(
                    FieldProblem(where, f"{where} must name the entry's provider")
                )
            elif provider is not None and value.casefold() != provider.casefold():
                reading.problems.append(
                    FieldProblem(
                        where,
                        f"{where} is {value!r} but this entry's provider is {provider!r}; "
                        "remove it or make them agree",
                    )
                )
            else:
                reading.provider = value
        elif name in SECTIONS:
            if not isinstance(value, Mapping):
                reading.problems.append(FieldProblem(where, f"{where} must be an object"))
                continue
            for inner, inner_value in value.items():
                _read_key(prefix, (name, str(inner)), inner_value, found, reading)
        else:
            _read_key(prefix, (str(name),), value, found, reading)

    enabler = None if "enabled" in block else _enabling_section(block)
    if enabler is not None:
        where = f"{prefix}.{enabler}.enabled (which turns optimization on)"
        found.append(("optimizationEnabled", where, True))
    return found


def _enabling_section(block: Mapping[Any, Any]) -> str | None:
    """The first section of ``block`` that switches its optimization on, if any."""
    for section in ("cache", "batch"):
        inner = block.get(section)
        if isinstance(inner, Mapping) and inner.get("enabled") is True:
            return section
    return None


def _read_key(
    prefix: str,
    path: tuple[str, ...],
    value: Any,
    found: list[tuple[str, str, Any]],
    reading: Reading,
) -> None:
    where = f"{prefix}.{'.'.join(path)}"
    key = _BY_PATH.get(path)
    if key is None:
        known = ", ".join(k.name for k in KEYS if k.path[0] == path[0] and len(k.path) == 2)
        if not known:
            known = "enabled, strategy, provider, " + ", ".join(f"{s}.…" for s in SECTIONS)
        reading.problems.append(
            FieldProblem(
                where,
                f"{where} is not a setting llmopt knows (known here: {known}); this entry "
                "gets no optimization until it is removed or corrected",
            )
        )
        return
    if key.to_flag is _auto_detect_in and not isinstance(value, bool):
        reading.problems.append(
            FieldProblem(key.flag, f"{where} must be true or false (got {describe_value(value)})")
        )
        return
    found.append((key.flag, where, key.to_flag(value)))


def flag_origin_sentence(rule: str, flag: str, origin: str | None) -> str:
    """A flag's rule (``"cacheTTL must be ..."``) said of the key the value came from."""
    if origin is None or origin.endswith(f".{flag}") or not rule.startswith(flag):
        return rule
    return f"{origin} ({flag}){rule[len(flag) :]}"


# -- writing -----------------------------------------------------------------------------


def write_flags(
    places: dict[str, dict[str, Any]],
    changes: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    flat_flags: frozenset[str],
) -> None:
    """Set ``changes`` (flat names) in ``places`` (label -> mutable copy), in place.

    A flag is written everywhere the entry gives it; a flag given nowhere is written
    only when it differs from ``current`` (the effective flags), flat when the entry
    keeps any flag flat or has no block, else in its block under the guide's key.
    """
    flat = places.get("configuration")
    blocks = [label for label in places if label != "configuration"]
    keeps_flat = flat is not None and any(name in flat for name in flat_flags)
    primary = "configuration" if keeps_flat or not blocks else blocks[0]
    for flag, value in changes.items():
        written = False
        for label, values in places.items():
            if label == "configuration":
                if flag in values:
                    values[flag] = value
                    written = True
                continue
            written = _write_block(values, flag, value) or written
        if flag == "optimizationEnabled" and value is False:
            for label in blocks:
                block = places[label]
                if "enabled" not in block and _enabling_section(block) is not None:
                    block["enabled"] = False  # else its enabled section would turn it on
                    written = True
        if written or current.get(flag, _MISSING) == value:
            continue
        if primary == "configuration":
            places["configuration"][flag] = value
        else:
            _write_canonical(places[primary], flag, value)


_MISSING = object()


def _write_block(block: dict[str, Any], flag: str, value: Any) -> bool:
    written = False
    for key in KEYS:
        if key.flag != flag:
            continue
        container = block
        for part in key.path[:-1]:
            inner = container.get(part)
            if not isinstance(inner, dict):
                container = {}
                break
            container = inner
        last = key.path[-1]
        if last in container:
            container[last] = key.from_flag(container[last], value)
            written = True
    if written and flag == "cacheBreakpoints" and value not in ("auto", "manual"):
        cache = block.get("cache")
        if isinstance(cache, dict) and "breakpoints" not in cache:
            cache["breakpoints"] = value  # auto_detect_cacheable: true alone means "auto"
    return written


def _write_canonical(block: dict[str, Any], flag: str, value: Any) -> None:
    key = _CANONICAL[flag]
    container = block
    for part in key.path[:-1]:
        inner = container.get(part)
        if not isinstance(inner, dict):
            inner = container[part] = {}
        container = inner
    container[key.path[-1]] = value


def copy_block(value: Mapping[Any, Any]) -> dict[str, Any]:
    """A copy of a block deep enough to edit its sections."""
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
