"""An entry's response cache settings: ``configuration.responseCache`` in ``aiconfigs``.

=========================== ========= ==================================================
field (camelCase)           default   meaning
=========================== ========= ==================================================
``enabled``                 false     answer repeated requests from stored answers
``semantic``                false     also serve a stored answer to a request that means
                                      the same (needs ``llmopt[embeddings]``)
``similarityThreshold``     see below the cosine similarity a semantic match needs (0.5–1)
``ttlSeconds``              86400     how long an answer is served (60 s to 30 days)
``maxEntries``              10000     answers kept for the entry; beyond it the least
                                      recently used of the lowest ``priority`` go first
``priority``                0         eviction order between entries when all answers
                                      together pass ``LLMOPT_RESPONSE_CACHE_MAX_ANSWERS``
                                      (higher kept longer)
``allowTemperature``        false     cache requests sent with a temperature above 0 too
=========================== ========= ==================================================

Off by default: an answer is reused only for an entry that opts in. A request with a
temperature above 0 asks for variety, so it is neither served nor stored unless the
entry says ``allowTemperature``. The kill switch turns the response cache off with the
rest of optimization. This is not prompt caching (``cachingEnabled``): prompt caching
bills a repeated prefix at a tenth and still calls the model; the response cache does
not call it at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmopt.errors import ConfigError, FieldProblem, problems_of

from ._guard import DEFAULT_SIMILARITY_THRESHOLD

RESPONSE_CACHE = "responseCache"
ACTION_INVALIDATE = "responses.invalidate"
"""The audit action of dropping stored answers (:meth:`LLMCacheLayer.invalidate_cache`)."""
MAX_TTL_SECONDS = 30 * 24 * 3600


class ResponseCacheSettings(BaseModel):
    """One entry's ``responseCache`` object; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True)

    enabled: bool = False
    semantic: bool = False
    similarity_threshold: float = Field(
        DEFAULT_SIMILARITY_THRESHOLD, alias="similarityThreshold", ge=0.5, le=1.0
    )
    ttl_seconds: int = Field(86_400, alias="ttlSeconds", ge=60, le=MAX_TTL_SECONDS)
    max_entries: int = Field(10_000, alias="maxEntries", ge=1, le=10_000_000)
    priority: int = Field(0, ge=-100, le=100)
    allow_temperature: bool = Field(False, alias="allowTemperature")

    @classmethod
    def from_dict(cls, raw: Any, *, key: str = "") -> Self:
        """Read ``raw`` (``None``: the defaults, off). Raises
        :class:`~llmopt.errors.ConfigError` naming each bad field under ``key``."""
        where = f"{key}.{RESPONSE_CACHE}" if key else RESPONSE_CACHE
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError([FieldProblem(where, f"{where} must be an object")])
        data = dict(raw)
        # JSON has one number type: 0.9 and 1 are both fine for a threshold.
        if isinstance(data.get("similarityThreshold"), int) and not isinstance(
            data.get("similarityThreshold"), bool
        ):
            data["similarityThreshold"] = float(data["similarityThreshold"])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(
                problems_of(exc, where, unknown="is not a response cache setting")
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The camelCase JSON shape, as stored."""
        return self.model_dump(by_alias=True)


def settings_of(configuration: Mapping[str, Any] | None, *, key: str = "") -> ResponseCacheSettings:
    """The ``responseCache`` settings in an entry's ``configuration``."""
    return ResponseCacheSettings.from_dict((configuration or {}).get(RESPONSE_CACHE), key=key)
