"""Forms of the console; their rules are the core's (``OptimizationConfig``), never restated."""

from __future__ import annotations

from typing import Any

from django import forms

from llmopt.config import LLMEntry, OptimizationConfig
from llmopt.errors import ConfigError

_TTL_CHOICES = [(300, "5 minutes"), (3600, "1 hour")]
_BREAKPOINT_CHOICES = [
    ("auto", "auto: where they pay"),
    ("system_only", "system prompt only"),
    ("manual", "manual: [CACHE_BREAKPOINT] markers"),
]
_STRATEGY_CHOICES = [
    ("auto", "auto"),
    ("batch_only", "batch only"),
    ("cache_only", "cache only"),
    ("both", "both"),
]


class FlagsForm(forms.Form):
    """The nine optimization flags of one entry, plus the revision they were read at."""

    revision = forms.CharField(widget=forms.HiddenInput)
    optimizationEnabled = forms.BooleanField(required=False, label="Optimization enabled")
    cachingEnabled = forms.BooleanField(required=False, label="Prompt caching")
    cacheTTL = forms.TypedChoiceField(choices=_TTL_CHOICES, coerce=int, label="Cache lifetime")
    cacheBreakpoints = forms.ChoiceField(choices=_BREAKPOINT_CHOICES, label="Breakpoints")
    batchingEnabled = forms.BooleanField(required=False, label="Batch API")
    batchMaxSize = forms.IntegerField(label="Batch size (requests)")
    batchTimeout = forms.IntegerField(label="Batch timeout (seconds)")
    fallbackToStandard = forms.BooleanField(required=False, label="Fall back to the standard API")
    optimizationStrategy = forms.ChoiceField(choices=_STRATEGY_CHOICES, label="Strategy")

    def __init__(self, *args: Any, entry: LLMEntry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entry = entry

    @classmethod
    def initial_for(cls, entry: LLMEntry, revision: str | None) -> dict[str, Any]:
        config = entry.config or OptimizationConfig()
        return {**config.flags(), "revision": revision or ""}

    def flags(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "revision"}

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            OptimizationConfig.from_dict(
                {**(self.entry.configuration or {}), **self.flags()},
                provider=self.entry.provider,
                model=self.entry.model,
            )
        except ConfigError as exc:
            for problem in exc.problems:
                field = problem.field if problem.field in self.fields else None
                self.add_error(field, problem.message)
        return cleaned
