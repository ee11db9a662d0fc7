"""``{% live_refresh url poll %}``: the attributes that make an element a live fragment."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..web.polling import Poll

register = template.Library()


@register.simple_tag
def live_refresh(url: str, poll: Poll | None) -> SafeString:
    """The element re-fetches ``url`` and swaps itself for the answer at ``poll``'s pace
    (see ``console.web.polling``); nothing when ``poll`` is ``None`` (nothing live)."""
    if poll is None:
        return SafeString("")
    return format_html(
        ' hx-get="{}" hx-swap="outerHTML" hx-trigger="{}" data-poll-hidden="{}"',
        url,
        poll.trigger,
        poll.hidden,
    )
