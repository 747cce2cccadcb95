"""DonatePay's transaction and notification objects → the project's :class:`Donation` (pure).

DonatePay has no retrievable official API page; the field names below are what the published
clients agree on (see ``docs/sources.md``). A transaction (``GET /api/v1/transactions``):
``id`` (increasing), ``what`` (the donor's name), ``sum`` (``"60.00"`` or a number),
``currency``, ``comment`` (HTML-escaped) and ``vars`` (``name``, ``comment`` unescaped),
``status``, ``type``, ``created_at`` (a PHP DateTime object ``{"date": …}`` or a plain string).
A socket notification (``{"notification": {"id", "type", "vars"}}``) carries a *notification*
id, not the transaction id, so the socket only says "look now" and the list is the record.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drawstreamd.model import Donation, donor_name

SOURCE = "donatepay"
MAX_MESSAGE_CHARS = 1000


class BadTransaction(ValueError):
    """A transaction we cannot use; the message is safe to log."""


def amount(value: Any) -> float:
    """``"60.00"``, ``"1 000,50"``, ``150`` → a number (Decimal first, no float noise)."""
    if isinstance(value, bool):
        raise BadTransaction(f"sum is not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.replace(" ", "").replace("\u00a0", "").replace(",", ".")
        try:
            return float(Decimal(text))
        except InvalidOperation:
            pass
    raise BadTransaction(f"sum is not a number: {str(value)[:40]!r}")


def _created(value: Any) -> datetime:
    """A plain string, or PHP's DateTime object ``{"date", "timezone_type", "timezone"}``;
    a time without a zone is read in the object's ``timezone`` when it names one, else UTC."""
    text = value.get("date") if isinstance(value, dict) else value
    zone_name = value.get("timezone") if isinstance(value, dict) else None
    if isinstance(text, str) and text:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return datetime.now(UTC)
        if parsed.tzinfo is None:
            try:
                zone: tzinfo = ZoneInfo(zone_name) if isinstance(zone_name, str) else UTC
            except (ValueError, ZoneInfoNotFoundError):
                zone = UTC
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    return datetime.now(UTC)


@dataclass(frozen=True)
class Transaction:
    id: int
    donation: Donation
    why_not: str | None
    """Why it is not a request (not a donation, not paid)."""


def parse_transaction(raw: Any) -> Transaction:
    """Normalise one transaction, or raise :class:`BadTransaction`."""
    if not isinstance(raw, dict):
        raise BadTransaction("transaction is not an object")
    tid = raw.get("id")
    if isinstance(tid, str) and tid.isdigit():
        tid = int(tid)
    if isinstance(tid, bool) or not isinstance(tid, int) or tid <= 0:
        raise BadTransaction(f"transaction id must be a positive number, got {str(tid)[:40]!r}")
    found = raw.get("vars")
    extra: dict[str, Any] = found if isinstance(found, dict) else {}
    name = extra.get("name") or raw.get("what")
    comment = extra.get("comment")
    if not isinstance(comment, str):
        comment = html.unescape(str(raw.get("comment") or ""))
    why_not = None
    if raw.get("type", "donation") != "donation":
        why_not = f"type {raw.get('type')!r}"
    elif raw.get("status", "success") != "success":
        why_not = f"status {raw.get('status')!r}"
    currency = raw.get("currency") or extra.get("currency") or "RUB"
    donation = Donation(
        source=SOURCE,
        external_id=str(tid),
        donor=donor_name(name if isinstance(name, str) else None),
        message=comment[:MAX_MESSAGE_CHARS],
        amount=amount(raw.get("sum")),
        currency=str(currency).strip().upper() or "RUB",
        created_at=_created(raw.get("created_at")),
    )
    return Transaction(tid, donation, why_not)


def rings(data: Any) -> bool:
    """Whether a socket publication announces a donation (``notification.type``)."""
    note = data.get("notification") if isinstance(data, dict) else None
    return isinstance(note, dict) and note.get("type", "donation") == "donation"
