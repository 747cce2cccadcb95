"""The drawing pipeline, assembled once: the gate, the queue, planning, the HUD feed, the worker.

The daemon and the tests build the same thing here, so what a test drives is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from drawstreamd.hud_feed import HudFeed
from drawstreamd.moderation import Gate, Moderation
from drawstreamd.planning import Planning
from drawstreamd.queue import DrawQueue
from drawstreamd.worker import Worker

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus
    from drawstreamd.gallery import Gallery
    from drawstreamd.journal import Journal
    from drawstreamd.model import QueueItem
    from drawstreamd.moderation import Words
    from drawstreamd.planning import ModelJudge, RemotePlanner
    from drawstreamd.render.scene import Scene


@dataclass
class Pipeline:
    gate: Gate
    queue: DrawQueue
    planning: Planning
    feed: HudFeed
    worker: Worker
    moderation: Moderation

    @classmethod
    def build(
        cls,
        settings: Settings,
        journal: Journal,
        events: EventBus,
        scene: Scene,
        gallery: Gallery,
        words: Words,
        *,
        llm: RemotePlanner | None = None,
        judge: ModelJudge | None = None,
    ) -> Pipeline:
        gate = Gate(settings, words, model_check=judge is not None)
        queue = DrawQueue(journal, events, gate)
        planning = Planning(settings, queue, journal, events, gate, llm, judge)
        feed = HudFeed(settings, queue, scene, words)
        feed.planner = planning
        planning.on_health.append(feed.poke)
        worker = Worker(settings, queue, journal, events, scene, gate, gallery, planning, feed)
        moderation = Moderation(settings, gate, queue, journal, events, planning)
        return cls(gate, queue, planning, feed, worker, moderation)

    async def restore(self) -> list[QueueItem]:
        """Read the bans, then queue the unfinished work the journal holds (see
        :meth:`DrawQueue.restore`)."""
        await self.moderation.load()
        return await self.queue.restore()

    async def serve(
        self, *, task_status: trio.TaskStatus[Pipeline] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run planning, the HUD feed, moderation and the worker until cancelled; hands back
        itself once the worker is taking items (:meth:`restore` first)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.planning.serve)
            await nursery.start(self.feed.serve)
            await nursery.start(self.moderation.serve)
            await nursery.start(self.worker.serve)
            task_status.started(self)
