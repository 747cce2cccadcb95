"""Timeline benchmarks: compile time of whole plans and the per-frame cost of advance().

Usage: .venv/bin/python bench/timeline.py [--repeat N]
Prints medians. Targets: a realistic 200-step plan compiles in well under 100 ms; a frame
costs the same for a 5-step and a 200-step plan; hostile plans stay bounded.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from drawstreamd.plan import builtin, dsl
from drawstreamd.render.timeline import Timeline


def _plan(steps: list[Any], seed: int = 1) -> dsl.Plan:
    plan, reasons = dsl.validate({"v": 1, "seed": seed, "bg": "black", "steps": steps})
    assert plan is not None, reasons
    return plan


def realistic(n: int) -> dsl.Plan:
    pool = [s for e in builtin.LIBRARY.values() for s in e.plan.steps]
    return dsl.Plan(seed=1, bg="black", steps=[pool[i % len(pool)] for i in range(n)])


def hostile_lines() -> dsl.Plan:
    zigzag = [[-1024 if i % 2 else 1024, -1024 + 8 * i] for i in range(dsl.LIMITS.POINTS)]
    return _plan([{"op": "line", "p": zigzag, "c": "red", "w": 16}] * 20)


def hostile_groups() -> dsl.Plan:
    kid = {"op": "circle", "x": 48, "y": 48, "r": 1024, "c": "red"}
    return _plan([{"op": "group", "m": "xy", "ax": -900, "ay": 900, "s": [kid] * 32}] * 10)


def full_canvas(n: int) -> dsl.Plan:
    step = {"op": "rect", "x": 0, "y": 0, "w": 96, "h": 96, "c": "red", "a": "pixel_reveal"}
    return _plan([step] * n)


def compile_ms(plan: dsl.Plan, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        Timeline.of(plan)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def worst_append_ms(plan: dsl.Plan) -> float:
    tl = Timeline(width=96, height=96, seed=plan.seed, bg=plan.bg, default_ms=600)
    worst = 0.0
    for step in plan.steps:
        t0 = time.perf_counter()
        tl.append(step)
        worst = max(worst, (time.perf_counter() - t0) * 1000)
    return worst


def frame_us(plan: dsl.Plan) -> float:
    tl = Timeline.of(plan, default_ms=600)
    times = []
    t = 0
    while not tl.done(t):
        t0 = time.perf_counter()
        tl.advance(t)
        times.append((time.perf_counter() - t0) * 1e6)
        t += 16
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "realistic 5 steps": realistic(5),
        "realistic 200 steps": realistic(200),
        "200 full-canvas pixel_reveal steps": full_canvas(200),
        "hostile: 20 wide 256-point zigzags": hostile_lines(),
        "hostile: 10 mirrored groups of 32 huge circles": hostile_groups(),
    }
    for name, plan in cases.items():
        print(
            f"{name:48s} compile {compile_ms(plan, args.repeat):7.1f} ms (median), "
            f"slowest append {worst_append_ms(plan):6.1f} ms"
        )
    a, b = frame_us(realistic(5)), frame_us(realistic(200))
    print(f"advance() per 16 ms frame: 5 steps {a:.1f} us, 200 steps {b:.1f} us, ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
