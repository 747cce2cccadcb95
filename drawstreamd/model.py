"""Types shared by every part of drawstreamd: donations, queue items, statuses, events.

Everything here is a msgspec Struct so the same object goes to the journal, the wire and the
control surfaces without a second schema.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import msgspec

ANONYMOUS = "Anonymous"


class Status(enum.StrEnum):
    QUEUED = "queued"
    PLANNING = "planning"
    DRAWING = "drawing"
    SHOWN = "shown"
    SKIPPED = "skipped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (Status.SHOWN, Status.SKIPPED, Status.FAILED)


UNFINISHED = (Status.QUEUED, Status.PLANNING, Status.DRAWING, Status.INTERRUPTED)


class MessageType(enum.StrEnum):
    TEXT = "text"
    AUDIO = "audio"


class Donation(msgspec.Struct, frozen=True, kw_only=True):
    """One paid (or test) request to draw, as every source normalises it."""

    source: str
    """Where it came from: ``donationalerts``, ``demo``, ``test``…"""
    external_id: str
    """The id at the source; (source, external_id) is unique in the journal."""
    donor: str = ANONYMOUS
    message: str = ""
    amount: float = 0.0
    currency: str = "RUB"
    amount_main: float | None = None
    """The amount in the streamer's main currency, when the source says."""
    created_at: datetime = msgspec.field(default_factory=lambda: datetime.now(UTC))
    message_type: MessageType = MessageType.TEXT


def donor_name(raw: str | None) -> str:
    """A donor's display name: empty or missing names are shown as anonymous."""
    name = (raw or "").strip()
    return name or ANONYMOUS


class QueueItem(msgspec.Struct, kw_only=True):
    """A donation as the journal and the queue know it."""

    id: int
    donation: Donation
    status: Status = Status.QUEUED
    reason: str | None = None
    """Why it was skipped or failed (operator-facing)."""
    rule: str | None = None
    """The gatekeeper rule that fired, if any (operator-facing, never shown to viewers)."""
    queued_at: float = 0.0
    """Unix time the journal recorded it."""
    updated_at: float = 0.0


class Event(msgspec.Struct, kw_only=True):
    """A notification for ``idle``, the events WebSocket and the overlay."""

    kind: str
    """queued, started, step, finished, skipped, failed, cleared, paused, resumed, removed,
    source_connected, source_disconnected, planner…"""
    item_id: int | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    at: float = 0.0


EVENT_KINDS = (
    "queued",
    "started",
    "step",
    "finished",
    "skipped",
    "failed",
    "cleared",
    "paused",
    "resumed",
    "removed",
    "source_connected",
    "source_disconnected",
    "planner",
)
