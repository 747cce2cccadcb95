"""The builtin planner composes library subjects from the words of a request (RU and EN):
two subjects, a colour, an accessory, a setting, "many".

The golden pictures in tests/golden/compose/ were made by running this file as a script
(``.venv/bin/python tests/test_compose.py``), looked at, and frozen.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from drawstreamd.plan import builtin, compose, dsl, library, request
from drawstreamd.render import png
from drawstreamd.render.raster import color
from drawstreamd.render.timeline import render_at

ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden" / "compose"
LIB = builtin.LIBRARY


@pytest.mark.parametrize(
    ("message", "subjects", "colours", "accessories", "setting", "count"),
    [
        ("нарисуй кота и собаку", ["cat", "dog"], {}, [], None, 1),
        ("draw a cat and a dog side by side", ["cat", "dog"], {}, [], None, 1),
        ("нарисуй красную машину", ["car"], {"car": "red"}, [], None, 1),
        ("a blue car pls", ["car"], {"car": "blue"}, [], None, 1),
        ("машинку зелёненькую", ["car"], {"car": "green"}, [], None, 1),
        ("красная машина и синий кот", ["car", "cat"], {"car": "red", "cat": "blue"}, [], None, 1),
        ("кот в короне", ["cat"], {}, [("cat", "crown")], None, 1),
        ("a dog with a crown", ["dog"], {}, [("dog", "crown")], None, 1),
        ("корона", ["crown"], {}, [], None, 1),
        ("нарисуй кота ночью", ["cat"], {}, [], "night", 1),
        ("draw a cat in space", ["cat"], {}, [], "space", 1),
        ("собака на траве", ["dog"], {}, [], "grass", 1),
        ("снеговик на море", ["snowman"], {}, [], "sea", 1),
        ("дом в снегу", ["house"], {}, [], "snow", 1),
        ("ракета в космосе", ["rocket"], {}, [], None, 1),  # the rocket's own space
        ("лодка на море", ["boat"], {}, [], None, 1),
        ("луна ночью", ["moon"], {}, [], None, 1),
        ("ночь", ["moon"], {}, [], None, 1),
        ("много котиков", ["cat"], {}, [], None, 5),
        ("несколько звездочек", ["star"], {}, [], None, 3),
        ("draw three cats", ["cat"], {}, [], None, 3),
        ("lots of hearts pls", ["heart"], {}, [], None, 5),
        ("кот и две собаки", ["cat", "dog"], {}, [], None, 1),
        ("розового кота", ["cat"], {"cat": "pink"}, [], None, 1),
        ("нарисуй бармаглота в шляпе", [], {}, [], None, 1),
        ("a purple jabberwock at night", [], {}, [], None, 1),  # "night" alone would be the moon
        ("hi! love the stream, can u draw a kitty?", ["cat"], {}, [], None, 1),
        ("сердечко стримеру нарисуй", ["heart"], {}, [], None, 1),
        ("кот собака", ["cat", "dog"], {}, [], None, 1),
        ("кот, собака и рыбка", ["cat", "dog", "fish"], {}, [], None, 1),
    ],
)
def test_the_words_of_a_request_are_read(
    message: str,
    subjects: list[str],
    colours: dict[str, str],
    accessories: list[tuple[str, str]],
    setting: str | None,
    count: int,
) -> None:
    req = request.read(message, LIB)
    assert req.subjects == subjects
    assert req.colours == colours
    assert req.accessories == accessories
    assert req.setting == setting
    assert req.count == count


def _tiny_library(tmp_path: Path, subjects: dict[str, tuple[str, list[str]]]) -> Any:
    for name, (category, kw) in subjects.items():
        path = tmp_path / category / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        ru = next(k for k in kw if not k.isascii())
        en = next(k for k in kw if k.isascii())
        steps = [{"op": "circle", "x": 48, "y": 48, "r": 30, "c": "red"}]
        body = {"kw": kw, "ask": [f"нарисуй {ru}", f"draw a {en}"],
                "plan": {"v": 1, "seed": 1, "bg": "black", "steps": steps}}  # fmt: skip
        path.write_text(json.dumps(body), "utf-8")
    return library.load(tmp_path)


@pytest.mark.parametrize(
    ("message", "subjects"),
    [
        ("draw a police car", ["police_car"]),  # the name holds the other's
        ("нарисуй полицейскую машину", ["police_car"]),
        ("draw a palm tree", ["palm_tree"]),
        ("нарисуй пасхальное яйцо", ["easter_egg"]),  # the names share a word
        ("нарисуй удивлённый смайлик", ["surprised_face"]),  # an adjective, of a kind
        ("нарисуй злую собаку", ["dog"]),  # an adjective, of another kind: the noun
        ("draw an angry dog", ["dog"]),
        ("нарисуй злую, собаку", ["angry_face", "dog"]),  # not neighbours
        ("draw a police car and a tree", ["police_car", "tree"]),
    ],
)
def test_neighbouring_words_that_name_one_thing_draw_one(
    tmp_path: Path, message: str, subjects: list[str]
) -> None:
    lib = _tiny_library(
        tmp_path,
        {
            "police_car": ("vehicles", ["полицейск*", "police"]),
            "car": ("vehicles", ["машин*", "car"]),
            "palm_tree": ("nature", ["пальм*", "palm"]),
            "tree": ("nature", ["дерев*", "tree"]),
            "easter_egg": ("holidays", ["пасхальн*", "easter"]),
            "fried_egg": ("food", ["яйцо", "egg"]),
            "surprised_face": ("faces", ["удивленн*", "surprised"]),
            "smiley": ("faces", ["смайл*", "smiley"]),
            "angry_face": ("faces", ["злую", "angry"]),
            "dog": ("animals", ["собак*", "dog"]),
        },
    )
    assert request.read(message, lib).subjects == subjects


def test_a_lone_subject_is_the_librarys_own_picture() -> None:
    for name, entry in LIB.items():
        word = next(k for k in entry.keywords if not k.isascii()).removesuffix("*")
        plan, origin = builtin.plan_for(f"нарисуй {word} пж")
        assert origin == "builtin"
        assert plan is entry.plan, name


def test_unknown_subjects_still_get_the_text_card() -> None:
    for message in (
        "нарисуй бармаглота в шляпе",
        "a purple jabberwock at night",
        "две бармаглотины",
    ):
        plan, origin = builtin.plan_for(message)
        assert origin == "card"
        assert plan == builtin.text_card(message)


CASES = {
    "two-subjects": "нарисуй кота и собаку",
    "recolour": "нарисуй синюю машину",
    "accessory": "draw a cat wearing a crown",
    "setting-night": "нарисуй собаку ночью",
    "setting-grass": "a cat on the grass",
    "many": "много сердечек",
    "everything": "две розовые собаки в коронах в снегу",
}


def _picture(message: str) -> dsl.Plan:
    plan, origin = builtin.plan_for(message)
    assert origin == "builtin"
    return plan


@pytest.mark.parametrize("case", sorted(CASES))
def test_composed_picture_matches_its_golden_image(case: str) -> None:
    width, height, expected = png.decode((GOLDEN / f"{case}.png").read_bytes())
    assert (width, height) == (96, 96)
    assert render_at(_picture(CASES[case]), None) == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_composed_pictures_are_written_with_use_steps_and_drawn_as_such(case: str) -> None:
    written = builtin.composed(CASES[case])
    assert written is not None
    assert any(s.get("op") == "use" for s in written["steps"])
    assert len(json.dumps(written)) < 1500  # a few tokens, not the subjects spelled out
    plan, reasons = dsl.validate(written)
    assert reasons == []
    assert plan == _picture(CASES[case])
    assert 1 <= len(plan.steps) <= dsl.LIMITS.STEPS


def _share(plan: dsl.Plan, colour: str) -> float:
    rgb, want = render_at(plan, None), color(colour).to_bytes(3, "big")
    return sum(1 for i in range(0, len(rgb), 3) if rgb[i : i + 3] == want) / (96 * 96)


def test_a_colour_word_repaints_the_main_colour() -> None:
    red = _share(LIB["car"].plan, "red")
    blue_car = _picture("нарисуй синюю машину")
    assert _share(blue_car, "red") == 0
    assert _share(blue_car, "blue") >= red
    assert blue_car.bg != "blue"
    assert _share(_picture("a green cat"), "green") > _share(LIB["cat"].plan, "green") + 0.1


def test_many_is_several_smaller_copies_and_stays_within_the_limits() -> None:
    cats = builtin.composed("нарисуй много котиков в коронах")
    assert cats is not None
    uses = [s for s in cats["steps"] if s["op"] == "use"]
    assert [s["n"] for s in uses].count("cat") == 5
    assert [s["n"] for s in uses].count("crown") == 5
    assert all(s["sz"] < 48 for s in uses if s["n"] == "cat")
    assert any(s.get("mx") for s in uses)
    plan = _picture("нарисуй много котиков в коронах")
    assert len(plan.steps) <= dsl.LIMITS.STEPS


# ---------------------------------------------------------------------------- accessories
def _accessory_words() -> list[tuple[str, str]]:
    """(request, accessory subject) for every accessory the library has today."""
    words = {
        "hat": "шляпе", "party_hat": "колпаке", "crown": "короне", "glasses": "очках",
        "scarf": "шарфе",
    }  # fmt: skip
    assert set(words) == set(request.ACCESSORIES)
    found = []
    for kind, names in request.ACCESSORIES.items():
        present = [n for n in names if n in LIB]
        if present:
            found.append((f"нарисуй собаку в {words[kind]}", present[0]))
    return found


@pytest.mark.parametrize(("message", "thing"), _accessory_words())
def test_an_accessory_of_the_library_is_worn_on_the_head(message: str, thing: str) -> None:
    written = builtin.composed(message)
    assert written is not None
    dog, worn = [s for s in written["steps"] if s["op"] == "use"]
    assert (dog["n"], worn["n"]) == ("dog", thing)
    hx, _, hw = LIB["dog"].head or (0, 0, 0)
    k = dog["sz"] / 96
    box = compose.figure(LIB[thing].plan)
    kt = worn["sz"] / 96
    centre = worn["x"] + (box[0] + box[2]) / 2 * kt
    assert abs(centre - (dog["x"] + hx * k)) <= 3
    assert 0.6 * hw * k <= (box[2] - box[0]) * kt <= 1.3 * hw * k


def _entry_files(tmp_path: Path) -> dict[str, library.Entry]:
    def subject(ru: str, en: str, steps: list[dict[str, Any]], **extra: Any) -> str:
        return json.dumps(
            {
                "kw": [ru, en],
                "ask": [f"нарисуй {ru}", f"draw a {en}"],
                **extra,
                "plan": {"v": 1, "seed": 1, "bg": "black", "steps": steps},
            }
        )

    files = {
        "animals/blob.json": subject(
            "блоб", "blob", [{"op": "circle", "x": 48, "y": 60, "r": 30, "c": "green"}],
            main="green", head=[48, 30, 60],
        ),
        "objects/top_hat.json": subject(
            "шляпа", "hat", [{"op": "rect", "x": 30, "y": 20, "w": 36, "h": 60, "c": "red"}]
        ),
        "objects/glasses.json": subject(
            "очки", "glasses", [{"op": "rect", "x": 8, "y": 40, "w": 80, "h": 16, "c": "blue"}]
        ),
        "objects/scarf.json": subject(
            "шарф", "scarf", [{"op": "rect", "x": 20, "y": 10, "w": 56, "h": 70, "c": "pink"}]
        ),
    }  # fmt: skip
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, "utf-8")
    return library.load(tmp_path)


def _figure_at(step: dict[str, Any], entries: dict[str, library.Entry]) -> compose.Box:
    x0, y0, x1, y1 = compose.figure(entries[step["n"]].plan)
    k = step["sz"] / 96
    return (step["x"] + x0 * k, step["y"] + y0 * k, step["x"] + x1 * k, step["y"] + y1 * k)


@pytest.mark.parametrize("word", ["шляпе", "очках", "шарфе"])
def test_hats_go_on_top_glasses_across_the_eyes_scarves_under_the_head(
    tmp_path: Path, word: str
) -> None:
    entries = _entry_files(tmp_path)
    written = builtin.composed(f"блоб в {word}", entries)
    assert written is not None
    blob, worn = [s for s in written["steps"] if s["op"] == "use"]
    k = blob["sz"] / 96
    head_x, head_y, head_w = blob["x"] + 48.5 * k, blob["y"] + 30 * k, 60 * k
    x0, y0, x1, y1 = _figure_at(worn, entries)
    assert abs((x0 + x1) / 2 - head_x) <= 1.5
    assert 0.8 * head_w <= x1 - x0 <= 1.2 * head_w
    if word == "шляпе":
        assert y1 - 0.15 * (y1 - y0) <= head_y <= y1  # sits on the head, a little into it
        assert y0 >= -1  # the wearer shrank so that the hat stays on the canvas
    elif word == "очках":
        assert abs((y0 + y1) / 2 - (head_y + 0.45 * head_w)) <= 1.5
    else:
        assert abs(y0 - (head_y + 0.95 * head_w)) <= 1.5
    plan, reasons = dsl.validate(written, subjects=entries)
    assert reasons == []
    assert plan is not None


def _regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for case, message in CASES.items():
        rgb = render_at(_picture(message), None)
        (GOLDEN / f"{case}.png").write_bytes(png.encode(96, 96, rgb))
    print(f"wrote the golden images to {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()


def _json_blocks(path: Path) -> list[str]:
    return re.findall(r"```json\n(.*?)```", path.read_text("utf-8"), re.S)


def test_the_readme_shows_what_the_planner_writes_for_a_cat_in_a_crown() -> None:
    (block,) = [b for b in _json_blocks(ROOT / "README.md") if '"use"' in b]
    assert json.loads(block) == builtin.composed("кот в короне")


def test_the_documented_use_examples_are_valid_plans() -> None:
    blocks = [b for b in _json_blocks(ROOT / "docs" / "canvas-dsl.md") if '"op":"use"' in b]
    assert blocks
    for block in blocks:
        plan, reasons = dsl.validate(block)
        assert reasons == []
        assert plan is not None
