"""Form fields every change form shares: free text under the core's rule, and the reason."""

from __future__ import annotations

from typing import Any

from django import forms

from llmopt.config import REASON_MAX_LENGTH, free_text_problem


class FreeTextField(forms.CharField):
    """Free text under the core's rule (``llmopt.config.free_text_problem``): at most
    ``max_length`` characters (also the input's ``maxlength``), no control or
    bidirectional-override characters; its messages start with ``called``."""

    def __init__(self, *, called: str, max_length: int, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self.called = called
        # Django's own length and NUL checks would say the same again, in other words.
        self.validators = [self._check]

    def _check(self, value: str) -> None:
        problem = free_text_problem(value, field=self.called, max_length=self.max_length or 0)
        if problem is not None:
            raise forms.ValidationError(problem, code="free_text")


def reason_field() -> FreeTextField:
    """The optional reason for the audit log that every change form carries."""
    return FreeTextField(
        called="Reason",
        max_length=REASON_MAX_LENGTH,
        required=False,
        label="Reason (for the audit log)",
    )
