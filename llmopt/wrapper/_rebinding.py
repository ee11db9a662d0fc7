"""Let the base model's ``bind_tools``/``with_structured_output`` build runnables on the wrapper.

Each provider formats tools and structured output its own way (``ChatAnthropic``
converts tools to Anthropic's shape, forces ``tool_choice``, picks parsers ...). Rather
than re-implement that, the wrapper runs the base class's method with ``self`` set to
a :class:`BaseModelView`: attribute reads go to the base model, so the method sees
exactly the state it expects, while ``bind`` (and the methods the base class calls on
``self``) produce bindings of the wrapper. The result is the base model's runnable,
with the wrapper wherever the base model would have been.
"""

from __future__ import annotations

import inspect
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableParallel,
    RunnableSequence,
    RunnableWithFallbacks,
)
from langchain_core.runnables.passthrough import RunnableAssign


class BaseModelView:
    """``self`` for base-class methods: reads from ``base``, binds to ``wrapper``."""

    def __init__(self, base: BaseChatModel, wrapper: BaseChatModel) -> None:
        self._base = base
        self._wrapper = wrapper

    def bind(self, **kwargs: Any) -> Runnable[Any, Any]:
        return self._wrapper.bind(**kwargs)

    def __or__(self, other: Any) -> Runnable[Any, Any]:
        piped: Runnable[Any, Any] = self._wrapper | other
        return piped

    def __ror__(self, other: Any) -> Runnable[Any, Any]:
        piped: Runnable[Any, Any] = other | self._wrapper
        return piped

    def __getattr__(self, name: str) -> Any:
        # Methods defined on the base's class run with self = this view, so their own
        # calls to self.bind / self.bind_tools land on the wrapper; data comes from base.
        attribute = inspect.getattr_static(type(self._base), name, None)
        if inspect.isfunction(attribute):
            return attribute.__get__(self, type(self._base))
        return getattr(self._base, name)


def call_on_base_class(
    base: BaseChatModel, wrapper: BaseChatModel, name: str, /, *args: Any, **kwargs: Any
) -> Any:
    """Run ``type(base).<name>`` with the view as ``self``; see the module docstring.

    A method that calls ``super()`` (``ChatOpenAI.bind_tools`` does) cannot run on the
    view; it runs on ``base`` itself, and the wrapper then takes the base model's place
    in the runnable it built.
    """
    function = getattr(type(base), name)
    try:
        return function(BaseModelView(base, wrapper), *args, **kwargs)
    except TypeError as exc:
        if "super(type, obj)" not in str(exc):
            raise
    return _in_place_of(function(base, *args, **kwargs), base, wrapper)


def _in_place_of(runnable: Any, base: BaseChatModel, wrapper: BaseChatModel) -> Any:
    """``runnable`` with ``wrapper`` wherever ``base`` is (bindings, sequences, maps)."""
    if runnable is base:
        return wrapper
    if isinstance(runnable, RunnableBinding):
        return runnable.model_copy(update={"bound": _in_place_of(runnable.bound, base, wrapper)})
    if isinstance(runnable, RunnableSequence):
        return RunnableSequence(*(_in_place_of(step, base, wrapper) for step in runnable.steps))
    if isinstance(runnable, RunnableParallel):
        return RunnableParallel(
            {key: _in_place_of(step, base, wrapper) for key, step in runnable.steps__.items()}
        )
    if isinstance(runnable, RunnableAssign):
        return RunnableAssign(_in_place_of(runnable.mapper, base, wrapper))
    if isinstance(runnable, RunnableWithFallbacks):
        return runnable.model_copy(
            update={
                "runnable": _in_place_of(runnable.runnable, base, wrapper),
                "fallbacks": [_in_place_of(f, base, wrapper) for f in runnable.fallbacks],
            }
        )
    return runnable
