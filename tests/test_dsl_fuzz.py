"""Thousands of random and mutated plans through validation and the timeline: never a crash.

Every plan that validates must render: each ``advance`` hands out only on-canvas writes of
valid colours, never more than what is left, and the frames add up to the finished picture.
"""

from __future__ import annotations

import json
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from drawstreamd.plan import builtin, dsl
from drawstreamd.render.timeline import Timeline, render_at

SIZE = 48
KEYS = [
    "op",
    "x",
    "y",
    "w",
    "h",
    "r",
    "rx",
    "ry",
    "p",
    "c",
    "f",
    "a",
    "ms",
    "d",
    "t",
    "s",
    "m",
    "ax",
    "ay",
    "al",
]
COLOURS = [*dsl.PALETTE, "#abc", "#123456", "Dark Blue", "grey", "#12", "", "rainbow"]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3000, 3000),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(COLOURS + list(dsl.OPS) + list(dsl.ANIMATIONS) + ["x", "y", "xy", "middle"]),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)
    ),
    max_leaves=20,
)
coord = st.integers(-120, 160)
point = st.lists(coord, min_size=2, max_size=2) | st.lists(json_leaf, max_size=3)


@st.composite
def shape(draw: st.DrawFn, *, in_group: bool = False) -> dict[str, Any]:
    ops = [o for o in dsl.OPS if o != "group"] if in_group else list(dsl.OPS)
    step: dict[str, Any] = {"op": draw(st.sampled_from(ops))}
    for key in draw(st.lists(st.sampled_from(KEYS[1:]), max_size=9, unique=True)):
        if key == "p":
            step[key] = draw(st.lists(point, max_size=12))
        elif key == "c":
            step[key] = draw(st.sampled_from(COLOURS))
        elif key in ("x", "y", "w", "h", "r", "rx", "ry"):
            step[key] = draw(coord | json_leaf)
        elif key == "s" and step["op"] == "group" and not in_group:
            step[key] = draw(st.lists(shape(in_group=True), max_size=4))
        elif key == "s":
            step[key] = draw(st.integers(0, 6))
        elif key == "a":
            step[key] = draw(st.sampled_from([*dsl.ANIMATIONS, "wobble", None]))
        elif key in ("ms", "d"):
            step[key] = draw(st.integers(-10, 20000))
        elif key == "t":
            step[key] = draw(st.text(min_size=0, max_size=40))
        else:
            step[key] = draw(json_value)
    return step


plans = st.fixed_dictionaries(
    {
        "v": st.sampled_from([1, 1, 1, 2, "1"]),
        "seed": st.integers(-5, 2**40) | json_leaf,
        "bg": st.sampled_from([None, *COLOURS]),
        "steps": st.lists(shape() | json_value, max_size=12),
    }
)


def _mutate(data: Any, path: list[int | str], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and isinstance(head, str) and head in data:
        return {**data, head: _mutate(data[head], rest, value)}
    if isinstance(data, list) and isinstance(head, int) and data:
        i = head % len(data)
        return [*data[:i], _mutate(data[i], rest, value), *data[i + 1 :]]
    return data


def _paths(data: Any, prefix: list[int | str]) -> list[list[int | str]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, [*prefix, k])
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, [*prefix, i])
    return out


LIBRARY_JSON = [json.loads(dsl.encode(e.plan)) for e in builtin.LIBRARY.values()]


@st.composite
def mutated_plan(draw: st.DrawFn) -> Any:
    data = draw(st.sampled_from(LIBRARY_JSON))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data, [])
        data = _mutate(data, draw(st.sampled_from(paths)), draw(json_value | shape()))
    return data


def _check(raw: Any, times: list[int]) -> None:
    text = json.dumps(raw, allow_nan=True)
    plan, reasons = dsl.validate(text)
    assert all(isinstance(r, str) and r for r in reasons)
    if plan is None:
        assert reasons
        return
    assert 1 <= len(plan.steps) <= dsl.LIMITS.STEPS
    again, more = dsl.validate(dsl.encode(plan))
    assert again == plan
    assert more == []
    tl = Timeline.of(plan, width=SIZE, height=SIZE, default_ms=300)
    assert 0 <= tl.total_ms <= dsl.LIMITS.TOTAL_MS
    left = len(tl.finish())
    tl = Timeline.of(plan, width=SIZE, height=SIZE, default_ms=300)
    canvas = [tl.background] * (SIZE * SIZE)
    for t in sorted(times):
        writes = tl.advance(t)
        assert len(writes) <= left
        left -= len(writes)
        for x, y, c in writes:
            assert 0 <= x < SIZE
            assert 0 <= y < SIZE
            assert 0 <= c <= 0xFFFFFF
            canvas[y * SIZE + x] = c
    for x, y, c in tl.finish():
        canvas[y * SIZE + x] = c
    flat = bytes(b for c in canvas for b in (c >> 16, (c >> 8) & 255, c & 255))
    assert flat == render_at(plan, None, width=SIZE, height=SIZE, default_ms=300)
    _check_streamed(plan, times, flat)


def _check_streamed(plan: dsl.Plan, times: list[int], finished: bytes) -> None:
    """Steps arriving one by one between frames end in the same picture."""
    tl = Timeline(width=SIZE, height=SIZE, seed=plan.seed, bg=plan.bg, default_ms=300)
    canvas = [tl.background] * (SIZE * SIZE)
    clock = sorted(times) + [0] * len(plan.steps)
    now = 0
    for i, step in enumerate(plan.steps):
        tl.append(step)
        now = max(now, clock[i])
        for x, y, c in tl.advance(now):
            canvas[y * SIZE + x] = c
    tl.close()
    for x, y, c in tl.advance(now + dsl.LIMITS.TOTAL_MS) + tl.finish():
        canvas[y * SIZE + x] = c
    assert tl.done(now + dsl.LIMITS.TOTAL_MS)
    flat = bytes(b for c in canvas for b in (c >> 16, (c >> 8) & 255, c & 255))
    assert flat == finished


TIMES = st.lists(st.integers(0, 70_000), max_size=6)
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(plans, TIMES)
def test_random_plans_validate_and_render_without_crashing(raw: Any, times: list[int]) -> None:
    _check(raw, times)


@FUZZ
@given(mutated_plan(), TIMES)
def test_mutated_library_plans_validate_and_render_without_crashing(
    raw: Any, times: list[int]
) -> None:
    _check(raw, times)


@settings(max_examples=1500, deadline=None)
@given(json_value | shape())
def test_parse_step_accepts_or_gives_a_reason(raw: Any) -> None:
    try:
        step: dsl.Step | None = dsl.parse_step(raw)
        reason = ""
    except dsl.StepError as exc:
        step, reason = None, str(exc)
    if step is None:
        assert reason
    else:
        assert dsl.parse_step(json.loads(dsl.encode(dsl.Plan(steps=[step])))["steps"][0]) == step
