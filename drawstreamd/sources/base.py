"""The one source interface: what a donation source gets from the daemon, and how it reports.

Every source is a ``serve(settings, sink, http, *, task_status)`` service under ``sources/``
that hands donations to the queue through :class:`DonationSink` with a (source, external id)
key. This module also holds what all sources share:

* the per-currency minimum (``DRAW_MIN_AMOUNT``): :func:`below_minimum`;
* the connection state a source announces (``source_connected`` / ``source_disconnected``
  events with a :class:`SourceState`), which the daemon turns into one status line per source
  on the control surfaces and in systemd's STATUS: :func:`report`, :func:`status_line`;
* :class:`OutcomeSink`, for a source that must tell its platform what became of a request
  (Twitch sets a redemption FULFILLED or CANCELED), and :class:`QueueSink`, the daemon's sink
  that implements both protocols over the queue, the journal and the event bus.
"""

from __future__ import annotations

import enum
import math
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import trio

from drawstreamd.config import ANY_CURRENCY
from drawstreamd.model import MessageType, Status

if TYPE_CHECKING:
    import logging
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
    from contextlib import AbstractAsyncContextManager

    from drawstreamd.events import EventBus, Subscription
    from drawstreamd.journal import Journal
    from drawstreamd.model import Donation, QueueItem
    from drawstreamd.queue import DrawQueue


class DonationSink(Protocol):
    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        """Record the donation durably (journal first), then queue it.

        With ``skip_reason`` it is journaled as skipped and never drawn (audio donations,
        amounts under ``DRAW_MIN_AMOUNT``). Returns False when (source, external_id) was
        already known: duplicates are dropped, never drawn twice. Raises when the journal
        cannot write: the donation is then *not* recorded, so a source must not advance its
        watermark or acknowledge it (its catch-up, or a retry, brings it back).
        """
        ...

    async def get_meta(self, key: str) -> str | None:
        """A value kept in the journal across restarts (e.g. a REST watermark)."""
        ...

    async def set_meta(self, key: str, value: str) -> None: ...

    def emit(self, kind: str, **data: Any) -> None:
        """Publish an event, e.g. ``source_connected`` / ``source_disconnected``."""
        ...


# -- what became of a donation ---------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """How a donation ended: drawn (shown), or not (skipped, refused, removed, failed)."""

    status: Status
    reason: str | None = None
    rule: str | None = None
    refused: bool = False
    """The gatekeeper refused it (what went on screen was its card, not the request)."""

    @property
    def drawn(self) -> bool:
        return self.status is Status.SHOWN and not self.refused


Key = tuple[str, str]
"""(source, external_id)"""

DECIDING_EVENTS = frozenset({"finished", "skipped", "failed", "removed", "denied", "cleared"})
"""Event kinds after which an item may have reached a final state (its status is journaled
before the event is emitted)."""


class Decisions(Protocol):
    async def next(self) -> set[Key] | None:
        """Keys of donations that may have just been decided; None: look at all again (a
        ``clear``, or events missed)."""
        ...


class OutcomeSink(DonationSink, Protocol):
    """A sink that can also say what became of a donation (Twitch needs it; optional)."""

    async def outcome(self, source: str, external_id: str) -> Outcome | None:
        """The final state of a journaled donation; None while it waits, is being drawn, or
        is unknown."""
        ...

    def decisions(self) -> AbstractAsyncContextManager[Decisions]:
        """A feed of decided keys, for as long as the context is open."""
        ...


def outcome_of(item: QueueItem) -> Outcome | None:
    """The outcome of a journaled item, once it is final. Refused: a gatekeeper rule fired
    (or, where items carry one, the verdict says so)."""
    if not item.status.finished:
        return None
    refused = item.rule is not None or str(getattr(item, "verdict", "")) == "refused"
    return Outcome(item.status, item.reason, item.rule, refused)


class _BusDecisions:
    def __init__(self, sub: Subscription, journal: Journal) -> None:
        self._sub = sub
        self._journal = journal

    async def next(self) -> set[Key] | None:
        while True:
            missed = self._sub.missed
            events = await self._sub.next_batch()
            if self._sub.missed != missed or any(e.kind == "cleared" for e in events):
                return None
            keys: set[Key] = set()
            for event in events:
                if event.item_id is None:
                    continue
                item = await self._journal.get(event.item_id)
                if item is not None:
                    keys.add((item.donation.source, item.donation.external_id))
            if keys:
                return keys


class QueueSink:
    """The daemon's sink for every source: the queue for donations, the journal for outcomes."""

    def __init__(self, queue: DrawQueue, journal: Journal, events: EventBus) -> None:
        self.queue = queue
        self.journal = journal
        self.events = events

    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        return await self.queue.submit(donation, skip_reason=skip_reason)

    async def get_meta(self, key: str) -> str | None:
        return await self.queue.get_meta(key)

    async def set_meta(self, key: str, value: str) -> None:
        await self.queue.set_meta(key, value)

    def emit(self, kind: str, **data: Any) -> None:
        self.queue.emit(kind, **data)

    async def outcome(self, source: str, external_id: str) -> Outcome | None:
        item = await self.journal.find(source, external_id)
        return None if item is None else outcome_of(item)

    @asynccontextmanager
    async def decisions(self) -> AsyncIterator[Decisions]:
        async with self.events.subscribe(DECIDING_EVENTS) as sub:
            yield _BusDecisions(sub, self.journal)


# -- running a source -------------------------------------------------------------------------
async def run_tasks(
    tasks: Sequence[Callable[[], Awaitable[None]]],
    *,
    stop_on: type[Exception] | tuple[type[Exception], ...],
    task_status: trio.TaskStatus[None],
) -> Exception | None:
    """Run a source's tasks until cancelled; ``task_status.started()`` once they are started.

    The first ``stop_on`` exception (a sign-in the platform refused) ends them all and is
    returned, so the source can say so once and return instead of being restarted.
    """
    stopped: list[Exception] = []
    async with trio.open_nursery() as nursery:

        async def guarded(task: Callable[[], Awaitable[None]]) -> None:
            try:
                await task()
            except stop_on as exc:
                stopped.append(exc)
                nursery.cancel_scope.cancel()

        for task in tasks:
            nursery.start_soon(guarded, task)
        task_status.started()
    return stopped[0] if stopped else None


def source_off(
    sink: DonationSink,
    source: str,
    missing: str,
    log: logging.Logger,
    task_status: trio.TaskStatus[None],
) -> None:
    """A source without credentials: one info line, an "off" state, started at once."""
    log.info("%s: no credentials configured; source off", title(source))
    report(sink, source, SourceState.OFF, f"no {missing}")
    task_status.started()


# -- connection state, as the status lines show it -------------------------------------------
SOURCE_TITLES = {
    "donationalerts": "Donation Alerts",
    "twitch": "Twitch",
    "streamelements": "StreamElements",
    "donatepay": "DonatePay",
    "demo": "Demo",
}


def title(source: str) -> str:
    return SOURCE_TITLES.get(source, source)


class SourceState(enum.StrEnum):
    CONNECTING = "connecting"
    """Started, not connected yet."""
    CONNECTED = "connected"
    RETRYING = "retrying"
    """Down for now; the source reconnects by itself."""
    SIGNED_OUT = "signed_out"
    """The platform refused the sign-in; the source stopped until it is fixed and restarted."""
    OFF = "off"
    """Not configured."""


def report(sink: DonationSink, source: str, state: SourceState, detail: str = "") -> None:
    """Announce a source's state: ``source_connected`` or ``source_disconnected`` with
    ``source``, ``state`` and ``reason`` (the detail, safe to show operators)."""
    kind = "source_connected" if state is SourceState.CONNECTED else "source_disconnected"
    sink.emit(kind, source=source, state=str(state), reason=detail)


def state_of(kind: str, data: Mapping[str, Any]) -> SourceState:
    """The state an event announces (events without ``state`` are connected or retrying)."""
    try:
        return SourceState(str(data.get("state", "")))
    except ValueError:
        return SourceState.CONNECTED if kind == "source_connected" else SourceState.RETRYING


def status_line(source: str, state: SourceState, detail: str = "") -> str:
    """One operator-facing line, e.g. "Twitch disconnected, retrying (keepalive lost)"."""
    name = title(source)
    extra = f" ({detail})" if detail else ""
    if state is SourceState.CONNECTED:
        return f"{name} connected{extra}"
    if state is SourceState.RETRYING:
        return f"{name} disconnected, retrying{extra}"
    if state is SourceState.CONNECTING:
        return f"{name} connecting{extra}"
    if state is SourceState.SIGNED_OUT:
        return f"{name} signed out, needs a new sign-in{extra}"
    return f"{name} off{extra}"


# -- the per-currency minimum ----------------------------------------------------------------
def minimum_for(minimums: Mapping[str, float], currency: str) -> tuple[float, bool]:
    """The minimum for ``currency`` and whether it is the currency's own entry."""
    own = minimums.get(currency.upper())
    if own is not None:
        return own, True
    return minimums.get(ANY_CURRENCY, 0.0), False


def below_minimum(donation: Donation, minimums: Mapping[str, float]) -> str | None:
    """Why ``donation`` is journaled but not drawn, or None to draw it.

    A currency's own entry is compared with the amount in that currency; the catch-all entry
    with the amount in the streamer's main currency when the platform gives it.
    """
    if donation.message_type is MessageType.AUDIO:
        return AUDIO_SKIP_REASON
    least, own = minimum_for(minimums, donation.currency)
    amount = donation.amount
    if not own and donation.amount_main is not None:
        amount = donation.amount_main
    if least > 0 and (amount < least or math.isnan(amount)):
        return f"below DRAW_MIN_AMOUNT ({amount:g} < {least:g})"
    return None


AUDIO_SKIP_REASON = "audio donation: nothing to draw"
