"""Renderer cost, headless (SDL's dummy driver), with the full HUD and a queue of five.

    .venv/bin/python bench/render.py [--seconds 4] [--sizes 1280x720,1920x1080] [--runs 5]

For each window size and a 5-step and a 200-step plan it runs the real render loop at
FRAME_RATE 60 while the plan animates and prints the median and p99 CPU time per frame and
the frame-interval jitter (|interval - 1/60|).

Then the start of a plan: the renderer shows the idle screen at 60 fps, a whole plan arrives
at once (as from the builtin library or a look-ahead) and the longest frame interval over the
next second is taken (target: at most 33 ms), for the 200-step bench plan and for plans of
200 and 600 primitive steps taken from the library's pictures (a plan that composes library
subjects compiles into that many); medians over ``--runs``, and the ratio to one frame.

Last, the process's CPU share while a finished picture holds and while idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from drawstreamd import config
from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.scene import PixelWrite, Scene, Upcoming
from drawstreamd.render.window import Renderer

NEXT = tuple(
    Upcoming(f"Зритель {n}", f"нарисуй что-нибудь красивое номер {n}", 100 * n, "RUB", 90.0 * n)
    for n in range(1, 6)
)


def plan_with(steps: int) -> dsl.Plan:
    ops: list[object] = []
    for n in range(steps):
        k = n % 4
        x, y = (n * 7) % 90, (n * 13) % 90
        if k == 0:
            ops.append({"op": "rect", "x": x, "y": y, "w": 6, "h": 5, "c": "red"})
        elif k == 1:
            ops.append({"op": "circle", "x": x, "y": y, "r": 4, "c": "yellow", "a": "pixel_reveal"})
        elif k == 2:
            ops.append({"op": "line", "p": [[x, y], [(x + 20) % 96, (y + 9) % 96]], "c": "blue", "w": 2})
        else:
            ops.append({"op": "ellipse", "x": x, "y": y, "rx": 6, "ry": 3, "c": "green", "f": False})
    plan, errors = dsl.validate({"v": 1, "seed": 3, "bg": "dark_blue", "steps": ops})
    assert plan is not None, errors
    return plan


def library_plan(steps: int) -> dsl.Plan:
    """``steps`` primitive steps from the library's pictures, in turn (real shapes and sizes)."""
    pool = [s for entry in builtin.LIBRARY.values() for s in entry.plan.steps]
    return dsl.Plan(seed=7, bg="black", steps=[pool[i % len(pool)] for i in range(steps)])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_drawing(settings: config.Settings, plan: dsl.Plan, seconds: float) -> tuple[list[float], list[float]]:
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    renderer = Renderer(settings, scene, headless=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(renderer.serve)
        buffer = PlanBuffer()
        buffer.fill(plan, "bench")
        scene.begin(buffer, donor="Маша", amount=300, currency="RUB", message="Нарисуй кота, пожалуйста! " * 3)
        scene.update_hud(queue_len=5, upcoming=NEXT)
        renderer.frame_cpu.clear()
        renderer.intervals.clear()
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return list(renderer.frame_cpu)[5:], list(renderer.intervals)[5:]


class TimedScene(Scene):
    """The real scene, noting when each frame begins (Trio clock)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks: list[float] = []

    def tick(self, now: float) -> list[PixelWrite]:
        self.ticks.append(now)
        return super().tick(now)


async def longest_start_interval(settings: config.Settings, plan: dsl.Plan) -> float:
    """Seconds: the longest wait for a frame in the second after ``plan`` arrives whole,
    counted from its arrival (so the frame that starts it is included)."""
    scene = TimedScene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    renderer = Renderer(settings, scene, headless=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(renderer.serve)
        scene.update_hud(queue_len=5, upcoming=NEXT)
        await trio.sleep(0.5)
        buffer = PlanBuffer()
        buffer.fill(plan, "bench")
        began = trio.current_time()
        scene.begin(buffer, donor="Маша", amount=300, currency="RUB", message="кот")
        await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    after = [began, *(t for t in scene.ticks if t >= began)]
    return max(b - a for a, b in pairwise(after))


async def cpu_share(settings: config.Settings, phase: str, seconds: float) -> float:
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    renderer = Renderer(settings, scene, headless=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(renderer.serve)
        if phase == "holding":
            cat = builtin.match("кот")
            assert cat is not None
            buffer = PlanBuffer()
            buffer.fill(cat[1], "bench")
            scene.begin(buffer, donor="Маша", amount=300, currency="RUB", message="кот")
            await scene.wait_drawn()
            scene.hold(trio.current_time(), 3600)
            scene.update_hud(queue_len=5, upcoming=NEXT)
        await trio.sleep(1.0)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await trio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        nursery.cancel_scope.cancel()
    return cpu / wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"{'window':>10} {'plan':>9} {'frames':>6} {'cpu med ms':>10} {'cpu p99 ms':>10} {'jitter med ms':>13} {'jitter p99 ms':>13}")
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        for steps in (5, 200):
            # long enough steps that the plan animates for the whole measurement
            ms = int(args.seconds * 1000 / steps) + 50
            settings = config.load(None, WINDOW_W=w, WINDOW_H=h, FRAME_RATE=60, DEFAULT_STEP_DURATION_MS=ms, LOCALE="ru")
            cpu, intervals = trio.run(run_drawing, settings, plan_with(steps), args.seconds)
            jitter = [abs(i - 1 / 60) * 1000 for i in intervals]
            print(
                f"{size:>10} {steps:>4} steps {len(cpu):>6} {statistics.median(cpu) * 1000:>10.3f} "
                f"{pct(cpu, 0.99) * 1000:>10.3f} {statistics.median(jitter):>13.3f} {pct(jitter, 0.99):>13.3f}"
            )
    print(
        "\nlongest frame interval in the second after a whole plan arrives "
        f"(median of {args.runs} runs)"
    )
    settings = config.load(None, FRAME_RATE=60, LOCALE="ru")
    for name, plan in (
        ("200 steps (bench plan)", plan_with(200)),
        ("200 library steps", library_plan(200)),
        ("600 library steps", library_plan(600)),
    ):
        longest = [
            trio.run(longest_start_interval, settings, plan) * 1000 for _ in range(args.runs)
        ]
        med = statistics.median(longest)
        print(
            f"{name:>24}: {med:6.1f} ms (min {min(longest):.1f}, max {max(longest):.1f}; "
            f"{med / (1000 / 60):.2f}x a 60 fps frame; target <= 33 ms)"
        )
    for phase in ("holding", "idle"):
        settings = config.load(None, FRAME_RATE=60)
        share = trio.run(cpu_share, settings, phase, args.seconds)
        print(f"CPU share while {phase} at 60 fps, 1280x720: {share * 100:.2f} % of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
