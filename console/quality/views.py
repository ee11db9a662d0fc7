"""The Quality page: scored answers per entry and model over the last day with their
mean score per hour, degradation now and recent alerts, A/B results (live); the
``quality`` settings (edited with the core's rules, optimistically, audited as
``quality.update``, webhook masked) and each entry's orchestration strategy (audited as
``orchestration.update``).

One view serves the page and its live fragment (``request.htmx``). Saving is a POST to
its own URL, which redirects back on success and renders the page with the form's
problems otherwise.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from llmopt.config import AIConfigDocument, load_document
from llmopt.errors import StoreError
from llmopt.killswitch import read_kill_switch
from llmopt.store import Store

from ..roles import EDIT, VIEW
from ..store import get_store
from ..web.access import AuthedRequest, requires
from ..web.polling import Poll
from ..web.saving import posted_entry, save_form

if TYPE_CHECKING:
    from .forms import OrchestrationForm, QualitySettingsForm

# llmopt.quality and llmopt.orchestration (and so this package's forms and overview) load
# LangChain: they are imported on the first request, so the console starts without it.

logger = logging.getLogger("console.quality")

PAGE = "console/quality/page.html"
QUALITY_LIVE = Poll(visible="10s", hidden="60s")


def _live_context(store: Store, document: AIConfigDocument) -> dict[str, Any]:
    from .overview import quality_overview

    return {
        "overview": quality_overview(store, document),
        "kill_switch": read_kill_switch(store),
        "poll": QUALITY_LIVE,
        "live_url": reverse("quality"),
    }


def _page(
    request: AuthedRequest,
    store: Store,
    *,
    settings_form: QualitySettingsForm | None = None,
    strategy_form: OrchestrationForm | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    """The whole page; a bound form replaces its blank twin (with its problems)."""
    from .forms import OrchestrationForm, QualitySettingsForm

    try:
        document = load_document(store)
        live = _live_context(store, document)
    except StoreError as exc:
        logger.error("quality: store unreadable: %s", exc)
        return render(request, PAGE, {"store_error": str(exc)}, status=503)
    overview = live["overview"]
    strategies = []
    for index, entry in enumerate(
        (entry for entry in overview.entries if entry.in_document), start=1
    ):
        if strategy_form is not None and strategy_form.data.get("entry") == entry.entry_key:
            form = strategy_form
        else:
            initial = OrchestrationForm.initial_for(
                entry.entry_key, entry.orchestration, document.revision
            )
            form = OrchestrationForm(initial=initial, auto_id=f"id_s{index}_%s")
        strategies.append((index, entry, form))
    context = {
        **live,
        "document": document,
        "settings_form": settings_form
        or QualitySettingsForm(
            initial=QualitySettingsForm.initial_for(overview.settings, document.revision)
        ),
        "strategy_forms": strategies,
        "entry_keys": [entry.key for entry in document.entries],
        "can_edit": request.user.has_perm(EDIT),
        "notice": notice,
    }
    return render(request, PAGE, context, status=status)


@requires(VIEW)
@require_GET
@vary_on_headers("HX-Request")
def quality(request: AuthedRequest) -> HttpResponse:
    """The Quality page, or (for htmx) its live part."""
    store = get_store()
    if request.htmx:
        try:
            context = _live_context(store, load_document(store))
        except StoreError as exc:
            logger.error("quality: store unreadable: %s", exc)
            return HttpResponse(status=204)  # keep what is shown; the next poll retries
        return render(request, f"{PAGE}#quality-live", context)
    return _page(request, store)


@requires(EDIT)
@require_POST
def quality_settings(request: AuthedRequest) -> HttpResponse:
    """Save the ``quality`` object: checked by the core (422 beside the field, nothing
    written), refused when stale (409), audited as ``quality.update``."""
    from llmopt.quality import update_quality

    from .forms import QualitySettingsForm

    store = get_store()
    form = QualitySettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, store, settings_form=form, status=422)
    return save_form(
        request,
        form,
        lambda: update_quality(
            store,
            form.settings(),
            expected_revision=form.cleaned_data["revision"],
            actor=request.user.get_username(),
            reason=form.cleaned_data["reason"],
        ),
        failed=lambda **shown: _page(request, store, settings_form=form, **shown),
        saved="Saved the quality settings.",
        then="quality",
    )


@requires(EDIT)
@require_POST
def quality_orchestration(request: AuthedRequest) -> HttpResponse:
    """Save one entry's strategy: checked by the core (422 beside the field, nothing
    written), refused when stale (409), audited as ``orchestration.update``."""
    from llmopt.orchestration import update_orchestration

    from .forms import OrchestrationForm

    store = get_store()
    try:
        key, index = posted_entry(request, store)
    except StoreError:
        return _page(request, store, status=503)  # says the store cannot be read
    form = OrchestrationForm(request.POST, auto_id=f"id_s{index}_%s")
    if not form.is_valid():
        return _page(request, store, strategy_form=form, status=422)
    return save_form(
        request,
        form,
        lambda: update_orchestration(
            store,
            key,
            form.settings(),
            expected_revision=form.cleaned_data["revision"],
            actor=request.user.get_username(),
            reason=form.cleaned_data["reason"],
        ),
        failed=lambda **shown: _page(request, store, strategy_form=form, **shown),
        saved=f"Saved the orchestration strategy of {key}.",
        then="quality",
    )
