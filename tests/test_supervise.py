"""The supervisor's restart policy: a failing source or control surface comes back, with backoff."""

from __future__ import annotations

import itertools
import logging

import pytest
import trio
import trio.testing

from drawstreamd.daemon import StartupError, supervise


async def test_a_failing_service_is_restarted_with_growing_delays(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    starts: list[float] = []

    async def flaky(*, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        starts.append(trio.current_time())
        task_status.started("up")
        await trio.sleep(0.1)
        raise ConnectionResetError("socket dropped")

    caplog.set_level(logging.ERROR, "drawstreamd.daemon")
    async with trio.open_nursery() as nursery:
        assert await nursery.start(supervise, "flaky source", flaky) == "up"
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 4  # it keeps coming back
    assert all(g >= 1.0 for g in gaps)  # never hammered: at least the 1 s floor
    assert max(gaps) > min(gaps)  # backoff grows
    assert all(g <= 30.2 for g in gaps)  # and is capped
    failures = [r.getMessage() for r in caplog.records]
    assert any('name="flaky source"' in m and "socket dropped" in m for m in failures)


async def test_a_service_that_returns_is_not_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    runs = 0

    async def off(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal runs
        runs += 1
        task_status.started()

    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "source with no credentials", off)
        await trio.sleep(100)
    assert runs == 1


async def test_a_control_surface_that_cannot_start_is_fatal() -> None:
    async def busy(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise OSError(98, "Address already in use")

    with pytest.RaisesGroup(
        pytest.RaisesExc(StartupError, match="http api: OSError: .*Address already in use")
    ):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "http api", busy, True)
