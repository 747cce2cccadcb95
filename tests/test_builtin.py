"""The builtin planner: keyword matching, the library's pictures, the cards, few-shot pairs."""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING

import pytest
import trio

from drawstreamd.plan import builtin, dsl, library
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.raster import color
from drawstreamd.render.timeline import Timeline, render_at

if TYPE_CHECKING:
    from pathlib import Path

SUBJECTS = [
    "cat",
    "dog",
    "heart",
    "sun",
    "house",
    "tree",
    "flower",
    "star",
    "rocket",
    "ghost",
    "skull",
    "sword",
    "mushroom",
    "fish",
    "car",
    "moon",
    "rain",
    "cup",
    "crown",
    "smiley",
]


def test_the_library_has_every_promised_subject() -> None:
    assert set(SUBJECTS) <= set(builtin.LIBRARY)
    assert len(builtin.LIBRARY) >= 20


@pytest.mark.parametrize("name", sorted(builtin.LIBRARY))
def test_each_subject_is_found_from_its_own_requests(name: str) -> None:
    entry = builtin.LIBRARY[name]
    assert len(entry.asks) >= 2
    for ask in entry.asks:
        found = builtin.match(ask)
        assert found is not None, ask
        assert found[0] == name, ask


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("нарисуй котика", "cat"),
        ("Нарисуй КОТЁНКА пожалуйста!!!", "cat"),
        ("хочу кошечку", "cat"),
        ("draw me two cats", "cat"),
        ("a cute kitten please", "cat"),
        ("собачку хочу", "dog"),
        ("щенок", "dog"),
        ("draw a puppy", "dog"),
        ("сердечко для стримера", "heart"),
        ("I love you", "heart"),
        ("домик в деревне", "house"),
        ("нарисуй дом с котом", "house"),  # the subject named first wins
        ("грибочек", "mushroom"),
        ("звёздочку", "star"),
        ("ракету в космос", "rocket"),
        ("золотую рыбку", "fish"),
        ("тучку с дождиком", "rain"),
        ("чашку кофе", "cup"),
        ("корону королю", "crown"),
        ("черепушку", "skull"),
        ("машинку", "car"),
        ("луну", "moon"),
        ("привидение", "ghost"),
        ("меч", "sword"),
        ("ромашку", "flower"),
        ("солнышко", "sun"),
        ("ёлочку", "christmas_tree"),
        ("дубовое дерево", "tree"),
        ("снеговика", "snowman"),
        ("яблочко", "apple"),
        ("бабочку", "butterfly"),
        ("кораблик в море", "boat"),
        ("розового кота", "cat"),  # a colour is not a rose
        ("кисулю", "cat"),
        ("смайлик", "smiley"),
        ("🙂🙂", "smiley"),  # an emoji is a word of its own
        ("котик 🐱", "cat"),
        ("❤️❤️❤️", "heart"),
        ("<3", "heart"),
    ],
)
def test_keywords_follow_word_forms(message: str, name: str) -> None:
    found = builtin.match(message)
    assert found is not None
    assert found[0] == name


@pytest.mark.parametrize(
    "message",
    [
        "который час?",
        "котлета",
        "category theory",
        "домофон",
        "",
        "🧿🪬",
        "мечта",
        "кисель",
        "мы ели",
    ],
)
def test_words_that_merely_contain_a_keyword_do_not_match(message: str) -> None:
    assert builtin.match(message) is None


def _pixels(plan: dsl.Plan) -> list[bytes]:
    rgb = render_at(plan, None)
    return [rgb[i : i + 3] for i in range(0, len(rgb), 3)]


@pytest.mark.parametrize("name", sorted(builtin.LIBRARY))
def test_each_library_plan_draws_a_real_picture(name: str) -> None:
    plan = builtin.LIBRARY[name].plan
    px = _pixels(plan)
    bg = color(plan.bg or dsl.DEFAULT_BG).to_bytes(3, "big")
    painted = sum(1 for p in px if p != bg)
    assert len(set(px)) >= 3  # background plus at least two colours
    assert 0.08 * len(px) < painted < 0.95 * len(px)
    tl = Timeline.of(plan)
    assert 1000 <= tl.total_ms <= dsl.LIMITS.TOTAL_MS


def test_library_pictures_are_all_different() -> None:
    pictures = {name: render_at(e.plan, None) for name, e in builtin.LIBRARY.items()}
    for a, b in itertools.combinations(pictures, 2):
        assert pictures[a] != pictures[b], (a, b)


def _ink(plan: dsl.Plan) -> set[tuple[int, int]]:
    """Pixels of the text step (the last one) on the finished card."""
    tl = Timeline.of(plan)
    text_colour = color(plan.steps[-1].c)  # type: ignore[union-attr]
    return {(x, y) for x, y, c in tl.finish() if c == text_colour}


def test_text_card_writes_the_message_inside_its_frame() -> None:
    card = builtin.text_card("Нарисуй единорога на радуге, пожалуйста!")
    text = card.steps[-1]
    assert isinstance(text, dsl.Text)
    assert text.t == "Нарисуй единорога на радуге, пожалуйста!"
    ink = _ink(card)
    assert len(ink) > 200
    assert all(5 <= x <= 90 and 5 <= y <= 90 for x, y in ink)


def test_short_messages_are_written_big_and_long_ones_shortened() -> None:
    short = builtin.text_card("привет!").steps[-1]
    long = builtin.text_card("слово " * 60).steps[-1]
    assert isinstance(short, dsl.Text)
    assert isinstance(long, dsl.Text)
    assert short.s == 2
    assert long.s == 1
    # A word too wide for a big line is not split: the card drops to the small font.
    assert builtin.error_card("Something went wrong").steps[-1].s == 1  # type: ignore[union-attr]
    assert len(long.t) <= dsl.LIMITS.TEXT_CHARS
    assert long.t.endswith("...")
    assert all(5 <= x <= 90 and 5 <= y <= 90 for x, y in _ink(builtin.text_card("слово " * 60)))


def test_empty_or_unprintable_messages_still_make_a_card() -> None:
    for message in ("", "   ", "🧿🪬", "\x00\x07"):
        card = builtin.text_card(message)
        assert _ink(card)


def test_the_nsfw_and_error_cards_say_what_they_are() -> None:
    small = builtin.too_small_card().steps[-1]
    error = builtin.error_card("LLM timed out").steps[-1]
    assert isinstance(small, dsl.Text)
    assert isinstance(error, dsl.Text)
    assert small.t == "You are too small"
    assert error.t == "LLM timed out"
    assert builtin.error_card().steps[-1].t  # type: ignore[union-attr]


async def test_builtin_planner_draws_a_match_or_a_text_card() -> None:
    planner = builtin.BuiltinPlanner()
    assert planner.name == "builtin"
    with trio.fail_after(5):
        cat = PlanBuffer()
        await planner.plan("нарисуй котика", cat)
        other = PlanBuffer()
        await planner.plan("бармаглот", other)
    assert cat.closed
    assert cat.origin == "builtin"
    assert cat.steps == builtin.LIBRARY["cat"].plan.steps
    assert cat.seed == builtin.LIBRARY["cat"].plan.seed
    assert other.closed
    assert other.origin == "card"
    assert other.steps == builtin.text_card("бармаглот").steps


def test_few_shot_pairs_are_valid_compact_plans_in_both_languages() -> None:
    pairs = builtin.few_shot(4)
    assert len(pairs) == 4
    asks = [ask for ask, _ in pairs]
    assert any(any("а" <= ch <= "я" for ch in ask) for ask in asks)
    assert any(ask.isascii() for ask in asks)
    for ask, raw in pairs:
        plan, reasons = dsl.validate(raw)
        assert plan is not None
        assert reasons == []
        assert builtin.match(ask) is not None
        assert json.loads(raw)["v"] == 1
        assert " " not in raw.replace('"t":"', "")
    assert len(builtin.few_shot(len(builtin.LIBRARY) + 5)) == len(builtin.LIBRARY)


# ---------------------------------------------------------------------------- examples per request
def _asks(pairs: list[tuple[str, str]]) -> list[str]:
    return [ask for ask, _ in pairs]


def test_a_kitten_request_is_shown_the_cat() -> None:
    pairs = builtin.examples_for("нарисуй котёночка пж", 3)
    assert len(pairs) == 3
    assert pairs[0] == ("нарисуй кота", builtin.LIBRARY["cat"].example)
    english = builtin.examples_for("a cute kitten please", 3)
    assert english[0] == ("draw a cat", builtin.LIBRARY["cat"].example)
    assert all(ask.isascii() for ask in _asks(english))


def test_examples_follow_the_subjects_a_request_names_in_order() -> None:
    pairs = builtin.examples_for("нарисуй яблоко и собаку", 3)
    assert _asks(pairs)[:2] == [builtin.LIBRARY["apple"].asks[0], builtin.LIBRARY["dog"].asks[0]]


def test_the_last_example_is_composed_with_use_steps() -> None:
    for message in ("нарисуй ракету", "draw a rocket", "qwxz"):
        ask, answer = builtin.examples_for(message, 3)[-1]
        assert ask in builtin.COMPOSED_ASKS
        written = json.loads(answer)
        assert [s["op"] for s in written["steps"]] == ["use", "use"]
        plan, reasons = dsl.validate(answer)
        assert reasons == []
        assert plan == builtin.picture(ask)


def test_a_request_like_nothing_in_the_library_gets_the_default_examples() -> None:
    pairs = builtin.examples_for("нарисуй qwxz", 3)
    defaults = [builtin.LIBRARY[n].asks[0] for n in builtin.DEFAULT_EXAMPLES[:2]]
    assert _asks(pairs)[:2] == defaults


def _subject(ru: list[str], en: list[str], colour: str) -> str:
    return json.dumps(
        {
            "kw": [*ru, *en],
            "ask": [f"нарисуй {ru[0].removesuffix('*')}", f"draw a {en[0].removesuffix('*')}"],
            "plan": {
                "v": 1,
                "seed": 1,
                "bg": "black",
                "steps": [{"op": "circle", "x": 48, "y": 48, "r": 30, "c": colour}],
            },
        }
    )


def _library_of(root: Path, files: dict[str, str]) -> dict[str, library.Entry]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
    return library.load(root)


def test_examples_are_the_subjects_closest_to_the_request(tmp_path: Path) -> None:
    """A tiny library of our own: a hedgehog request is shown the hedgehog, even misspelt
    or in a word form its keywords miss; the next closest subjects fill the rest."""
    files = {
        "animals/hedgehog.json": _subject(["ёжик*", "ежа", "ежу"], ["hedgehog*"], "brown"),
        "animals/hedge_fund.json": _subject(["хедж*"], ["hedge"], "green"),
        "animals/fox.json": _subject(["лис*"], ["fox", "foxes"], "orange"),
        "places/house.json": _subject(["домик*"], ["house"], "red"),
        "animals/cat.json": _subject(["котик*"], ["cat"], "yellow"),
        "vehicles/rocket.json": _subject(["ракет*"], ["rocket"], "white"),
    }
    lib = _library_of(tmp_path, files)
    assert builtin.nearest("нарисуй ёжика", 1, lib) == ["hedgehog"]
    assert builtin.nearest("нарисуй ежжика пж", 1, lib) == ["hedgehog"]  # a typo
    assert builtin.nearest("нарисуй ежиху", 1, lib) == ["hedgehog"]  # a form not listed
    assert builtin.nearest("draw a hedgehgo", 1, lib) == ["hedgehog"]
    assert builtin.nearest("draw a hedgehog", 2, lib) == ["hedgehog"]  # "hedge" is not alike
    assert builtin.nearest("draw a hedge hog", 2, lib) == ["hedge_fund", "hedgehog"]
    assert builtin.nearest("лисичка и ёжик", 2, lib) == ["fox", "hedgehog"]
    assert builtin.nearest("нарисуй бегемота", 2, lib) == []
    pairs = builtin.examples_for("draw a hedgehog", 3, lib)
    assert pairs[0] == ("draw a hedgehog", lib["hedgehog"].example)
    assert _asks(pairs) == ["draw a hedgehog", "draw a cat", builtin.COMPOSED_ASKS[1]]
    assert [s["n"] for s in json.loads(pairs[2][1])["steps"]] == ["cat"]  # no crown here


def test_the_examples_stay_within_their_byte_budget() -> None:
    for message in ("нарисуй кота и собаку и дом", "draw a rocket", "звезда", "qwxz"):
        pairs = builtin.examples_for(message, 3)
        subjects = pairs[:-1]
        assert sum(len(plan.encode()) for _, plan in subjects) <= builtin.EXAMPLE_BYTES
        assert pairs[-1][0] in builtin.COMPOSED_ASKS


def test_a_subject_too_big_for_the_budget_is_passed_over(tmp_path: Path) -> None:
    big = json.loads(_subject(["громадин*"], ["giant"], "red"))
    circle = big["plan"]["steps"][0]
    big["plan"]["steps"] = [{**circle, "x": i % 90, "r": 1 + i % 9} for i in range(120)]
    files = {
        "animals/giant.json": json.dumps(big),
        "animals/cat.json": _subject(["котик*"], ["cat"], "yellow"),
    }
    lib = _library_of(tmp_path, files)
    assert len(lib["giant"].example.encode()) > builtin.EXAMPLE_BYTES
    assert builtin.nearest("draw a giant", 1, lib) == ["giant"]
    assert _asks(builtin.examples_for("draw a giant", 3, lib))[0] == "draw a cat"


def test_a_subject_the_model_could_not_have_written_is_not_shown(tmp_path: Path) -> None:
    """An example with more points in a step than the model's grammar allows would teach it
    what it cannot write."""
    wavy = json.loads(_subject(["волн*"], ["wave"], "blue"))
    wavy["plan"]["steps"] = [
        {"op": "line", "p": [[x, 40 + (x % 7)] for x in range(0, 96, 2)], "c": "blue", "w": 3}
    ]
    files = {
        "nature/wave.json": json.dumps(wavy),
        "animals/cat.json": _subject(["котик*"], ["cat"], "yellow"),
    }
    lib = _library_of(tmp_path, files)
    assert _asks(builtin.examples_for("draw a wave", 3, lib))[0] == "draw a wave"
    assert _asks(builtin.examples_for("draw a wave", 3, lib, points=32))[0] == "draw a cat"
