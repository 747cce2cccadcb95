"""The animation timeline: ordering, timing, determinism, streaming and the 60 s cap."""

from __future__ import annotations

from typing import Any

from drawstreamd.plan import builtin, dsl
from drawstreamd.render.raster import color
from drawstreamd.render.timeline import Timeline, render_at

W = H = 32


def _steps(*raw: dict[str, Any]) -> list[dsl.Step]:
    return [dsl.parse_step(r) for r in raw]


def _timeline(*raw: dict[str, Any], seed: int = 1, default_ms: int = 600) -> Timeline:
    tl = Timeline(width=W, height=H, seed=seed, bg="black", default_ms=default_ms)
    for step in _steps(*raw):
        tl.append(step)
    tl.close()
    return tl


def _canvas(tl: Timeline, writes: list[tuple[int, int, int]]) -> list[int]:
    px = [tl.background] * (W * H)
    for x, y, c in writes:
        px[y * W + x] = c
    return px


RECT = {"op": "rect", "x": 4, "y": 4, "w": 10, "h": 10, "c": "red", "ms": 1000}
DOTS = {"op": "circle", "x": 20, "y": 20, "r": 6, "c": "blue", "a": "pixel_reveal", "ms": 500}


def test_writes_handed_out_frame_by_frame_add_up_to_the_finished_picture() -> None:
    plan = builtin.LIBRARY["cat"].plan
    tl = Timeline.of(plan)
    canvas = [tl.background] * (96 * 96)
    for t in range(0, tl.total_ms + 50, 16):
        for x, y, c in tl.advance(t):
            assert 0 <= x < 96
            assert 0 <= y < 96
            canvas[y * 96 + x] = c
    assert tl.done(tl.total_ms)
    assert tl.advance(tl.total_ms + 1000) == []
    flat = bytes(b for c in canvas for b in (c >> 16, (c >> 8) & 255, c & 255))
    assert flat == render_at(plan, None)


def test_same_plan_same_time_same_pixels() -> None:
    plan = builtin.LIBRARY["rocket"].plan
    for t in (0, 123, 777, 2500, None):
        assert render_at(plan, t) == render_at(plan, t)


def test_a_step_reveals_in_proportion_to_its_elapsed_time() -> None:
    tl = _timeline(RECT)
    assert tl.total_ms == 1000
    assert len(tl.advance(0)) == 1  # a started step shows its first pixel at once
    quarter = tl.advance(250)
    assert len(quarter) == 25
    assert len(tl.advance(500)) == 25
    assert len(tl.advance(1000)) == 49
    assert tl.done(1000)
    assert not tl.done(999)


def test_fill_sweeps_top_to_bottom_and_stroke_follows_the_outline() -> None:
    fill = _timeline(RECT).advance(190)
    assert [y for _, y, _ in fill] == sorted(y for _, y, _ in fill)
    assert {y for _, y, _ in fill} == {4, 5}
    stroke = _timeline({**RECT, "a": "stroke"}).advance(360)
    # Clockwise from the top-left corner: the top edge, then down the right edge.
    assert stroke[:10] == [(x, 4, color("red")) for x in range(4, 14)]
    assert [(x, y) for x, y, _ in stroke[10:13]] == [(13, 5), (13, 6), (13, 7)]


def test_steps_run_one_after_another_with_their_delays() -> None:
    tl = _timeline(RECT, {**DOTS, "d": 200})
    assert tl.total_ms == 1000 + 200 + 500
    tl.advance(1000)
    assert tl.advance(1199) == []  # the delay: nothing new
    assert all(c == color("blue") for _, _, c in tl.advance(1450))


def test_instant_steps_appear_whole_at_their_start() -> None:
    tl = _timeline(RECT, {**DOTS, "a": "instant"})
    tl.advance(999)
    assert tl.total_ms == 1500  # its ms is a pause after it
    # the rect's last pixel showed at 990 ms; at 1000 ms the instant step appears whole
    assert len(tl.advance(1000)) == len(_timeline({**DOTS, "a": "instant"}).finish())
    assert tl.advance(1499) == []


def test_pixel_reveal_is_seeded() -> None:
    a = _timeline(DOTS, seed=5).advance(250)
    b = _timeline(DOTS, seed=5).advance(250)
    c = _timeline(DOTS, seed=6).advance(250)
    assert a == b
    assert a != c
    assert set(_timeline(DOTS, seed=5).finish()) == set(_timeline(DOTS, seed=6).finish())
    rows = [y for _, y, _ in a]
    assert rows != sorted(rows)  # not a sweep


def test_flood_fill_sees_the_picture_drawn_before_it() -> None:
    ring = {"op": "circle", "x": 16, "y": 16, "r": 8, "c": "white", "f": False}
    fill = {"op": "fill", "x": 16, "y": 16, "c": "green"}
    tl = _timeline(ring, fill)
    px = _canvas(tl, tl.finish())
    assert px[16 * W + 16] == color("green")
    assert px[0] == tl.background  # outside the ring: untouched
    assert px[16 * W + 16 - 8] == color("white")
    filled = sum(1 for c in px if c == color("green"))
    assert 150 < filled < 3.15 * 8 * 8


def test_flood_fill_spreads_outwards_from_its_seed() -> None:
    tl = _timeline({"op": "fill", "x": 10, "y": 20, "c": "green", "ms": 1000})
    first = tl.advance(100)
    assert first[0][:2] == (10, 20)
    assert max(abs(x - 10) + abs(y - 20) for x, y, _ in first) < 12


def test_mirror_groups_draw_both_halves_together() -> None:
    tl = Timeline(width=96, height=96, seed=0, bg=None, default_ms=600)
    tl.append(
        dsl.parse_step(
            {"op": "group", "m": "x", "s": [{"op": "line", "p": [[10, 10], [10, 30]], "c": "red"}]}
        )
    )
    tl.close()
    first = tl.advance(100)
    xs = {x for x, _, _ in first}
    assert xs == {10, 86}  # x -> 96 - x
    px = {(x, y) for x, y, _ in tl.finish() + first}
    assert px == {(x, y) for y in range(10, 31) for x in (10, 86)}


def test_mirror_axis_can_be_moved() -> None:
    tl = _timeline(
        {
            "op": "group",
            "m": "xy",
            "ax": 10.5,
            "ay": 5,
            "s": [{"op": "pixels", "p": [[8, 2]], "c": "red"}],
        }
    )
    assert {(x, y) for x, y, _ in tl.finish()} == {(8, 2), (13, 2), (8, 8), (13, 8)}


def test_streamed_steps_start_when_they_arrive_not_in_the_past() -> None:
    tl = Timeline(width=W, height=H, seed=0, bg=None, default_ms=600)
    tl.append(dsl.parse_step(RECT))
    tl.advance(1000)
    tl.advance(5000)  # the LLM is slow: the picture waits
    assert not tl.done(5000)
    tl.append(dsl.parse_step({**RECT, "c": "blue", "ms": 400}))
    assert tl.total_ms == 5400
    assert len(tl.advance(5200)) == 51  # animated (half and the first pixel), not popped in
    tl.close()
    assert not tl.done(5399)
    assert tl.done(5400)


def test_the_whole_animation_is_capped() -> None:
    slow = {**RECT, "ms": dsl.LIMITS.STEP_MS, "d": dsl.LIMITS.DELAY_MS}
    tl = _timeline(*[slow] * 20)
    assert tl.total_ms == dsl.LIMITS.TOTAL_MS
    assert tl.steps == 20
    assert len(tl.advance(dsl.LIMITS.TOTAL_MS)) == 20 * 100


def test_the_default_duration_is_passed_in() -> None:
    step = {k: v for k, v in RECT.items() if k != "ms"}
    assert _timeline(step, default_ms=250).total_ms == 250
    assert _timeline(step, step, default_ms=0).total_ms == 0


def test_frame_cost_depends_on_new_pixels_only() -> None:
    dot = {"op": "pixels", "p": [[1, 1]], "c": "red", "ms": 10}
    tl = _timeline(*[dot] * 199, RECT)
    tl.advance(1990)
    # A frame late in a 200-step plan hands out only the pixels revealed since the last one.
    assert len(tl.advance(2000)) == 1
    assert len(tl.advance(2016)) == 1


def test_shapes_off_the_canvas_are_clipped() -> None:
    tl = _timeline(
        {"op": "circle", "x": -500, "y": 16, "r": 520, "c": "red"},
        {"op": "line", "p": [[-1000, -1000], [1000, 1000]], "c": "blue", "w": 3},
        {"op": "text", "x": 20, "y": 20, "t": "WIDE TEXT HERE", "c": "green", "s": 4},
    )
    writes = tl.finish()
    assert writes
    assert all(0 <= x < W and 0 <= y < H for x, y, _ in writes)


def test_skip_to_end_hands_out_everything_left() -> None:
    tl = _timeline(RECT, DOTS)
    part = tl.advance(500)
    rest = tl.finish()
    assert _canvas(tl, part + rest) == _canvas(tl, _timeline(RECT, DOTS).finish())
    assert tl.advance(99999) == []


def test_background_defaults_to_the_palette_white() -> None:
    tl = Timeline(width=W, height=H, seed=0, bg=None, default_ms=600)
    assert tl.background == color("white") == 0xFFF1E8
    assert tl.progress(0) == 0.0


def test_a_hostile_plan_is_cut_at_the_drawing_budget_not_hung() -> None:
    zigzag = [[-1024 if i % 2 else 1024, -1024 + 8 * i] for i in range(dsl.LIMITS.POINTS)]
    wide = {"op": "line", "p": zigzag, "c": "red", "w": 16, "ms": 100}
    tl = _timeline(*[wide] * 40)
    assert tl.steps == 40
    assert tl.total_ms == 4000
    # The first steps are drawn; one is cut short; every later one is skipped, with reasons.
    first = 40 - len(tl.errors)
    assert 0 < first < 39
    assert tl.errors[0] == f"step {first}: cut short, it exceeds the drawing budget"
    assert tl.errors[1:] == [
        f"step {i}: skipped, the plan exceeds the drawing budget" for i in range(first + 1, 40)
    ]
    assert len(tl.advance(100)) > 0


def test_a_realistic_plan_stays_far_from_the_budget() -> None:
    for entry in builtin.LIBRARY.values():
        assert Timeline.of(entry.plan).errors == []


def test_centred_text_wraps_to_fit_around_its_centre_by_default() -> None:
    tl = Timeline(width=96, height=96, seed=0, bg=None, default_ms=600)
    tl.append(
        dsl.parse_step(
            {
                "op": "text",
                "x": 48,
                "y": 10,
                "t": "ОДИН ДВА ТРИ ЧЕТЫРЕ ПЯТЬ",
                "c": "black",
                "al": "center",
            }
        )
    )
    tl.close()
    writes = tl.finish()
    xs = [x for x, _, _ in writes]
    ys = {y for _, y, _ in writes}
    assert min(xs) >= 0
    assert max(xs) <= 95
    assert abs((min(xs) + max(xs)) / 2 - 48) <= 3
    assert max(ys) - min(ys) > 9  # more than one line
