"""Moderation inside the process: a reload (SIGHUP) that changes MODERATION applies to the
items still waiting, and a waiting item keeps its place without holding up the others.
Real parts: the journal on disk, the queue, the builtin planner, the scene and renderer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from drawstreamd.model import Approval, Status

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from worker_rig import Rig


async def test_a_reloaded_mode_applies_to_waiting_items(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    rig = await rig_factory(nursery, MODERATION="manual")
    held = await rig.donate(1, "draw a cat")
    assert rig.queue.pending[held].approval is Approval.WAITING
    await trio.sleep(0.3)
    assert held in rig.queue.pending  # nobody decided: not drawn
    rig.worker.settings.MODERATION = "auto"  # what SIGHUP does with a new config
    assert await rig.queue.recheck() == 1
    await rig.wait_for("finished", held)
    stored = await rig.journal.get(held)
    assert stored is not None
    assert stored.approval is None
    assert stored.status is Status.SHOWN
    # and the other way: a queued item starts to wait when the mode asks for it
    rig.queue.pause()
    later = await rig.donate(2, "draw a dog")
    rig.worker.settings.MODERATION = "manual"
    assert await rig.queue.recheck() == 1
    rig.queue.resume()
    await trio.sleep(0.3)
    assert rig.queue.pending[later].approval is Approval.WAITING
    stored = await rig.journal.get(later)
    assert stored is not None
    assert stored.approval is Approval.WAITING


async def test_an_approved_item_is_drawn_before_those_that_came_after_it(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    rig = await rig_factory(nursery, MODERATION="flagged", SHOW_DURATION_SEC=0.5)
    doubtful = await rig.donate(1, "draw a girl in a bikini on the beach")
    first = await rig.donate(2, "draw a cat")
    second = await rig.donate(3, "draw a dog")
    await rig.wait_for("started", first)
    assert rig.queue.pending[doubtful].approval is Approval.WAITING
    assert await rig.queue.approve(doubtful) is not None
    started = []
    for item in (doubtful, second):
        started.append((await rig.wait_for("started", item)).at)
    assert started[0] < started[1]
