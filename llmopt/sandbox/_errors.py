"""Error envelopes, status codes and every error message the sandbox sends.

Handlers raise :class:`ApiError` with one of Anthropic's error types; the router renders
it in the envelope of the API the path belongs to (:func:`api_for_path`,
:func:`render_error`): Anthropic's ``{"type": "error", "error": {...}, "request_id"}``,
OpenAI's ``{"error": {"message", "type", "param", "code"}}`` (Anthropic's 529 becomes
503 there) or Ollama's ``{"error": "..."}``.

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

Api = Literal["anthropic", "openai", "ollama"]

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


# OpenAI Chat Completions. The envelope and the status codes follow the SDK's parser;
# the wording is what OpenAI's API sends as far as it is known (community-quoted
# responses), unconfirmed on an official page: easy to change here.
OPENAI_KEY_MISSING = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
OPENAI_KEY_INVALID = (
    "Incorrect API key provided: {hint}. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
OPENAI_MODEL_NOT_FOUND = "The model `{model}` does not exist or you do not have access to it."
OPENAI_INVALID_URL = "Invalid URL ({method} {path})"
OPENAI_BODY_NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)
OPENAI_MISSING = "Missing required parameter: '{param}'."
OPENAI_WRONG_TYPE = "Invalid type for '{param}': expected {expected}, but got {got} instead."
OPENAI_WRONG_VALUE = "Invalid value: '{value}'. Supported values are: {choices}."
OPENAI_EMPTY_ARRAY = (
    "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an "
    "empty array instead."
)
OPENAI_ARRAY_TOO_LONG = (
    "Invalid '{param}': array too long. Expected an array with maximum length {limit}, but "
    "got an array with length {found} instead."
)
OPENAI_BELOW_MIN = (
    "Invalid '{param}': {kind} below minimum value. Expected a value >= {limit}, but got "
    "{value} instead."
)
OPENAI_ABOVE_MAX = (
    "Invalid '{param}': {kind} above maximum value. Expected a value <= {limit}, but got "
    "{value} instead."
)
OPENAI_TOOL_WITHOUT_CALL = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
    "message with 'tool_calls'."
)
OPENAI_CALLS_WITHOUT_RESULTS = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to "
    "each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)
OPENAI_TOOL_CHOICE_WITHOUT_TOOLS = (
    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
)
OPENAI_TOOL_CHOICE_UNKNOWN = (
    "Invalid value for 'tool_choice': function '{name}' is not one of the provided tools."
)
OPENAI_BAD_TOOL_NAME = (
    "Invalid '{param}': string does not match pattern. Expected a string that matches the "
    "pattern '^[a-zA-Z0-9_-]+$'."
)
OPENAI_DUPLICATE_TOOL = "Invalid 'tools': duplicate function name '{name}'."
OPENAI_JSON_WORD_MISSING = (
    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
    "'json_object'."
)
OPENAI_STREAM_OPTIONS_WITHOUT_STREAM = (
    "The 'stream_options' parameter is only allowed when 'stream' is enabled."
)
OPENAI_N_UNSUPPORTED = (  # the sandbox's own limit: the real API generates n choices
    "Invalid 'n': the sandbox generates one choice per request; send n=1 or leave it out."
)
OPENAI_RATE_LIMITED = (
    "Rate limit reached for requests. Please try again in {seconds}s. Visit "
    "https://platform.openai.com/account/rate-limits to learn more."
)
OPENAI_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"
OPENAI_OVERLOADED = "The engine is currently overloaded, please try again later"

# Ollama. Wording from the server's source where the facts give it (``model 'x' not
# found``, ``model is required``); the rest are close paraphrases.
OLLAMA_MODEL_NOT_FOUND = "model '{model}' not found"
OLLAMA_MODEL_REQUIRED = "model is required"
OLLAMA_MISSING_BODY = "missing request body"
OLLAMA_BODY_NOT_JSON = "invalid character in request body: {detail}"
OLLAMA_BAD_FIELD = "json: cannot unmarshal {got} into Go struct field {field} of type {expected}"
OLLAMA_BAD_ROLE = "invalid role '{role}': expected system, user, assistant or tool"
OLLAMA_BAD_FORMAT = 'invalid format: expected "json" or a JSON schema object'
OLLAMA_NOT_FOUND = "404 page not found"
OLLAMA_RATE_LIMITED = "too many requests, please try again later"
OLLAMA_OVERLOADED = "server busy, please try again.  maximum pending requests exceeded"
OLLAMA_SERVER_ERROR = "an error was encountered while running the model"


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
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type: ErrorType = error_type
        self.message = message
        self.status = STATUS_OF[error_type]
        self.headers: dict[str, str] = dict(headers or {})
        self.param = param  # OpenAI's ``param`` and ``code``; Anthropic's body has neither
        self.code = code

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


def openai_invalid(
    template: str, *, param: str | None = None, code: str | None = None, **fields: object
) -> ApiError:
    """A 400 in OpenAI's style: ``template`` filled in, with ``param`` and ``code``."""
    return ApiError(
        "invalid_request_error", template.format(param=param, **fields), param=param, code=code
    )


def api_for_path(path: str) -> Api:
    """Which API a request path belongs to, so its errors wear that API's envelope."""
    if path.startswith("/api/"):
        return "ollama"
    if path.startswith("/v1/chat/"):
        return "openai"
    return "anthropic"


# Anthropic's error types as OpenAI reports them: (status, type, default code).
_OPENAI_TYPES: Mapping[ErrorType, tuple[int, str, str | None]] = {
    "invalid_request_error": (400, "invalid_request_error", None),
    "authentication_error": (401, "invalid_request_error", None),
    "permission_error": (403, "invalid_request_error", None),
    "not_found_error": (404, "invalid_request_error", None),
    "request_too_large": (413, "invalid_request_error", None),
    "rate_limit_error": (429, "rate_limit_error", "rate_limit_exceeded"),
    "api_error": (500, "server_error", None),
    "overloaded_error": (503, "server_error", None),
}
# Anthropic's default messages (injected faults) in each other API's words.
_OPENAI_WORDS = {OVERLOADED: OPENAI_OVERLOADED, INTERNAL_ERROR: OPENAI_SERVER_ERROR}
_OLLAMA_WORDS = {
    RATE_LIMITED: OLLAMA_RATE_LIMITED,
    OVERLOADED: OLLAMA_OVERLOADED,
    INTERNAL_ERROR: OLLAMA_SERVER_ERROR,
    ROUTE_NOT_FOUND: OLLAMA_NOT_FOUND,
}


def render_error(
    error: ApiError, request_id: str, api: Api = "anthropic"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``error`` as ``api`` sends it: (status, JSON body, extra headers)."""
    if api == "openai":
        status, kind, code = _OPENAI_TYPES.get(
            error.error_type, (error.status, "server_error", None)
        )
        message = _OPENAI_WORDS.get(error.message, error.message)
        if error.message == RATE_LIMITED:
            message = OPENAI_RATE_LIMITED.format(seconds=error.headers.get("retry-after", "1"))
        body = {
            "error": {
                "message": message,
                "type": kind,
                "param": error.param,
                "code": error.code if error.code is not None else code,
            }
        }
        return status, body, {"x-request-id": request_id, **error.headers}
    if api == "ollama":
        status = 503 if error.status == 529 else error.status
        headers = {k: v for k, v in error.headers.items() if k == "retry-after"}
        return status, {"error": _OLLAMA_WORDS.get(error.message, error.message)}, headers
    return error.status, error.body(request_id), {"request-id": request_id, **error.headers}
