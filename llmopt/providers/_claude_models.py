"""Claude model families: which family a model id names, and its minimum cacheable prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass

NEWER_FAMILY_MIN_CACHEABLE_TOKENS = 512


@dataclass(frozen=True, slots=True)
class ClaudeFamily:
    tier: str
    major: int
    minor: int
    min_cacheable_tokens: int

    @property
    def name(self) -> str:
        """The family as people write it: ``Sonnet 4.5``, ``Opus 4``, ``Haiku 3``."""
        version = f"{self.major}.{self.minor}" if self.minor else str(self.major)
        return f"{self.tier.capitalize()} {version}"


CLAUDE_FAMILIES: tuple[ClaudeFamily, ...] = (
    ClaudeFamily("sonnet", 5, 0, 1_024),
    # Some report 2,048 for Sonnet 4.6; PROVIDER_FACTS settles on 1,024.
    ClaudeFamily("sonnet", 4, 6, 1_024),
    ClaudeFamily("sonnet", 4, 5, 1_024),
    ClaudeFamily("sonnet", 4, 0, 1_024),
    ClaudeFamily("opus", 5, 0, 512),
    ClaudeFamily("opus", 4, 8, 1_024),
    ClaudeFamily("opus", 4, 7, 2_048),
    ClaudeFamily("opus", 4, 6, 4_096),
    ClaudeFamily("opus", 4, 5, 4_096),
    ClaudeFamily("opus", 4, 1, 1_024),
    ClaudeFamily("opus", 4, 0, 1_024),
    ClaudeFamily("haiku", 4, 5, 4_096),
    ClaudeFamily("haiku", 3, 5, 2_048),
    # Unconfirmed: PROVIDER_FACTS gives no minimum for Haiku 3.
    ClaudeFamily("haiku", 3, 0, 2_048),
)

_BY_VERSION = {(f.tier, f.major, f.minor): f for f in CLAUDE_FAMILIES}
_NEWEST_MAJOR = {
    tier: max(f.major for f in CLAUDE_FAMILIES if f.tier == tier)
    for tier in {f.tier for f in CLAUDE_FAMILIES}
}

# Bounded digit runs keep int() away from Python's limit on huge digit strings.
_CURRENT_STYLE = re.compile(
    r"claude-(?P<tier>opus|sonnet|haiku)-(?P<major>\d{1,3})(?:-(?P<minor>\d{1,2}))?"
    r"(?:-(?:\d{8}|latest))?"
)
_LEGACY_STYLE = re.compile(
    r"claude-(?P<major>\d{1,3})(?:-(?P<minor>\d{1,2}))?-(?P<tier>opus|sonnet|haiku)"
    r"(?:-(?:\d{8}|latest))?"
)
_BEDROCK_PREFIX = re.compile(r"^(?:[a-z-]+\.)?anthropic\.")
_BEDROCK_SUFFIX = re.compile(r"-v\d+(?::[0-9a-z]+)*$")


def bare_model_id(model: str) -> str:
    """The model id without Bedrock, Vertex or ARN decorations, lower-cased."""
    text = model.strip().lower().rsplit("/", 1)[-1].split("@", 1)[0]
    return _BEDROCK_SUFFIX.sub("", _BEDROCK_PREFIX.sub("", text))


def find_claude_family(model: str) -> ClaudeFamily | None:
    """The family a Claude model id names, or None when llmopt does not know it.

    Accepts Anthropic ids and aliases, Bedrock ids (``us.anthropic.claude-...-v1:0``,
    ARNs) and Vertex ids (``claude-sonnet-4-5@20250929``). A major version above
    every known one of its tier is a newer family, with the newer families' minimum.
    """
    bare = bare_model_id(model)
    match = _CURRENT_STYLE.fullmatch(bare) or _LEGACY_STYLE.fullmatch(bare)
    if match is None:
        return None
    tier, major, minor = match["tier"], int(match["major"]), int(match["minor"] or 0)
    if (tier, major, minor) in _BY_VERSION:
        return _BY_VERSION[tier, major, minor]
    if major > _NEWEST_MAJOR[tier]:
        return ClaudeFamily(tier, major, minor, NEWER_FAMILY_MIN_CACHEABLE_TOKENS)
    return None
