"""The ``use`` step: a library subject drawn at a place and size, mirrored, recoloured.

It must draw exactly what the same shapes spelled out draw, at every moment of the
animation; the golden frames in tests/golden/use/ were made by running this file as a
script (``.venv/bin/python tests/test_dsl_use.py``), looked at, and frozen.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from drawstreamd.plan import builtin, dsl, prompt
from drawstreamd.render import png
from drawstreamd.render.timeline import Timeline, render_at

GOLDEN = Path(__file__).parent / "golden" / "use"


@dataclass(frozen=True)
class Subject:
    plan: dsl.Plan
    main: str | None


def _plan(steps: list[dict[str, Any]], bg: str = "white", seed: int = 3) -> dsl.Plan:
    plan, reasons = dsl.validate({"v": 1, "seed": seed, "bg": bg, "steps": steps})
    assert reasons == []
    assert plan is not None
    return plan


FLAG = Subject(
    _plan(
        [
            {"op": "rect", "x": 8, "y": 10, "w": 20, "h": 30, "c": "red"},
            {"op": "circle", "x": 60, "y": 20, "r": 10, "c": "blue"},
            {"op": "line", "p": [[10, 80], [50, 60]], "c": "black", "w": 4},
            {"op": "group", "m": "x", "s": [
                {"op": "polygon", "p": [[20, 50], [30, 40], [40, 50]], "c": "green"}]},
            {"op": "pixels", "p": [[70, 70], [72, 72]], "c": "orange"},
        ]
    ),
    main="blue",
)  # fmt: skip
TINY = {"flag": FLAG}

USE = {
    "op": "use", "n": "flag", "x": 10, "y": 20, "sz": 48, "mx": True,
    "rc": {"red": "pink", "main": "yellow"},
}  # fmt: skip
SPELLED_OUT = [
    # Worked by hand from docs/canvas-dsl.md: scale 48/96, mirrored (pixel u -> 96-u) inside
    # the box at (10, 20); red -> pink, the main colour blue -> yellow.
    {"op": "rect", "x": 45, "y": 25, "w": 10, "h": 15, "c": "pink"},
    {"op": "circle", "x": 28, "y": 30, "r": 5, "c": "yellow"},
    {"op": "line", "p": [[53, 60], [33, 50]], "c": "black", "w": 2},
    {"op": "group", "m": "x", "ax": 34.0, "s": [
        {"op": "polygon", "p": [[48, 45], [43, 40], [38, 45]], "c": "green"}]},
    {"op": "pixels", "p": [[23, 55], [22, 56]], "c": "orange"},
]  # fmt: skip


def test_a_use_step_is_its_subjects_shapes_moved_scaled_mirrored_and_recoloured() -> None:
    used, reasons = dsl.validate({"v": 1, "steps": [USE]}, subjects=TINY)
    assert reasons == []
    assert used is not None
    assert used.steps == _plan(SPELLED_OUT).steps


@pytest.mark.parametrize("t", [0, 300, 900, 1500, 2400, None])
def test_a_plan_using_a_subject_draws_what_the_spelled_out_plan_draws(t: int | None) -> None:
    """Same pixels at every moment: it animates step by step like the shapes themselves."""
    header = {"v": 1, "seed": 9, "bg": "dark_blue"}
    used, _ = dsl.validate({**header, "steps": [USE]}, subjects=TINY)
    spelled, _ = dsl.validate({**header, "steps": SPELLED_OUT}, subjects={})
    assert used is not None
    assert spelled is not None
    assert render_at(used, t) == render_at(spelled, t)


def test_a_used_subject_animates_one_step_after_another() -> None:
    used, _ = dsl.validate({"v": 1, "steps": [USE]}, subjects=TINY)
    assert used is not None
    timeline = Timeline.of(used, default_ms=600)
    assert timeline.steps == 5
    assert timeline.total_ms == 5 * 600
    frames = [render_at(used, t) for t in (100, 700, 1300, 1900, 2500)]
    assert len(set(frames)) == 5
    assert render_at(used, 0) != render_at(used, None)


@pytest.mark.parametrize("name", sorted(builtin.LIBRARY))
def test_using_a_subject_whole_draws_the_subject_itself(name: str) -> None:
    plan, reasons = dsl.validate({"v": 1, "steps": [{"op": "use", "n": name}]})
    assert reasons == []
    assert plan is not None
    assert len(plan.steps) == len(builtin.LIBRARY[name].plan.steps)
    own = builtin.LIBRARY[name].plan
    assert render_at(plan, 400) == render_at(dsl.Plan(steps=own.steps), 400)
    assert render_at(plan, None) == render_at(dsl.Plan(steps=own.steps), None)


def test_moving_a_subject_moves_every_pixel() -> None:
    at = _plan([{"op": "use", "n": "cat", "x": 7, "y": -5}], bg="black")
    home = _plan([{"op": "use", "n": "cat"}], bg="black")
    moved = render_at(at, None, width=120, height=120)
    original = render_at(home, None, width=120, height=120)
    for y in range(5, 96):
        for x in range(0, 96):
            src, dst = 3 * (y * 120 + x), 3 * ((y - 5) * 120 + x + 7)
            assert moved[dst : dst + 3] == original[src : src + 3], (x, y)


def test_mirroring_flips_the_subject_about_its_centre() -> None:
    """Rects, circles and ellipses rasterise symmetrically: the mirrored subject is the exact
    mirror image (pixel u -> 96-u, as a group's "m":"x")."""
    shapes = Subject(
        _plan(
            [
                {"op": "rect", "x": 10, "y": 10, "w": 21, "h": 30, "c": "red"},
                {"op": "circle", "x": 70, "y": 30, "r": 9, "c": "blue"},
                {"op": "ellipse", "x": 33, "y": 70, "rx": 20, "ry": 7, "c": "green"},
                {"op": "rect", "x": 50, "y": 60, "w": 30, "h": 20, "c": "yellow", "f": False},
            ]
        ),
        None,
    )
    plain, _ = dsl.validate({"v": 1, "steps": [{"op": "use", "n": "s"}]}, subjects={"s": shapes})
    flipped, _ = dsl.validate(
        {"v": 1, "steps": [{"op": "use", "n": "s", "mx": True}]}, subjects={"s": shapes}
    )
    assert plain is not None
    assert flipped is not None
    a, b = render_at(plain, None), render_at(flipped, None)
    assert a != b
    for y in range(96):
        for x in range(1, 96):
            src, dst = 3 * (y * 96 + x), 3 * (y * 96 + 96 - x)
            assert b[dst : dst + 3] == a[src : src + 3], (x, y)


def test_timing_keys_apply_to_the_subjects_steps() -> None:
    used, reasons = dsl.validate(
        {"v": 1, "steps": [{"op": "use", "n": "flag", "a": "instant", "ms": 1000, "d": 300}]},
        subjects=TINY,
    )
    assert reasons == []
    assert used is not None
    assert [s.a for s in used.steps] == ["instant"] * 5
    assert [s.ms for s in used.steps] == [200] * 5
    assert [s.d for s in used.steps] == [300, 0, 0, 0, 0]


def test_model_spellings_of_the_use_step_are_understood() -> None:
    canonical, _ = dsl.validate(
        {"v": 1, "steps": [{"op": "use", "n": "cat", "sz": 48, "mx": True}]}
    )
    loose, reasons = dsl.validate(
        {"v": 1, "steps": [{"op": "use", "name": "cat", "size": 48.0, "mirror": "x"}]}
    )
    assert reasons == []
    assert loose == canonical


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ({"op": "use", "n": "jabberwock"}, "step 1: use: unknown subject 'jabberwock'"),
        ({"op": "use", "n": "cat", "rc": {"orange": "plaid"}}, "rc: unknown colour 'plaid'"),
        ({"op": "use", "n": "cat", "sz": 0}, "step 1: use: Expected `int` >= 1"),
        ({"op": "use", "n": "cat", "x": 1000, "sz": 384}, "use 'cat', its step 0: ellipse:"),
        ({"op": "use"}, "step 1: use: Object missing required field `n`"),
        ({"op": "group", "s": [{"op": "use", "n": "cat"}]}, "groups cannot contain uses"),
    ],
)
def test_a_bad_use_step_is_dropped_with_a_reason(step: dict[str, Any], reason: str) -> None:
    rect = {"op": "rect", "x": 1, "y": 1, "w": 4, "h": 4, "c": "red"}
    plan, reasons = dsl.validate({"v": 1, "steps": [rect, step, rect]})
    assert plan is not None
    assert len(plan.steps) == 2
    assert len(reasons) == 1
    assert reason in reasons[0]


def test_a_used_subject_counts_its_real_steps_against_the_limit() -> None:
    cat = len(builtin.LIBRARY["cat"].plan.steps)
    rects = [
        {"op": "rect", "x": i % 90, "y": 1, "w": 2, "h": 2, "c": "red"} for i in range(201 - cat)
    ]
    plan, reasons = dsl.validate({"v": 1, "steps": [*rects, {"op": "use", "n": "cat"}]})
    assert plan is not None
    assert len(plan.steps) == len(rects)
    assert reasons == [f"step {len(rects)}: its {cat} steps would pass the 200-step limit"]
    fits, reasons = dsl.validate({"v": 1, "steps": [*rects[1:], {"op": "use", "n": "cat"}]})
    assert reasons == []
    assert fits is not None
    assert len(fits.steps) == 200


def test_parse_step_refuses_use_and_parse_steps_expands_it() -> None:
    with pytest.raises(dsl.StepError, match="parse_steps"):
        dsl.parse_step({"op": "use", "n": "cat"})
    cat = dsl.Plan(steps=dsl.parse_steps({"op": "use", "n": "cat"}))
    assert render_at(cat, None) == render_at(
        dsl.Plan(steps=builtin.LIBRARY["cat"].plan.steps), None
    )
    assert dsl.parse_steps({"op": "circle", "x": 1, "y": 1, "r": 1, "c": "red"}) == [
        dsl.Circle(x=1, y=1, r=1, c="red")
    ]


# ---------------------------------------------------------------------------- schema
def test_the_schema_offers_use_with_the_library_names() -> None:
    schema = dsl.json_schema()
    use = next(
        v for v in schema["properties"]["steps"]["items"]["anyOf"]
        if v["properties"]["op"] == {"enum": ["use"]}
    )  # fmt: skip
    assert use["properties"]["n"]["enum"] == sorted(builtin.LIBRARY)
    assert use["required"] == ["op", "n"]
    validator = jsonschema_rs.validator_for(schema)
    good = {"v": 1, "seed": 0, "bg": None, "steps": [USE | {"n": "cat"}]}
    validator.validate(good)
    assert not validator.is_valid({**good, "steps": [USE | {"n": "jabberwock"}]})
    assert not validator.is_valid({**good, "steps": [USE | {"n": "cat", "rc": {"red": "plaid"}}]})


def test_without_a_library_there_is_no_use_step() -> None:
    variants = dsl.json_schema([])["properties"]["steps"]["items"]["anyOf"]
    assert [v["properties"]["op"]["enum"][0] for v in variants] == list(dsl.OPS[:-1])


def test_the_model_gets_the_step_and_the_names() -> None:
    caps = prompt.Caps(steps=60, points=32, shapes=12, text=60)
    sent = prompt.llm_schema(dsl.json_schema(["cat", "dog"]), caps)
    names = [
        v["properties"]["n"]["enum"]
        for v in sent["properties"]["steps"]["items"]["anyOf"]
        if "n" in v["properties"]
    ]
    assert names == [["cat", "dog"]]
    text = prompt.system_prompt(
        dsl.json_schema(["cat", "dog"]), canvas_w=96, canvas_h=96, palette=list(dsl.PALETTE),
        animations=list(dsl.ANIMATIONS), caps=caps, total_ms=60_000, default_ms=600,
        subjects=["cat", "dog"],
    )  # fmt: skip
    assert '- "use": n [x y sz mx rc]' in text
    assert text.rstrip().endswith("cat dog") or "prefer it for these: cat dog" in text


# ---------------------------------------------------------------------------- golden frames
CASES: dict[str, list[dict[str, Any]]] = {
    "two-side-by-side": [
        {"op": "use", "n": "cat", "x": -4, "y": 36, "sz": 56},
        {"op": "use", "n": "dog", "x": 44, "y": 36, "sz": 56, "mx": True},
    ],
    "recoloured-small": [
        {"op": "use", "n": "car", "x": 8, "y": 8, "sz": 40, "rc": {"main": "blue"}},
        {"op": "use", "n": "car", "x": 48, "y": 48, "sz": 40, "mx": True, "rc": {"red": "green"}},
    ],
}
TIMES = (600, 2400, None)


def case_plan(name: str) -> dsl.Plan:
    return _plan(CASES[name], bg="dark_blue", seed=5)


def golden(name: str, t: int | None) -> Path:
    return GOLDEN / f"{name}-{'end' if t is None else t}.png"


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("t", TIMES)
def test_use_frames_match_their_golden_images(name: str, t: int | None) -> None:
    width, height, expected = png.decode(golden(name, t).read_bytes())
    assert (width, height) == (96, 96)
    assert render_at(case_plan(name), t) == expected


def _regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in CASES:
        for t in TIMES:
            golden(name, t).write_bytes(png.encode(96, 96, render_at(case_plan(name), t)))
    print(f"wrote the golden images to {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()
    print(json.dumps({n: len(case_plan(n).steps) for n in CASES}))
