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


class Verdict(enum.StrEnum):
    """The gatekeeper's word on a message, decided when the donation is journaled."""

    ALLOWED = "allowed"
    DOUBTFUL = "doubtful"
    """Passes the automatic gatekeeper, but a moderator should look (``MODERATION=flagged``)."""
    REFUSED = "refused"


class Check(enum.StrEnum):
    """The model's second opinion on a message that passed the word filter."""

    OFF = "off"
    """Not asked: the check is off, the words refused it already, or the item predates it."""
    PENDING = "pending"
    """Not answered yet: the message counts as unchecked on the public surfaces."""
    DONE = "done"
    WORDS = "words"
    """The model was offline, slow or unreadable: the word filter alone decided."""

    @property
    def settled(self) -> bool:
        return self is not Check.PENDING


class Approval(enum.StrEnum):
    """A moderator's decision (``MODERATION`` manual or flagged)."""

    WAITING = "waiting"
    APPROVED = "approved"


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


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """What is decided about a donation before it is journaled (see moderation.Gate)."""

    verdict: Verdict = Verdict.ALLOWED
    rule: str | None = None
    name_rule: str | None = None
    check: Check = Check.OFF
    approval: Approval | None = None


class QueueItem(msgspec.Struct, kw_only=True):
    """A donation as the journal and the queue know it."""

    id: int
    donation: Donation
    status: Status = Status.QUEUED
    reason: str | None = None
    """Why it was skipped or failed (operator-facing)."""
    rule: str | None = None
    """The gatekeeper rule that fired, if any (operator-facing, never shown to viewers)."""
    verdict: Verdict = Verdict.ALLOWED
    """The message's verdict (words and, once it answered, the model)."""
    name_rule: str | None = None
    """The rule that refused the donor's name (shown to viewers as "Anonymous")."""
    check: Check = Check.OFF
    approval: Approval | None = None
    interruptions: int = 0
    """How many times a drawing of this item was cut by an unclean stop (crash, SIGKILL)."""
    queued_at: float = 0.0
    """Unix time the journal recorded it."""
    updated_at: float = 0.0


class Event(msgspec.Struct, kw_only=True):
    """A notification for ``idle``, the events WebSocket and the overlay."""

    kind: str
    """queued, started, step, finished, skipped, failed, cleared, paused, resumed, removed,
    source_connected, source_disconnected, planner, verdict, journal_error, journal_ok…"""
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
    "verdict",
    "approved",
    "denied",
    "banned",
    "unbanned",
    "journal_error",
    "journal_ok",
)
