"""Long plans start without a long frame: steps are compiled as they are needed, a slice a frame,
and what is drawn at any plan time is exactly what a plan compiled whole draws."""

from __future__ import annotations

import itertools

import pytest

from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.scene import Scene
from drawstreamd.render.timeline import Timeline, render_at

FRAME = 1 / 60


def library_plan(steps: int) -> dsl.Plan:
    """``steps`` primitive steps from the library's pictures (a composed plan's size)."""
    pool = [s for entry in builtin.LIBRARY.values() for s in entry.plan.steps]
    return dsl.Plan(seed=7, bg="black", steps=[pool[i % len(pool)] for i in range(steps)])


class StepClock:
    """A clock that moves 1 ms each time it is read: a compile slice holds a few steps."""

    def __init__(self) -> None:
        self.reads = itertools.count()

    def __call__(self) -> float:
        return next(self.reads) / 1000


def rgb(canvas: list[int]) -> bytes:
    return bytes(b for c in canvas for b in (c >> 16, (c >> 8) & 255, c & 255))


def test_appending_schedules_and_compiles_nothing_until_a_time_needs_it() -> None:
    plan = library_plan(600)
    tl = Timeline(width=96, height=96, seed=plan.seed, bg=plan.bg, default_ms=600)
    for step in plan.steps:
        tl.append(step)
    tl.close()
    assert tl.steps == 600
    assert tl.total_ms == dsl.LIMITS.TOTAL_MS  # scheduled in full at once
    assert not tl.compiled
    # a slice already spent still compiles what the time asked for needs, and only that
    assert tl.prepare(0, deadline=0.0, clock=lambda: 1.0) == 0
    assert tl.advance(0)  # the first step shows its first pixel
    assert not tl.compiled
    # the steps after it come a slice at a time; the time returned is always drawable
    t = tl.prepare(5_000, deadline=0.0, clock=lambda: 1.0)
    assert 0 <= t < 5_000
    assert not tl.compiled


@pytest.mark.parametrize("default_ms", [600, 0])
def test_a_plan_compiled_in_slices_draws_what_a_plan_compiled_whole_draws(
    default_ms: int,
) -> None:
    plan = library_plan(300)
    whole = Timeline.of(plan, default_ms=default_ms)
    assert whole.errors == []  # compiles it all
    sliced = Timeline.of(plan, default_ms=default_ms)
    clock = StepClock()
    canvas_whole = [whole.background] * (96 * 96)
    canvas_sliced = list(canvas_whole)
    shown = 0
    held = 0
    while not sliced.done(shown):
        t = shown + 16
        shown = sliced.prepare(t, clock() + 0.002, clock)
        assert shown <= t
        held += shown < t
        for x, y, c in sliced.advance(shown):
            canvas_sliced[y * 96 + x] = c
        for x, y, c in whole.advance(shown):
            canvas_whole[y * 96 + x] = c
        assert canvas_sliced == canvas_whole
    assert sliced.compiled
    assert rgb(canvas_sliced) == render_at(plan, None, default_ms=default_ms)
    if default_ms == 0:
        assert held  # most steps start at once: the slices held the clock back


def test_a_600_step_plan_starts_on_the_first_frame_and_finishes_as_the_whole_plan() -> None:
    plan = library_plan(600)
    scene = Scene(96, 96, 600, clock=StepClock())
    buffer = PlanBuffer()
    buffer.fill(plan, "library")
    scene.begin(buffer, donor="Маша", amount=300, currency="RUB", message="много всего")
    now = 100.0
    assert scene.next_change(now) == now  # a whole plan waiting: the next frame starts it
    assert scene.tick(now)  # pixels on the first frame...
    timeline = scene._timeline
    assert timeline is not None
    assert not timeline.compiled  # ...without compiling 600 steps in it
    frames = 1
    while scene.next_change(now) == now:
        now += FRAME
        scene.tick(now)
        frames += 1
        assert frames < 60 * 70  # the 60 s plan, plus the frames the compiler held it back
    assert bytes(scene.canvas) == render_at(plan, None)
    assert scene.hud.progress == 1.0


def test_a_step_that_arrives_after_a_long_wait_starts_then() -> None:
    first = dsl.parse_step({"op": "rect", "x": 0, "y": 0, "w": 10, "h": 10, "c": "red", "ms": 100})
    later = dsl.parse_step(
        {"op": "rect", "x": 20, "y": 20, "w": 10, "h": 10, "c": "blue", "ms": 1000}
    )
    scene = Scene(96, 96, 600)
    buffer = PlanBuffer()
    buffer.add(first)
    scene.begin(buffer, donor="", amount=0, currency="", message="")
    scene.tick(0.0)
    scene.tick(0.2)
    assert scene.next_change(0.2) == float("inf")  # caught up with the planner: nothing to do
    # the renderer sleeps; the model writes the next step ten seconds later
    buffer.add(later)
    writes = scene.tick(10.2)
    assert len(writes) == 1  # the new step starts now: its first pixel, not 10 s of it
    assert scene.next_change(10.2) == 10.2
