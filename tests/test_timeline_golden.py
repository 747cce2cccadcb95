"""Golden images: every operation and every animation mode at start, middle and end.

The PNGs in tests/golden/ were made by running this file as a script
(``.venv/bin/python tests/test_timeline_golden.py``), looked at, and frozen; the tests compare
the renderer's output with them pixel for pixel. Regenerate only for an intended change of the
picture, and look at the new images before committing them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from drawstreamd.plan import builtin, dsl
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at

GOLDEN = Path(__file__).parent / "golden"
SIZE = 32
TIMES = (100, 500, 1000)
"""10 %, 50 % and 100 % of the step under test (each lasts 1000 ms)."""

RING = {
    "op": "circle",
    "x": 16,
    "y": 16,
    "r": 10,
    "c": "dark_blue",
    "f": False,
    "a": "instant",
    "ms": 0,
}
CASES: dict[str, list[dict[str, Any]]] = {
    "rect-fill": [{"op": "rect", "x": 4, "y": 6, "w": 24, "h": 18, "c": "red", "a": "fill"}],
    "rect-outline-stroke": [
        {"op": "rect", "x": 4, "y": 6, "w": 24, "h": 18, "c": "red", "f": False}
    ],
    "circle-fill": [{"op": "circle", "x": 16, "y": 16, "r": 11, "c": "orange"}],
    "circle-stroke": [{"op": "circle", "x": 16, "y": 16, "r": 11, "c": "orange", "a": "stroke"}],
    "ellipse-pixel_reveal": [
        {"op": "ellipse", "x": 16, "y": 16, "rx": 14, "ry": 8, "c": "green", "a": "pixel_reveal"}
    ],
    "ellipse-outline-instant": [
        {
            "op": "ellipse",
            "x": 16,
            "y": 16,
            "rx": 14,
            "ry": 8,
            "c": "green",
            "f": False,
            "a": "instant",
        }
    ],
    "line-stroke": [{"op": "line", "p": [[2, 28], [10, 4], [20, 26], [30, 3]], "c": "blue"}],
    "line-wide-fill": [
        {"op": "line", "p": [[3, 3], [28, 12], [6, 28]], "c": "dark_purple", "w": 3, "a": "fill"}
    ],
    "polygon-fill": [{"op": "polygon", "p": [[16, 2], [30, 28], [2, 28]], "c": "yellow"}],
    "polygon-outline-stroke": [
        {"op": "polygon", "p": [[16, 2], [30, 28], [16, 20], [2, 28]], "c": "yellow", "f": False}
    ],
    "pixels-pixel_reveal": [
        {"op": "pixels", "p": [[x, (x * 7) % 32] for x in range(0, 32, 2)], "c": "pink"}
    ],
    "fill-flood": [RING, {"op": "fill", "x": 16, "y": 16, "c": "peach"}],
    "fill-flood-pixel_reveal": [
        RING,
        {"op": "fill", "x": 0, "y": 0, "c": "lavender", "a": "pixel_reveal"},
    ],
    "text-stroke": [{"op": "text", "x": 1, "y": 2, "t": "Hi Жё!", "c": "black"}],
    "text-middle-fill": [
        {
            "op": "text",
            "x": 16,
            "y": 16,
            "t": "кот cat",
            "c": "red",
            "w": 30,
            "al": "middle",
            "a": "fill",
        }
    ],
    "group-mirror-x-stroke": [
        {
            "op": "group",
            "m": "x",
            "s": [
                {"op": "line", "p": [[2, 4], [12, 14]], "c": "red", "w": 2},
                {"op": "circle", "x": 8, "y": 22, "r": 4, "c": "blue"},
            ],
        }
    ],
    "group-mirror-xy-pixel_reveal": [
        {
            "op": "group",
            "m": "xy",
            "a": "pixel_reveal",
            "s": [
                {"op": "rect", "x": 2, "y": 2, "w": 8, "h": 6, "c": "green"},
                {"op": "pixels", "p": [[12, 12], [13, 13]], "c": "black"},
            ],
        }
    ],
    "group-axis-instant": [
        {
            "op": "group",
            "m": "x",
            "ax": 10.5,
            "a": "instant",
            "s": [
                {"op": "polygon", "p": [[2, 4], [10, 4], [10, 20]], "c": "brown"},
            ],
        }
    ],
}


def case_plan(name: str) -> dsl.Plan:
    steps = [{"ms": 1000, **s} for s in CASES[name]]
    plan, reasons = dsl.validate({"v": 1, "seed": 42, "bg": "white", "steps": steps})
    assert not reasons, reasons
    assert plan is not None
    return plan


def golden_path(name: str, t: int) -> Path:
    return GOLDEN / f"{name}-{t}.png"


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("t", TIMES)
def test_frame_matches_its_golden_image(name: str, t: int) -> None:
    width, height, expected = png.decode(golden_path(name, t).read_bytes())
    assert (width, height) == (SIZE, SIZE)
    actual = render_at(case_plan(name), t, width=SIZE, height=SIZE)
    if actual != expected:
        wrong = [
            (i // 3 % SIZE, i // 3 // SIZE)
            for i in range(0, len(actual), 3)
            if actual[i : i + 3] != expected[i : i + 3]
        ]
        pytest.fail(f"{len(wrong)} pixels differ from {golden_path(name, t).name}: {wrong[:8]}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_animated_steps_change_between_start_middle_and_end(name: str) -> None:
    frames = [render_at(case_plan(name), t, width=SIZE, height=SIZE) for t in TIMES]
    if name.endswith("instant"):
        assert frames[0] == frames[1] == frames[2]
    else:
        assert frames[0] != frames[1] != frames[2]
    assert frames[2] == render_at(case_plan(name), None, width=SIZE, height=SIZE)


def picture_plans() -> dict[str, dsl.Plan]:
    """The finished cards, frozen too (96x96; the library's pictures: test_library_golden.py)."""
    plans: dict[str, dsl.Plan] = {}
    plans["card-text"] = builtin.text_card("Нарисуй единорога, please!")
    plans["card-too-small"] = builtin.too_small_card()
    plans["card-error"] = builtin.error_card()
    return plans


@pytest.mark.parametrize("name", sorted(picture_plans()))
def test_card_matches_its_golden_image(name: str) -> None:
    width, height, expected = png.decode((GOLDEN / f"{name}.png").read_bytes())
    assert (width, height) == (96, 96)
    assert render_at(picture_plans()[name], None) == expected


def _regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in CASES:
        for t in TIMES:
            rgb = render_at(case_plan(name), t, width=SIZE, height=SIZE)
            golden_path(name, t).write_bytes(png.encode(SIZE, SIZE, rgb))
    for name, plan in picture_plans().items():
        (GOLDEN / f"{name}.png").write_bytes(png.encode(96, 96, render_at(plan, None)))
    print(f"wrote the golden images to {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()
