"""Renderer cost, headless (SDL's dummy driver), with the full HUD and a queue of five.

    .venv/bin/python bench/render.py [--seconds 4] [--sizes 1280x720,1920x1080]

For each window size and a 5-step and a 200-step plan it runs the real render loop at
FRAME_RATE 60 while the plan animates and prints the median and p99 CPU time per frame and
the frame-interval jitter (|interval - 1/60|). Then it measures the process's CPU share while
a finished picture holds and while idle (goal: ≤ 2 % of one core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from drawstreamd import config
from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.scene import Scene, Upcoming
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
    for phase in ("holding", "idle"):
        settings = config.load(None, FRAME_RATE=60)
        share = trio.run(cpu_share, settings, phase, args.seconds)
        print(f"CPU share while {phase} at 60 fps, 1280x720: {share * 100:.2f} % of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
