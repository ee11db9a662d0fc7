"""Saving the document's ``quality`` object: validated, optimistic, audited, webhook masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmopt._secrets import MASK, masked_url, redact
from llmopt.config import AIConfigDocument, load_document, save_document_section
from llmopt.errors import ConfigError, FieldProblem
from llmopt.store import Store

from ._settings import ACTION_UPDATE_QUALITY, QUALITY, QualitySettings

WEBHOOK = "webhook"


def masked_quality(quality: Any) -> Any:
    """A copy of a ``quality`` object as it may be shown: its ``webhook`` masked. Send it
    back to :func:`update_quality` unchanged and the stored webhook is kept."""
    if isinstance(quality, Mapping) and isinstance(url := quality.get(WEBHOOK), str) and url:
        return {**quality, WEBHOOK: masked_url(url)}
    return quality


def update_quality(
    store: Store,
    quality: Mapping[str, Any],
    *,
    expected_revision: str,
    actor: str,
    reason: str = "",
) -> AIConfigDocument:
    """Replace the document's ``quality`` object with ``quality`` and save.

    Validated against the document's entries (:meth:`QualitySettings.from_dict`); an
    invalid one raises :class:`~llmopt.errors.ConfigError` with every problem and writes
    nothing. A document changed since ``expected_revision`` raises
    :class:`~llmopt.errors.ConflictError`. The rest of the document is kept; the write
    and its audit record (``quality.update``, the object before and after with the
    webhook masked) are one operation; a change that changes nothing writes nothing.

    A ``webhook`` holding the mask, as :func:`masked_quality` shows it, keeps the stored
    webhook when it masks that one; otherwise the URL it hides is unknown and that is a
    ``ConfigError``.
    """
    value: Any = dict(quality) if isinstance(quality, Mapping) else quality
    unmasked: list[FieldProblem] = []
    document = load_document(store)
    shown = value.get(WEBHOOK) if isinstance(value, Mapping) else None
    if isinstance(shown, str) and MASK in shown and document.revision == expected_revision:
        # At another revision saving raises the conflict: a stale read fills in nothing.
        stored = document.body.get(QUALITY)
        url = stored.get(WEBHOOK) if isinstance(stored, Mapping) else None
        if isinstance(url, str) and url and masked_url(url) == shown:
            value[WEBHOOK] = url
        else:
            field = f"{QUALITY}.{WEBHOOK}"
            unmasked.append(
                FieldProblem(
                    field,
                    f"{field}: {shown} is masked and masks no stored webhook, so the URL it "
                    "hides is unknown; enter the whole URL",
                )
            )

    def check(current: AIConfigDocument) -> None:
        problems = list(unmasked)
        try:
            QualitySettings.from_dict(value, entry_keys=[e.key for e in current.entries])
        except ConfigError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)

    return save_document_section(
        store,
        QUALITY,
        value,
        check=check,
        action=ACTION_UPDATE_QUALITY,
        expected_revision=expected_revision,
        actor=actor,
        reason=reason,
        audited=lambda raw: redact(masked_quality(raw)),
    )
