"""Number formats for the statistics pages: money, shares and large counts."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def usd(value: float | None) -> str:
    """Dollars with cents, or four decimals below a dollar (LLM calls cost fractions of a cent)."""
    if value is None:
        return "—"
    sign = "−" if value < 0 else ""
    amount = abs(value)
    return f"{sign}${amount:,.2f}" if amount >= 1 else f"{sign}${amount:.4f}"


@register.filter
def percent(value: float | None) -> str:
    """A share as a percentage with one decimal; "—" when undefined (nothing to divide by)."""
    return "—" if value is None else f"{value * 100:.1f}%"


@register.filter
def compact(value: float | None) -> str:
    """A count in few characters: 950, 12.3k, 4.56M, 7.89B."""
    if value is None:
        return "—"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if isinstance(value, float) and not value.is_integer() else f"{value:.0f}"
