"""plan_breakpoints: where a Messages request gets its ``cache_control`` markers."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from llmopt.caching._blocks import CallerMarker, Path, PayloadEditor, Prefix, walk
from llmopt.caching._manual import ManualRequest, take_manual_breakpoints
from llmopt.caching._memory import PrefixMemory, Write
from llmopt.caching._plan import Breakpoint, CachePlan
from llmopt.caching._tokens import LOCAL, MAPPINGS, SAFETY_MARGIN, SHARED
from llmopt.config import OptimizationConfig
from llmopt.providers import ProviderCapabilities

logger = logging.getLogger("llmopt.caching")

LOOKBACK_BLOCKS = 20
"""How far back (in blocks) the API looks from a breakpoint for an earlier entry."""

_ONE_HOUR = 3600
_FIVE_MINUTES = 300
_READ_SAVES = 0.9
"""What a cache read saves, as a share of the input price."""
_WRITE_COSTS = 0.25
"""What a 5-minute cache write costs above the input price, as a share of it. A new
prefix is written when the chance that it comes again makes this pay; a longer lifetime
is the entry's own choice (made for prefixes read many times), so the same test applies."""
_TTL_NAMES = {_FIVE_MINUTES: "5m", _ONE_HOUR: "1h"}
_TOP_LEVEL: Path = ("cache_control",)


def plan_breakpoints(
    payload: Mapping[str, Any],
    *,
    model: str,
    config: OptimizationConfig,
    memory: PrefixMemory | None = None,
    capabilities: ProviderCapabilities | None = None,
) -> CachePlan:
    """Place prompt-cache breakpoints on an Anthropic Messages request.

    Call it on each request (as ``ChatAnthropic`` builds it) just before sending;
    send ``plan.payload``. ``capabilities`` defaults to Anthropic's for ``model``;
    pass ``memory`` (kept for the life of the process) so ``auto`` mode can tell
    conversations and repeated requests from one-off ones.

    The request it returns is always one the API accepts as far as breakpoints go:
    at most ``max_cache_breakpoints`` markers (the caller's, including a top-level
    ``cache_control``, count; a surplus loses its earliest ones), none on thinking,
    empty text or code-execution blocks, no 1 h marker after a 5 m one (later ones
    are downgraded), and none of the planner's on a prefix shorter than the model's
    minimum. How it chooses follows ``config.cache_breakpoints``:

    ============  ================================================================
    mode          the planner's own markers
    ============  ================================================================
    auto          the end of system (or of tools) when long enough and, for one
                  not seen before, when new ones have lately come again often
                  enough for a write to pay (``memory`` learns it; else on its
                  second sighting); the end of a conversation or of a request seen
                  before, and of one that extends a recent request when such ends
                  have lately been sent again or extended; never a one-off's tail;
                  a block of the turn that a recent request also had (a document),
                  or the block before a new question when such blocks have lately
                  come again; the previous turn's entry again when it is more than
                  20 blocks back; the end of tools when the system prompt varies
    system_only   one, at the end of system (or of tools without a system)
    manual        where the text says ``[CACHE_BREAKPOINT]`` (always removed)
    ============  ================================================================

    Lifetimes: ``cacheTTL`` seconds, and ``cacheSystemTTL`` for the end of tools or
    system. With ``cacheTTL: "auto"`` (``memory`` given, the model offering both) a
    breakpoint is 1h when its prefix came back after more than 5 minutes, 5m otherwise,
    and earlier 5m breakpoints of the planner's become 1h before a 1h one.

    With caching off for ``config``, or no explicit caching for the model, the
    caller's request is returned as it is (``changed`` is ``False``). Never raises
    for a well-formed ``config``; malformed parts of a request are passed through.
    """
    if not config.applies_caching:
        return _untouched(payload, "caching is off for this entry: the request goes out as built")
    if capabilities is None:
        capabilities = ProviderCapabilities.detect("anthropic", model)
    if not capabilities.supports_explicit_caching or capabilities.max_cache_breakpoints < 1:
        why = capabilities.reason or f"{capabilities.provider} takes no cache breakpoints"
        return _untouched(payload, f"no explicit prompt caching for {model!r}: {why}")
    return _Planner(payload, model, config, memory, capabilities).plan()


def _untouched(payload: Mapping[str, Any], decision: str) -> CachePlan:
    logger.debug("%s", decision)
    request = payload if isinstance(payload, dict) else dict(payload)
    return CachePlan(payload=request, breakpoints=(), decisions=(decision,), changed=False)


def _ttl_of(value: Any) -> int:
    if isinstance(value, MAPPINGS) and value.get("ttl") == "1h":
        return _ONE_HOUR
    return _FIVE_MINUTES


def _marker_value(ttl: int) -> dict[str, str]:
    # No ttl means 5 minutes; leaving it out keeps the marker valid on every platform.
    return {"type": "ephemeral", "ttl": "1h"} if ttl == _ONE_HOUR else {"type": "ephemeral"}


@dataclass(slots=True)
class _Mark:
    index: int
    sub: int | None
    ttl: int
    origin: Literal["caller", "planner"]
    reason: str

    @property
    def order(self) -> tuple[int, int, int]:
        return _prefix_order(self.index, self.sub)


def _prefix_order(index: int, sub: int | None) -> tuple[int, int, int]:
    # A tool result's sub-blocks come before the end of the tool result itself.
    return (index, 0, sub) if sub is not None else (index, 1, 0)


@dataclass(slots=True)
class _Offer:
    index: int
    what: str
    reason: str
    ttl: int


class _Planner:
    def __init__(
        self,
        payload: Mapping[str, Any],
        model: str,
        config: OptimizationConfig,
        memory: PrefixMemory | None,
        capabilities: ProviderCapabilities,
    ) -> None:
        self.model = model
        self.config = config
        self.memory = memory
        self.caps = capabilities
        self.decisions: list[str] = []
        minimum = capabilities.min_cacheable_tokens
        self.minimum = minimum
        self.threshold = None if minimum is None else math.ceil(minimum * SAFETY_MARGIN)
        if self.threshold is not None and (config.cache_min_tokens or 0) > self.threshold:
            # The entry's own floor (the guide's min_tokens_to_cache) is above the model's.
            self.threshold = config.cache_min_tokens
        self.offers: list[_Offer] = []
        self.occupied: set[int] = set()
        # The longest prefixes of this request that memory knows as seen, and as cached.
        self.seen_tokens = 0
        self.cached_tokens = 0
        self._static: tuple[int | None, str] | None = None  # see _static_end
        self.editor = PayloadEditor(payload)
        self.manual: list[ManualRequest] = []
        if config.cache_breakpoints == "manual":
            self.manual = take_manual_breakpoints(self.editor, self.note)
        scheme = SHARED if memory is not None and memory.shared else LOCAL
        self.prefix: Prefix = walk(self.editor.current, model, scheme)

    def note(self, decision: str) -> None:
        self.decisions.append(decision)
        logger.debug("%s", decision)

    def plan(self) -> CachePlan:
        mode = self.config.cache_breakpoints
        prefix = self.prefix
        marks = self._keep_caller_markers()
        self._lifetimes()
        unread = (0, 0)
        if self.memory is not None and mode == "auto":
            unread = self.memory.take_unread()
        if self.threshold is None:
            self.note(
                f"the minimum cacheable length for {self.model!r} is unknown: "
                "placing no breakpoints of the planner's own"
            )
        elif mode == "manual":
            self._offer_manual(self.manual)
        elif mode == "system_only":
            self._offer_static()
        else:
            self._offer_auto(top_level=any(m.index >= prefix.count for m in marks))
        marks = self._place(marks)
        self._remember(marks)
        breakpoints = tuple(
            Breakpoint(
                location=prefix.location(mark.index, mark.sub),
                ttl=mark.ttl,
                prefix_tokens=self._tokens_at(mark.index),
                origin=mark.origin,
                reason=mark.reason,
            )
            for mark in marks
        )
        return CachePlan(
            payload=self.editor.result(),
            breakpoints=breakpoints,
            decisions=tuple(self.decisions),
            changed=self.editor.changed,
            content_blocks=prefix.count,
            estimated_tokens=prefix.tokens[-1] if prefix.tokens else 0,
            unread_write_tokens_5m=unread[0],
            unread_write_tokens_1h=unread[1],
            missed_read_tokens=max(0, self.seen_tokens - self.cached_tokens),
        )

    # -- helpers ---------------------------------------------------------------------

    def _tokens_at(self, index: int) -> int:
        tokens = self.prefix.tokens
        if index < len(tokens):
            return tokens[index]
        return tokens[-1] if tokens else 0

    def _path(self, index: int, sub: int | None) -> Path:
        if index >= self.prefix.count:
            return _TOP_LEVEL
        path = self.prefix.path(index)
        return path if sub is None else (*path, "content", sub)

    def _where(self, index: int, sub: int | None = None) -> str:
        return self.prefix.location(index, sub)

    # -- the caller's markers --------------------------------------------------------

    def _keep_caller_markers(self) -> list[_Mark]:
        prefix = self.prefix
        found = list(prefix.caller_markers)
        top_level = self.editor.current.get("cache_control")
        if top_level is not None:
            found.append(CallerMarker(prefix.count, None, top_level))
        kept: list[CallerMarker] = []
        for marker in found:
            if marker.problem is None:
                kept.append(marker)
                continue
            self.editor.remove_marker(self._path(marker.index, marker.sub))
            self.note(
                f"removed the caller's marker at {self._where(marker.index, marker.sub)}: "
                f"{marker.problem}"
            )
        kept.sort(key=lambda marker: _prefix_order(marker.index, marker.sub))
        limit = self.caps.max_cache_breakpoints
        if len(kept) > limit:
            surplus, kept = kept[:-limit], kept[-limit:]
            for marker in surplus:
                self.editor.remove_marker(self._path(marker.index, marker.sub))
                self.note(
                    f"removed the caller's marker at {self._where(marker.index, marker.sub)}: "
                    f"{len(surplus) + limit} caller markers exceed the limit of {limit}; "
                    "the latest ones, which cover the most, stay"
                )
        marks: list[_Mark] = []
        after_five_minutes = False
        for marker in kept:
            ttl = _ttl_of(marker.value)
            where = self._where(marker.index, marker.sub)
            reason = "placed by the caller"
            if ttl == _ONE_HOUR and after_five_minutes:
                ttl = _FIVE_MINUTES
                value = {**marker.value, "ttl": "5m"}
                self.editor.set_marker(self._path(marker.index, marker.sub), value)
                reason += "; downgraded from 1h to 5m as it follows a 5m breakpoint"
                self.note(
                    f"downgraded the caller's 1h marker at {where} to 5m: "
                    "a 1h breakpoint may not follow a 5m one"
                )
            else:
                self.note(f"kept the caller's {_TTL_NAMES[ttl]} marker at {where}")
            after_five_minutes = after_five_minutes or ttl == _FIVE_MINUTES
            marks.append(_Mark(marker.index, marker.sub, ttl, "caller", reason))
            if marker.index < prefix.count:
                self.occupied.add(marker.index)
        return marks

    def _lifetimes(self) -> None:
        """The plan's lifetimes, worked out once (each may note that the provider lacks
        the one asked for): ``own_ttl`` for the planner's breakpoints, ``static_ttl`` for
        the end of tools or system, ``auto_ttl`` for ``cacheTTL: "auto"`` where the
        provider offers both, and ``seen_ttl``, how long memory keeps a sighting (an hour
        under ``auto``, to see longer gaps)."""
        ttl, system_ttl = self.config.cache_ttl, self.config.cache_system_ttl
        self.own_ttl = _FIVE_MINUTES if ttl == "auto" else self._usable_ttl(ttl)
        self.auto_ttl = ttl == "auto" and _ONE_HOUR in self.caps.cache_ttls
        self.seen_ttl = float(_ONE_HOUR if self.auto_ttl else self.own_ttl)
        self.static_ttl = (
            self.own_ttl if system_ttl is None else max(self.own_ttl, self._usable_ttl(system_ttl))
        )

    def _usable_ttl(self, ttl: int) -> int:
        offered = self.caps.cache_ttls or (_FIVE_MINUTES,)
        if ttl not in offered:
            fallback = min(offered)
            self.note(
                f"{self.caps.provider} offers no {ttl}s cache lifetime for {self.model!r}: "
                f"using {fallback}s"
            )
            return fallback
        return ttl

    # -- the planner's own markers ---------------------------------------------------

    def _offer(
        self,
        index: int,
        what: str,
        reason: str,
        *,
        static: bool = False,
        idle: float | None = None,
    ) -> None:
        """Offer a breakpoint; ``static`` ones (the end of tools or system) get the entry's
        ``cacheSystemTTL``. ``idle``: seconds since a request last carried the prefix
        (asked of memory when not given), for ``cacheTTL: "auto"``."""
        where = self._where(index)
        if index in self.occupied:
            self.note(f"{what} ({where}) already carries a breakpoint")
            return
        tokens = self.prefix.tokens[index]
        assert self.threshold is not None
        if tokens < self.threshold:
            why = (
                f"this entry's cacheMinTokens of {self.threshold:,}"
                if self.threshold == self.config.cache_min_tokens
                else f"the {self.minimum:,}-token minimum for {self.model!r} (with a 5% margin)"
            )
            self.note(
                f"left {what} ({where}) unmarked: its prefix of ~{tokens:,} tokens is below {why}"
            )
            return
        self.occupied.add(index)
        ttl = self.static_ttl if static else self.own_ttl
        fixed = static and self.config.cache_system_ttl is not None
        if self.auto_ttl and not fixed and self.memory is not None:
            if idle is None:
                idle = self.memory.idle_for(self.prefix.fingerprints[index])
            if idle is not None and idle > _FIVE_MINUTES:
                # It came back after a gap a 5m entry does not outlive. By the rule of
                # succession it comes back again with a chance of 2/3 or more, and each
                # return then reads (0.1) instead of writing anew (1.25): 2/3 x 1.15 > the
                # 0.75 more that a 1h write costs than a 5m one.
                ttl = _ONE_HOUR
                reason += f"; 1h: it came back after {idle / 60:.0f} minutes, longer than 5m"
        self.offers.append(_Offer(index, what, reason, ttl))

    def _static_end(self) -> tuple[int | None, str]:
        found = self._static
        if found is None:
            prefix = self.prefix
            end = prefix.last_cacheable(prefix.tool_count, prefix.messages_start)
            if end is not None:
                found = end, "the end of system"
            else:
                found = prefix.last_cacheable(0, prefix.tool_count), "the end of tools"
            self._static = found
        return found

    def _offer_static(self, *, learned: bool = False) -> None:
        """Offer the end of system (or tools); with ``learned``, as memory's statistics say."""
        end, what = self._static_end()
        if end is None:
            self.note("neither tools nor system hold a block that can carry a breakpoint")
            return
        reason = "tools and system are shared by every request of this entry"
        memory, sighting = self.memory, None
        if learned and memory is not None:
            ttl = max(float(self.static_ttl), self.seen_ttl)
            sighting = memory.sighting(self.prefix.fingerprints[end], ttl=ttl)
            seen, odds = sighting.seen, sighting.odds
            if sighting.cached:
                self.cached_tokens = max(self.cached_tokens, self.prefix.tokens[end])
            if seen:
                self.seen_tokens = max(self.seen_tokens, self.prefix.tokens[end])
                reason = f"{what} came recently: the write is read, or this reads it"
            elif odds * _READ_SAVES <= _WRITE_COSTS:
                self.note(
                    f"left {what} ({self._where(end)}) unmarked until it comes again: it is "
                    f"new, and lately {odds:.0%} of new ones came again, too few for a "
                    "write to pay"
                )
                return
            else:
                reason = f"{what} is new, and lately {odds:.0%} of new ones came again"
        self._offer(end, what, reason, static=True, idle=sighting and sighting.idle)

    def _offer_manual(self, requests: list[ManualRequest]) -> None:
        prefix = self.prefix
        targets: set[int] = set()
        for request in requests:
            if request.container == ("system",):
                start = prefix.tool_count
            else:
                start = prefix.message_starts[int(request.container[1])]
            target = start + request.emitted - 1
            holder = prefix.last_cacheable(0, target + 1) if target >= 0 else None
            if holder is None:
                self.note("manual: a [CACHE_BREAKPOINT] has no block before it to mark")
                continue
            if holder != target:
                self.note(
                    f"manual: the block before a [CACHE_BREAKPOINT] cannot carry a breakpoint; "
                    f"using {self._where(holder)}"
                )
            targets.add(holder)
        # The latest come first: with too few slots, they cover the most.
        for target in sorted(targets, reverse=True):
            self._offer(target, "the [CACHE_BREAKPOINT]", "the text asks for a breakpoint here")

    def _offer_auto(self, *, top_level: bool) -> None:
        prefix = self.prefix
        count, start, roles = prefix.count, prefix.messages_start, prefix.roles
        stop = count
        if len(roles) > 1 and roles[-1] == "assistant":
            # A prefilled answer changes once completed: cache up to the question.
            stop = prefix.message_starts[-1]
        tail = prefix.last_cacheable(start, stop)
        has_assistant = "assistant" in roles[:-1]
        cached_at = seen_at = None
        if self.memory is not None and count > start:
            cached_at, seen_at = self.memory.latest(prefix.fingerprints, start, count)
            if cached_at is not None:
                self.cached_tokens = prefix.tokens[cached_at]
            if seen_at is not None:
                self.seen_tokens = prefix.tokens[seen_at]
        conversation = has_assistant or seen_at is not None

        if tail is None:
            self.note("no message block can carry a breakpoint")
        elif top_level:
            self.note("the caller's top-level cache_control already caches the request's end")
        elif seen_at == count - 1:
            if self.memory is not None:  # it came again: what extended tails are learned from
                self.memory.sighting(prefix.fingerprints[tail], ttl=self.seen_ttl, kind="tail")
            self._offer(tail, "the end of the request", "the same request recurred recently")
        elif has_assistant:
            self._offer(tail, "the end of the conversation", "the next turn reads up to here")
        elif seen_at is not None:
            known = self.memory
            assert known is not None  # what saw it
            fingerprints = prefix.fingerprints
            inner = prefix.last_cacheable(prefix.message_starts[-1], seen_at + 1)
            # It came again: what new prefixes of its kind are learned from.
            again = known.sighting(fingerprints[seen_at], ttl=self.seen_ttl, kind="inner")
            idle = again.idle
            if inner is not None and inner != seen_at:
                idle = known.idle_for(fingerprints[inner])
            odds = known.sighting(fingerprints[tail], ttl=self.seen_ttl, kind="tail").odds
            if odds * _READ_SAVES > _WRITE_COSTS:
                self._offer(
                    tail,
                    "the end of the request",
                    f"it extends a recent request, and lately {odds:.0%} of such ends were "
                    "sent again or extended",
                )
            else:
                self.note(
                    f"left the tail ({self._where(tail)}) unmarked: it extends a recent "
                    f"request, but lately only {odds:.0%} of such ends were sent again or "
                    "extended, too few for a write to pay"
                )
            if inner is not None and inner < tail:
                self._offer(
                    inner,
                    "a block a recent request also had",
                    "the request's own turn repeats a recent one up to here (a document, "
                    "examples): the next may too",
                    idle=idle,
                )
        else:
            self.note(
                f"left the tail ({self._where(tail)}) unmarked: a one-off request, "
                "whose write would never be read"
            )
            self._offer_new_inner_block(tail)

        if tail is not None and conversation:
            if cached_at is not None and cached_at <= tail:
                previous: int | None = cached_at
            elif seen_at is not None:
                previous = None  # memory knows this conversation: nothing of it is cached
            else:
                previous = self._previous_turn_estimate()
            if previous is not None and tail - previous > LOOKBACK_BLOCKS:
                self._offer(
                    previous,
                    "the previous turn's breakpoint",
                    f"the previous entry is {tail - previous} blocks back, beyond the "
                    f"{LOOKBACK_BLOCKS}-block lookback: marking it again reads it",
                )

        memory = self.memory
        if memory is None or not prefix.tool_count or not prefix.has_system:
            self._offer_static(learned=True)
            return
        # Asked before the sighting in _offer_static records this request's system prompt.
        system_recalled = memory.recall(prefix.static_fingerprint)
        self._offer_static(learned=True)
        tools_end = prefix.last_cacheable(0, prefix.tool_count)
        if (
            tools_end is not None
            and self._static_end()[0] != tools_end
            and memory.recall(prefix.tools_fingerprint)
            and not system_recalled
        ):
            self._offer(
                tools_end,
                "the end of tools",
                "the same tools came recently with another system prompt",
                static=True,
            )

    def _offer_new_inner_block(self, tail: int) -> None:
        """The block before a one-off turn's last one (a document before the question) is
        written at its first sighting when such blocks have lately come again often."""
        prefix, memory = self.prefix, self.memory
        if memory is None or not prefix.message_starts:
            return
        inner = prefix.last_cacheable(prefix.message_starts[-1], tail)
        if inner is None:
            return
        sighting = memory.sighting(prefix.fingerprints[inner], ttl=self.seen_ttl, kind="inner")
        seen, odds = sighting.seen, sighting.odds
        if not seen and odds * _READ_SAVES > _WRITE_COSTS:
            self._offer(
                inner,
                "the block before the question",
                f"lately {odds:.0%} of the blocks before a new question came again",
            )

    def _previous_turn_estimate(self) -> int | None:
        """Where the previous turn's tail breakpoint probably is: before the last answer."""
        prefix = self.prefix
        roles = prefix.roles
        for message in range(len(roles) - 2, -1, -1):
            if roles[message] == "assistant":
                break
        else:
            return None
        previous = prefix.last_cacheable(prefix.messages_start, prefix.message_starts[message])
        if previous is None or self.threshold is None:
            return None
        return previous if prefix.tokens[previous] >= self.threshold else None

    # -- placing them ----------------------------------------------------------------

    def _place(self, marks: list[_Mark]) -> list[_Mark]:
        slots = self.caps.max_cache_breakpoints - len(marks)
        for offer in self.offers[max(slots, 0) :]:
            self.note(
                f"left {offer.what} ({self._where(offer.index)}) unmarked: "
                f"no breakpoint slot left (at most {self.caps.max_cache_breakpoints})"
            )
        ours = [
            _Mark(offer.index, None, offer.ttl, "planner", offer.reason)
            for offer in self.offers[: max(slots, 0)]
        ]
        if not ours:
            return marks
        ordered = sorted(marks + ours, key=lambda mark: mark.order)
        # Who holds the nearest 1h breakpoint after each mark, if any does.
        hour_after: list[str | None] = []
        hour_holder: str | None = None
        for mark in reversed(ordered):
            hour_after.append(hour_holder)
            if mark.ttl == _ONE_HOUR and hour_holder != "caller":
                hour_holder = mark.origin
        hour_after.reverse()

        placed: list[_Mark] = []
        after_five_minutes = False
        for mark, holder in zip(ordered, hour_after, strict=True):
            if mark.origin == "planner":
                where = self._where(mark.index)
                if holder is not None and mark.ttl != _ONE_HOUR:
                    if _ONE_HOUR not in self.caps.cache_ttls:
                        self.note(
                            f"left {where} unmarked: a 5m breakpoint may not precede the "
                            "caller's 1h one"
                        )
                        continue
                    mark.ttl = _ONE_HOUR
                    mark.reason += (
                        "; 1h like the caller's later 1h breakpoint, which bills this span "
                        "at the 1h rate anyway"
                        if holder == "caller"
                        else "; 1h as a later breakpoint is (a 1h one may not follow a 5m one)"
                    )
                elif after_five_minutes and mark.ttl == _ONE_HOUR:
                    mark.ttl = _FIVE_MINUTES
                    mark.reason += "; 5m as it follows a 5m breakpoint"
                self.editor.set_marker(self._path(mark.index, None), _marker_value(mark.ttl))
                self.note(
                    f"placed a {_TTL_NAMES[mark.ttl]} breakpoint at {where} "
                    f"(~{self.prefix.tokens[mark.index]:,} tokens): {mark.reason}"
                )
            after_five_minutes = after_five_minutes or mark.ttl == _FIVE_MINUTES
            placed.append(mark)
        return placed

    def _remember(self, marks: list[_Mark]) -> None:
        memory, prefix = self.memory, self.prefix
        if memory is None or not prefix.count:
            return
        fingerprints, tokens = prefix.fingerprints, prefix.tokens
        cached: list[Write] = []
        covered = self.cached_tokens  # what the request reads rather than writes
        for mark in marks:  # in prefix order
            index = mark.index
            if index >= prefix.count:  # automatic caching writes at the last cacheable block
                last = prefix.last_cacheable(0, prefix.count)
                if last is None:
                    continue
                index = last
            written = max(0, tokens[index] - covered)
            covered = max(covered, tokens[index])
            cached.append((fingerprints[index], float(mark.ttl), written))
        # Every block boundary of the last turn: a later request that shares only its
        # start (the same document, a different question) finds where they part.
        seen = fingerprints[prefix.message_starts[-1] :] if prefix.message_starts else []
        seen = seen or [fingerprints[-1]]
        if prefix.tool_count:
            seen.append(prefix.tools_fingerprint)
        if prefix.has_system:
            seen.append(prefix.static_fingerprint)
        memory.record(cached=cached, seen=seen, seen_ttl=self.seen_ttl)
