"""What the socket and the REST catch-up share: delivery to the sink, and the watermark.

Exactly once: both paths submit to the sink, whose journal drops a (source, id) it already
holds. The watermark (the highest donation id known to be in the journal, kept with the
journal) moves only when nothing below it can be missing: after a catch-up, and from the
socket once the catch-up of the current connection is done. A first run takes no history.

A socket donation that cannot be read, or that the journal could not write, opens a gap: the
socket stops moving the watermark and the REST catch-up runs again from below it, so the
donation is found again (by then, with luck, the disk has room).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from drawstreamd.journal import JournalWriteError
from drawstreamd.retry import Backoff
from drawstreamd.sources.donationalerts.donation import BadDonation, parse_donation, skip_reason
from drawstreamd.sources.donationalerts.oauth import OAuthError
from drawstreamd.sources.donationalerts.rest import (
    REQUESTS_PER_MINUTE,
    ApiError,
    DAClient,
    RateLimited,
    fetch_since,
    newest_id,
)

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.model import Donation
    from drawstreamd.sources.base import DonationSink

log = logging.getLogger("drawstreamd.da")

WATERMARK_KEY = "donationalerts.watermark"


@dataclass(frozen=True)
class Tuning:
    """Timings of the connection loop (tests shorten them; the defaults are the product's)."""

    reconnect_floor: float = 1.0
    reconnect_cap: float = 30.0
    healthy_after: float = 30.0
    """A connection that lived this long resets the backoff."""
    ping_interval: float = 15.0
    pong_timeout: float = 5.0
    handshake_timeout: float = 10.0
    max_message: int = 2 * 1024 * 1024
    rest_per_minute: int = REQUESTS_PER_MINUTE
    """API calls allowed in any minute (Donation Alerts allows 60 per application)."""
    forbidden_wait: float = 600.0
    """REST answered 403 (no ``oauth-donation-index``): try again this much later."""


class Ingest:
    """Delivery, the watermark and the socket's state, shared by the tasks."""

    def __init__(self, settings: Settings, sink: DonationSink) -> None:
        self.settings = settings
        self.sink = sink
        self.watermark: int | None = None
        self._loaded = False
        self.socket_up = False
        self.generation = 0
        self.synced_generation = -1
        self.generation_max = 0
        self.first_socket_id: int | None = None
        """The first donation the socket brought in this run (bounds a first catch-up)."""
        self.kick = trio.Event()
        self.gaps = 0
        """Socket donations that were not journaled (unreadable, or the journal failed)."""
        self._mark_lock = trio.Lock()
        self._stored: str | None = None

    def wake(self) -> None:
        self.kick.set()
        self.kick = trio.Event()

    async def load_watermark(self) -> int | None:
        if not self._loaded:
            raw = await self.sink.get_meta(WATERMARK_KEY)
            self._stored = raw
            try:
                self.watermark = int(raw) if raw is not None else None
            except ValueError:
                log.warning("da watermark unreadable; taking no history value=%r", (raw or "")[:40])
                self.watermark = None
            self._loaded = True
        return self.watermark

    async def advance(self, newest: int) -> None:
        if self.watermark is not None and newest <= self.watermark:
            return
        self.watermark = newest
        async with self._mark_lock:
            # writes from the socket and REST tasks must not land out of order
            value = str(self.watermark)
            if value != self._stored:
                await self.sink.set_meta(WATERMARK_KEY, value)
                self._stored = value

    async def deliver(self, donation: Donation, via: str) -> None:
        reason = skip_reason(donation, self.settings.DRAW_MIN_AMOUNT)
        fresh = await self.sink.submit(donation, skip_reason=reason)
        if fresh:
            log.info(
                "da donation id=%s via=%s amount=%g currency=%s%s",
                donation.external_id,
                via,
                donation.amount,
                donation.currency,
                f" skipped={reason!r}" if reason else "",
            )

    def gap(self) -> None:
        """A socket donation was not journaled: stop trusting the socket for the watermark."""
        self.gaps += 1
        self.synced_generation = -1
        self.wake()

    async def from_socket(self, raw: object) -> None:
        try:
            donation = parse_donation(raw)
        except BadDonation as exc:
            log.error("da socket donation unreadable; REST catch-up will look for it error=%s", exc)
            self.gap()
            return
        try:
            await self.deliver(donation, "socket")
        except JournalWriteError as exc:
            log.error(
                "da socket donation not journaled; REST catch-up will fetch it again"
                " id=%s error=%s",
                donation.external_id,
                exc,
            )
            self.gap()
            return
        did = int(donation.external_id)
        if self.first_socket_id is None:
            self.first_socket_id = did
        self.generation_max = max(self.generation_max, did)
        if self.synced_generation == self.generation:
            await self.advance(did)


async def catch_up(api: DAClient, ing: Ingest) -> None:
    mark = await ing.load_watermark()
    if mark is None and ing.first_socket_id is not None:
        # REST failed until now, but the socket ran: page back to where the socket began.
        mark = ing.first_socket_id - 1
    if mark is None:
        newest = await newest_id(api)
        await ing.advance(newest)
        log.info("da first run: history not taken, starting after donation id=%d", newest)
        return
    donations, newest = await fetch_since(api, mark)
    for donation in donations:
        await ing.deliver(donation, "rest")
    await ing.advance(newest)
    if donations:
        log.info("da rest catch-up found=%d watermark=%d", len(donations), newest)


async def rest_loop(api: DAClient, ing: Ingest, tuning: Tuning) -> None:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        kick = ing.kick
        generation = ing.generation if ing.socket_up else None
        gaps = ing.gaps
        wait: float | None = None
        rate_limited = False
        try:
            await catch_up(api, ing)
        except RateLimited as exc:
            log.warning("da rest rate-limited by the server wait=%gs", exc.retry_after)
            wait = exc.retry_after
            rate_limited = True
        except ApiError as exc:
            wait = tuning.forbidden_wait if exc.status == 403 else backoff.next_delay()
            log.warning("da rest catch-up failed error=%s retry_in=%.1fs", exc, wait)
        except OAuthError as exc:
            wait = backoff.next_delay()
            log.warning("da token refresh failed error=%s retry_in=%.1fs", exc, wait)
        except JournalWriteError as exc:
            wait = backoff.next_delay()
            log.error("da catch-up could not journal; watermark kept error=%s retry_in=%.1fs",
                      exc, wait)  # fmt: skip
        else:
            backoff.reset()
            if (
                generation is not None
                and ing.socket_up
                and ing.generation == generation
                and ing.gaps == gaps
            ):
                ing.synced_generation = generation
                await ing.advance(ing.generation_max)
        if wait is not None:
            if rate_limited:
                await trio.sleep(wait)
            else:
                # a failed catch-up is retried at the latest after the backoff, at once on a
                # reconnect (the socket coming back is the moment missed donations matter)
                with trio.move_on_after(wait):
                    await kick.wait()
            continue
        if ing.socket_up:
            await kick.wait()
        else:
            with trio.move_on_after(ing.settings.DA_REST_POLL_INTERVAL_SEC):
                await kick.wait()
