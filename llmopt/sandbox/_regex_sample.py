r"""A string that matches a regular expression, for JSON schema ``pattern``.

Handles the common subset: literals and escapes (``\d``, ``\w``, ``\s``, ``\.``...),
``.``, character classes with ranges and negation, groups (capturing, ``(?:...)``,
named), alternation, the quantifiers ``? * + {n} {n,} {n,m}`` (lazy too) and anchors.
Anything else (lookarounds, back-references) gives ``None``, as does a sample that
``re`` does not accept after all.
"""

from __future__ import annotations

import random
import re
import string

_CLASS_ESCAPES = {
    "d": string.digits,
    "w": string.ascii_letters + string.digits + "_",
    "s": " ",
    "D": string.ascii_letters,
    "W": "-",
    "S": string.ascii_letters,
}
_ZERO_WIDTH = set("bBAZz")
_NEGATED_CANDIDATES = string.ascii_letters + string.digits + "_- .,:;/"


class _Unsupported(Exception):
    pass


def sample_matching(pattern: str, rng: random.Random) -> str | None:
    """A string ``re.search(pattern, s)`` accepts, or None when none could be made."""
    try:
        compiled = re.compile(pattern)
        text = _Sampler(pattern, rng).sample()
    except (re.error, _Unsupported, IndexError):
        return None
    return text if compiled.search(text) else None


class _Sampler:
    def __init__(self, pattern: str, rng: random.Random) -> None:
        self.pattern = pattern
        self.at = 0
        self.rng = rng

    def sample(self) -> str:
        text = self.alternation()
        if self.at != len(self.pattern):
            raise _Unsupported
        return text

    def peek(self) -> str:
        return self.pattern[self.at] if self.at < len(self.pattern) else ""

    def take(self) -> str:
        char = self.pattern[self.at]
        self.at += 1
        return char

    def alternation(self) -> str:
        options = [self.sequence()]
        while self.peek() == "|":
            self.take()
            options.append(self.sequence())
        return self.rng.choice(options)

    def sequence(self) -> str:
        parts: list[str] = []
        while self.peek() not in ("", "|", ")"):
            start = self.at
            atom = self.atom()
            low = self.quantifier()
            # Re-sample the atom for each repetition so classes vary.
            pieces = [atom]
            for _ in range(low - 1):
                end = self.at
                self.at = start
                pieces.append(self.atom())
                self.at = end
            parts.append("".join(pieces[:low]) if low else "")
        return "".join(parts)

    def quantifier(self) -> int:
        char = self.peek()
        if char in ("?", "*"):
            self.take()
            count = 0
        elif char == "+":
            self.take()
            count = 1
        elif char == "{" and re.match(r"\{\d+(,\d*)?\}", self.pattern[self.at :]):
            match = re.match(r"\{(\d+)(,\d*)?\}", self.pattern[self.at :])
            assert match is not None
            self.at += match.end()
            count = int(match[1])
        else:
            return 1
        if self.peek() in ("?", "+"):
            self.take()
        return count

    def atom(self) -> str:
        char = self.take()
        if char == "(":
            if self.peek() == "?":
                self.take()
                marker = self.take()
                if (
                    marker == "P"
                    and self.peek() == "<"
                    or marker == "<"
                    and self.peek() not in "=!"
                ):
                    while self.take() != ">":
                        pass
                elif marker != ":":
                    raise _Unsupported
            text = self.alternation()
            if self.take() != ")":
                raise _Unsupported
            return text
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape()
        if char == ".":
            return self.rng.choice(string.ascii_lowercase)
        if char in ("^", "$"):
            return ""
        if char in "*+?{)":
            raise _Unsupported
        return char

    def escape(self) -> str:
        char = self.take()
        if char in _CLASS_ESCAPES:
            return self.rng.choice(_CLASS_ESCAPES[char])
        if char in _ZERO_WIDTH:
            return ""
        if char.isdigit():
            raise _Unsupported
        return {"n": "\n", "t": "\t", "r": "\r"}.get(char, char)

    def char_class(self) -> str:
        negated = self.peek() == "^"
        if negated:
            self.take()
        members: list[str] = []
        first = True
        while first or self.peek() != "]":
            first = False
            char = self.take()
            if char == "\\":
                escaped = self.take()
                members.extend(_CLASS_ESCAPES.get(escaped, escaped))
                continue
            if self.peek() == "-" and self.pattern[self.at + 1] != "]":
                self.take()
                end = self.take()
                if end == "\\":
                    end = self.take()
                members.extend(chr(c) for c in range(ord(char), ord(end) + 1))
                continue
            members.append(char)
        self.take()
        if negated:
            allowed = [c for c in _NEGATED_CANDIDATES if c not in members]
            if not allowed:
                raise _Unsupported
            return allowed[0]
        return self.rng.choice(members)
