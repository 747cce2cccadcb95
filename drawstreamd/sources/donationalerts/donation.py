"""Donation Alerts' donation object → the project's :class:`Donation` (pure).

The same object arrives in the REST list (``data[]``) and in socket publications
(``result.data.data``); both paths go through :func:`parse_donation`, so a donation seen twice
normalises to the same value and the journal's dedupe on (source, external_id) holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from drawstreamd.config import ANY_CURRENCY
from drawstreamd.model import Donation, MessageType, donor_name
from drawstreamd.sources.base import AUDIO_SKIP_REASON, below_minimum

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AUDIO_SKIP_REASON", "SOURCE", "BadDonation", "parse_donation", "skip_reason"]

SOURCE = "donationalerts"
MAX_MESSAGE_CHARS = 1000
"""Donation Alerts caps messages at about 300 characters; anything longer is cut here."""


class BadDonation(ValueError):
    """A donation object we cannot use; the message is safe to log."""


class _Wire(msgspec.Struct, kw_only=True):
    id: int
    username: str | None = None
    message: str | None = ""
    message_type: str | None = "text"
    amount: float
    currency: str
    amount_in_user_currency: float | None = None
    created_at: str | None = None


def _created(text: str | None) -> datetime:
    if text:
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    # A donation with an unreadable time is still money paid: keep it, stamped now.
    return datetime.now(UTC)


def parse_donation(raw: Any) -> Donation:
    """Normalise one donation object, or raise :class:`BadDonation`."""
    try:
        wire = msgspec.convert(raw, _Wire, strict=False)
    except msgspec.ValidationError as exc:
        raise BadDonation(f"donation object rejected: {exc}") from None
    if wire.id <= 0:
        raise BadDonation(f"donation id must be positive, got {wire.id}")
    message = (wire.message or "")[:MAX_MESSAGE_CHARS]
    kind = MessageType.AUDIO if wire.message_type == "audio" else MessageType.TEXT
    return Donation(
        source=SOURCE,
        external_id=str(wire.id),
        donor=donor_name(wire.username),
        message=message,
        amount=wire.amount,
        currency=wire.currency.strip().upper() or "RUB",
        amount_main=wire.amount_in_user_currency,
        created_at=_created(wire.created_at),
        message_type=kind,
    )


def skip_reason(donation: Donation, minimums: Mapping[str, float] | float) -> str | None:
    """Why this donation is journaled but not drawn, or None to draw it."""
    if isinstance(minimums, int | float):
        minimums = {ANY_CURRENCY: float(minimums)}
    return below_minimum(donation, minimums)
