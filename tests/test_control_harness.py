"""Shared set-up for the control tests: real Journal (temp SQLite), DrawQueue, EventBus, Commands.

Also a few tests of the command layer itself (no server in between).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from drawstreamd.config import Settings
from drawstreamd.control.commands import CommandError, Commands
from drawstreamd.control.protocol import ErrorCode
from drawstreamd.events import EventBus
from drawstreamd.journal import Journal
from drawstreamd.model import Donation, QueueItem, Status
from drawstreamd.queue import DrawQueue

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class StandInWorker:
    """The Worker's control surface, driven by hand: take() starts drawing the next item."""

    def __init__(self, queue: DrawQueue, journal: Journal) -> None:
        self.queue = queue
        self.journal = journal
        self.current: QueueItem | None = None
        self.phase = "idle"
        self.planner_state = "builtin"
        self.plans: dict[int, bytes] = {}

    async def take(self) -> QueueItem:
        item = await self.queue.next()
        self.current = item
        self.phase = "drawing"
        await self.journal.set_status(item.id, Status.DRAWING, plan=b'{"steps":[]}')
        self.queue.events.emit("started", item.id, donor=item.donation.donor)
        return item

    def skip(self) -> bool:
        if self.current is None:
            return False
        self.queue.events.emit("skipped", self.current.id, reason="skipped by operator")
        self.current = None
        self.phase = "idle"
        return True

    def progress(self) -> float:
        return 0.25 if self.current else 0.0

    def remaining_sec(self) -> float:
        return 100.0 if self.current else 0.0

    async def replay(self, item_id: int) -> QueueItem | None:
        original = await self.journal.get(item_id)
        if original is None or await self.journal.get_plan(item_id) is None:
            return None
        d = original.donation
        again = Donation(
            source="replay",
            external_id=f"{item_id}:{uuid.uuid4().hex}",
            donor=d.donor,
            message=d.message,
        )
        await self.queue.submit(again)
        return next(i for i in self.queue.pending.values() if i.donation is again)


@dataclass
class Stack:
    settings: Settings
    journal: Journal
    events: EventBus
    queue: DrawQueue
    worker: StandInWorker
    commands: Commands
    tmp: Path
    run_dir: Path
    """A short directory for sockets (a Unix socket path must stay under ~108 bytes)."""

    def socket_path(self) -> Path:
        return self.run_dir / "drawstreamd" / "control.sock"


@contextlib.asynccontextmanager
async def open_stack(tmp_path: Path, **settings: object) -> AsyncIterator[Stack]:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    cfg = Settings(STATE_DIR=state, **settings)  # type: ignore[arg-type]
    journal = Journal.open(state / "journal.sqlite3")
    run_dir = Path(tempfile.mkdtemp(prefix="dsctl-", dir="/tmp"))
    try:
        events = EventBus()
        queue = DrawQueue(journal, events)
        worker = StandInWorker(queue, journal)
        commands = Commands(cfg, queue, journal, worker, events)
        yield Stack(cfg, journal, events, queue, worker, commands, tmp_path, run_dir)
    finally:
        journal.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the command layer on its own ------------------------------------------------------------
async def test_donate_queues_a_test_donation_visible_in_queue_and_status(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_stack(tmp_path) as st:
            item = await st.commands.donate("нарисуй кота", "Маша", 150.0, "rub")
            assert item.donor == "Маша"
            assert item.currency == "RUB"
            assert item.source == "test"
            q = await st.commands.queue_list()
            assert [i.id for i in q.items] == [item.id]
            status = await st.commands.status()
            assert status.queue_length == 1
            assert status.state == "idle"
            saved = await st.journal.get(item.id)
            assert saved is not None
            assert saved.donation.message == "нарисуй кота"


@pytest.mark.parametrize(
    ("message", "name", "amount", "currency"),
    [
        ("", None, 0.0, "RUB"),
        ("   ", None, 0.0, "RUB"),
        ("x" * 501, None, 0.0, "RUB"),
        ("кот", "n" * 65, 0.0, "RUB"),
        ("кот", None, -1.0, "RUB"),
        ("кот", None, float("nan"), "RUB"),
        ("кот", None, 0.0, "RU"),
    ],
)
async def test_donate_refuses_bad_input_and_queues_nothing(
    tmp_path: Path, message: str, name: str | None, amount: float, currency: str
) -> None:
    with trio.fail_after(10):
        async with open_stack(tmp_path) as st:
            with pytest.raises(CommandError) as err:
                await st.commands.donate(message, name, amount, currency)
            assert err.value.code is ErrorCode.ARG
            assert len(st.queue) == 0
            assert await st.journal.count() == 0


async def test_remove_unknown_id_is_no_exist_and_replay_needs_a_plan(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_stack(tmp_path) as st:
            with pytest.raises(CommandError) as err:
                await st.commands.remove(42)
            assert err.value.code is ErrorCode.NO_EXIST
            queued = await st.commands.donate("дом")
            with pytest.raises(CommandError) as err:
                await st.commands.replay(queued.id)  # never drawn: nothing to replay
            assert err.value.code is ErrorCode.NO_EXIST
            drawn = await st.worker.take()
            again = await st.commands.replay(drawn.id)
            assert again.message == "дом"
            assert again.id != drawn.id
            assert [i.id for i in st.queue.pending.values()] == [again.id]
