"""What llmopt relies on in langchain-anthropic beyond its public API, named in one place.

``llmopt/wrapper/_anthropic.py`` drives ``ChatAnthropic``'s own request cycle through
private members (see its docstring). This file lists each one with the way that module
calls it, and checks the installed langchain-anthropic still offers it so: an upgrade that
renames, removes or re-shapes one fails here with the member named, before the wrapper's
behaviour tests fail somewhere downstream. CI runs this file and the wrapper's tests
against the newest langchain-anthropic release too (.ci/run, "compatibility with the
newest langchain-anthropic").
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LLMOPT = Path(__file__).resolve().parents[3] / "llmopt"
SEAM = LLMOPT / "wrapper" / "_anthropic.py"

SELF = object()  # stands for the ChatAnthropic instance in a method's signature


@dataclass(frozen=True)
class Member:
    """A private member, where it lives, and the arguments ``_anthropic.py`` passes it."""

    module: str
    name: str  # "ChatAnthropic._create" for a method or property, "_aparse" for a function
    kind: str  # "function", "coroutine function" or "property"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.module}.{self.name}"


CHAT_MODELS = "langchain_anthropic.chat_models"
CONTRACT = [
    # The payload builder, the senders and the parsers of ChatAnthropic._generate/_stream.
    Member(
        CHAT_MODELS,
        "ChatAnthropic._get_request_payload",
        "function",
        (SELF, ["messages"]),
        {"stop": None, "any_call_option": 1},
    ),
    Member(CHAT_MODELS, "ChatAnthropic._create", "function", (SELF, {"payload": 1})),
    Member(CHAT_MODELS, "ChatAnthropic._acreate", "coroutine function", (SELF, {"payload": 1})),
    Member(
        CHAT_MODELS,
        "ChatAnthropic._format_output",
        "function",
        (SELF, "message"),
        {"generation_info": {}, "any_call_option": 1},
    ),
    Member(
        CHAT_MODELS,
        "ChatAnthropic._make_message_chunk_from_anthropic_event",
        "function",
        (SELF, "event"),
        {"stream_usage": True, "coerce_content_to_string": True, "block_start_event": None},
    ),
    Member(CHAT_MODELS, "ChatAnthropic._uses_gateway", "property"),
    Member(CHAT_MODELS, "ChatAnthropic._client_params", "property"),
    # Module-level helpers of chat_models: error mapping, gateway metadata, stream coercion.
    Member(CHAT_MODELS, "_handle_anthropic_bad_request", "function", ("error",)),
    Member(CHAT_MODELS, "_handle_anthropic_api_error", "function", ("error",)),
    Member(CHAT_MODELS, "_add_gateway_metadata", "function", ({}, "raw response")),
    Member(CHAT_MODELS, "_tools_in_params", "function", ({},)),
    Member(CHAT_MODELS, "_documents_in_params", "function", ({},)),
    Member(CHAT_MODELS, "_thinking_in_params", "function", ({},)),
    Member(CHAT_MODELS, "_compact_in_params", "function", ({},)),
    # Parses a raw async response whichever anthropic SDK version is installed.
    Member("langchain_anthropic._sdk_compat", "_aparse", "coroutine function", ("raw response",)),
]


def _problem(member: Member) -> str | None:
    try:
        owner: Any = importlib.import_module(member.module)
    except ImportError as exc:
        return f"module {member.module} cannot be imported ({exc})"
    *path, last = member.name.split(".")
    for part in path:
        owner = getattr(owner, part, None)
        if owner is None:
            return f"{part} is gone from {member.module}"
    if not hasattr(owner, last):
        return "is gone"
    static = inspect.getattr_static(owner, last)
    if member.kind == "property":
        if not isinstance(static, property | functools.cached_property):
            return f"is no longer a property but {type(static).__name__}"
        return None
    target = getattr(owner, last)
    if not callable(target):
        return f"is no longer callable but {type(target).__name__}"
    is_coroutine = inspect.iscoroutinefunction(target)
    if is_coroutine != (member.kind == "coroutine function"):
        return f"is no longer a {member.kind}"
    try:
        inspect.signature(target).bind(*member.args, **member.kwargs)
    except TypeError as exc:
        shown = ", ".join(
            [repr(a) if a is not SELF else "self" for a in member.args]
            + [f"{k}=..." for k in member.kwargs]
        )
        return f"no longer takes ({shown}): {exc}; its signature is {inspect.signature(target)}"
    return None


def test_langchain_anthropic_still_offers_every_private_member_the_wrapper_uses() -> None:
    problems = [f"  - {m.label}: {p}" for m in CONTRACT if (p := _problem(m)) is not None]

    version = importlib.metadata.version("langchain-anthropic")
    assert not problems, (
        f"langchain-anthropic {version} no longer offers what llmopt/wrapper/_anthropic.py "
        "relies on:\n" + "\n".join(problems) + "\nAdapt _anthropic.py (and this contract) "
        "before widening the langchain-anthropic pin in pyproject.toml."
    )


def _private_uses(path: Path) -> set[str]:
    """Private names ``path`` imports from langchain_anthropic or reads as attributes."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "langchain_anthropic"
        ):
            private_module = any(p.startswith("_") for p in (node.module or "").split("."))
            used |= {a.name for a in node.names if private_module or a.name.startswith("_")}
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            used.add(node.attr)
    return used


def test_the_contract_names_every_private_member_the_seam_uses() -> None:
    listed = {m.name.rsplit(".", 1)[-1] for m in CONTRACT}

    assert _private_uses(SEAM) == listed, (
        "llmopt/wrapper/_anthropic.py and CONTRACT disagree: list every private "
        "langchain-anthropic member the module uses (and only those) in CONTRACT"
    )


def test_no_other_llmopt_module_imports_langchain_anthropic_internals() -> None:
    offenders = []
    for path in sorted(LLMOPT.rglob("*.py")):
        if path == SEAM:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "langchain_anthropic"
            ):
                public_module = node.module == "langchain_anthropic"
                if not public_module or any(a.name.startswith("_") for a in node.names):
                    offenders.append(f"{path.relative_to(LLMOPT.parent)}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(
                a.name.startswith("langchain_anthropic.") for a in node.names
            ):
                offenders.append(f"{path.relative_to(LLMOPT.parent)}:{node.lineno}")

    assert not offenders, (
        "only llmopt/wrapper/_anthropic.py may reach into langchain-anthropic beyond "
        f"`from langchain_anthropic import <public name>`: {offenders}"
    )
