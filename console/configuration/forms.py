"""Forms of the console; their rules are the core's (``OptimizationConfig``, the free-text
rule), never restated. Messages beside a field name it by its label, not the flag's key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms

from llmopt.config import (
    FIELD_RULES,
    FLAG_NAMES,
    LLMEntry,
    OptimizationConfig,
    entry_with_flags,
)
from llmopt.errors import ConfigError

from ..web.forms import reason_field

_TTL_CHOICES = [(300, "5 minutes"), (3600, "1 hour")]
_CACHE_TTL_CHOICES = [
    *_TTL_CHOICES,
    ("auto", "auto: 1 hour for prefixes re-used more than 5 minutes apart"),
]
_SYSTEM_TTL_CHOICES = [("", "same as the cache lifetime"), *_TTL_CHOICES]


def _seconds_or_auto(value: str) -> int | str:
    return value if value == "auto" else int(value)


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
    """Every optimization flag of one entry, the revision they were read at, and why.

    The fields are the core's flags (``FLAG_NAMES``), shown in ``GROUPS``; saving hands
    them to ``update_entry_flags``, which writes each where the entry keeps it. Every
    message beside a flag is the core's sentence with the flag's key replaced by its
    label (``labelled``), including for a value the field cannot even read.
    """

    revision = forms.CharField(widget=forms.HiddenInput)
    optimizationEnabled = forms.BooleanField(required=False, label="Optimization enabled")
    optimizationStrategy = forms.ChoiceField(choices=_STRATEGY_CHOICES, label="Strategy")
    cachingEnabled = forms.BooleanField(required=False, label="Prompt caching")
    cacheTTL = forms.TypedChoiceField(
        choices=_CACHE_TTL_CHOICES, coerce=_seconds_or_auto, label="Cache lifetime"
    )
    cacheSystemTTL = forms.TypedChoiceField(
        choices=_SYSTEM_TTL_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        label="Tools and system prompt lifetime",
        help_text="Longer than the cache lifetime where they change less often (1 hour with "
        "5 minutes); never shorter.",
    )
    cacheBreakpoints = forms.ChoiceField(choices=_BREAKPOINT_CHOICES, label="Breakpoints")
    cacheMinTokens = forms.IntegerField(
        required=False,
        label="Shortest prefix to cache (tokens)",
        help_text="Blank: the model's own minimum. A shorter prefix never gets a breakpoint.",
    )
    batchingEnabled = forms.BooleanField(required=False, label="Batch API")
    batchMaxSize = forms.IntegerField(label="Batch size (requests)")
    batchTimeout = forms.IntegerField(label="Batch timeout (seconds)")
    fallbackToStandard = forms.BooleanField(required=False, label="Fall back to the standard API")
    logFallbacks = forms.BooleanField(
        required=False,
        label="Log each fallback as a warning",
        help_text="Off: fallbacks are logged at debug level.",
    )
    reason = reason_field()

    GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("Optimization", ("optimizationEnabled", "optimizationStrategy")),
        (
            "Prompt caching",
            ("cachingEnabled", "cacheTTL", "cacheSystemTTL", "cacheBreakpoints", "cacheMinTokens"),
        ),
        ("Batch API", ("batchingEnabled", "batchMaxSize", "batchTimeout")),
        ("Fallback", ("fallbackToStandard", "logFallbacks")),
    )
    """The page's fieldsets: the sections of the migration guide's nested block."""

    def __init__(self, *args: Any, entry: LLMEntry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entry = entry
        self.labels = {name: str(self.fields[name].label) for name in FLAG_NAMES}
        for name in FLAG_NAMES:
            # A value the field cannot read (a choice it does not offer, "soon" for a
            # number, nothing at all) gets the core's rule too, not Django's wording.
            rule = self.labelled(FIELD_RULES[name])
            self.fields[name].error_messages.update(
                required=rule, invalid=rule, invalid_choice=f"{rule} (got %(value)s)"
            )

    @classmethod
    def initial_for(cls, entry: LLMEntry, revision: str | None) -> dict[str, Any]:
        return {**shown_flags(entry).flags(), "revision": revision or ""}

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    def flags(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k in FLAG_NAMES}

    def labelled(self, message: str) -> str:
        """The core's ``message`` with each flag key in it replaced by that field's label."""
        return labelled(message, self.labels)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.entry.configuration is None:
            for problem in self.entry.problems:
                self.add_error(None, problem.message)
            return cleaned
        try:
            # The entry as it would be stored: each flag where the entry keeps it.
            entry_with_flags(self.entry.as_item(), self.flags(), entry=self.entry)
        except ConfigError as exc:
            self.add_problems(exc)
        return cleaned

    def add_problems(self, exc: ConfigError) -> None:
        """Each of the core's problems beside its field, under the field's label."""
        for problem in exc.problems:
            field = problem.field if problem.field in self.fields else None
            self.add_error(field, self.labelled(problem.message))


class RollbackForm(forms.Form):
    """The rollback page's buttons: engage or release the kill switch, and why."""

    action = forms.ChoiceField(choices=[("engage", "engage"), ("release", "release")])
    reason = reason_field()


def labelled(message: str, labels: Mapping[str, str]) -> str:
    """``message`` with every key of ``labels`` in it (a whole word) replaced by its label:
    as it is at the start of the sentence, with a lower-case first letter elsewhere."""
    if not labels:
        return message
    names = sorted(labels, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in names) + r")\b")

    def label(found: re.Match[str]) -> str:
        text = labels[found.group()]
        return text if found.start() == 0 else text[:1].lower() + text[1:]

    return pattern.sub(label, message)


def shown_flags(entry: LLMEntry) -> OptimizationConfig:
    """The flags the entry page starts from: the entry's own when it can be read.

    An entry whose places disagree (or that holds a key llmopt does not know) has no
    flags; the page then starts from the flat flags of its configuration where those
    can be read alone, else from the defaults, and says so (``flags_source``).
    """
    if entry.config is not None:
        return entry.config
    flat = _flat_flags(entry)
    return flat if flat is not None else OptimizationConfig()


def flags_source(entry: LLMEntry) -> str | None:
    """Where the page's values come from when the entry's own flags cannot be read."""
    if entry.config is not None:
        return None
    if _flat_flags(entry) is not None:
        return "the flags kept flat in its configuration (defaults for the others)"
    return "the defaults"


def _flat_flags(entry: LLMEntry) -> OptimizationConfig | None:
    configuration = entry.configuration
    if configuration is None or not any(name in configuration for name in FLAG_NAMES):
        return None
    try:
        return OptimizationConfig.from_dict(
            {"configuration": {k: v for k, v in configuration.items() if k != "optimization"}}
        )
    except ConfigError:
        return None
