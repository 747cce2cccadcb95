"""Canvas-DSL validation: salvage, normalisation, limits, encoding and the JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import msgspec
import pytest

from drawstreamd.plan import builtin, dsl


def _plan(*steps: Any, **header: Any) -> str:
    return json.dumps({"v": 1, "seed": 3, "bg": "black", "steps": list(steps), **header})


RECT = {"op": "rect", "x": 1, "y": 2, "w": 5, "h": 6, "c": "red"}


def test_bad_steps_are_dropped_with_a_reason_each_and_the_rest_is_kept() -> None:
    raw = _plan(
        RECT,
        {"op": "star", "x": 1},
        {"op": "circle", "x": 10, "y": 10, "r": -3, "c": "red"},
        {"op": "line", "p": [[0, 0], [5, 5]], "c": "not-a-colour"},
        "rect",
        {"op": "polygon", "p": [[0, 0], [1, 1]], "c": "blue"},
        {"op": "circle", "x": 10, "y": 10, "r": 3, "c": "blue"},
    )
    plan, reasons = dsl.validate(raw)
    assert plan is not None
    assert [type(s).__name__ for s in plan.steps] == ["Rect", "Circle"]
    assert len(reasons) == 5
    assert reasons[0].startswith("step 1: unknown op 'star'")
    assert reasons[1].startswith("step 2: circle:")
    assert "`$.r`" in reasons[1]
    assert reasons[2].startswith("step 3: line: unknown colour 'not-a-colour'")
    assert reasons[3] == "step 4: a step must be an object, got str"
    assert reasons[4].startswith("step 5: polygon:")
    assert "`$.p`" in reasons[4]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "invalid JSON"),
        ('"a string"', "a plan must be a JSON object, got str"),
        ('{"v":2,"steps":[]}', "unsupported plan version 2"),
        ('{"v":1,"steps":{}}', "the plan has no steps list"),
        (_plan({"op": "nope"}), "no valid step"),
        (_plan(), "no valid step"),
    ],
)
def test_a_plan_with_nothing_drawable_is_refused_with_a_reason(raw: str, reason: str) -> None:
    plan, reasons = dsl.validate(raw)
    assert plan is None
    assert any(reason in r for r in reasons), reasons


def test_a_bare_list_of_steps_is_accepted_as_a_plan() -> None:
    plan, reasons = dsl.validate([RECT])
    assert plan is not None
    assert reasons == []
    assert plan.v == 1
    assert plan.seed == 0
    assert plan.bg is None


def test_floats_colours_and_durations_are_repaired_not_rejected() -> None:
    step = {"op": "circle", "x": 10.4, "y": 20.6, "r": 5.0, "c": "Dark Grey", "ms": 99999}
    plan, reasons = dsl.validate(_plan(step, bg="Light-Gray", seed=12.0))
    assert plan is not None
    assert reasons == []
    (circle,) = plan.steps
    assert isinstance(circle, dsl.Circle)
    assert (circle.x, circle.y, circle.r) == (10, 21, 5)
    assert circle.c == "dark_grey"
    assert circle.ms == dsl.LIMITS.STEP_MS
    assert plan.bg == "light_grey"
    assert plan.seed == 12


def test_hex_colours_are_normalised() -> None:
    step = dsl.parse_step({"op": "pixels", "p": [[1, 1]], "c": "#AbC"})
    assert isinstance(step, dsl.Pixels)
    assert step.c == "#aabbcc"
    assert dsl.parse_color("#ff0080") == (255, 0, 128)
    assert dsl.parse_color("peach") == dsl.PALETTE["peach"]
    with pytest.raises(dsl.StepError, match="unknown colour"):
        dsl.parse_color("#12")


def test_bad_header_fields_fall_back_to_defaults_with_reasons() -> None:
    plan, reasons = dsl.validate(_plan(RECT, bg="sparkly", seed="x"))
    assert plan is not None
    assert plan.bg is None
    assert plan.seed == 0
    assert len(reasons) == 2


def test_coordinates_outside_the_canvas_are_kept_but_absurd_ones_rejected() -> None:
    step = dsl.parse_step({"op": "line", "p": [[-200, 50], [300, 50]], "c": "red"})
    assert isinstance(step, dsl.Line)
    assert step.p == [(-200, 50), (300, 50)]
    with pytest.raises(dsl.StepError, match="<= 1024"):
        dsl.parse_step({"op": "circle", "x": 5000, "y": 0, "r": 3, "c": "red"})


@pytest.mark.parametrize(
    ("step", "match"),
    [
        ({"op": "line", "p": [[0, 0]] * (dsl.LIMITS.POINTS + 1), "c": "red"}, "length <= 256"),
        ({"op": "text", "x": 0, "y": 0, "t": "x" * 121, "c": "red"}, "length <= 120"),
        ({"op": "text", "x": 0, "y": 0, "t": "   ", "c": "red"}, "empty text"),
        ({"op": "line", "p": [[0, 0]], "c": "red", "w": 40}, "<= 16"),
        ({"op": "group", "s": [{"op": "group", "s": []}]}, "groups cannot contain groups"),
        (
            {"op": "group", "s": [{"op": "rect", "x": 0, "y": 0, "w": 2, "h": 2, "c": "?"}]},
            "group child 0",
        ),
        (
            {"op": "rect", "x": 0, "y": 0, "w": 2, "h": 2, "c": "red", "a": "wobble"},
            "Invalid enum value 'wobble'",
        ),
        ([1, 2], "must be an object"),
    ],
)
def test_limits_are_enforced_per_step(step: object, match: str) -> None:
    with pytest.raises(dsl.StepError, match=match):
        dsl.parse_step(step)


def test_steps_beyond_the_step_limit_are_dropped_with_one_reason() -> None:
    plan, reasons = dsl.validate(_plan(*[RECT] * (dsl.LIMITS.STEPS + 5)))
    assert plan is not None
    assert len(plan.steps) == dsl.LIMITS.STEPS
    assert reasons == [f"steps 200..204: over the {dsl.LIMITS.STEPS}-step limit"]


def test_encode_is_compact_and_round_trips() -> None:
    plan, _ = dsl.validate(_plan(RECT, {"op": "group", "m": "x", "s": [RECT]}))
    assert plan is not None
    raw = dsl.encode(plan)
    assert raw.startswith(b'{"v":1,"seed":3,"bg":"black","steps":[{"op":"rect"')
    assert b" " not in raw
    assert b'"a":' not in raw
    assert b'"d":' not in raw
    again, reasons = dsl.validate(raw)
    assert again == plan
    assert reasons == []


def test_default_animation_depends_on_the_shape() -> None:
    filled = dsl.parse_step(RECT)
    outline = dsl.parse_step({**RECT, "f": False})
    line = dsl.parse_step({"op": "line", "p": [[0, 0]], "c": "red"})
    dots = dsl.parse_step({"op": "pixels", "p": [[0, 0]], "c": "red"})
    chosen = dsl.parse_step({**RECT, "a": "instant"})
    assert [dsl.animation_of(s) for s in (filled, outline, line, dots, chosen)] == [
        "fill",
        "stroke",
        "stroke",
        "pixel_reveal",
        "instant",
    ]


# ---------------------------------------------------------------------------- schema
SCHEMA = dsl.json_schema()
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for v in node.values():
            found += _walk(v)
    elif isinstance(node, list):
        for v in node:
            found += _walk(v)
    return found


def test_schema_is_plain_enough_for_grammar_converters() -> None:
    keys = {k for node in _walk(SCHEMA) for k in node}
    assert not keys & {"$ref", "$defs", "discriminator", "oneOf", "allOf", "if", "not"}
    assert list(SCHEMA["properties"]) == ["v", "seed", "bg", "steps"]
    assert SCHEMA["required"] == ["v", "seed", "bg", "steps"]
    for variant in SCHEMA["properties"]["steps"]["items"]["anyOf"]:
        assert next(iter(variant["properties"])) == "op"
        assert variant["additionalProperties"] is False


@pytest.mark.parametrize("name", sorted(builtin.LIBRARY))
def test_every_library_plan_follows_the_schema(name: str) -> None:
    VALIDATOR.validate(json.loads(dsl.encode(builtin.LIBRARY[name].plan)))


def test_cards_follow_the_schema() -> None:
    for plan in (builtin.text_card("привет"), builtin.too_small_card(), builtin.error_card()):
        VALIDATOR.validate(json.loads(dsl.encode(plan)))


@pytest.mark.parametrize(
    "bad",
    [
        {"v": 1, "seed": 0, "bg": None, "steps": [{"op": "star"}]},
        {"v": 1, "seed": 0, "bg": "sparkly", "steps": [RECT]},
        {"v": 1, "seed": 0, "bg": None, "steps": [{**RECT, "zz": 1}]},
        {"v": 2, "seed": 0, "bg": None, "steps": [RECT]},
        {"v": 1, "seed": 0, "bg": None, "steps": []},
    ],
)
def test_schema_rejects_what_validation_rejects(bad: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(bad)


def test_schema_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from drawstreamd.render.cli import schema_main

    assert schema_main(["--compact"]) == 0
    assert msgspec.json.decode(capsys.readouterr().out) == SCHEMA


def test_the_documented_example_is_a_valid_plan() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "canvas-dsl.md").read_text("utf-8")
    example = re.search(r"```json\n(.*?)```", doc, re.S)
    assert example is not None
    plan, reasons = dsl.validate(example.group(1))
    assert reasons == []
    assert plan is not None
    assert [type(s).__name__ for s in plan.steps] == ["Circle", "Group", "Group", "Text"]


@pytest.mark.parametrize("depth", [50, 5000, 200_000])
def test_absurdly_nested_json_is_refused_not_a_crash(depth: int) -> None:
    raw = '{"v":1,"steps":[RECT,{"op":"rect","x":' + "[" * depth + "]" * depth + "}]}"
    plan, reasons = dsl.validate(raw.replace("RECT", json.dumps(RECT)))
    if plan is None:  # the JSON decoder itself gave up
        assert reasons == ["invalid JSON: nested too deeply"]
    else:
        assert len(plan.steps) == 1
        assert reasons == ["step 1: nested too deeply"]
    nested: list[Any] = []
    for _ in range(max(depth // 10, 20)):
        nested = [nested]
    with pytest.raises(dsl.StepError, match="nested too deeply"):
        dsl.parse_step({"op": "line", "p": nested, "c": "red"})


def test_spellings_of_a_model_without_the_grammar_are_understood() -> None:
    rect = dsl.parse_step(
        {"op": "Rectangle", "x": 1, "y": 2, "width": 3, "height": 4, "color": "red"}
    )
    assert rect == dsl.parse_step({"op": "rect", "x": 1, "y": 2, "w": 3, "h": 4, "c": "red"})
    group = dsl.parse_step(
        {
            "op": "mirror",
            "mirror": "x",
            "shapes": [
                {"op": "oval", "x": 9, "y": 9, "radius": 1, "rx": 3, "ry": 4, "colour": "blue"}
            ],
        }
    )
    assert isinstance(group, dsl.Group)
    assert group.m == "x"
    assert isinstance(group.s[0], dsl.Ellipse)
    line = dsl.parse_step({"op": "polyline", "points": [[0, 0], [5, 5]], "c": "red", "width": 3})
    assert isinstance(line, dsl.Line)
    assert line.w == 3
    # The real key wins over an alias.
    both = dsl.parse_step({"op": "pixels", "p": [[1, 1]], "c": "red", "color": "blue"})
    assert both.c == "red"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("Dark Gray", "dark_grey"),
        ("purple", "dark_purple"),
        ("GOLD", "yellow"),
        ("sky blue", "blue"),
        ("light-green", "green"),
        ("peach", "peach"),
    ],
)
def test_common_colour_words_map_to_the_palette(word: str, name: str) -> None:
    assert dsl.normalize_color(word) == name
    assert dsl.parse_color(word) == dsl.PALETTE[name]
