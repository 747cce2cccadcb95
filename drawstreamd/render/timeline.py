"""The animation timeline: plan + elapsed milliseconds -> pixel writes (pure).

Steps are compiled once, in order, into pixel writes in reveal order (``raster`` says which
pixels a shape covers; here they are ordered by the step's animation):

* ``stroke``: the path in order, then the interior row by row;
* ``fill``: a top-to-bottom sweep (a flood fill spreads outwards from its seed instead);
* ``pixel_reveal``: a seeded random order (from the plan seed and the step index);
* ``instant``: everything at the step's start.

Step i starts when step i-1 ends plus its own delay. :meth:`Timeline.append` only schedules a
step (its start and duration: cheap); rasterising it is left until a time that shows it is
asked for, or until :meth:`Timeline.prepare` has a slice of time for the steps ahead, so a
plan of hundreds of steps starts without one long frame. Steps are rasterised strictly in
order (a flood fill sees the steps before it), so when they are compiled never changes what
they look like. :meth:`Timeline.advance` hands out only the writes that became visible since
the previous call, so the caller keeps one persistent canvas and a frame costs the same for
a 5-step and a 200-step plan. Same plan, same times -> same pixels, always.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from drawstreamd.plan.dsl import DEFAULT_BG, LIMITS, Fill, Group, Plan, Step, animation_of
from drawstreamd.render.raster import Budget, Shadow, Write, color, group_pixels, shape_pixels

if TYPE_CHECKING:
    from collections.abc import Callable

WORK_BUDGET: Final = 2_000_000
"""Rasterisation work (about: pixels considered) one plan may cause; steps beyond draw nothing.

A realistic plan uses a few percent of it; the cap bounds what a hostile plan costs (about
0.1 s of compilation on an idle core, see bench/timeline.py)."""
STEP_WORK_BUDGET: Final = 150_000
"""The share of it one step may use (a mirrored full-canvas group fits; a step stops there)."""


@lru_cache(maxsize=4)
def _ranks(n: int, seed: int) -> list[int]:
    """A seeded permutation of range(n): Fisher-Yates driven by a 32-bit xorshift."""
    perm = list(range(n))
    state = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1
    for i in range(n - 1, 0, -1):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        j = state % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def _reveal_order(idx: list[int], n: int, seed: int, index: int) -> list[int]:
    """Seeded random order of canvas indices: the plan's permutation, rotated per step."""
    if len(idx) < 2:
        return idx
    ranks = _ranks(n, seed)
    if len(idx) * 8 < n:
        out = sorted(idx, key=ranks.__getitem__)
    else:  # walking the permutation beats a keyed sort for large steps
        inverse = _inverse(n, seed)
        members = set(idx)
        out = [i for i in inverse if i in members]
    cut = (index * 2654435761) % len(out)
    return out[cut:] + out[:cut]


@lru_cache(maxsize=4)
def _inverse(n: int, seed: int) -> list[int]:
    """Canvas indices in rank order (the inverse of :func:`_ranks`)."""
    inverse = [0] * n
    for i, r in enumerate(_ranks(n, seed)):
        inverse[r] = i
    return inverse


def compile_step(
    step: Step, shadow: Shadow, seed: int, index: int, budget: Budget
) -> tuple[list[int], int | list[int]]:
    """Canvas indices in reveal order and their colour(s); ``shadow`` is updated."""
    w, h = shadow.width, shadow.height
    mode = animation_of(step)
    if isinstance(step, Group):
        writes = group_pixels(step, shadow, budget)
        if mode == "stroke":
            idx = list(writes)
        else:
            idx = sorted(writes)
            if mode == "pixel_reveal":
                idx = _reveal_order(idx, w * h, seed, index)
        return idx, [writes[i] for i in idx]
    if budget.exhausted:
        return [], 0
    col = color(step.c)
    path, inner = shape_pixels(step, shadow, (0, 0, w - 1, h - 1), budget)
    budget.spend(len(path) + len(inner))
    # Shapes never repeat a pixel, and path and interior are disjoint: no de-duplication.
    if mode == "stroke" or (isinstance(step, Fill) and mode != "pixel_reveal"):
        idx = path + inner
    else:
        idx = sorted(path + inner) if path else inner
        if mode == "pixel_reveal":
            idx = _reveal_order(idx, w * h, seed, index)
    shadow.apply(idx, col)
    return idx, col


@dataclass(slots=True)
class _Compiled:
    start: int
    duration: int
    """Reveal time: 0 for ``instant`` steps (their ``ms`` is a pause after them)."""
    idx: list[int]
    """Canvas indices in reveal order (empty until the step is compiled)."""
    colours: int | list[int]
    """One colour for the whole step, or one per index (groups)."""

    def visible(self, t_ms: int) -> int:
        """How many of this step's writes are visible at ``t_ms``."""
        if t_ms < self.start:
            return 0
        n = len(self.idx)
        if self.duration <= 0 or t_ms >= self.start + self.duration:
            return n
        # the first write shows the moment the step starts: a drawing is visibly under way on
        # the first frame that reaches it, not one frame later
        return min(n, n * (t_ms - self.start) // self.duration + 1)

    def writes(self, width: int, k: int, v: int) -> list[Write]:
        idx = self.idx[k:v]
        c = self.colours
        if isinstance(c, int):
            return [(i % width, i // width, c) for i in idx]
        return [(i % width, i // width, col) for i, col in zip(idx, c[k:v], strict=True)]


class Timeline:
    """Scheduled steps of one plan, compiled in order as they are needed, and a cursor over
    their pixel writes.

    ``append`` may be called while animating (steps streamed from an LLM): a step appended
    after the timeline has been advanced past its end starts at the last advanced time, so it
    is animated rather than popping in. The whole plan's animation time is capped at
    ``LIMITS.TOTAL_MS``; steps beyond the budget appear instantly.
    """

    def __init__(
        self, *, width: int, height: int, seed: int, bg: str | None, default_ms: int
    ) -> None:
        self.width = width
        self.height = height
        self.seed = seed
        self.background: int = color(bg if bg is not None else DEFAULT_BG)
        self.default_ms = max(0, min(default_ms, LIMITS.STEP_MS))
        self.closed = False
        self.total_ms = 0
        """End time of the steps appended so far."""
        self._steps: list[_Compiled] = []
        self._source: deque[Step] = deque()
        """Scheduled steps not compiled yet, in order: they are ``_steps[self._ready:]``."""
        self._ready = 0
        self._shadow = Shadow(width, height, self.background)
        self._work = Budget(WORK_BUDGET)
        self._errors: list[str] = []
        self._budget = LIMITS.TOTAL_MS
        self._t = 0
        self._i = 0  # first step not yet fully handed out
        self._k = 0  # writes of step _i already handed out

    @classmethod
    def of(
        cls, plan: Plan, *, width: int = 96, height: int = 96, default_ms: int = 600
    ) -> Timeline:
        """A closed timeline holding every step of ``plan``."""
        tl = cls(width=width, height=height, seed=plan.seed, bg=plan.bg, default_ms=default_ms)
        for step in plan.steps:
            tl.append(step)
        tl.close()
        return tl

    def append(self, step: Step) -> None:
        """Schedule one more step (it starts after the previous one, plus its delay)."""
        if self.closed:
            raise RuntimeError("timeline is closed")
        delay = min(step.d, self._budget)
        self._budget -= delay
        duration = min(step.ms if step.ms is not None else self.default_ms, self._budget)
        self._budget -= duration
        start = max(self.total_ms, self._t) + delay
        reveal = 0 if animation_of(step) == "instant" else duration
        self._steps.append(_Compiled(start, reveal, [], 0))
        self._source.append(step)
        self.total_ms = start + duration

    def _compile_next(self) -> None:
        index = self._ready
        step = self._source.popleft()
        allowance = min(STEP_WORK_BUDGET, self._work.left)
        cur = self._steps[index]
        if allowance <= 0:
            self._errors.append(f"step {index}: skipped, the plan exceeds the drawing budget")
        else:
            budget = Budget(allowance)
            cur.idx, cur.colours = compile_step(step, self._shadow, self.seed, index, budget)
            self._work.spend(allowance - budget.left)
            if budget.exhausted:
                self._errors.append(f"step {index}: cut short, it exceeds the drawing budget")
        self._ready += 1

    def _compile_through(self, t_ms: int) -> None:
        """Compile every step that has started by ``t_ms`` (starts never decrease)."""
        while self._source and self._steps[self._ready].start <= t_ms:
            self._compile_next()

    def prepare(self, t_ms: int, deadline: float, clock: Callable[[], float]) -> int:
        """Compile, in order, the steps needed at ``t_ms`` and then those after it, until
        ``clock()`` reaches ``deadline``; returns the latest time up to ``t_ms`` whose pixels
        are all compiled (``t_ms`` itself unless the slice ran out first).

        One step is compiled per call even past the deadline when ``t_ms`` needs it, so
        a caller that keeps calling always gets there.
        """
        first = True
        while self._source:
            needed = self._steps[self._ready].start <= t_ms
            if not (clock() < deadline or (first and needed)):
                break
            self._compile_next()
            first = False
        if self._source:
            return max(self._t, min(t_ms, self._steps[self._ready].start - 1))
        return t_ms

    @property
    def compiled(self) -> bool:
        """Every step appended so far is compiled."""
        return not self._source

    @property
    def errors(self) -> list[str]:
        """Steps that could not be drawn in full (operator-facing); compiles what is left."""
        self._compile_through(self.total_ms)
        return self._errors

    def close(self) -> None:
        """No more steps will come."""
        self.closed = True

    @property
    def steps(self) -> int:
        return len(self._steps)

    def advance(self, t_ms: int) -> list[Write]:
        """Writes that became visible after the previous call, up to ``t_ms``, in paint order."""
        t_ms = max(t_ms, self._t)
        self._compile_through(t_ms)
        self._t = t_ms
        out: list[Write] = []
        steps = self._steps
        while self._i < self._ready:  # the rest start after t_ms
            cur = steps[self._i]
            v = cur.visible(t_ms)
            if v > self._k:
                out += cur.writes(self.width, self._k, v)
                self._k = v
            if v < len(cur.idx):
                break
            self._i += 1
            self._k = 0
        return out

    def done(self, t_ms: int) -> bool:
        """Closed and every step finished by ``t_ms``."""
        return self.closed and t_ms >= self.total_ms

    def finish(self) -> list[Write]:
        """Everything not yet handed out (skip to the end of the appended steps)."""
        self._compile_through(self.total_ms)
        out: list[Write] = []
        for cur in self._steps[self._i :]:
            out += cur.writes(self.width, self._k, len(cur.idx))
            self._k = 0
        self._i = len(self._steps)
        self._t = max(self._t, self.total_ms)
        return out

    def progress(self, t_ms: int) -> float:
        """0..1 share of the drawing done at ``t_ms`` (1.0 once done)."""
        if self.done(t_ms):
            return 1.0
        if self.total_ms <= 0:
            return 0.0
        return max(0.0, min(1.0, t_ms / self.total_ms))


def render_at(
    plan: Plan, t_ms: int | None, *, width: int = 96, height: int = 96, default_ms: int = 600
) -> bytes:
    """RGB bytes (``width*height*3``) of the canvas at ``t_ms`` (``None``: the finished picture)."""
    tl = Timeline.of(plan, width=width, height=height, default_ms=default_ms)
    canvas = [tl.background] * (width * height)
    writes = tl.finish() if t_ms is None else tl.advance(t_ms)
    for x, y, c in writes:
        canvas[y * width + x] = c
    out = bytearray(width * height * 3)
    for i, c in enumerate(canvas):
        out[3 * i] = c >> 16
        out[3 * i + 1] = (c >> 8) & 0xFF
        out[3 * i + 2] = c & 0xFF
    return bytes(out)
