"""The worker: the sequence only — one donation at a time, drawn, held, then the next.

Planning belongs to :mod:`drawstreamd.planning` (jobs owned by their item, the look-ahead,
the LLM), what the HUD shows next to :mod:`drawstreamd.hud_feed`, and what the audience may
see of a donation to :mod:`drawstreamd.moderation`. While a finished picture holds, the next
queued donation is already being planned, so a slow LLM does not add its wait between two
drawings; the display order stays the queue's order.

A journal that cannot write (a full disk) does not stop the worker: the item it could not
start goes back to the head of the queue and is tried again with backoff; the writes that
end a drawing are retried until they succeed.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, TypeVar

import trio

from drawstreamd.journal import JournalWriteError
from drawstreamd.logs import kv
from drawstreamd.model import Donation, QueueItem, Status
from drawstreamd.moderation import audience_view
from drawstreamd.plan import dsl
from drawstreamd.planning import REPLAY_SOURCE, Job
from drawstreamd.retry import Backoff
from drawstreamd.systemd import Heartbeat

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus
    from drawstreamd.gallery import Gallery
    from drawstreamd.hud_feed import HudFeed
    from drawstreamd.journal import Journal
    from drawstreamd.moderation import Gate
    from drawstreamd.planning import Planning
    from drawstreamd.queue import DrawQueue
    from drawstreamd.render.scene import Scene

log = logging.getLogger("drawstreamd.worker")

T = TypeVar("T")

__all__ = ["REPLAY_SOURCE", "Worker"]


class Worker:
    def __init__(
        self,
        settings: Settings,
        queue: DrawQueue,
        journal: Journal,
        events: EventBus,
        scene: Scene,
        gate: Gate,
        gallery: Gallery,
        planning: Planning,
        feed: HudFeed,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.journal = journal
        self.events = events
        self.scene = scene
        self.gate = gate
        self.gallery = gallery
        self.planning = planning
        self.feed = feed
        feed.worker = self
        self.current: QueueItem | None = None
        self.phase = "idle"
        self.heartbeat = Heartbeat("worker")
        self._phase_scope: trio.CancelScope | None = None
        self._backoff = Backoff(base=1.0, cap=30.0, floor=0.5)

    # -- public surface (control commands) --------------------------------------------------
    def skip(self) -> bool:
        """End the current drawing or hold at once; False when nothing is on.

        Its planning job is cancelled with it: the request to the model is closed and the
        LLM is free for the next donation at once.
        """
        if self._phase_scope is None or self.phase == "idle":
            return False
        self._phase_scope.cancel()
        if self.current is not None:
            self.planning.cancel(self.current.id)
        return True

    @property
    def planner_state(self) -> str:
        return self.planning.state

    @property
    def llm(self) -> object | None:
        return self.planning.llm

    @property
    def llm_online(self) -> bool:
        return self.planning.llm_online

    def progress(self) -> float:
        return self.scene.hud.progress

    def remaining_sec(self) -> float:
        return self.feed.remaining_sec()

    async def replay(self, item_id: int) -> QueueItem | None:
        """Queue a past drawing again, with the plan it was drawn with."""
        original = await self.journal.get(item_id)
        if original is None or await self.journal.get_plan(item_id) is None:
            return None
        d = original.donation
        again = Donation(
            source=REPLAY_SOURCE,
            external_id=f"{item_id}:{uuid.uuid4().hex[:12]}",
            donor=d.donor,
            message=d.message,
            amount=d.amount,
            currency=d.currency,
            amount_main=d.amount_main,
        )
        return await self.queue.record(again)

    # -- the service ------------------------------------------------------------------------
    async def serve(
        self, *, task_status: trio.TaskStatus[Worker] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Draw queued donations forever, one at a time.

        Hands back itself once running. On cancellation the item in progress is journaled
        as interrupted (shielded), to be drawn first on the next start.
        """
        task_status.started(self)
        while True:
            self.current = None
            self._set_phase("idle")
            self.scene.idle()
            with self.heartbeat.idle():
                item = await self.queue.next()
            if not await self._start(item):
                continue
            await self._process(item)

    def _set_phase(self, phase: str) -> None:
        self.heartbeat.beat()
        self.phase = phase
        self.feed.poke()

    async def _start(self, item: QueueItem) -> bool:
        """Journal that ``item`` is being planned; if the journal cannot, put it back."""
        try:
            await self.journal.set_status(item.id, Status.PLANNING)
        except JournalWriteError as exc:
            self.queue.put_back(item)
            delay = self._backoff.next_delay()
            log.error(kv("cannot start the next drawing", item=item.id, error=str(exc),
                         retry_in_sec=round(delay, 1)))  # fmt: skip
            with self.heartbeat.idle():
                await trio.sleep(delay)
            return False
        self._backoff.reset()
        item.status = Status.PLANNING
        return True

    async def _retry(self, what: str, write: Callable[[], Awaitable[T]]) -> T:
        """A journal write that must land: retried with backoff until it does."""
        backoff = Backoff(base=1.0, cap=30.0, floor=0.5)
        while True:
            try:
                return await write()
            except JournalWriteError as exc:
                delay = backoff.next_delay()
                log.error(kv("journal write failed, retrying", what=what, error=str(exc),
                             retry_in_sec=round(delay, 1)))  # fmt: skip
                with self.heartbeat.idle():
                    await trio.sleep(delay)

    # -- one donation -----------------------------------------------------------------------
    async def _process(self, item: QueueItem) -> None:
        self.current = item
        d = item.donation
        done = False
        try:
            job = self.planning.start(item)
            with trio.CancelScope() as scope:
                self._phase_scope = scope
                started = trio.current_time()
                shown = audience_view(item, self.settings, self.gate.words)
                # On screen first: a plan made during the last hold is drawing on the next
                # frame; the HUD says the artist is thinking until a step comes.
                self.scene.begin(
                    job.buffer,
                    donor=shown.donor,
                    amount=d.amount,
                    currency=d.currency,
                    message=shown.message,
                )
                self.events.emit("started", item.id, donor=d.donor, message=d.message)
                self._set_phase("planning")
                await self._watch_steps(item, job)
            self._phase_scope = None
            if scope.cancelled_caught:
                self.planning.cancel(item.id)
                await self._finish(item, Status.SKIPPED, "skipped by operator")
                done = True
                return
            draw_sec = trio.current_time() - started
            self.feed.record_draw(draw_sec)
            buffer = job.buffer
            plan_json = dsl.encode(buffer.snapshot())
            await self._retry(
                "drawing shown",
                lambda: self.journal.set_status(item.id, Status.SHOWN, plan=plan_json),
            )
            item.status = Status.SHOWN
            done = True
            self.planning.done(item.id)
            await self._save(item, job, plan_json, draw_sec)
            self.events.emit(
                "finished",
                item.id,
                donor=d.donor,
                draw_sec=round(draw_sec, 3),
                origin=buffer.origin,
            )
            await self._hold()
        except Exception as exc:
            if done:
                log.exception("after-drawing step failed item=%s", item.id)
                return
            log.exception("drawing failed item=%s", item.id)
            self.planning.done(item.id)
            await self._finish(item, Status.FAILED, f"{type(exc).__name__}: {exc}")
            done = True
        finally:
            self._phase_scope = None
            if not done:
                # cancelled (shutdown): leave it for the next start, drawn first
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    try:
                        await self.journal.set_status(item.id, Status.INTERRUPTED)
                        item.status = Status.INTERRUPTED
                    except JournalWriteError as exc:
                        log.error(kv("interrupted drawing not journaled", item=item.id,
                                     error=str(exc)))  # fmt: skip

    async def _save(self, item: QueueItem, job: Job, plan_json: bytes, draw_sec: float) -> None:
        try:
            await self.gallery.save(
                item,
                plan_json,
                bytes(self.scene.canvas),
                self.scene.width,
                self.scene.height,
                timings={"draw_sec": round(draw_sec, 3), "finished_at": time.time()},
                origin=job.buffer.origin,
                errors=job.buffer.errors,
            )
        except OSError as exc:
            log.error(kv("gallery picture not saved", item=item.id, error=str(exc)))

    async def _finish(self, item: QueueItem, status: Status, reason: str) -> None:
        item.status = status
        item.reason = reason
        await self._retry(
            f"drawing {status}", lambda: self.journal.set_status(item.id, status, reason=reason)
        )
        self.events.emit(
            "skipped" if status is Status.SKIPPED else "failed", item.id, reason=reason
        )

    async def _watch_steps(self, item: QueueItem, job: Job) -> None:
        buffer = job.buffer
        async with trio.open_nursery() as nursery:

            async def announce() -> None:
                seen = 0
                while True:
                    while seen < len(buffer.steps):
                        self.events.emit("step", item.id, index=seen, op=_op(buffer.steps[seen]))
                        seen += 1
                    if buffer.closed:
                        return
                    await buffer.wait_changed()

            nursery.start_soon(announce)
            with self.heartbeat.idle():  # the planner's time is bounded by its own timeouts
                while not buffer.steps and not buffer.closed:
                    await buffer.wait_changed()
            self._set_phase("drawing")
            item.status = Status.DRAWING
            try:
                await self.journal.set_status(item.id, Status.DRAWING)
            except JournalWriteError as exc:
                # still "planning" in the journal, which a restart treats the same way
                log.warning(kv("drawing status not journaled", item=item.id, error=str(exc)))
            with self.heartbeat.idle():
                await self.scene.wait_drawn()
            nursery.cancel_scope.cancel()

    async def _hold(self) -> None:
        self._set_phase("holding")
        self.scene.hold(trio.current_time(), self.settings.SHOW_DURATION_SEC)
        with trio.CancelScope() as scope:
            self._phase_scope = scope
            with self.heartbeat.idle():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._look_ahead_loop)
                    await trio.sleep(self.settings.SHOW_DURATION_SEC)
                    nursery.cancel_scope.cancel()
        self._phase_scope = None

    async def _look_ahead_loop(self) -> None:
        """Start planning the next queued donation while the current picture holds."""
        while True:
            changed = self.queue.changed()
            nxt = self.queue.peek()
            if nxt is not None and not self.queue.paused:
                self.planning.start(nxt)
            await changed.wait()


def _op(step: dsl.Step) -> str:
    return str(step.__struct_config__.tag)
