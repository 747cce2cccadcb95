"""Ordered, exactly-once delivery of one source's donations to the sink, with a watermark.

A source's socket brings donations as they happen (*live*); its REST catch-up brings the ones
made while the socket was down. :class:`Feed` hands both to the sink in the order they were
made, once each:

* While a catch-up runs (from the moment a new connection is up until its catch-up is done),
  live donations are *held*; the catch-up's donations go first, then the held ones. The
  journal drops a (source, id) it already has, so a donation seen on both paths is recorded
  once, in its place.
* The watermark (``<source>.watermark`` in the journal's meta table: the newest position up
  to which nothing can be missing) moves only past donations the sink has accepted, and only
  where nothing before them can be missing: catch-up results, and live donations after a
  completed catch-up on the same connection.
* When the sink raises (the journal cannot write), nothing is acknowledged: the donation stays
  first in line and is retried with backoff, everything after it waits behind it, and the
  watermark stays where it was, so a restart's catch-up finds it again.

Positions (marks) are integers: a transaction id, or a creation time in milliseconds.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from drawstreamd.retry import Backoff
from drawstreamd.sources.base import below_minimum

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable

    from drawstreamd.config import Settings
    from drawstreamd.model import Donation
    from drawstreamd.sources.base import DonationSink


@dataclass(frozen=True)
class _Entry:
    donation: Donation | None
    """None: only the mark (a catch-up's newest position, reached once all before it are in)."""
    via: str
    mark: int | None
    contiguous: bool
    """Nothing before it can be missing: reaching it may move the watermark to its mark."""


class Feed:
    def __init__(
        self,
        sink: DonationSink,
        settings: Settings,
        *,
        source: str,
        log: logging.Logger,
        skip: Callable[[Donation], str | None] | None = None,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.source = source
        self.log = log
        self.mark_key = f"{source}.watermark"
        self.since_key = f"{source}.since"
        self.since = 0
        """Where the first run started: nothing at or before it is ever delivered (a
        catch-up that reads a little before the watermark must not take old history)."""
        self._skip = skip
        self.watermark: int | None = None
        self._loaded = False
        self._stored: str | None = None
        self._line: collections.deque[_Entry] = collections.deque()
        self._held: list[_Entry] = []
        self.holding = False
        self.synced = False
        """A catch-up completed since the connection came up: live donations are contiguous."""
        self.failing = False
        """The sink refused the last write; the line waits for the retry loop."""
        self._lock = trio.Lock()
        self._failed = trio.Event()
        self.delivered = 0

    # -- the watermark -----------------------------------------------------------------------
    async def load_mark(self) -> int | None:
        """The stored watermark (None on a first run)."""
        if not self._loaded:
            since = await self.sink.get_meta(self.since_key)
            self.since = int(since) if since is not None and since.isdigit() else 0
            raw = await self.sink.get_meta(self.mark_key)
            self._stored = raw
            try:
                self.watermark = int(raw) if raw is not None else None
            except ValueError:
                self.log.warning(
                    "%s watermark unreadable; taking no history value=%r",
                    self.source,
                    (raw or "")[:40],
                )
            self._loaded = True
        return self.watermark

    async def _advance(self, mark: int) -> None:
        if self.watermark is not None and mark <= self.watermark:
            return
        self.watermark = mark
        value = str(mark)
        if value == self._stored:
            return
        try:
            await self.sink.set_meta(self.mark_key, value)
        except Exception as exc:
            # kept in memory; the next move stores it (a restart may re-read a little more)
            self.log.warning("%s watermark not stored error=%s", self.source, exc)
            return
        self._stored = value

    async def start_at(self, mark: int) -> None:
        """A first run takes no history: nothing at or before ``mark`` is wanted, ever; then
        what was held meanwhile is delivered."""
        self.since = mark
        try:
            await self.sink.set_meta(self.since_key, str(mark))
        except Exception as exc:
            self.log.warning("%s start not stored error=%s", self.source, exc)
        await self.caught_up([], mark)

    # -- live and catch-up -------------------------------------------------------------------
    def hold(self) -> None:
        """A connection is up and its catch-up is about to run: hold live donations."""
        self.holding = True
        self.synced = False

    def lost(self) -> None:
        """The connection is gone: whatever comes next may follow a gap."""
        self.synced = False

    async def live(self, donation: Donation, mark: int | None = None) -> None:
        entry = _Entry(donation, "socket", mark, self.synced)
        if self.holding:
            self._held.append(entry)
            return
        self._line.append(entry)
        await self.flush()

    async def caught_up(
        self, found: Iterable[tuple[Donation, int | None]], newest: int | None
    ) -> None:
        """A catch-up fetched everything after the watermark (oldest first): deliver it, then
        what was held meanwhile."""
        self._line.extend(
            _Entry(d, "rest", mark, True) for d, mark in found if mark is None or mark > self.since
        )
        if newest is not None:
            self._line.append(_Entry(None, "rest", newest, True))
        self.synced = True
        self._unhold(contiguous=True)
        await self.flush()

    async def release(self) -> None:
        """The catch-up failed: let held donations through (the next catch-up fills gaps)."""
        self._unhold(contiguous=False)
        await self.flush()

    def _unhold(self, *, contiguous: bool) -> None:
        self._line.extend(
            _Entry(e.donation, e.via, e.mark, e.contiguous or contiguous) for e in self._held
        )
        self._held.clear()
        self.holding = False

    # -- delivery ----------------------------------------------------------------------------
    async def flush(self) -> None:
        """Hand the line to the sink, in order; stop at the first write the sink refuses."""
        async with self._lock:
            while self._line:
                entry = self._line[0]
                if entry.donation is not None and not await self._submit(entry):
                    return
                self._line.popleft()
                if entry.contiguous and entry.mark is not None:
                    await self._advance(entry.mark)

    async def _submit(self, entry: _Entry) -> bool:
        d = entry.donation
        assert d is not None
        reason = self._skip(d) if self._skip else None
        if reason is None:
            reason = below_minimum(d, self.settings.DRAW_MIN_AMOUNT)
        try:
            fresh = await self.sink.submit(d, skip_reason=reason)
        except Exception as exc:
            if not self.failing:
                self.log.error(
                    "%s donation not recorded: the journal refused it (%s); holding it and "
                    "everything after it, retrying",
                    self.source,
                    exc,
                )
            self.failing = True
            self._failed.set()
            return False
        if self.failing:
            self.failing = False
            self.log.info("%s journal writes again; delivering what waited", self.source)
        if fresh:
            self.delivered += 1
            self.log.info(
                "%s donation id=%s via=%s amount=%g currency=%s%s",
                self.source,
                d.external_id,
                entry.via,
                d.amount,
                d.currency,
                f" skipped={reason!r}" if reason else "",
            )
        return True

    @property
    def waiting(self) -> int:
        """Donations not yet handed to the sink (held or in line)."""
        return len(self._held) + sum(1 for e in self._line if e.donation is not None)

    async def retry_loop(self) -> None:
        """Retry a refused write with backoff until the sink takes it (run as a task)."""
        backoff = Backoff(base=1.0, floor=0.5, cap=30.0)
        while True:
            await self._failed.wait()
            while self.failing:
                await trio.sleep(backoff.next_delay())
                await self.flush()
            backoff.reset()
            self._failed = trio.Event()
