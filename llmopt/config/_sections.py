"""``config.cache``, ``config.batch``, ``config.fallback``: the flags by the nested block's names.

Code written against the migration guide reads and tunes a config through its sections
(``opt_config.cache.default_ttl_seconds = 3600``). A section holds no state of its own:
every name reads or sets one flag of its :class:`OptimizationConfig`, with the same
conversions as the nested block in the store (:data:`~llmopt.config._nested.KEYS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmopt.errors import ConfigError, FieldProblem

from ._nested import NOT_MANUAL, NestedKey, flag_origin_sentence, keys_of

if TYPE_CHECKING:
    from ._schema import OptimizationConfig


class ConfigSection:
    """One section of an :class:`OptimizationConfig` by the nested block's names.

    ===================================== ==========================================
    name                                  flag
    ===================================== ==========================================
    ``cache.enabled``                     ``cachingEnabled``
    ``cache.default_ttl_seconds``, ``ttl`` ``cacheTTL`` (``ttl`` reads seconds)
    ``cache.domain_definitions_ttl_seconds`` ``cacheSystemTTL``
    ``cache.breakpoints``                 ``cacheBreakpoints``
    ``cache.auto_detect_cacheable``       ``cacheBreakpoints`` is not ``manual``
    ``cache.min_tokens_to_cache``         ``cacheMinTokens``
    ``batch.enabled``, ``maxSize``,       ``batchingEnabled``, ``batchMaxSize``,
    ``timeout``                           ``batchTimeout``
    ``fallback.enabled``, ``toStandard``  ``fallbackToStandard``
    ``fallback.log_failures``             ``logFallbacks``
    ===================================== ==========================================

    Setting ``cache.enabled`` or ``batch.enabled`` to true also turns the master switch
    on, as the same key does in a stored block without ``enabled``. A bad value raises
    :class:`~llmopt.errors.ConfigError`; a name that is not listed raises
    ``AttributeError`` naming the ones that are.
    """

    __slots__ = ("_config", "_keys", "_name")

    def __init__(self, config: OptimizationConfig, name: str) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_keys", {key.path[1]: key for key in keys_of(name)})

    def _key(self, name: str) -> NestedKey:
        key: NestedKey | None = self._keys.get(name)
        if key is None:
            known = ", ".join(self._keys)
            raise AttributeError(
                f"optimization.{self._name} has no setting {name!r}: llmopt has {known} "
                f"(see OptimizationConfig's table for what each does)"
            )
        return key

    def _attribute(self, key: NestedKey) -> str:
        from ._schema import ATTRIBUTES

        return ATTRIBUTES[key.flag]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        key = self._key(name)
        value = getattr(self._config, self._attribute(key))
        return key.from_flag(None, value)

    def __setattr__(self, name: str, value: Any) -> None:
        key = self._key(name)
        attribute = self._attribute(key)
        converted = key.to_flag(value)
        if converted == NOT_MANUAL:
            current = getattr(self._config, attribute)
            converted = "auto" if current == "manual" else current
        try:
            setattr(self._config, attribute, converted)
        except ConfigError as exc:
            where = f"optimization.{self._name}.{name}"
            raise ConfigError(
                FieldProblem(p.field, flag_origin_sentence(p.message, p.field, where))
                for p in exc.problems
            ) from None
        if name == "enabled" and self._name in ("cache", "batch") and value is True:
            self._config.optimization_enabled = True

    def __dir__(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._keys)
        return f"<optimization.{self._name}: {shown}>"
