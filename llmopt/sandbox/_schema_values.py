"""Build a value that satisfies a JSON schema, deterministically from a seeded RNG.

It covers what tool input schemas use in practice, and what pydantic emits for
``with_structured_output``: objects (every property, required or not), strings with
length bounds and common formats, numbers and integers with (exclusive) bounds and
``multipleOf``, booleans, null, arrays with item counts and ``uniqueItems``, ``enum``,
``const``, ``anyOf``/``oneOf`` (the first non-null, non-empty branch), ``allOf`` (merged), type
lists and ``$ref`` into ``$defs``/``definitions``. A ``pattern`` is met with its
``default`` when that matches, else with a sample from ``_regex_sample`` (common regex
syntax only; otherwise the pattern is ignored).
Recursive schemas stop growing after ``MAX_DEPTH`` levels (only required properties,
the fewest items, the null branch).
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any

from llmopt.sandbox._regex_sample import sample_matching

MAX_DEPTH = 6
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris")
_FORMATS: Mapping[str, str] = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "sandbox@example.com",
    "uri": "https://example.com/sandbox",
    "url": "https://example.com/sandbox",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "P1D",
}


def value_for_schema(schema: Any, rng: random.Random) -> Any:
    """A JSON value that ``schema`` accepts, the same one for the same RNG state."""
    return _Generator(schema, rng).value(schema, depth=0, name="value")


class _Generator:
    def __init__(self, root: Any, rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            target = self.pointer(str(schema["$ref"]))
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings} if isinstance(target, Mapping) else siblings
            seen += 1
        return schema

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node

    def value(self, schema: Any, *, depth: int, name: str) -> Any:
        if not isinstance(schema, Mapping):
            return None if schema is False else f"{name}-value"
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for union in ("anyOf", "oneOf"):
            branches = schema.get(union)
            if isinstance(branches, list) and branches:
                return self.value(self.branch(branches, depth), depth=depth, name=name)
        if isinstance(schema.get("allOf"), list):
            return self.value(self.merge(schema), depth=depth, name=name)
        kind = self.kind(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth, name)
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(schema, name)

    def branch(self, branches: list[Any], depth: int) -> Any:
        def is_null(branch: Any) -> bool:
            return isinstance(branch, Mapping) and self.resolve(branch).get("type") == "null"

        nulls = [b for b in branches if is_null(b)]
        # An empty schema says nothing about the value (LangChain writes recursive
        # references that way): null is the safer pick when it is allowed.
        informative = [b for b in branches if not is_null(b) and b not in ({}, True)]
        if (depth >= MAX_DEPTH or not informative) and nulls:
            return nulls[0]
        return (informative or branches)[0]

    def merge(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if not isinstance(part, Mapping):
                continue
            part = self.resolve(part)
            for key, item in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **item}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *item]
                else:
                    merged.setdefault(key, item)
        return merged

    @staticmethod
    def kind(schema: Mapping[str, Any]) -> str:
        declared = schema.get("type")
        if isinstance(declared, list):
            non_null = [t for t in declared if t != "null"]
            declared = non_null[0] if non_null else "null"
        if isinstance(declared, str):
            return declared
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "string"

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        names = list(properties) if depth < MAX_DEPTH else [n for n in properties if n in required]
        result = {n: self.value(properties[n], depth=depth + 1, name=n) for n in names}
        for name in required:
            result.setdefault(name, f"{name}-value")
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, Mapping) and depth < MAX_DEPTH:
            result["key"] = self.value(extra, depth=depth + 1, name="key")
        return result

    def array(self, schema: Mapping[str, Any], depth: int, name: str) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        count = low if depth >= MAX_DEPTH else min(high, max(low, 1 + self.rng.randrange(2)))
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items_schema = schema.get("items", {})
        items: list[Any] = []
        attempts = 0
        while len(items) < count and attempts < count * 10 + 10:
            attempts += 1
            index = len(items)
            item_schema = prefix[index] if index < len(prefix) else items_schema
            item = self.value(item_schema, depth=depth + 1, name=f"{name}{index}")
            if schema.get("uniqueItems") and item in items:
                continue
            items.append(item)
        return items

    def bounds(self, schema: Mapping[str, Any]) -> tuple[float | None, float | None, bool, bool]:
        low, high = schema.get("minimum"), schema.get("maximum")
        low_open = high_open = False
        exclusive_low, exclusive_high = (
            schema.get("exclusiveMinimum"),
            schema.get("exclusiveMaximum"),
        )
        if isinstance(exclusive_low, bool):
            low_open = exclusive_low
        elif isinstance(exclusive_low, int | float) and (low is None or exclusive_low >= low):
            low, low_open = exclusive_low, True
        if isinstance(exclusive_high, bool):
            high_open = exclusive_high
        elif isinstance(exclusive_high, int | float) and (high is None or exclusive_high <= high):
            high, high_open = exclusive_high, True
        return low, high, low_open, high_open

    def integer(self, schema: Mapping[str, Any]) -> int:
        low, high, low_open, high_open = self.bounds(schema)
        first = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
        last = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
        if first is None:
            first = 0 if last is None or last >= 0 else last - 10
        if last is None:
            last = first + 100
        value = first + self.rng.randrange(max(1, last - first + 1))
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = math.ceil(value / step) * step
            if value > last:
                value = math.floor(last / step) * step
        return value

    def number(self, schema: Mapping[str, Any]) -> float:
        low, high, _, _ = self.bounds(schema)
        if low is None:
            low = 0.0 if high is None or high >= 0 else float(high) - 10.0
        if high is None:
            high = float(low) + 100.0
        # Strictly inside the range, so exclusive bounds hold too.
        value = round(low + (high - low) * (0.25 + 0.5 * self.rng.random()), 3)
        if not low < value < high:
            value = (low + high) / 2
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            candidate = math.ceil(value / step) * step
            value = candidate if candidate <= high else math.floor(high / step) * step
        return float(value)

    def string(self, schema: Mapping[str, Any], name: str) -> str:
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        if isinstance(pattern, str):
            default = schema.get("default")
            candidate = default if isinstance(default, str) else None
            if candidate is None or not re.search(pattern, candidate):
                candidate = sample_matching(pattern, self.rng)
            fits = candidate is not None and len(candidate) >= low
            if (
                fits
                and candidate is not None
                and (not isinstance(high, int) or len(candidate) <= high)
            ):
                return candidate
        if fmt == "uuid":
            text = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        elif isinstance(fmt, str) and fmt in _FORMATS:
            text = _FORMATS[fmt]
        else:
            text = f"{name} {self.rng.choice(_WORDS)}"
        if len(text) < low:
            text += "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text
