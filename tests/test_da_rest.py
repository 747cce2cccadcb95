"""REST never exceeds 60 requests a minute: the limiter alone, and the whole source under load."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing
from da_support import running_source

from drawstreamd.sources.donationalerts.rest import RateLimiter
from drawstreamd.sources.donationalerts.source import Tuning

if TYPE_CHECKING:
    from pathlib import Path


def busiest_minute(times: list[float]) -> int:
    """The most requests in any closed 60-second window."""
    times = sorted(times)
    return max((bisect.bisect_right(times, t + 60.0) - i for i, t in enumerate(times)), default=0)


async def test_limiter_allows_sixty_a_minute_and_no_more(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = RateLimiter()
    stamps: list[float] = []

    async def caller() -> None:
        for _ in range(50):
            await limiter.acquire()
            stamps.append(trio.current_time())

    start = trio.current_time()
    with trio.fail_after(600):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(caller)
    assert len(stamps) == 200
    assert busiest_minute(stamps) == 60
    # not stingier than it must be: 200 calls fit in a little over three minutes
    assert stamps[-1] - start < 3 * 60 + 5


@pytest.fixture
def loopback_clock() -> trio.testing.MockClock:
    # Jumps only once everything has been idle for 50 ms of real time, so replies on real
    # loopback sockets land before the clock moves on.
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_source_under_load_stays_within_the_limit(
    tmp_path: Path, loopback_clock: trio.testing.MockClock
) -> None:
    # The socket is down for good and 3,000 donations (100 pages) wait: catch-up, polling
    # and reconnect attempts all want the API at once.
    tuning = Tuning(handshake_timeout=30.0)
    with trio.fail_after(400):
        async with running_source(tmp_path, tuning=tuning) as r:
            await r.sink.wait_for(lambda: "donationalerts.watermark" in r.sink.meta)
            r.fake.socket_available = False
            for i in range(3000):
                r.fake.publish(f"draw {i}")
            start = trio.current_time()
            await r.sink.wait_for(lambda: len(r.sink.kept) == 3000)
            elapsed = trio.current_time() - start
            await trio.sleep(120)
            api = [t for t, what in r.fake.request_log if " /api/v1/" in what]
    assert busiest_minute(api) <= 60
    assert len(api) >= 100
    # 100 pages at one a second: the limiter paces, it does not stall
    assert elapsed < 150
