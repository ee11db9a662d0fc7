"""The Context page's forms: the search (read-only, by GET) and the two audited changes,
each needing a reason. Their rules are the actions' (``actions``), named once."""

from __future__ import annotations

from django import forms

from llmopt.config import REASON_MAX_LENGTH

from ..web.forms import FreeTextField
from .actions import MAX_TOKENS_MAX, MODES, REASON_REQUIRED, TOP_K_MAX

QUERY_MAX_LENGTH = 500
DEFAULT_TOP_K = 8
DEFAULT_MAX_TOKENS = 2000
DOCUMENT_MAX_LENGTH = 500


def _reason() -> FreeTextField:
    return FreeTextField(
        called="Reason",
        max_length=REASON_MAX_LENGTH,
        label="Reason (for the audit log, required)",
        error_messages={"required": REASON_REQUIRED},
    )


class SearchForm(forms.Form):
    """Which index, what to look for, how many chunks, the token budget, which mode;
    a field left out takes its default (8 chunks, 2,000 tokens, hybrid)."""

    index = forms.CharField(label="Index")
    q = FreeTextField(called="Query", max_length=QUERY_MAX_LENGTH, label="Query")
    top_k = forms.IntegerField(
        label="Chunks (top k)", required=False, min_value=1, max_value=TOP_K_MAX
    )
    max_tokens = forms.IntegerField(
        label="Token budget", required=False, min_value=1, max_value=MAX_TOKENS_MAX
    )
    mode = forms.ChoiceField(label="Mode", required=False, choices=[(m, m) for m in MODES])

    def clean_top_k(self) -> int:
        value = self.cleaned_data.get("top_k")
        return DEFAULT_TOP_K if value is None else int(value)

    def clean_max_tokens(self) -> int:
        value = self.cleaned_data.get("max_tokens")
        return DEFAULT_MAX_TOKENS if value is None else int(value)

    def clean_mode(self) -> str:
        return str(self.cleaned_data.get("mode") or MODES[0])


class ReindexForm(forms.Form):
    """Re-embed a whole index, or one of its documents (``document``), and why."""

    index = forms.CharField(widget=forms.HiddenInput)
    document = FreeTextField(
        called="Document", max_length=DOCUMENT_MAX_LENGTH, required=False, label="Document"
    )
    reason = _reason()


class DeleteDocumentForm(forms.Form):
    """Delete one document of an index, and why."""

    index = forms.CharField(widget=forms.HiddenInput)
    document = FreeTextField(called="Document", max_length=DOCUMENT_MAX_LENGTH, label="Document")
    reason = _reason()
