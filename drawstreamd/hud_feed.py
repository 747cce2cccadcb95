"""What the HUD shows next: the upcoming items with their ETAs, and the current donation's
credit line, as the audience may see them (:func:`drawstreamd.moderation.audience_view`).

It waits for the queue and the worker to announce a change instead of polling them; while
anything is queued or on screen the ETAs count down once a second.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import trio

from drawstreamd.moderation import audience_view
from drawstreamd.render.scene import Upcoming

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from drawstreamd.config import Settings
    from drawstreamd.model import QueueItem
    from drawstreamd.moderation import Words
    from drawstreamd.queue import DrawQueue
    from drawstreamd.render.scene import Scene

DEFAULT_DRAW_ESTIMATE_SEC = 20.0
TICK_SEC = 1.0


class WorkerState(Protocol):
    @property
    def phase(self) -> str: ...
    @property
    def current(self) -> QueueItem | None: ...


class PlannerState(Protocol):
    @property
    def llm(self) -> object | None: ...
    @property
    def llm_online(self) -> bool: ...


OFFLINE_NOTE = "LLM offline: builtin pictures"


class HudFeed:
    def __init__(
        self,
        settings: Settings,
        queue: DrawQueue,
        scene: Scene,
        words: Words | None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.scene = scene
        self.words = words
        self.worker: WorkerState | None = None
        self.planner: PlannerState | None = None
        self._draw_times: list[float] = []
        self._changed = trio.Event()

    # -- estimates ---------------------------------------------------------------------------
    def record_draw(self, seconds: float) -> None:
        self._draw_times = [*self._draw_times[-9:], seconds]

    def draw_estimate(self) -> float:
        if self._draw_times:
            return sum(self._draw_times) / len(self._draw_times)
        return DEFAULT_DRAW_ESTIMATE_SEC

    def remaining_sec(self) -> float:
        """Time until the current item is done (drawing estimate + hold)."""
        phase = self.worker.phase if self.worker is not None else "idle"
        show = self.settings.SHOW_DURATION_SEC
        p = self.scene.hud.progress
        if phase == "holding":
            return max(0.0, show * (1.0 - p))
        if phase in ("planning", "drawing"):
            return max(0.0, self.draw_estimate() * (1.0 - p)) + show
        return 0.0

    def upcoming(self) -> tuple[Upcoming, ...]:
        per_item = self.draw_estimate() + self.settings.SHOW_DURATION_SEC
        eta = self.remaining_sec()
        out = []
        for item in self.queue.preview():
            shown = audience_view(item, self.settings, self.words)
            d = item.donation
            out.append(Upcoming(shown.donor, shown.message, d.amount, d.currency, round(eta)))
            eta += per_item
        return tuple(out)

    # -- the feed ----------------------------------------------------------------------------
    def poke(self) -> None:
        """The worker's phase or item, or the planner's health, changed: show it now."""
        self.refresh()
        self._changed.set()
        self._changed = trio.Event()

    def refresh(self) -> None:
        worker = self.worker
        phase = worker.phase if worker is not None else "idle"
        changes: dict[str, object] = {"queue_len": len(self.queue), "upcoming": self.upcoming()}
        if self.queue.paused and phase == "idle":
            changes["phase"] = "paused"
        planner = self.planner
        if planner is not None and planner.llm is not None:
            changes["note"] = "" if planner.llm_online else OFFLINE_NOTE
        current = worker.current if worker is not None else None
        if current is not None and phase != "idle":
            shown = audience_view(current, self.settings, self.words)
            changes["donor"] = shown.donor
            changes["message"] = shown.message
        self.scene.update_hud(**changes)

    async def serve(
        self, *, task_status: trio.TaskStatus[HudFeed] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Keep the HUD's queue part current until cancelled; hands back itself."""
        task_status.started(self)
        while True:
            self.refresh()
            worker = self.worker
            busy = bool(len(self.queue)) or (worker is not None and worker.phase != "idle")
            with trio.move_on_after(TICK_SEC if busy else math.inf):
                await _first(self.queue.changed().wait, self._changed.wait)


async def _first(*waits: Callable[[], Awaitable[None]]) -> None:
    """Until the first of ``waits`` returns."""
    async with trio.open_nursery() as nursery:

        async def run(wait: Callable[[], Awaitable[None]]) -> None:
            await wait()
            nursery.cancel_scope.cancel()

        for wait in waits:
            nursery.start_soon(run, wait)
