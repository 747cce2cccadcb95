"""The durable FIFO: journal first, then a Trio memory channel of item ids in arrival order.

The channel is the order; ``pending`` (insertion-ordered) is what is still waiting, so the HUD
can preview the next five and operators can remove one item or clear them all. An id that
comes out of the channel but is no longer pending (removed, cleared) is passed over.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.model import Donation, QueueItem, Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.events import EventBus
    from drawstreamd.journal import Journal

PREVIEW = 5


class DrawQueue:
    def __init__(self, journal: Journal, events: EventBus) -> None:
        self.journal = journal
        self.events = events
        self.pending: dict[int, QueueItem] = {}
        self._send, self._recv = trio.open_memory_channel[int](math.inf)
        self._head: int | None = None
        self.paused = False
        self._unpaused = trio.Event()
        self._unpaused.set()
        self._changed = trio.Event()
        self.discard_hooks: list[Callable[[set[int]], None]] = []
        """Called with the ids that left the queue without being drawn (look-ahead cancels)."""

    # -- filling -----------------------------------------------------------------------------
    async def restore(self) -> list[QueueItem]:
        """Queue what the journal says is unfinished, interrupted work first."""
        items = await self.journal.unfinished()
        for item in items:
            if item.status is not Status.QUEUED:
                item.status = Status.INTERRUPTED
            self._append(item)
        return items

    def _append(self, item: QueueItem) -> None:
        self.pending[item.id] = item
        self._send.send_nowait(item.id)
        self._poke()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        """Until an item is added, removed or cleared, or the queue is paused or resumed."""
        await self._changed.wait()

    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        """The :class:`~drawstreamd.sources.base.DonationSink` entry: durable, then queued."""
        item = await self.journal.record(donation, skip_reason)
        if item is None:
            return False
        if skip_reason:
            self.events.emit("skipped", item.id, reason=skip_reason, donor=donation.donor)
            return True
        self._append(item)
        self.events.emit(
            "queued",
            item.id,
            donor=donation.donor,
            message=donation.message,
            amount=donation.amount,
            currency=donation.currency,
            position=len(self.pending),
        )
        return True

    async def get_meta(self, key: str) -> str | None:
        return await self.journal.get_meta(key)

    async def set_meta(self, key: str, value: str) -> None:
        await self.journal.set_meta(key, value)

    def emit(self, kind: str, **data: Any) -> None:
        self.events.emit(kind, **data)

    # -- taking ------------------------------------------------------------------------------
    async def next(self) -> QueueItem:
        """The oldest pending item; waits while the queue is empty or paused."""
        while True:
            await self._unpaused.wait()
            if self._head is None:
                self._head = await self._recv.receive()
            if self.paused:
                continue
            item_id, self._head = self._head, None
            item = self.pending.pop(item_id, None)
            if item is not None:
                return item

    def peek(self) -> QueueItem | None:
        """The item that :meth:`next` will return (unless paused or removed first)."""
        return next(iter(self.pending.values()), None)

    def preview(self, n: int = PREVIEW) -> list[QueueItem]:
        out: list[QueueItem] = []
        for item in self.pending.values():
            if len(out) == n:
                break
            out.append(item)
        return out

    def __len__(self) -> int:
        return len(self.pending)

    # -- operator actions --------------------------------------------------------------------
    async def clear(self, reason: str = "cleared by operator") -> int:
        ids = list(self.pending)
        self.pending.clear()
        if ids:
            self._discarded(set(ids))
            await self.journal.set_many(ids, Status.SKIPPED, reason)
        self.events.emit("cleared", count=len(ids))
        return len(ids)

    async def remove(self, item_id: int, reason: str = "removed by operator") -> bool:
        if self.pending.pop(item_id, None) is None:
            return False
        self._discarded({item_id})
        await self.journal.set_status(item_id, Status.SKIPPED, reason=reason)
        self.events.emit("removed", item_id, reason=reason)
        return True

    def pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._unpaused = trio.Event()
            self._poke()
            self.events.emit("paused")

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._unpaused.set()
            self._poke()
            self.events.emit("resumed")

    def _discarded(self, ids: set[int]) -> None:
        self._poke()
        for hook in self.discard_hooks:
            hook(ids)
