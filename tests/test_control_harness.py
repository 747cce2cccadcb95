"""Shared set-up for the control tests: the real parts (Journal on a temp SQLite file, DrawQueue,
EventBus, Worker with the builtin planner, Scene ticked by a windowless Renderer), running.

Also a few tests of the command layer itself (no server in between).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from drawstreamd import config
from drawstreamd.control.commands import CommandError, Commands
from drawstreamd.control.protocol import ErrorCode
from drawstreamd.events import EventBus
from drawstreamd.gallery import Gallery
from drawstreamd.gatekeeper.filter import Gatekeeper
from drawstreamd.journal import Journal
from drawstreamd.pipeline import Pipeline
from drawstreamd.render.scene import Scene
from drawstreamd.render.window import Renderer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from drawstreamd.config import Settings
    from drawstreamd.model import Event
    from drawstreamd.queue import DrawQueue
    from drawstreamd.worker import Worker


@dataclass
class Stack:
    """The daemon's real parts, running: journal, queue, bus, worker (builtin planner), scene."""

    settings: Settings
    journal: Journal
    events: EventBus
    queue: DrawQueue
    worker: Worker
    commands: Commands
    tmp: Path
    run_dir: Path
    """A short directory for sockets (a Unix socket path must stay under ~108 bytes)."""
    seen: list[Event] = field(default_factory=list)
    _arrived: trio.Event = field(default_factory=trio.Event)

    def socket_path(self) -> Path:
        return self.run_dir / "drawstreamd" / "control.sock"

    async def wait_for(self, kind: str, item_id: int | None = None) -> Event:
        """The first event of ``kind`` (for ``item_id``) seen since the stack started."""
        while True:
            for event in self.seen:
                if event.kind == kind and (item_id is None or event.item_id == item_id):
                    return event
            await self._arrived.wait()
            self._arrived = trio.Event()

    async def drawn(self, message: str) -> int:
        """Donate ``message`` and wait until its picture is finished (and now holding)."""
        item = await self.commands.donate(message)
        await self.wait_for("finished", item.id)
        return item.id


@contextlib.asynccontextmanager
async def open_stack(tmp_path: Path, **overrides: object) -> AsyncIterator[Stack]:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    base: dict[str, object] = {
        "STATE_DIR": state,
        "LLM_BACKEND": "builtin",
        "DEFAULT_STEP_DURATION_MS": 5,
        "SHOW_DURATION_SEC": 60.0,
        "FRAME_RATE": 30,
    }
    cfg = config.load(None, **{**base, **overrides})
    journal = Journal.open(state / "journal.sqlite3")
    run_dir = Path(tempfile.mkdtemp(prefix="dsctl-", dir="/tmp"))
    try:
        events = EventBus()
        scene = Scene(cfg.CANVAS_W, cfg.CANVAS_H, cfg.DEFAULT_STEP_DURATION_MS)
        pipeline = Pipeline.build(
            cfg, journal, events, scene, Gallery(state / "gallery"), Gatekeeper()
        )
        queue, worker = pipeline.queue, pipeline.worker
        renderer = Renderer(cfg, scene, window=False)
        commands = Commands(
            cfg, queue, journal, worker, events, frames=renderer,
            moderation=pipeline.moderation,
        )  # fmt: skip
        st = Stack(cfg, journal, events, queue, worker, commands, tmp_path, run_dir)
        async with trio.open_nursery() as nursery, events.subscribe() as sub:

            async def spy() -> None:
                while True:
                    st.seen.extend(await sub.next_batch())
                    st._arrived.set()

            nursery.start_soon(spy)
            await nursery.start(renderer.serve)
            await nursery.start(pipeline.serve)
            yield st
            nursery.cancel_scope.cancel()
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
            await st.commands.pause()
            item = await st.commands.donate("нарисуй кота", "Маша", 150.0, "rub")
            assert item.donor == "Маша"
            assert item.currency == "RUB"
            assert item.source == "test"
            q = await st.commands.queue_list()
            assert [i.id for i in q.items] == [item.id]
            status = await st.commands.status()
            assert status.queue_length == 1
            assert status.state == "idle"
            assert status.paused
            saved = await st.journal.get(item.id)
            assert saved is not None
            assert saved.donation.message == "нарисуй кота"
            await st.commands.resume()
            await st.wait_for("finished", item.id)
            status = await st.commands.status()
            assert (status.state, status.current_id, status.queue_length) == ("holding", 1, 0)


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
    with trio.fail_after(20):
        async with open_stack(tmp_path) as st:
            with pytest.raises(CommandError) as err:
                await st.commands.remove(42)
            assert err.value.code is ErrorCode.NO_EXIST
            with pytest.raises(CommandError) as err:
                await st.commands.remove(2**70)
            assert err.value.code is ErrorCode.ARG
            await st.commands.pause()
            queued = await st.commands.donate("дом")
            with pytest.raises(CommandError) as err:
                await st.commands.replay(queued.id)  # never drawn: nothing to replay
            assert err.value.code is ErrorCode.NO_EXIST
            await st.commands.resume()
            await st.wait_for("finished", queued.id)
            again = await st.commands.replay(queued.id)
            assert again.message == "дом"
            assert again.id != queued.id
            assert again.source == "replay"
            await st.commands.skip()  # ends the hold; the replay is drawn next
            await st.wait_for("finished", again.id)


async def test_stats_tell_how_smooth_the_picture_is(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_stack(tmp_path, DEFAULT_STEP_DURATION_MS=150, FRAME_RATE=60) as st:
            await trio.sleep(0.3)
            time.sleep(0.1)  # noqa: ASYNC251 - the process stalls while nothing moves: no stutter
            await trio.sleep(0.3)
            idle = await st.commands.stats(10)
            assert (idle.frames, idle.late) == (0, 0)  # a still screen is not redrawn
            item = await st.commands.donate("кот")
            await st.wait_for("started", item.id)
            await trio.sleep(0.5)
            time.sleep(0.1)  # noqa: ASYNC251 - ...and while it draws: a late frame
            await st.wait_for("finished", item.id)
            await trio.sleep(0.5)  # the picture holds: no frames counted
            stats = await st.commands.stats(60)
            assert 1.0 < stats.seconds < 10
            assert stats.frames >= stats.seconds * st.settings.FRAME_RATE * 0.8
            assert stats.fps == pytest.approx(st.settings.FRAME_RATE, rel=0.2)
            assert stats.late >= 1
            assert stats.interval_max_ms >= 90
            assert stats.interval_p50_ms <= stats.interval_p99_ms <= stats.interval_max_ms
            assert 0 < stats.late_percent < 20
            recent = await st.commands.stats(0.3)
            assert 0 < recent.seconds <= 0.3
            for bad in (0.0, -1.0, 61.0):
                with pytest.raises(CommandError) as err:
                    await st.commands.stats(bad)
                assert err.value.code is ErrorCode.ARG
            no_renderer = Commands(st.settings, st.queue, st.journal, st.worker, st.events)
            with pytest.raises(CommandError) as err:
                await no_renderer.stats()
            assert err.value.code is ErrorCode.STATE
