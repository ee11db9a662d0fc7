"""The Quality page's forms: the document's ``quality`` object, and one entry's
orchestration strategy. Their rules are the core's (``QualitySettings.from_dict``,
``OrchestrationSettings.from_dict``, applied when saving), never restated here; each of
the core's problems is put beside the field it is about."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from llmopt.errors import ConfigError
from llmopt.orchestration import ORCHESTRATION, OrchestrationSettings
from llmopt.quality import DEFAULT_WEIGHTS, QUALITY, QualitySettings, masked_quality

from ..web.forms import FreeTextField, reason_field

_DEGRADATION = ("windowMinutes", "baselineHours", "drop", "minSamples")
_INDEX = re.compile(r"[.\[].*$")  # "abTests.0.share" / "abTests[0].entries" -> "abTests"


def _json_field(label: str, help_text: str, rows: int) -> forms.CharField:
    return forms.CharField(
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "spellcheck": "false"}),
    )


def _parse_json(text: str, what: str, kind: type) -> Any:
    text = text.strip()
    if not text:
        return kind()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno})."
        ) from None
    if not isinstance(value, kind):
        raise forms.ValidationError(
            f"{what} must be a JSON {'list' if kind is list else 'object'}."
        )
    return value


class QualitySettingsForm(forms.Form):
    """The document's whole ``quality`` object, the revision it was read at, and why.

    ``settings()`` is the object to save; the core checks it on saving and
    ``add_problems`` puts each of its problems beside its field. The webhook is shown
    masked; sent back unchanged, the core keeps the stored one.
    """

    revision = forms.CharField(widget=forms.HiddenInput, required=False)
    enabled = forms.BooleanField(
        required=False, label="Score routed answers in the background (monitoring on)"
    )
    sampleRate = forms.FloatField(
        label="Share of answers scored", help_text="Above 0, at most 1 (A/B test answers: all)."
    )
    passThreshold = forms.FloatField(
        label="Pass threshold", help_text="An answer scoring this (0 to 1) or more passes."
    )
    weights = _json_field(
        "Check weights (JSON object)",
        'Changes to the default weights, e.g. {"relevance": 2}; the checks are '
        + ", ".join(DEFAULT_WEIGHTS)
        + ". Empty: the defaults.",
        rows=2,
    )
    windowMinutes = forms.IntegerField(
        label="Degradation window (minutes)", help_text="The recent window, 5 min to 1 day."
    )
    baselineHours = forms.IntegerField(
        label="Baseline (hours)", help_text="The hours before the window it is compared with."
    )
    drop = forms.FloatField(
        label="Alert at a drop of", help_text="How far the window's mean score must fall (0–1)."
    )
    minSamples = forms.IntegerField(
        label="Answers needed", help_text="In the window and in the baseline before judging."
    )
    webhook = FreeTextField(
        called="Webhook",
        max_length=2000,
        required=False,
        label="Alert webhook (http/https URL)",
        help_text="Shown masked (********); leave it as it is to keep it, blank to remove it.",
    )
    abTests = _json_field(
        "A/B tests (JSON list)",
        'For example [{"name": "sonnet-vs-mini", "entries": ["a", "b"], "share": 0.1, '
        '"metric": "score", "minSamples": 100}]. An empty list: no tests.',
        rows=6,
    )
    reason = reason_field()

    @staticmethod
    def initial_for(settings: QualitySettings, revision: str | None) -> dict[str, Any]:
        shown = masked_quality(settings.to_dict())
        return {
            "revision": revision or "",
            "enabled": settings.enabled,
            "sampleRate": settings.sample_rate,
            "passThreshold": settings.pass_threshold,
            "weights": json.dumps(settings.weights) if settings.weights else "",
            "windowMinutes": settings.degradation.window_minutes,
            "baselineHours": settings.degradation.baseline_hours,
            "drop": settings.degradation.drop,
            "minSamples": settings.degradation.min_samples,
            "webhook": shown.get("webhook", ""),
            "abTests": json.dumps(shown.get("abTests", []), indent=2),
        }

    def clean_weights(self) -> dict[str, Any]:
        value: dict[str, Any] = _parse_json(self.cleaned_data["weights"], "The weights", dict)
        return value

    def clean_abTests(self) -> list[Any]:  # noqa: N802 - the field's name is the document's
        value: list[Any] = _parse_json(self.cleaned_data["abTests"], "The A/B tests", list)
        return value

    def settings(self) -> dict[str, Any]:
        """The ``quality`` object the form asks for."""
        data = self.cleaned_data
        quality: dict[str, Any] = {
            "enabled": data["enabled"],
            "sampleRate": data["sampleRate"],
            "passThreshold": data["passThreshold"],
            "degradation": {name: data[name] for name in _DEGRADATION},
            "abTests": data["abTests"],
        }
        if data["weights"]:
            quality["weights"] = data["weights"]
        if data["webhook"].strip():
            quality["webhook"] = data["webhook"].strip()
        return quality

    def add_problems(self, exc: ConfigError) -> None:
        """Each of the core's problems beside the field it is about."""
        for problem in exc.problems:
            name = problem.field.removeprefix(f"{QUALITY}.").removeprefix("degradation.")
            name = _INDEX.sub("", name)
            message = problem.message.removeprefix(f"{problem.field}: ")
            if name in self.fields and name != "revision":
                self.add_error(name, message)
            else:
                self.add_error(None, problem.message)


STRATEGIES = [
    ("single", "single: the entry answers alone"),
    ("cascade", "cascade: cheapest first, escalate below the threshold"),
    ("parallel", "parallel: all at once, the best-scoring answer"),
    ("consensus", "consensus: all at once, the answer they agree on"),
]
METHODS = [("majority", "majority"), ("similarity", "similarity"), ("judge", "judge")]
# The form's fields each strategy sends; the core refuses any other.
_SENT = {
    "single": (),
    "cascade": ("entries", "threshold", "timeoutSeconds"),
    "parallel": ("entries", "timeoutSeconds"),
    "consensus": ("entries", "method", "judge", "timeoutSeconds"),
}


class OrchestrationForm(forms.Form):
    """One entry's strategy: only the fields the chosen strategy uses are sent (a blank
    number: the default); ``single`` removes the object."""

    entry = forms.CharField(widget=forms.HiddenInput)
    revision = forms.CharField(widget=forms.HiddenInput, required=False)
    strategy = forms.ChoiceField(choices=STRATEGIES, label="Strategy")
    entries = FreeTextField(
        called="Entries",
        max_length=2000,
        required=False,
        label="Entries, in order (comma-separated keys)",
        help_text="Cascade: cheapest first. 2 to 8 entries; this entry may be one of them.",
    )
    threshold = forms.FloatField(
        required=False, label="Threshold (cascade)", help_text="Blank: 0.7."
    )
    method = forms.ChoiceField(choices=METHODS, required=False, label="Method (consensus)")
    judge = FreeTextField(
        called="Judge",
        max_length=200,
        required=False,
        label="Judge entry (consensus by judge)",
    )
    timeoutSeconds = forms.FloatField(
        required=False, label="Timeout per call (seconds)", help_text="Blank: 60."
    )
    reason = reason_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The page shows a field only under the strategies that use it (console.js).
        for strategy, names in _SENT.items():
            for name in names:
                field = self.fields[name]
                used_by = getattr(field, "strategies", "")
                field.strategies = f"{used_by} {strategy}".strip()  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(
        entry_key: str, settings: OrchestrationSettings, revision: str | None
    ) -> dict[str, Any]:
        shown = settings.to_dict()
        return {
            "entry": entry_key,
            "revision": revision or "",
            "strategy": settings.strategy,
            "entries": ", ".join(settings.entries),
            "threshold": shown.get("threshold"),
            "method": shown.get("method", "majority"),
            "judge": shown.get("judge", ""),
            "timeoutSeconds": shown.get("timeoutSeconds"),
        }

    def settings(self) -> dict[str, Any]:
        """The ``orchestration`` object the form asks for."""
        data = self.cleaned_data
        wanted: dict[str, Any] = {"strategy": data["strategy"]}
        for name in _SENT[data["strategy"]]:
            if name == "entries":
                wanted[name] = [k.strip() for k in data[name].split(",") if k.strip()]
            elif name == "judge":
                if data["method"] == "judge" or data[name].strip():
                    wanted[name] = data[name].strip() or None
            elif data[name] not in (None, ""):
                wanted[name] = data[name]
        if wanted.get("judge") is None:
            wanted.pop("judge", None)
        return wanted

    def add_problems(self, exc: ConfigError) -> None:
        """Each of the core's problems beside the field it is about."""
        for problem in exc.problems:
            name = _INDEX.sub("", problem.field.removeprefix(f"{ORCHESTRATION}."))
            message = problem.message.removeprefix(f"{problem.field}: ")
            if name in self.fields and name not in ("entry", "revision"):
                self.add_error(name, message)
            else:
                self.add_error(None, problem.message)
