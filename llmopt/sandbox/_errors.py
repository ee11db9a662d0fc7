"""Anthropic's error envelope, status codes and every error message the sandbox sends.

All wording lives here so it is easy to compare with the real API and to change in one
place. Messages copied from real responses keep their exact text (the 4-marker and the
TTL-order messages, the ``tool_result`` pairing message, pydantic-style ``path: problem``
messages); the others are close paraphrases.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any, Literal

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
]

STATUS_OF: Mapping[ErrorType, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}

# Authentication, routing, size.
API_KEY_MISSING = "x-api-key header is required"
API_KEY_INVALID = "invalid x-api-key"
ROUTE_NOT_FOUND = "Not Found"
REQUEST_TOO_LARGE = "Request exceeds the maximum allowed number of bytes."
BODY_NOT_JSON = "There was an error parsing the body of your request: {detail}"

# Pydantic-style field problems: "{path}: {problem}".
FIELD_REQUIRED = "{path}: Field required"
NOT_A_STRING = "{path}: Input should be a valid string"
NOT_AN_INTEGER = "{path}: Input should be a valid integer"
NOT_A_NUMBER = "{path}: Input should be a valid number"
NOT_A_BOOLEAN = "{path}: Input should be a valid boolean"
NOT_A_LIST = "{path}: Input should be a valid list"
NOT_AN_OBJECT = "{path}: Input should be a valid dictionary"
TOO_SMALL = "{path}: Input should be greater than or equal to {limit}"
TOO_LARGE = "{path}: Input should be less than or equal to {limit}"
NOT_ONE_OF = "{path}: Input should be {choices}"
UNKNOWN_TAG = (
    "{path}: Input tag '{tag}' found using 'type' does not match any of the expected tags: "
    "{choices}"
)
EXTRA_INPUT = "{path}: Extra inputs are not permitted"
PATTERN_MISMATCH = "{path}: String should match pattern '{pattern}'"

# Request semantics.
UNKNOWN_MODEL = "model: {model}"
NO_MESSAGES = "messages: at least one message is required"
EMPTY_CONTENT = (
    "messages.{index}: all messages must have non-empty content except for the optional "
    "final assistant message"
)
EMPTY_TEXT_BLOCK = "{section}: text content blocks must be non-empty"
ORPHAN_TOOL_RESULT = (
    "{path}: unexpected `tool_use_id` found in `tool_result` blocks: {tool_use_id}. "
    "Each `tool_result` block must have a corresponding `tool_use` block in the previous "
    "message."
)
DUPLICATE_TOOL_NAMES = "tools: Tool names must be unique."
TOOL_CHOICE_WITHOUT_TOOLS = "tool_choice may only be specified while providing tools"
TOOL_CHOICE_UNKNOWN_TOOL = "tool_choice.name: Tool '{name}' not found in provided tools"
THINKING_BUDGET_TOO_LARGE = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
    "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    "#max-tokens-and-context-window-size"
)

# Prompt caching.
CACHE_CONTROL_ON_EMPTY_TEXT = "{path}: cache_control cannot be set for empty text blocks"
TOO_MANY_CACHE_BLOCKS = (
    "A maximum of {limit} blocks with cache_control may be provided. Found {found}."
)
TTL_ORDER = (
    "{path}: a ttl='1h' cache_control block must not come after a "
    "ttl='5m' cache_control block. Note that blocks are processed in the following order: "
    "`tools`, `system`, `messages`."
)

# Message Batches. Wording the facts do not give is marked: close paraphrases of the
# real API's, kept here so they are easy to change.
TOO_FEW_ITEMS = "{path}: List should have at least {limit} item after validation, not {found}"
TOO_MANY_ITEMS = "{path}: List should have at most {limit} items after validation, not {found}"
DUPLICATE_CUSTOM_ID = (  # unconfirmed wording
    "{path}: Duplicate custom_id '{custom_id}'. custom_id must be unique within a batch."
)
BATCH_NOT_FOUND = "Message batch not found: {batch_id}"  # unconfirmed wording
BATCH_RESULTS_NOT_READY = (  # unconfirmed wording
    "Message batch {batch_id} has not finished processing; results are available once "
    "processing_status is 'ended'."
)
BATCH_RESULTS_ARCHIVED = (  # unconfirmed wording
    "The results of message batch {batch_id} are no longer available: results are kept "
    "29 days after creation."
)
BATCH_NOT_ENDED = (  # unconfirmed wording
    "Message batch {batch_id} cannot be deleted while it is processing; cancel it first "
    "and delete it once processing_status is 'ended'."
)
BATCH_ALREADY_ENDED = (  # unconfirmed wording
    "Message batch {batch_id} has already ended and cannot be canceled."
)
BATCH_BAD_CURSOR = "{path}: Invalid message batch id"  # unconfirmed wording
BATCH_BOTH_CURSORS = "after_id, before_id: only one of after_id and before_id may be given"
BATCH_STREAMING = (  # unconfirmed wording
    "stream: streaming is not supported in the Message Batches API"
)
BATCH_ITEM_INVALID = "Invalid request"

# Injected faults.
RATE_LIMITED = (
    "This request would exceed the rate limit for your organization. Please try again later."
)
OVERLOADED = "Overloaded"
INTERNAL_ERROR = "Internal server error"


def new_id(prefix: str) -> str:
    """A fresh id in Anthropic's style: ``prefix`` and 24 random letters and digits."""
    # Base64 of 144 random bits with "+" and "/" swapped for letters: as unique as the
    # per-character draw it replaced, and far cheaper for 100,000-request batches.
    return prefix + base64.b64encode(secrets.token_bytes(18), altchars=b"xy").decode()


class ApiError(Exception):
    """An error response: its type fixes the status; ``headers`` go out with it."""

    def __init__(
        self,
        error_type: ErrorType,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type: ErrorType = error_type
        self.message = message
        self.status = STATUS_OF[error_type]
        self.headers: dict[str, str] = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body Anthropic sends for this error."""
        return {
            "type": "error",
            "error": {"type": self.error_type, "message": self.message},
            "request_id": request_id,
        }


def invalid(template: str, **fields: object) -> ApiError:
    """A 400 ``invalid_request_error`` with ``template`` filled in."""
    return ApiError("invalid_request_error", template.format(**fields))
