"""The Routing page's forms. Their rules are the core's (``RoutingSettings.from_dict``),
never restated: ``clean()`` builds the ``routing`` object and hands it over."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from llmopt.errors import ConfigError
from llmopt.routing import RoutingSettings

from ..web.forms import reason_field

_OPTIMIZE_CHOICES = [
    ("balanced", "balanced"),
    ("cost", "cost"),
    ("quality", "quality"),
    ("latency", "latency"),
]

# Which form field shows a problem the core reports at a routing path.
_FIELD_OF_PATH = {
    "routing.enabled": "enabled",
    "routing.fallbackChain": "fallbackChain",
    "routing.rules": "rules",
    "routing.circuitBreaker.failureThreshold": "failureThreshold",
    "routing.circuitBreaker.windowSeconds": "windowSeconds",
    "routing.circuitBreaker.coolDownSeconds": "coolDownSeconds",
    "routing.circuitBreaker.halfOpenMaxCalls": "halfOpenMaxCalls",
    "routing.optimize": "optimize",
}


class RoutingForm(forms.Form):
    """The document's ``routing`` object as a form, the revision it was read at, and why.

    Rules are a JSON list (their shape is the core's); the fallback chain is entry keys,
    one a line. Fields the form does not show (``expectedOutputTokens``, say) are kept
    from the stored object (``stored``).
    """

    revision = forms.CharField(widget=forms.HiddenInput, required=False)
    enabled = forms.BooleanField(required=False, label="Routing enabled")
    fallbackChain = forms.CharField(
        required=False,
        label="Fallback chain",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Entry keys, one a line, tried in order. Blank: every entry, in document order.",
    )
    optimize = forms.ChoiceField(choices=_OPTIMIZE_CHOICES, label="Optimize for")
    failureThreshold = forms.IntegerField(label="Failures that open a circuit")
    windowSeconds = forms.FloatField(label="Within (seconds)")
    coolDownSeconds = forms.FloatField(label="Cool-down before a probe (seconds)")
    halfOpenMaxCalls = forms.IntegerField(label="Probe calls when half-open")
    rules = forms.CharField(
        required=False,
        label="Rules (JSON list)",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text='For example [{"name": "private stays local", "when": {"privacy": "local"}, '
        '"entries": ["local-llama"]}]',
    )
    reason = reason_field()

    def __init__(
        self, *args: Any, stored: dict[str, Any], entry_keys: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stored = stored
        self.entry_keys = entry_keys
        self.routing: dict[str, Any] = {}

    @classmethod
    def initial_for(
        cls, settings: RoutingSettings, stored: dict[str, Any], revision: str | None
    ) -> dict[str, Any]:
        breaker = settings.circuit_breaker
        rules = stored.get("rules", [])
        return {
            "revision": revision or "",
            "enabled": settings.enabled,
            "fallbackChain": "\n".join(settings.fallback_chain or ()),
            "optimize": settings.optimize,
            "failureThreshold": breaker.failure_threshold,
            "windowSeconds": breaker.window_seconds,
            "coolDownSeconds": breaker.cool_down_seconds,
            "halfOpenMaxCalls": breaker.half_open_max_calls,
            "rules": json.dumps(rules, indent=2) if rules else "",
        }

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        rules_text = cleaned.get("rules", "").strip()
        try:
            rules = json.loads(rules_text) if rules_text else []
        except json.JSONDecodeError as exc:
            self.add_error("rules", f"The rules are not valid JSON: {exc.msg} (line {exc.lineno}).")
            return cleaned
        if not isinstance(rules, list):
            self.add_error("rules", "The rules must be a JSON list of rule objects.")
            return cleaned
        chain = [line.strip() for line in cleaned["fallbackChain"].splitlines() if line.strip()]
        routing = dict(self.stored)
        routing.update(
            enabled=cleaned["enabled"],
            optimize=cleaned["optimize"],
            rules=rules,
            circuitBreaker={
                **(self.stored.get("circuitBreaker") or {}),
                "failureThreshold": cleaned["failureThreshold"],
                "windowSeconds": cleaned["windowSeconds"],
                "coolDownSeconds": cleaned["coolDownSeconds"],
                "halfOpenMaxCalls": cleaned["halfOpenMaxCalls"],
            },
        )
        if chain:
            routing["fallbackChain"] = chain
        else:
            routing.pop("fallbackChain", None)
        try:
            RoutingSettings.from_dict(routing, entry_keys=self.entry_keys)
        except ConfigError as exc:
            self.add_problems(exc)
        self.routing = routing
        return cleaned

    def add_problems(self, exc: ConfigError) -> None:
        """Each of the core's problems beside the field it is about (rules by prefix)."""
        for problem in exc.problems:
            field = _FIELD_OF_PATH.get(problem.field)
            if field is None and problem.field.startswith("routing.rules"):
                field = "rules"
            if field is None and problem.field.startswith("routing.fallbackChain"):
                field = "fallbackChain"
            self.add_error(field, problem.message)


FORCE_CHOICES = [("open", "force open"), ("closed", "force closed"), ("clear", "clear")]


class ForceCircuitForm(forms.Form):
    """An operator's force of one entry's circuit: open, closed, or cleared, and why."""

    entry = forms.CharField()
    state = forms.ChoiceField(choices=FORCE_CHOICES)
    reason = reason_field()

    def forced(self) -> str | None:
        state: str = self.cleaned_data["state"]
        return None if state == "clear" else state
