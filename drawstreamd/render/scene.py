"""What is on screen, without pygame: the canvas as it animates, and the HUD's state.

The worker hands the scene a donation and a growing :class:`PlanBuffer`; the render loop calls
:meth:`Scene.tick` with the current time. The scene owns the plan clock: it advances with real
time while there is something to animate and waits (does not run ahead) while a streaming
planner has not written the next step yet, or while the steps due have not been compiled, so
a step that arrives late starts at once instead of being skipped over, and a long plan is
compiled a slice a frame without one long frame.

The canvas lives here as RGB bytes (the window mirrors it on a pygame surface, the overlay
sends it to browsers); ``canvas_version`` and ``hud_version`` change when they change, so
consumers redraw only what changed. Every change is announced: :attr:`Scene.version` grows
and :meth:`Scene.wait_changed` returns, so the renderer and the overlay sleep while nothing
changes. :meth:`Scene.next_change` says when the scene will change by itself (the next frame
while a drawing animates, the hold bar's next step, or never), so nobody polls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from drawstreamd.render.timeline import Timeline

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from drawstreamd.plan.base import PlanBuffer

PixelWrite = tuple[int, int, int]
"""(x, y, 0xRRGGBB)."""

IDLE_BG = 0x1D2B53
COMPILE_SLICE_SEC = 0.004
"""Compiling steps ahead of the plan clock takes at most this long a frame (plus one step)."""
HOLD_STEPS = 400
"""The hold bar fills in this many steps (under 1.5 px each on a 1920×1080 window)..."""
HOLD_STEP_MIN_SEC = 0.5
"""...but at most twice a second (a 90 s hold moves its bar about 1.5 px, at 1280×720, a
step): a held picture costs two repaints a second, and the overlay's bar eases between."""


@dataclass(frozen=True)
class Upcoming:
    donor: str
    message: str
    amount: float
    currency: str
    eta_sec: float


@dataclass
class Hud:
    phase: str = "idle"
    """idle | planning | drawing | holding | paused"""
    donor: str = ""
    amount: float = 0.0
    currency: str = ""
    message: str = ""
    progress: float = 0.0
    thinking: bool = False
    """The planner has not produced a first step yet."""
    queue_len: int = 0
    upcoming: tuple[Upcoming, ...] = ()
    fps: float = 0.0
    note: str = ""
    """A short operator-visible line, e.g. that the LLM is offline."""
    extra: dict[str, str] = field(default_factory=dict)


class Scene:
    def __init__(
        self,
        width: int,
        height: int,
        default_ms: int,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.width = width
        self.height = height
        self.default_ms = default_ms
        self.canvas = bytearray(width * height * 3)
        self.canvas_version = 0
        self.hud = Hud()
        self.hud_version = 0
        self.version = 0
        """Grows with every change anyone could see (canvas, HUD) or that needs a tick."""
        self._changed = trio.Event()
        self._clock = clock
        """Times the compile slices (seconds, any monotonic clock)."""
        self._timeline: Timeline | None = None
        self._buffer: PlanBuffer | None = None
        self._fed = 0
        self._plan_ms = 0.0
        self._last: float | None = None
        self._drawn = trio.Event()
        self._hold_start = 0.0
        self._hold_len = 0.0
        self._hold_step = HOLD_STEP_MIN_SEC
        self._hold_next = math.inf
        self._fill(IDLE_BG)

    # -- change announcements -----------------------------------------------------------------
    def _announce(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    async def wait_changed(self, seen: int | None = None) -> None:
        """Until the next change is announced; at once if :attr:`version` is no longer
        ``seen`` (when given)."""
        if seen is None or seen == self.version:
            await self._changed.wait()
        else:
            await trio.lowlevel.checkpoint()

    async def wait_work(self, seen: int) -> None:
        """Until :meth:`tick` has something new to do: a change announced since ``seen``, or,
        while the drawing waits for its planner, the planner writing into the plan."""
        buffer = self._buffer
        if seen != self.version or buffer is None or buffer.closed:
            await self.wait_changed(seen)
            return
        async with trio.open_nursery() as nursery:

            async def first(wait: Callable[[], Awaitable[None]]) -> None:
                await wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(first, self._changed.wait)
            nursery.start_soon(first, buffer.wait_changed)

    def next_change(self, now: float) -> float:
        """When :meth:`tick` will next change something by itself (Trio clock): ``now`` while
        a drawing animates, the hold bar's next step, or ``inf`` when only an announcement or
        the planner can change anything (see :meth:`wait_work`)."""
        buffer, timeline = self._buffer, self._timeline
        if buffer is None:
            return self._hold_next if self.hud.phase == "holding" else math.inf
        if timeline is None:
            return now if buffer.steps or buffer.closed else math.inf
        if self._fed < len(buffer.steps) or (buffer.closed and not timeline.closed):
            return now
        if timeline.closed:
            return math.inf if self._drawn.is_set() else now
        return now if self._plan_ms < timeline.total_ms else math.inf

    # -- set by the worker ------------------------------------------------------------------
    def begin(
        self, buffer: PlanBuffer, *, donor: str, amount: float, currency: str, message: str
    ) -> None:
        """Start animating ``buffer`` on a fresh canvas."""
        self._buffer = buffer
        self._timeline = None
        self._fed = 0
        self._plan_ms = 0.0
        self._last = None
        self._drawn = trio.Event()
        self._announce()
        self.update_hud(
            phase="drawing",
            donor=donor,
            amount=amount,
            currency=currency,
            message=message,
            progress=0.0,
            thinking=True,
        )

    async def wait_drawn(self) -> None:
        """Until the plan is complete and every step has finished animating."""
        await self._drawn.wait()

    def hold(self, now: float, seconds: float) -> None:
        """Show the finished picture for ``seconds`` from ``now``, its bar filling in steps."""
        self._buffer = None
        self._hold_start = now
        self._hold_len = seconds
        self._hold_step = max(HOLD_STEP_MIN_SEC, seconds / HOLD_STEPS)
        self._hold_next = now if seconds > 0 else math.inf
        self._announce()
        self.update_hud(phase="holding", progress=0.0, thinking=False)

    def idle(self) -> None:
        self._buffer = None
        self._timeline = None
        self._hold_next = math.inf
        self._announce()
        self.update_hud(
            phase="idle",
            donor="",
            amount=0.0,
            currency="",
            message="",
            progress=0.0,
            thinking=False,
        )

    def update_hud(self, **changes: object) -> None:
        changed = False
        for key, value in changes.items():
            if getattr(self.hud, key) != value:
                setattr(self.hud, key, value)
                changed = True
        if changed:
            self.hud_version += 1
            self._announce()

    # -- called by the render loop ----------------------------------------------------------
    def tick(self, now: float) -> list[PixelWrite]:
        """Advance to ``now`` (seconds, Trio clock); returns the canvas pixels that changed."""
        buffer = self._buffer
        if buffer is None:
            if self.hud.phase == "holding" and now >= self._hold_next:
                self._hold_tick(now)
            return []
        timeline = self._timeline
        if timeline is None:
            if not buffer.steps and not buffer.closed:
                return []  # the artist is thinking: nothing to draw yet
            timeline = self._timeline = Timeline(
                width=self.width,
                height=self.height,
                seed=buffer.seed,
                bg=buffer.bg,
                default_ms=self.default_ms,
            )
            self._fill(timeline.background)
        else:
            assert self._last is not None
            self._plan_ms += (now - self._last) * 1000.0
            if not timeline.closed:
                # not past the steps written so far: one that arrives after a wait starts then
                self._plan_ms = min(self._plan_ms, float(timeline.total_ms))
        self._last = now
        while self._fed < len(buffer.steps):
            timeline.append(buffer.steps[self._fed])
            self._fed += 1
        if buffer.closed and not timeline.closed:
            timeline.close()
        want = int(self._plan_ms)
        t = timeline.prepare(want, self._clock() + COMPILE_SLICE_SEC, self._clock)
        if t < want:
            self._plan_ms = float(t)  # the clock waits for the compiler, as for the planner
        writes = timeline.advance(t)
        if writes:
            self._apply(writes)
        total = timeline.total_ms
        progress = min(1.0, t / total) if total > 0 else (1.0 if timeline.closed else 0.0)
        self.update_hud(progress=round(progress, 3), thinking=False)
        if timeline.closed and timeline.done(t) and not self._drawn.is_set():
            self._drawn.set()
        return writes

    def _hold_tick(self, now: float) -> None:
        step = self._hold_step
        k = math.floor((now - self._hold_start) / step + 1e-9)
        p = min(1.0, k * step / self._hold_len)
        self._hold_next = self._hold_start + (k + 1) * step if p < 1.0 else math.inf
        self.update_hud(progress=round(p, 4))

    # -- canvas -----------------------------------------------------------------------------
    def _fill(self, colour: int) -> None:
        px = bytes(((colour >> 16) & 255, (colour >> 8) & 255, colour & 255))
        self.canvas[:] = px * (self.width * self.height)
        self.canvas_version += 1
        self._announce()

    def _apply(self, writes: list[PixelWrite]) -> None:
        canvas, w = self.canvas, self.width
        for x, y, c in writes:
            i = (y * w + x) * 3
            canvas[i] = (c >> 16) & 255
            canvas[i + 1] = (c >> 8) & 255
            canvas[i + 2] = c & 255
        self.canvas_version += 1
        self._announce()
