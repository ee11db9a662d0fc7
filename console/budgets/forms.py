"""The Budgets page's form: the ``budgets`` list as JSON, checked by the core
(``BudgetSettings.load_list``); every problem is shown beside the list."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from llmopt.errors import ConfigError
from llmopt.tokens import BudgetSettings

from ..web.forms import reason_field


class BudgetsForm(forms.Form):
    """The whole ``budgets`` list, the revision it was read at, and why."""

    revision = forms.CharField(widget=forms.HiddenInput, required=False)
    budgets = forms.CharField(
        required=False,
        label="Budgets (JSON list)",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text='For example [{"name": "daily overall", "period": "day", "limitUsd": 50, '
        '"atLimit": "refuse"}]. An empty list: no budgets. Webhook URLs are shown masked '
        "(********); leave one as it is to keep it, or enter a whole new URL.",
    )
    reason = reason_field()

    @staticmethod
    def initial_for(stored: list[Any], revision: str | None) -> dict[str, Any]:
        return {"revision": revision or "", "budgets": json.dumps(stored, indent=2)}

    def clean_budgets(self) -> list[Any]:
        text = self.cleaned_data["budgets"].strip()
        try:
            budgets = json.loads(text) if text else []
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"The budgets are not valid JSON: {exc.msg} (line {exc.lineno})."
            ) from None
        if not isinstance(budgets, list):
            raise forms.ValidationError("The budgets must be a JSON list of budget objects.")
        return budgets

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        if "budgets" in cleaned:
            try:
                BudgetSettings.load_list(cleaned["budgets"])
            except ConfigError as exc:
                self.add_problems(exc)
        return cleaned

    def add_problems(self, exc: ConfigError) -> None:
        for problem in exc.problems:
            self.add_error("budgets", problem.message)
