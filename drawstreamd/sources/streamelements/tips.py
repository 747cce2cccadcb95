"""A StreamElements tip → the project's :class:`Donation` (pure).

The socket's ``channel.tips`` messages and the REST list's ``docs[]`` carry the same tip
object (StreamElements/docs ``channel-tips.md``, api-docs ``TipData``): ``_id`` (24 hex, the
key), ``donation.user.username``, ``donation.message``, ``donation.amount``,
``donation.currency``, ``status`` (``success`` once paid), ``approved`` (tip moderation:
``pending``, ``allowed`` or ``rejected``), ``deleted`` (REST only) and ``createdAt`` (ISO 8601
with milliseconds). ``donation.user.email`` is personal data: it is never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from drawstreamd.model import Donation, donor_name

SOURCE = "streamelements"
MAX_MESSAGE_CHARS = 1000


class BadTip(ValueError):
    """A tip object we cannot use; the message is safe to log."""


class _User(msgspec.Struct):
    username: str | None = None


class _Inner(msgspec.Struct):
    amount: float
    currency: str = "USD"
    message: str | None = ""
    user: _User = msgspec.field(default_factory=_User)


class _Wire(msgspec.Struct, kw_only=True):
    id: str = msgspec.field(name="_id")
    donation: _Inner
    status: str = "success"
    approved: str | None = None
    deleted: bool = False
    created_at: str | None = msgspec.field(default=None, name="createdAt")


@dataclass(frozen=True)
class Tip:
    donation: Donation
    created_ms: int
    """createdAt in milliseconds since the epoch: the catch-up's position."""
    why_not: str | None
    """Why it is not a request (not paid, held or rejected by moderation, deleted)."""


def created_ms(text: str | None) -> int | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def parse_tip(raw: Any) -> Tip:
    """Normalise one tip object, or raise :class:`BadTip`."""
    try:
        wire = msgspec.convert(raw, _Wire, strict=False)
    except msgspec.ValidationError as exc:
        raise BadTip(f"tip object rejected: {exc}") from None
    if not wire.id:
        raise BadTip("tip without an _id")
    ms = created_ms(wire.created_at)
    when = datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else datetime.now(UTC)
    why_not = None
    if wire.status != "success":
        why_not = f"payment status {wire.status!r}"
    elif wire.deleted:
        why_not = "deleted"
    elif wire.approved in ("pending", "rejected"):
        why_not = f"tip moderation: {wire.approved}"
    donation = Donation(
        source=SOURCE,
        external_id=wire.id,
        donor=donor_name(wire.donation.user.username),
        message=(wire.donation.message or "")[:MAX_MESSAGE_CHARS],
        amount=wire.donation.amount,
        currency=wire.donation.currency.strip().upper() or "USD",
        created_at=when,
    )
    return Tip(donation, ms if ms is not None else int(when.timestamp() * 1000), why_not)
