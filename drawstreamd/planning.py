"""Planning jobs, each owned by its item: the look-ahead, the cancel, the LLM lease.

A job turns one queued item into a :class:`PlanBuffer` the scene can animate while it fills.
The job's cancel scope is kept with it, so a skip, a remove or a clear cancels the job at once:
its HTTP response is closed and the LLM is free for the next item. A plan is journaled the
moment it is complete (before the hold), so a drawing cut by a crash is redrawn from the same
plan after a restart, with no second request to the model.

No item reaches the planner before its checks have passed: the words at the door and, when
it is on, the model's second opinion (:class:`Checker`). Every text the picture would show is
judged by the gatekeeper as it is added (``PlanBuffer.text_rule``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

import trio

from drawstreamd.journal import JournalWriteError
from drawstreamd.logs import kv
from drawstreamd.model import Check, QueueItem, Verdict
from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer, Planner, PlannerError

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus
    from drawstreamd.journal import Journal
    from drawstreamd.moderation import Gate
    from drawstreamd.queue import DrawQueue

log = logging.getLogger("drawstreamd.planning")

REPLAY_SOURCE = "replay"
PROBE_INTERVAL_SEC = 30.0
CHECK_GRACE_SEC = 5.0
"""How much longer than the model check's own timeout a planning job waits for its answer."""
WORDS_LOG_EVERY_SEC = 60.0


class RemotePlanner(Planner, Protocol):
    async def probe(self) -> bool: ...


class ModelVerdictLike(Protocol):
    @property
    def refuse(self) -> bool: ...
    @property
    def category(self) -> str | None: ...


class ModelJudge(Protocol):
    """The model's second opinion (:mod:`drawstreamd.plan.model_check`)."""

    async def check(self, message: str, donor: str = "") -> ModelVerdictLike | None: ...


class Job:
    """One item's plan in the making."""

    def __init__(self, item: QueueItem) -> None:
        self.item = item
        self.buffer = PlanBuffer()
        self.scope = trio.CancelScope()
        self.ended = trio.Event()
        self.started_at = trio.current_time()

    @property
    def item_id(self) -> int:
        return self.item.id


class Planning:
    """Owns every planning job, the LLM lock and the LLM's health."""

    def __init__(
        self,
        settings: Settings,
        queue: DrawQueue,
        journal: Journal,
        events: EventBus,
        gate: Gate,
        llm: RemotePlanner | None = None,
        judge: ModelJudge | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.journal = journal
        self.events = events
        self.gate = gate
        self.llm = llm
        self.judge = judge
        self.builtin = builtin.BuiltinPlanner()
        self.llm_online = llm is not None
        self.lock = trio.Lock()
        """The LLM lease: one request to the model at a time (plans and checks)."""
        self.jobs: dict[int, Job] = {}
        self.checker = Checker(self)
        self.on_health: list[Callable[[], None]] = []
        self._nursery: trio.Nursery | None = None
        queue.discard_hooks.append(self.cancel_many)

    async def serve(
        self, *, task_status: trio.TaskStatus[Planning] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run planning jobs, the model checks and the LLM probe until cancelled.

        Hands back itself once its nursery is open; every job runs inside it.
        """
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.llm is not None:
                nursery.start_soon(self._probe_loop)
            nursery.start_soon(self.checker.serve)
            task_status.started(self)
            await trio.sleep_forever()

    @property
    def state(self) -> str:
        if self.llm is None:
            return "builtin"
        return "llm" if self.llm_online else "llm offline: builtin"

    # -- jobs --------------------------------------------------------------------------------
    def start(self, item: QueueItem) -> Job:
        """The item's job: the one already running (look-ahead) or a new one."""
        job = self.jobs.get(item.id)
        if job is None:
            assert self._nursery is not None, "Planning.serve is not running"
            job = Job(item)
            self.jobs[item.id] = job
            self._nursery.start_soon(self._run, job)
        return job

    def cancel(self, item_id: int) -> bool:
        """Cancel the item's job: its request to the model is closed, the LLM is free."""
        job = self.jobs.pop(item_id, None)
        if job is None:
            return False
        job.scope.cancel()
        return True

    def cancel_many(self, ids: set[int]) -> None:
        for item_id in ids:
            self.cancel(item_id)

    def done(self, item_id: int) -> None:
        """The item was drawn (or failed): its job is over, whatever it was doing."""
        self.cancel(item_id)

    async def _run(self, job: Job) -> None:
        with job.scope:
            try:
                stored = await self._fill(job)
            except Exception:
                log.exception("planning failed item=%s", job.item_id)
                if not job.buffer.closed:
                    job.buffer.fill(builtin.error_card(), "error")
                stored = True
            if not stored and job.buffer.closed:
                await self._keep(job)
        if job.scope.cancelled_caught:
            log.info(kv("planning cancelled", item=job.item_id, steps_so_far=len(job.buffer.steps)))
        job.ended.set()

    async def _keep(self, job: Job) -> None:
        try:
            await self.journal.set_plan(job.item_id, dsl.encode(job.buffer.snapshot()))
        except JournalWriteError as exc:
            log.warning(kv("plan not journaled", item=job.item_id, error=str(exc)))

    async def _fill(self, job: Job) -> bool:
        """Fill the job's buffer; True when the plan came from the journal (already kept)."""
        item, buffer = job.item, job.buffer
        buffer.text_rule = self.gate.text_rule
        d = item.donation
        if d.source == REPLAY_SOURCE:
            original = int(d.external_id.split(":", 1)[0])
            raw = await self.journal.get_plan(original)
            plan, _ = dsl.validate(raw) if raw is not None else (None, [])
            buffer.fill(plan or builtin.error_card("replay: plan missing"), "replay")
            return False
        await self.checker.settle(item)
        if item.verdict is Verdict.REFUSED:
            log.info(kv("gatekeeper refused", item=item.id, rule=item.rule))
            buffer.fill(builtin.too_small_card(), "gatekeeper")
            return False
        raw = await self.journal.get_plan(item.id)
        if raw is not None:
            plan, _ = dsl.validate(raw)
            if plan is not None:
                buffer.fill(plan, "journal")
                return True
        await self._plan(d.message, buffer)
        return False

    async def _plan(self, message: str, buffer: PlanBuffer) -> None:
        """Fill ``buffer``; always leaves it closed with at least one step."""
        try:
            if self.llm is not None and self.llm_online:
                bound = self.settings.LLM_TIMEOUT_SEC * self.settings.LLM_ATTEMPTS + 5.0
                async with self.lock:
                    with trio.move_on_after(bound) as cs:
                        await self.llm.plan(message, buffer)
                if cs.cancelled_caught:
                    raise PlannerError(f"no complete plan within {bound:.0f} s")
            else:
                self._builtin(message, buffer)
        except PlannerError as exc:
            log.warning(kv("planner failed", error=str(exc), steps_so_far=len(buffer.steps)))
            buffer.drop(f"planner: {exc}")
        finally:
            if not buffer.closed:
                if not buffer.steps:
                    self._builtin(message, buffer)
                else:
                    buffer.close()

    def _builtin(self, message: str, buffer: PlanBuffer) -> None:
        """The library's picture, else the message on a text card, written as the HUD shows it."""
        plan, origin = builtin.plan_for(message)
        if origin == "card" and self.settings.HUD_MASK_PROFANITY:
            plan = builtin.text_card(self.gate.words.mask(message))
        buffer.fill(plan, origin)

    # -- the LLM's health ---------------------------------------------------------------------
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
                else:
                    log.warning(
                        "llm endpoint unreachable endpoint=%s: builtin planner until it answers",
                        self.settings.LLM_ENDPOINT,
                    )
                self.events.emit("planner", state=self.state)
                for hook in list(self.on_health):
                    hook()
            await trio.sleep(PROBE_INTERVAL_SEC)


class Checker:
    """The model's second opinion on every message the words passed, in queue order.

    It runs as soon as an item is queued (or when a planning job needs the answer first), so
    it rarely adds waiting. If the model is offline, slow or unreadable, the word filter alone
    decides and the log says so.
    """

    def __init__(self, planning: Planning) -> None:
        self.planning = planning
        self._inflight: dict[int, trio.Event] = {}
        self._words_logged = -WORDS_LOG_EVERY_SEC

    async def serve(self) -> None:
        queue = self.planning.queue
        while True:
            changed = queue.changed()
            item = next((i for i in queue.pending.values() if not i.check.settled), None)
            if item is None:
                await changed.wait()
            else:
                await self.settle(item)

    def _timeout(self) -> float:
        return self.planning.settings.GATEKEEPER_MODEL_TIMEOUT_SEC

    async def settle(self, item: QueueItem) -> None:
        """Until the item's message has both verdicts (or the words alone, if the model fails)."""
        if item.check.settled:
            return
        running = self._inflight.get(item.id)
        if running is not None:
            await running.wait()
            if item.check.settled:
                return
        ended = self._inflight[item.id] = trio.Event()
        try:
            await self._ask(item)
        finally:
            del self._inflight[item.id]
            ended.set()

    async def _ask(self, item: QueueItem) -> None:
        p = self.planning
        answer = None
        asked = p.judge is not None and p.llm_online
        if p.judge is not None and p.llm_online:
            async with p.lock:
                if item.check.settled:
                    return
                with trio.move_on_after(self._timeout() + CHECK_GRACE_SEC):
                    answer = await p.judge.check(item.donation.message)
        if item.check.settled:  # judged meanwhile (e.g. the word lists were reloaded)
            return
        if answer is None:
            now = time.monotonic()
            if not asked and now - self._words_logged >= WORDS_LOG_EVERY_SEC:
                # (a model that was asked and failed says so itself, in model_check)
                self._words_logged = now
                log.warning(
                    kv(
                        "model check skipped, the LLM is offline: the word filter alone decided",
                        item=item.id,
                    )
                )
            verdict, rule, check = item.verdict, item.rule, Check.WORDS
        elif answer.refuse:
            verdict, check = Verdict.REFUSED, Check.DONE
            rule = f"model:{answer.category or 'other'}"
            log.info(kv("model check refused", item=item.id, rule=rule))
        else:
            verdict, rule, check = item.verdict, item.rule, Check.DONE
        try:
            await p.queue.set_verdict(item, verdict, rule, check)
        except JournalWriteError as exc:
            # the verdict holds in memory; the journal catches up if the item is judged again
            log.warning(kv("verdict not journaled", item=item.id, error=str(exc)))
