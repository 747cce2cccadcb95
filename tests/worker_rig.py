"""A worker with real parts around it, for tests: journal on disk, queue, scene ticked by the
renderer loop (windowless), gatekeeper, gallery; the planner is the test's choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
import trio

from drawstreamd import config
from drawstreamd.events import EventBus, Subscription
from drawstreamd.gallery import Gallery
from drawstreamd.gatekeeper.filter import Gatekeeper
from drawstreamd.journal import Journal
from drawstreamd.model import Donation, Event
from drawstreamd.pipeline import Pipeline
from drawstreamd.render.scene import Scene
from drawstreamd.render.window import Renderer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from drawstreamd.planning import ModelJudge, Planning, RemotePlanner
    from drawstreamd.queue import DrawQueue
    from drawstreamd.worker import Worker

FRAME_RATE = 50


@dataclass
class Rig:
    worker: Worker
    planning: Planning
    queue: DrawQueue
    journal: Journal
    events: EventBus
    sub: Subscription
    gallery: Path
    seen: list[Event] = field(default_factory=list)

    async def donate(self, n: int, message: str = "нарисуй кота") -> int:
        assert await self.queue.submit(
            Donation(
                source="test", external_id=str(n), donor=f"donor{n}", message=message, amount=n
            )
        )
        return max(self.queue.pending)

    async def wait_for(self, kind: str, item_id: int | None = None, timeout: float = 15) -> Event:
        with trio.fail_after(timeout):
            while True:
                for e in self.seen:
                    if e.kind == kind and (item_id is None or e.item_id == item_id):
                        return e
                self.seen.extend(await self.sub.next_batch())


def settings(tmp_path: Path, **overrides: object) -> config.Settings:
    base: dict[str, object] = {
        "STATE_DIR": tmp_path / "state",
        "SHOW_DURATION_SEC": 0.3,
        "DEFAULT_STEP_DURATION_MS": 10,
        "FRAME_RATE": FRAME_RATE,
        "LLM_BACKEND": "builtin",
    }
    base.update(overrides)
    return config.load(None, **base)


@pytest.fixture
async def rig_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    journals: list[Journal] = []

    async def make(
        nursery: trio.Nursery,
        llm: RemotePlanner | None = None,
        scene: Scene | None = None,
        judge: ModelJudge | None = None,
        **overrides: object,
    ) -> Rig:
        s = settings(tmp_path, **overrides)
        s.STATE_DIR.mkdir(parents=True, exist_ok=True)
        journal = Journal.open(s.STATE_DIR / "journal.sqlite3")
        journals.append(journal)
        events = EventBus()
        scene = scene or Scene(s.CANVAS_W, s.CANVAS_H, s.DEFAULT_STEP_DURATION_MS)
        gallery = Gallery(s.STATE_DIR / "gallery")
        p = Pipeline.build(s, journal, events, scene, gallery, Gatekeeper(), llm=llm, judge=judge)
        sub = events.attach()
        await p.restore()
        await nursery.start(Renderer(s, scene, window=False).serve)
        await nursery.start(p.serve)
        return Rig(p.worker, p.planning, p.queue, journal, events, sub, s.STATE_DIR / "gallery")

    yield make
    for j in journals:
        j.close()
