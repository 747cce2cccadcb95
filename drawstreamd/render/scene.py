"""What is on screen, without pygame: the canvas as it animates, and the HUD's state.

The worker hands the scene a donation and a growing :class:`PlanBuffer`; the render loop calls
:meth:`Scene.tick` once per frame with the current time. The scene owns the plan clock: it
advances with real time while there is something to animate and waits (does not run ahead)
while a streaming planner has not written the next step yet, so a step that arrives late
starts at once instead of being skipped over.

The canvas lives here as RGB bytes (the window mirrors it on a pygame surface, the overlay
sends it to browsers); ``canvas_version`` and ``hud_version`` change when they change, so
consumers redraw only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from drawstreamd.render.timeline import Timeline

if TYPE_CHECKING:
    from drawstreamd.plan.base import PlanBuffer

PixelWrite = tuple[int, int, int]
"""(x, y, 0xRRGGBB)."""

IDLE_BG = 0x1D2B53


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
    def __init__(self, width: int, height: int, default_ms: int) -> None:
        self.width = width
        self.height = height
        self.default_ms = default_ms
        self.canvas = bytearray(width * height * 3)
        self.canvas_version = 0
        self.hud = Hud()
        self.hud_version = 0
        self._timeline: Timeline | None = None
        self._buffer: PlanBuffer | None = None
        self._fed = 0
        self._plan_ms = 0.0
        self._last: float | None = None
        self._drawn = trio.Event()
        self._hold_start = 0.0
        self._hold_len = 0.0
        self._fill(IDLE_BG)

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
        self._buffer = None
        self._hold_start = now
        self._hold_len = seconds
        self.update_hud(phase="holding", progress=0.0, thinking=False)

    def idle(self) -> None:
        self._buffer = None
        self._timeline = None
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

    # -- called by the render loop ----------------------------------------------------------
    def tick(self, now: float) -> list[PixelWrite]:
        """Advance to ``now`` (seconds, Trio clock); returns the canvas pixels that changed."""
        buffer = self._buffer
        if buffer is None:
            if self.hud.phase == "holding" and self._hold_len > 0:
                p = min(1.0, (now - self._hold_start) / self._hold_len)
                if abs(p - self.hud.progress) >= 0.002 or p == 1.0:
                    self.update_hud(progress=p)
            return []
        if self._timeline is None:
            if not buffer.steps and not buffer.closed:
                return []  # the artist is thinking: nothing to draw yet
            self._timeline = Timeline(
                width=self.width,
                height=self.height,
                seed=buffer.seed,
                bg=buffer.bg,
                default_ms=self.default_ms,
            )
            self._fill(self._timeline.background)
            self._last = now
        timeline = self._timeline
        while self._fed < len(buffer.steps):
            timeline.append(buffer.steps[self._fed])
            self._fed += 1
        if buffer.closed and not timeline.closed:
            timeline.close()
        assert self._last is not None
        self._plan_ms += (now - self._last) * 1000.0
        self._last = now
        if not timeline.closed:
            self._plan_ms = min(self._plan_ms, float(timeline.total_ms))
        t = int(self._plan_ms)
        writes = timeline.advance(t)
        if writes:
            self._apply(writes)
        total = timeline.total_ms
        progress = min(1.0, t / total) if total > 0 else (1.0 if timeline.closed else 0.0)
        self.update_hud(progress=round(progress, 3), thinking=False)
        if timeline.closed and timeline.done(t) and not self._drawn.is_set():
            self._drawn.set()
        return writes

    # -- canvas -----------------------------------------------------------------------------
    def _fill(self, colour: int) -> None:
        px = bytes(((colour >> 16) & 255, (colour >> 8) & 255, colour & 255))
        self.canvas[:] = px * (self.width * self.height)
        self.canvas_version += 1

    def _apply(self, writes: list[PixelWrite]) -> None:
        canvas, w = self.canvas, self.width
        for x, y, c in writes:
            i = (y * w + x) * 3
            canvas[i] = (c >> 16) & 255
            canvas[i + 1] = (c >> 8) & 255
            canvas[i + 2] = c & 255
        self.canvas_version += 1
