"""The worker: one donation at a time, gatekeeper → planner → scene → hold, strict FIFO.

While a finished picture holds, the next queued donation is already being planned (look
ahead), so a slow LLM does not add its wait between two drawings; the display order stays the
queue's order and only one plan is asked of a planner at a time.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import trio

from drawstreamd.logs import kv
from drawstreamd.model import Donation, QueueItem, Status
from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer, Planner, PlannerError
from drawstreamd.render.scene import Scene, Upcoming
from drawstreamd.systemd import Heartbeat

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus
    from drawstreamd.gallery import Gallery
    from drawstreamd.journal import Journal
    from drawstreamd.queue import DrawQueue

log = logging.getLogger("drawstreamd.worker")

REPLAY_SOURCE = "replay"
PROBE_INTERVAL_SEC = 30.0
DEFAULT_DRAW_ESTIMATE_SEC = 20.0


class VerdictLike(Protocol):
    @property
    def nsfw(self) -> bool: ...
    @property
    def rule(self) -> str | None: ...


class GatekeeperLike(Protocol):
    def check(self, text: str) -> VerdictLike: ...
    def mask(self, text: str) -> str: ...


class RemotePlanner(Planner, Protocol):
    async def probe(self) -> bool: ...


@dataclass
class _Ahead:
    item_id: int
    buffer: PlanBuffer
    scope: trio.CancelScope
    rule: str | None


class Worker:
    def __init__(
        self,
        settings: Settings,
        queue: DrawQueue,
        journal: Journal,
        events: EventBus,
        scene: Scene,
        gatekeeper: GatekeeperLike,
        gallery: Gallery,
        llm: RemotePlanner | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.journal = journal
        self.events = events
        self.scene = scene
        self.gatekeeper = gatekeeper
        self.gallery = gallery
        self.llm = llm
        self.builtin = builtin.BuiltinPlanner()
        self.llm_online = llm is not None
        self.current: QueueItem | None = None
        self.phase = "idle"
        self.heartbeat = Heartbeat("worker")
        self._phase_scope: trio.CancelScope | None = None
        self._phase_started = 0.0
        self._ahead: _Ahead | None = None
        self._ahead_starting = False
        self._nursery: trio.Nursery | None = None
        self._draw_times: list[float] = []
        self._llm_lock = trio.Lock()
        queue.discard_hooks.append(self._on_discard)

    # -- public surface (control commands) --------------------------------------------------
    def skip(self) -> bool:
        """End the current drawing or hold at once; False when nothing is on."""
        if self._phase_scope is None or self.phase == "idle":
            return False
        self._phase_scope.cancel()
        return True

    @property
    def planner_state(self) -> str:
        if self.llm is None:
            return "builtin"
        return "llm" if self.llm_online else "llm offline: builtin"

    def progress(self) -> float:
        return self.scene.hud.progress

    def remaining_sec(self) -> float:
        """Time until the current item is done (drawing estimate + hold)."""
        show = self.settings.SHOW_DURATION_SEC
        p = self.scene.hud.progress
        if self.phase == "holding":
            return max(0.0, show * (1.0 - p))
        if self.phase in ("planning", "drawing"):
            est = self._draw_estimate()
            return max(0.0, est * (1.0 - p)) + show
        return 0.0

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
        await self.queue.submit(again)
        for item in reversed(self.queue.pending.values()):
            if item.donation is again:
                return item
        return None

    # -- the service ------------------------------------------------------------------------
    async def serve(
        self, *, task_status: trio.TaskStatus[Worker] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Draw queued donations forever, one at a time.

        Hands back itself once running. Owns the look-ahead planning task and the LLM probe.
        On cancellation the item in progress is journaled as interrupted (shielded).
        """
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._hud_queue_loop)
            if self.llm is not None:
                nursery.start_soon(self._probe_loop)
            task_status.started(self)
            while True:
                self._set_phase("idle")
                self.current = None
                self.scene.idle()
                with self.heartbeat.idle():
                    item = await self.queue.next()
                await self._process(item)

    def _set_phase(self, phase: str) -> None:
        self.heartbeat.beat()
        self.phase = phase
        self._phase_started = trio.current_time()

    # -- one donation -----------------------------------------------------------------------
    async def _process(self, item: QueueItem) -> None:
        self.current = item
        d = item.donation
        done = False
        try:
            with trio.CancelScope() as scope:
                self._phase_scope = scope
                buffer, rule = await self._start_plan(item)
                item.rule = rule
                started = trio.current_time()
                # On screen first, journal after: a plan made during the last hold is drawing
                # on the next frame; the HUD says the artist is thinking until a step comes.
                self.scene.begin(
                    buffer,
                    donor=self._shown(d.donor),
                    amount=d.amount,
                    currency=d.currency,
                    message=self._shown(d.message),
                )
                self.events.emit(
                    "started", item.id, donor=d.donor, message=d.message, origin=buffer.origin
                )
                self._set_phase("planning")
                item.status = Status.PLANNING
                await self.journal.set_status(item.id, Status.PLANNING, rule=rule)
                await self._watch_steps(item, buffer)
            self._phase_scope = None
            if scope.cancelled_caught:
                await self._finish(item, Status.SKIPPED, "skipped by operator")
                done = True
                return
            draw_sec = trio.current_time() - started
            self._draw_times = [*self._draw_times[-9:], draw_sec]
            plan = dsl.Plan(seed=buffer.seed, bg=buffer.bg, steps=list(buffer.steps))
            plan_json = dsl.encode(plan)
            await self.journal.set_status(item.id, Status.SHOWN, plan=plan_json)
            item.status = Status.SHOWN
            done = True
            await self.gallery.save(
                item,
                plan_json,
                bytes(self.scene.canvas),
                self.scene.width,
                self.scene.height,
                timings={"draw_sec": round(draw_sec, 3), "finished_at": time.time()},
                origin=buffer.origin,
                errors=buffer.errors,
            )
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
            await self._finish(item, Status.FAILED, f"{type(exc).__name__}: {exc}")
            done = True
        finally:
            self._phase_scope = None
            if not done:
                # cancelled (shutdown): leave it for the next start, drawn first
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self.journal.set_status(item.id, Status.INTERRUPTED)
                    item.status = Status.INTERRUPTED

    async def _finish(self, item: QueueItem, status: Status, reason: str) -> None:
        item.status = status
        item.reason = reason
        await self.journal.set_status(item.id, status, reason=reason)
        self.events.emit(
            "skipped" if status is Status.SKIPPED else "failed", item.id, reason=reason
        )

    async def _watch_steps(self, item: QueueItem, buffer: PlanBuffer) -> None:
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
            await self.journal.set_status(item.id, Status.DRAWING)
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
        while True:
            self._look_ahead()
            await self.queue.wait_changed()

    # -- planning -----------------------------------------------------------------------------
    async def _start_plan(self, item: QueueItem) -> tuple[PlanBuffer, str | None]:
        """A buffer being filled for ``item`` (from the look-ahead when it has one)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            if ahead.item_id == item.id:
                return ahead.buffer, ahead.rule
            ahead.scope.cancel()
        buffer, rule, job = await self._prepare(item)
        if job is not None:
            assert self._nursery is not None
            self._nursery.start_soon(job, trio.CancelScope())
        return buffer, rule

    async def _prepare(
        self, item: QueueItem
    ) -> tuple[PlanBuffer, str | None, Callable[[trio.CancelScope], Awaitable[None]] | None]:
        buffer = PlanBuffer()
        d = item.donation
        if d.source == REPLAY_SOURCE:
            original = int(d.external_id.split(":", 1)[0])
            raw = await self.journal.get_plan(original)
            plan, _ = dsl.validate(raw) if raw is not None else (None, [])
            buffer.fill(plan or builtin.error_card("replay: plan missing"), "replay")
            return buffer, None, None
        verdict = self.gatekeeper.check(d.message)
        if verdict.nsfw:
            log.info("gatekeeper blocked item=%s rule=%s", item.id, verdict.rule)
            buffer.fill(builtin.too_small_card(), "gatekeeper")
            return buffer, verdict.rule, None

        async def job(scope: trio.CancelScope) -> None:
            with scope:
                await self._plan(d.message, buffer)

        return buffer, None, job

    async def _plan(self, message: str, buffer: PlanBuffer) -> None:
        """Fill ``buffer``; always leaves it closed with at least one step."""
        try:
            if self.llm is not None and self.llm_online:
                bound = self.settings.LLM_TIMEOUT_SEC * self.settings.LLM_ATTEMPTS + 5.0
                async with self._llm_lock:
                    with trio.move_on_after(bound) as cs:
                        await self.llm.plan(message, buffer)
                if cs.cancelled_caught:
                    raise PlannerError(f"no complete plan within {bound:.0f} s")
            else:
                await self.builtin.plan(message, buffer)
        except PlannerError as exc:
            log.warning(kv("planner failed", error=str(exc), steps_so_far=len(buffer.steps)))
            buffer.drop(f"planner: {exc}")
        finally:
            if not buffer.closed:
                if not buffer.steps:
                    buffer.fill(*builtin.plan_for(message))
                else:
                    buffer.close()

    def _look_ahead(self) -> None:
        """Start planning the next queued donation while the current picture holds."""
        nxt = self.queue.peek()
        if nxt is None or self.queue.paused or self._nursery is None:
            return
        if self._ahead is not None or self._ahead_starting:
            return
        if self.llm is None or not self.llm_online:
            return  # the builtin planner is instant: nothing to gain
        nursery = self._nursery

        async def start() -> None:
            try:
                buffer, rule, job = await self._prepare(nxt)
                if self.queue.pending.get(nxt.id) is not nxt:
                    return  # removed or taken meanwhile
                scope = trio.CancelScope()
                self._ahead = _Ahead(nxt.id, buffer, scope, rule)
            finally:
                self._ahead_starting = False
            if job is not None:
                await job(scope)

        self._ahead_starting = True
        nursery.start_soon(start)

    def _on_discard(self, ids: set[int]) -> None:
        if self._ahead is not None and self._ahead.item_id in ids:
            self._ahead.scope.cancel()
            self._ahead = None

    # -- LLM health and HUD -----------------------------------------------------------------
    async def _probe_loop(self) -> None:
        assert self.llm is not None
        announced = False
        while True:
            online = await self.llm.probe()
            if online != self.llm_online or not announced:
                announced = True
                self.llm_online = online
                if online:
                    log.info("llm endpoint answering endpoint=%s", self.settings.LLM_ENDPOINT)
                    self.scene.update_hud(note="")
                else:
                    log.warning(
                        "llm endpoint unreachable endpoint=%s: builtin planner until it answers",
                        self.settings.LLM_ENDPOINT,
                    )
                    self.scene.update_hud(note="LLM offline: builtin pictures")
                self.events.emit("planner", state=self.planner_state)
            await trio.sleep(PROBE_INTERVAL_SEC)

    def _shown(self, text: str) -> str:
        """Text as the HUD shows it: profanity masked when HUD_MASK_PROFANITY is on."""
        return self.gatekeeper.mask(text) if self.settings.HUD_MASK_PROFANITY else text

    def _draw_estimate(self) -> float:
        if self._draw_times:
            return sum(self._draw_times) / len(self._draw_times)
        return DEFAULT_DRAW_ESTIMATE_SEC

    def upcoming(self) -> tuple[Upcoming, ...]:
        per_item = self._draw_estimate() + self.settings.SHOW_DURATION_SEC
        eta = self.remaining_sec()
        out = []
        for item in self.queue.preview():
            d = item.donation
            out.append(
                Upcoming(
                    self._shown(d.donor), self._shown(d.message), d.amount, d.currency, round(eta)
                )
            )
            eta += per_item
        return tuple(out)

    async def _hud_queue_loop(self) -> None:
        while True:
            phase = "paused" if self.queue.paused and self.phase == "idle" else self.phase
            self.scene.update_hud(queue_len=len(self.queue), upcoming=self.upcoming())
            if phase == "paused":
                self.scene.update_hud(phase="paused")
            await trio.sleep(0.25)


def _op(step: dsl.Step) -> str:
    return str(step.__struct_config__.tag)
