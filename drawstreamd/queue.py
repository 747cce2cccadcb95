"""The durable FIFO: journal first, then a Trio memory channel of item ids in arrival order.

The channel is the order; ``pending`` (insertion-ordered) is what is still waiting, so the HUD
can preview the next five and operators can remove one item or clear them all. An id that
comes out of the channel but is no longer pending (removed, cleared) is passed over. An item
that waits for a moderator is parked when the channel hands it out: it keeps its place but
does not block the items behind it, and once approved it is taken before anything still in
the channel (all of which arrived after it).

Every change (an item added, taken, removed, a verdict, pause/resume) is announced through
:meth:`DrawQueue.wait_changed`, so the HUD feed and the look-ahead wait instead of polling.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.journal import JournalWriteError
from drawstreamd.logs import kv
from drawstreamd.model import Approval, Check, Donation, QueueItem, Status, Verdict

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.events import EventBus
    from drawstreamd.journal import Journal
    from drawstreamd.moderation import Gate

log = logging.getLogger("drawstreamd.queue")

PREVIEW = 5
BANNED = "donor banned"
INTERRUPTED_LIMIT = 3
"""A drawing cut this many times by an unclean stop is failed instead of drawn again."""


def ready(item: QueueItem) -> bool:
    """Whether the worker may take the item (not waiting for a moderator)."""
    return item.approval is not Approval.WAITING


class DrawQueue:
    def __init__(self, journal: Journal, events: EventBus, gate: Gate | None = None) -> None:
        self.journal = journal
        self.events = events
        self.gate = gate
        self.pending: dict[int, QueueItem] = {}
        self._send, self._recv = trio.open_memory_channel[int](math.inf)
        self._parked: list[int] = []
        self._leaving: set[int] = set()
        """Ids an operator is removing while the journal writes it: not to be taken."""
        self.paused = False
        self._unpaused = trio.Event()
        self._unpaused.set()
        self._changed = trio.Event()
        self.discard_hooks: list[Callable[[set[int]], None]] = []
        """Called with the ids that left the queue without being drawn (their planning jobs
        are cancelled)."""

    # -- filling -----------------------------------------------------------------------------
    async def restore(self) -> list[QueueItem]:
        """Queue what the journal says is unfinished, interrupted work first.

        Drawings an unclean stop cut are counted first (:meth:`Journal.recover`); one cut
        :data:`INTERRUPTED_LIMIT` times is failed and not queued again.
        """
        try:
            failed = await self.journal.recover(INTERRUPTED_LIMIT)
        except JournalWriteError as exc:
            failed = []
            log.error(kv("interrupted drawings not counted", error=str(exc)))
        for item in failed:
            log.error(kv("drawing failed", item=item.id, reason=item.reason))
            self.events.emit("failed", item.id, reason=item.reason)
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

    def announce(self) -> None:
        """Tell whoever waits in :meth:`wait_changed` that something about the queue changed."""
        self._poke()

    async def wait_changed(self) -> None:
        """Until an item is added, taken, removed or re-judged, or the queue pauses/resumes."""
        await self._changed.wait()

    def changed(self) -> trio.Event:
        """The event the next change sets (take it before looking, wait on it after)."""
        return self._changed

    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        """The :class:`~drawstreamd.sources.base.DonationSink` entry: durable, then queued.

        False when (source, external_id) was already journaled; see :meth:`record`."""
        return await self.record(donation, skip_reason=skip_reason) is not None

    async def record(
        self, donation: Donation, *, skip_reason: str | None = None
    ) -> QueueItem | None:
        """Journal ``donation`` and queue it; the new item (None: already journaled).

        The gatekeeper judges the message and the donor's name here, before the journal
        write, so the verdict is stored with the item and every surface knows it from the
        start. Raises :class:`~drawstreamd.journal.JournalWriteError` when the journal cannot
        write: then nothing was journaled or queued, and the caller must not acknowledge it.
        """
        assessment = self.gate.assess(donation) if self.gate is not None else None
        if skip_reason is None and self.gate is not None and self.gate.is_banned(donation.donor):
            skip_reason = BANNED
        if assessment is None:
            item = await self.journal.record(donation, skip_reason)
        else:
            item = await self.journal.record(donation, skip_reason, assessment)
        if item is None:
            return None
        if item.status is Status.SKIPPED:
            self.events.emit("skipped", item.id, reason=item.reason, donor=donation.donor)
            return item
        self._append(item)
        self.events.emit(
            "queued",
            item.id,
            donor=donation.donor,
            message=donation.message,
            amount=donation.amount,
            currency=donation.currency,
            position=len(self.pending),
            **verdict_fields(item),
        )
        return item

    async def get_meta(self, key: str) -> str | None:
        return await self.journal.get_meta(key)

    async def set_meta(self, key: str, value: str) -> None:
        await self.journal.set_meta(key, value)

    def emit(self, kind: str, **data: Any) -> None:
        self.events.emit(kind, **data)

    # -- verdicts ----------------------------------------------------------------------------
    async def set_verdict(
        self, item: QueueItem, verdict: Verdict, rule: str | None, check: Check
    ) -> None:
        """Record a new verdict for ``item`` (the model answered, the word lists changed).

        It holds at once; the journal write that follows may raise
        :class:`~drawstreamd.journal.JournalWriteError`.
        """
        item.verdict, item.rule, item.check = verdict, rule, check
        self.events.emit("verdict", item.id, **verdict_fields(item))
        self._poke()
        await self.journal.save_judgement(item)

    async def recheck(self) -> int:
        """Judge every waiting item again with the gate's current word lists and moderation
        mode (SIGHUP)."""
        if self.gate is None:
            return 0
        changed = 0
        for item in list(self.pending.values()):
            if self.gate.reassess(item):
                changed += 1
                self.events.emit("verdict", item.id, **verdict_fields(item))
                await self.journal.save_judgement(item)
        if changed:
            self._poke()
        return changed

    # -- taking ------------------------------------------------------------------------------
    async def next(self) -> QueueItem:
        """The oldest pending item that may be drawn; waits while there is none or paused."""
        while True:
            if self.paused:
                await self._unpaused.wait()
                continue
            item = self._take()
            if item is not None:
                self._poke()
                return item
            await self._changed.wait()

    def _takeable(self, item: QueueItem) -> bool:
        return ready(item) and item.id not in self._leaving

    def _take(self) -> QueueItem | None:
        for item_id in list(self._parked):
            item = self.pending.get(item_id)
            if item is None:
                self._parked.remove(item_id)
            elif self._takeable(item):
                self._parked.remove(item_id)
                return self.pending.pop(item_id)
        while True:
            try:
                item_id = self._recv.receive_nowait()
            except trio.WouldBlock:
                return None
            item = self.pending.get(item_id)
            if item is None:
                continue  # removed or cleared meanwhile
            if not self._takeable(item):
                self._parked.append(item_id)
                continue
            return self.pending.pop(item_id)

    def put_back(self, item: QueueItem) -> None:
        """Return an item the worker took but could not start: it is next again."""
        self.pending = {item.id: item, **self.pending}
        self._parked.insert(0, item.id)
        self._poke()

    def peek(self) -> QueueItem | None:
        """The item that :meth:`next` will return (unless paused or removed first)."""
        return next((i for i in self.pending.values() if ready(i)), None)

    def preview(self, n: int = PREVIEW) -> list[QueueItem]:
        """The next ``n`` items to be drawn, in order (items waiting for a moderator aside)."""
        out: list[QueueItem] = []
        for item in self.pending.values():
            if len(out) == n:
                break
            if ready(item):
                out.append(item)
        return out

    def __len__(self) -> int:
        return len(self.pending)

    # -- operator actions --------------------------------------------------------------------
    async def clear(self, reason: str = "cleared by operator") -> int:
        ids = [i for i in self.pending if i not in self._leaving]
        if ids:
            await self._leave(ids, reason)
        self.events.emit("cleared", count=len(ids))
        return len(ids)

    async def remove(
        self, item_id: int, reason: str = "removed by operator", *, kind: str = "removed"
    ) -> bool:
        """Journal a waiting item as skipped with ``reason`` and drop it (event ``kind``)."""
        if item_id not in self.pending or item_id in self._leaving:
            return False
        await self._leave([item_id], reason)
        self.events.emit(kind, item_id, reason=reason)
        return True

    async def approve(self, item_id: int) -> QueueItem | None:
        """Let a waiting item be drawn, before everything that arrived after it."""
        item = self.pending.get(item_id)
        if item is None or item_id in self._leaving:
            return None
        if item.approval is not Approval.WAITING:
            return item
        item.approval = Approval.APPROVED
        try:
            await self.journal.save_judgement(item)
        except BaseException:
            item.approval = Approval.WAITING
            raise
        self.events.emit("approved", item_id, **verdict_fields(item))
        self._poke()
        return item

    async def _leave(self, ids: list[int], reason: str) -> None:
        """Journal ``ids`` as skipped, then drop them; if the journal fails, they stay."""
        self._leaving.update(ids)
        try:
            if len(ids) == 1:
                await self.journal.set_status(ids[0], Status.SKIPPED, reason=reason)
            else:
                await self.journal.set_many(ids, Status.SKIPPED, reason)
        finally:
            self._leaving.difference_update(ids)
            self._poke()
        for item_id in ids:
            self.pending.pop(item_id, None)
        self._discarded(set(ids))

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


def verdict_fields(item: QueueItem) -> dict[str, Any]:
    """The verdict as the private surfaces (events, queue, history) show it."""
    return {
        "verdict": str(item.verdict),
        "rule": item.rule,
        "name_rule": item.name_rule,
        "check": str(item.check),
        "approval": str(item.approval) if item.approval else None,
    }
