"""The FIFO: order, preview, pause/resume, remove, clear, restore after a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from drawstreamd.events import EventBus
from drawstreamd.journal import Journal
from drawstreamd.model import Donation, Status
from drawstreamd.queue import DrawQueue

if TYPE_CHECKING:
    from pathlib import Path


def donation(n: int) -> Donation:
    return Donation(source="test", external_id=str(n), donor=f"d{n}", message=f"m{n}")


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal.open(tmp_path / "journal.sqlite3")
    yield j
    j.close()


async def test_strict_fifo_and_preview_of_five(journal: Journal) -> None:
    q = DrawQueue(journal, EventBus())
    for n in range(8):
        assert await q.submit(donation(n))
    assert not await q.submit(donation(3))  # duplicate: not queued twice
    assert [i.donation.external_id for i in q.preview()] == ["0", "1", "2", "3", "4"]
    got = [(await q.next()).donation.external_id for _ in range(8)]
    assert got == [str(n) for n in range(8)]
    assert len(q) == 0


async def test_remove_and_clear_are_journaled_and_skipped_by_next(journal: Journal) -> None:
    bus = EventBus()
    q = DrawQueue(journal, bus)
    async with bus.subscribe() as sub:
        for n in range(5):
            await q.submit(donation(n))
        assert await q.remove(2)
        assert not await q.remove(2)
        assert not await q.remove(999)
        assert (await q.next()).id == 1
        assert (await q.next()).id == 3
        assert await q.clear() == 2
        kinds = [e.kind for e in sub.drain()]
    assert kinds.count("queued") == 5
    assert "removed" in kinds
    assert "cleared" in kinds
    assert (await journal.get(2)).status is Status.SKIPPED  # type: ignore[union-attr]
    assert (await journal.get(5)).reason == "cleared by operator"  # type: ignore[union-attr]
    with trio.move_on_after(0.2) as cs:
        await q.next()
    assert cs.cancelled_caught  # nothing left: next() waits


async def test_pause_holds_back_new_drawings_but_accepts_donations(
    journal: Journal, autojump_clock: trio.testing.MockClock
) -> None:
    q = DrawQueue(journal, EventBus())
    q.pause()
    await q.submit(donation(1))
    with trio.move_on_after(60) as cs:
        await q.next()
    assert cs.cancelled_caught
    assert len(q) == 1
    got: list[int] = []

    async def take() -> None:
        got.append((await q.next()).id)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take)
        await trio.sleep(5)
        assert got == []
        q.resume()
    assert got == [1]


async def test_pause_after_the_worker_started_waiting(journal: Journal) -> None:
    q = DrawQueue(journal, EventBus())
    got: list[int] = []

    async def take() -> None:
        got.append((await q.next()).id)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(take)
            await trio.testing.wait_all_tasks_blocked()
            q.pause()
            await q.submit(donation(1))
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            q.resume()
    assert got == [1]


async def test_restore_puts_interrupted_first(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal.open(path)
    q = DrawQueue(j, EventBus())
    for n in range(4):
        await q.submit(donation(n))
    first = await q.next()
    await j.set_status(first.id, Status.SHOWN)
    third_taken = await q.next()
    await j.set_status(third_taken.id, Status.DRAWING)  # then the process dies
    j.close()
    j = Journal.open(path)
    q = DrawQueue(j, EventBus())
    restored = await q.restore()
    assert [i.id for i in restored] == [2, 3, 4]
    assert restored[0].status is Status.INTERRUPTED
    assert [(await q.next()).id for _ in range(3)] == [2, 3, 4]
    j.close()
