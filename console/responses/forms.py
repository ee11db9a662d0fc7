"""The Responses page's forms. The settings' rules are the core's
(``ResponseCacheSettings.from_dict``, applied when saving), never restated here."""

from __future__ import annotations

from typing import Any

from django import forms

from llmopt.config import REASON_MAX_LENGTH
from llmopt.errors import ConfigError
from llmopt.responses import RESPONSE_CACHE, ResponseCacheSettings

from ..web.forms import FreeTextField, reason_field
from .edit import ALL_ENTRIES

PATTERN_MAX_LENGTH = 500
_SETTING_FIELDS = (
    "enabled",
    "semantic",
    "similarityThreshold",
    "ttlSeconds",
    "maxEntries",
    "priority",
    "allowTemperature",
)


class ResponseSettingsForm(forms.Form):
    """One entry's ``responseCache`` object, the revision it was read at, and why.

    ``settings()`` is the object to save; the core checks it on saving and
    ``add_problems`` puts each of its problems beside its field.
    """

    entry = forms.CharField(widget=forms.HiddenInput)
    revision = forms.CharField(widget=forms.HiddenInput, required=False)
    enabled = forms.BooleanField(
        required=False, label="Serve repeated requests from stored answers"
    )
    semantic = forms.BooleanField(
        required=False,
        label="Also serve same-meaning requests (semantic)",
        help_text="Needs llmopt[embeddings] installed where the console and the callers run.",
    )
    similarityThreshold = forms.FloatField(
        label="Similarity threshold",
        help_text="The cosine similarity a semantic match needs (0.5 to 1).",
    )
    ttlSeconds = forms.IntegerField(
        label="Keep answers for (seconds)", help_text="60 seconds to 30 days."
    )
    maxEntries = forms.IntegerField(
        label="Answers kept at most",
        help_text="Beyond it the least recently used of the lowest priority go first.",
    )
    priority = forms.IntegerField(
        label="Priority",
        help_text="Eviction order between entries (-100 to 100); higher kept longer.",
    )
    allowTemperature = forms.BooleanField(
        required=False, label="Also cache requests sent with a temperature above 0"
    )
    reason = reason_field()

    @staticmethod
    def initial_for(
        entry_key: str, settings: ResponseCacheSettings, revision: str | None
    ) -> dict[str, Any]:
        return {"entry": entry_key, "revision": revision or "", **settings.to_dict()}

    def settings(self) -> dict[str, Any]:
        """The ``responseCache`` object the form asks for."""
        return {name: self.cleaned_data[name] for name in _SETTING_FIELDS}

    def add_problems(self, exc: ConfigError) -> None:
        """Each of the core's problems beside the field it is about."""
        for problem in exc.problems:
            name = problem.field.removeprefix(f"{RESPONSE_CACHE}.")
            # The core names the document's path first; beside the field, that is noise.
            message = problem.message.removeprefix(f"{problem.field}: ")
            if name == "reason" or name in _SETTING_FIELDS:
                self.add_error(name, message)
            else:
                self.add_error(None, problem.message)


class InvalidateForm(forms.Form):
    """Which stored answers to drop: an entry's (or every entry's), optionally only a
    model's, optionally only those whose question matches a glob; and why (required)."""

    entry = forms.CharField(initial=ALL_ENTRIES, label="Entry")
    model = FreeTextField(
        called="Model", max_length=200, required=False, label="Model (blank: any model)"
    )
    pattern = FreeTextField(
        called="Pattern",
        max_length=PATTERN_MAX_LENGTH,
        required=False,
        label="Question pattern",
        help_text="A glob on the question (* any text, ? one character); * alone or blank: "
        "every question.",
    )
    reason = FreeTextField(
        called="Reason",
        max_length=REASON_MAX_LENGTH,
        label="Reason (for the audit log, required)",
        error_messages={"required": "Say why, for the audit log: dropping answers needs a reason."},
    )
