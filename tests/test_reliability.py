"""Live for weeks, inside the process: skips never stall, plans are journaled before the hold,
a restart redraws the same plan, and a full disk costs no donation. Real parts: the journal
on a real (tmpfs) filesystem, the OpenAI-compatible client over loopback against the fake
server, the worker, scene and renderer."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
import trio
from support import fill_filesystem, small_filesystem
from test_llm_worker import PLAN_JSON, llm_settings, planner

from drawstreamd.journal import Journal, JournalWriteError
from drawstreamd.model import Donation, Status
from drawstreamd.testing.fake_llm import Reply

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    import httpx
    from worker_rig import Rig

    from drawstreamd.testing.fake_llm import FakeLLM

SLOW = Reply(content=PLAN_JSON, chunk_chars=1, delay=0.1)
"""One character every 100 ms: a model that takes minutes over a plan."""


async def wait_status(rig: Rig, item_id: int, status: Status, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while (item := await rig.journal.get(item_id)) is None or item.status is not status:
            await trio.sleep(0.02)


async def test_skip_during_a_slow_plan_frees_the_model_at_once(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
) -> None:
    values = llm_settings(fake.url, LLM_TIMEOUT_SEC=60.0, LLM_IDLE_TIMEOUT_SEC=30.0)
    fake.push(SLOW, Reply(content=PLAN_JSON))
    rig = await rig_factory(nursery, llm=planner(http, values), **values)
    rig.planning.llm_online = True
    first = await rig.donate(1, "draw a sun")
    second = await rig.donate(2, "draw a house")
    await rig.wait_for("started", first)
    with trio.fail_after(5):
        while len(fake.requests) < 1:
            await trio.sleep(0.02)
    await trio.sleep(0.5)  # the model is writing, nothing drawn yet
    assert rig.worker.phase == "planning"
    skipped_at = trio.current_time()
    assert rig.worker.skip()
    await rig.wait_for("step", second, timeout=1.0)  # the next one draws within a second
    assert trio.current_time() - skipped_at < 1.0
    await wait_status(rig, first, Status.SKIPPED)
    assert len(fake.requests) == 2


@pytest.mark.parametrize("how", ["remove", "clear"])
async def test_removing_or_clearing_the_look_ahead_frees_the_model(
    how: str,
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
) -> None:
    values = llm_settings(fake.url, LLM_TIMEOUT_SEC=60.0, LLM_IDLE_TIMEOUT_SEC=30.0)
    fake.push(Reply(content=PLAN_JSON), SLOW, Reply(content=PLAN_JSON))
    rig = await rig_factory(nursery, llm=planner(http, values), SHOW_DURATION_SEC=1.0, **values)
    rig.planning.llm_online = True
    first = await rig.donate(1, "draw a sun")
    second = await rig.donate(2, "draw a cat")
    await rig.wait_for("finished", first)
    with trio.fail_after(5):  # the look-ahead is writing the second one, slowly
        while len(fake.requests) < 2:
            await trio.sleep(0.02)
    if how == "remove":
        assert await rig.queue.remove(second)
    else:
        assert await rig.queue.clear() == 1
    third = await rig.donate(3, "draw a house")
    # the slow plan's request was dropped with its item: the third is planned during the hold
    await rig.wait_for("step", third, timeout=3.0)
    assert len(fake.requests) == 3
    assert (await rig.journal.get(second)).status is Status.SKIPPED  # type: ignore[union-attr]


async def test_the_plan_is_journaled_before_the_hold_and_redrawn_after_a_restart(
    tmp_path: Path,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
) -> None:
    values = llm_settings(fake.url)
    fake.push(Reply(content=PLAN_JSON))
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            rig = await rig_factory(
                nursery,
                llm=planner(http, values),
                DEFAULT_STEP_DURATION_MS=60_000,  # one step takes a minute: stop mid-drawing
                **values,
            )
            rig.planning.llm_online = True
            item = await rig.donate(1, "draw a sun")
            await rig.wait_for("step", item)
            while await rig.journal.get_plan(item) is None:  # complete, still drawing
                await trio.sleep(0.02)
            drawn_plan = await rig.journal.get_plan(item)
            nursery.cancel_scope.cancel()  # a graceful stop mid-drawing
    assert len(fake.requests) == 1
    restarted = await rig.journal.get(item)
    assert restarted is not None
    assert restarted.status is Status.INTERRUPTED
    assert restarted.interruptions == 0  # a graceful stop does not count
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            rig = await rig_factory(nursery, llm=planner(http, values), **values)
            rig.planning.llm_online = True
            await rig.wait_for("finished", item)
            nursery.cancel_scope.cancel()
    assert len(fake.requests) == 1  # no second request to the model
    assert await rig.journal.get_plan(item) == drawn_plan


async def test_three_unclean_stops_fail_the_item_and_the_queue_moves_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal.open(path)
    try:
        cursed = await journal.record(Donation(source="test", external_id="1", message="boom"))
        after = await journal.record(Donation(source="test", external_id="2", message="cat"))
        assert cursed is not None
        assert after is not None
        for stop in range(1, 4):
            await journal.set_status(cursed.id, Status.DRAWING)  # then the process dies
            failed = await journal.recover(3)
            item = await journal.get(cursed.id)
            assert item is not None
            assert item.interruptions == stop
            if stop < 3:
                assert not failed
                assert item.status is Status.INTERRUPTED
                assert [i.id for i in await journal.unfinished()] == [cursed.id, after.id]
        assert [i.id for i in failed] == [cursed.id]
        assert item.status is Status.FAILED
        assert item.reason == "interrupted 3 times"
        assert [i.id for i in await journal.unfinished()] == [after.id]
        # an interrupted item (graceful stop) is not counted again
        await journal.set_status(after.id, Status.INTERRUPTED)
        assert await journal.recover(3) == []
        again = await journal.get(after.id)
        assert again is not None
        assert again.interruptions == 0
    finally:
        journal.close()


async def test_a_failed_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    """A write that failed on a full disk is not written later by someone else's commit."""
    with small_filesystem(tmp_path / "fs", size_kb=512) as fs:
        journal = Journal.open(fs / "journal.sqlite3")
        try:
            assert await journal.record(Donation(source="test", external_id="ok"))
            filler = fill_filesystem(fs)
            errors: list[str] = []

            async def donate(n: int) -> None:
                try:
                    await journal.record(Donation(source="test", external_id=f"lost{n}"))
                except JournalWriteError as exc:
                    errors.append(str(exc))

            async with trio.open_nursery() as nursery:
                for n in range(3):
                    nursery.start_soon(donate, n)
            assert len(errors) == 3
            assert all("database or disk is full" in e for e in errors)
            assert journal.failing is not None
            os.unlink(filler)
            assert await journal.record(Donation(source="test", external_id="later"))
            assert journal.failing is None
            kept = [i.donation.external_id for i in await journal.history(10)]
            assert kept == ["later", "ok"]
        finally:
            journal.close()


async def test_a_full_disk_puts_the_drawing_back_and_it_is_drawn_when_space_returns(
    tmp_path: Path, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    with small_filesystem(tmp_path / "state", size_kb=1024) as fs, trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            rig = await rig_factory(nursery)
            rig.queue.pause()
            waiting = await rig.donate(1)
            filler = fill_filesystem(fs)
            with pytest.raises(JournalWriteError):
                await rig.donate(2)
            rig.queue.resume()
            await trio.sleep(1.0)  # the worker cannot journal that it starts: still queued
            item = await rig.journal.get(waiting)
            assert item is not None
            assert item.status is Status.QUEUED
            assert rig.worker.phase == "idle"
            while [i.id for i in rig.queue.preview()] != [waiting]:  # between two attempts
                await trio.sleep(0.01)
            os.unlink(filler)
            await rig.wait_for("finished", waiting, timeout=10)
            assert await rig.donate(3)
            nursery.cancel_scope.cancel()
