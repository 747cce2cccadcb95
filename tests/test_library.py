"""The picture library: every subject file loads and is complete, keywords are unambiguous,
bad files are refused naming the file, and the files ship with the package."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from drawstreamd.plan import builtin, dsl, library
from drawstreamd.render.raster import color
from drawstreamd.render.timeline import render_at

ROOT = Path(__file__).parent.parent
LIBRARY_DIR = ROOT / "drawstreamd" / "plan" / "library"
SUBJECTS = library.SUBJECTS
FILES = sorted(LIBRARY_DIR.glob("*/*.json"))


def test_every_file_in_the_tree_is_a_subject_and_the_library_has_them_all() -> None:
    assert len(FILES) >= 25
    assert sorted(f"{f.parent.name}/{f.name}" for f in FILES) == sorted(
        e.source for e in SUBJECTS.values()
    )
    assert all(f.parent.name in library.CATEGORIES for f in FILES)
    assert builtin.LIBRARY is SUBJECTS


def _cyrillic(text: str) -> bool:
    return any("а" <= ch <= "я" for ch in library.fold(text))


def _latin(text: str) -> bool:
    return any("a" <= ch <= "z" for ch in text.lower())


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_each_subject_has_russian_and_english_keywords_and_requests(name: str) -> None:
    entry = SUBJECTS[name]
    assert any(_cyrillic(k) for k in entry.keywords)
    assert any(_latin(k) for k in entry.keywords)
    assert len(entry.asks) >= 2
    assert _cyrillic(entry.asks[0])
    assert any(a.isascii() and _latin(a) for a in entry.asks)


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_each_request_of_a_subject_draws_that_subject(name: str) -> None:
    for ask in SUBJECTS[name].asks:
        found = builtin.match(ask)
        assert found is not None, ask
        assert found[0] == name, ask


def _matches(keyword: str, word: str) -> bool:
    if keyword.endswith("*"):
        return word.startswith(keyword[:-1])
    return word == keyword


def test_no_keyword_belongs_to_two_subjects() -> None:
    """Every word a keyword stands for (the word, or a star keyword's stem with an ending)
    is matched by that subject's keywords only."""
    owners = [(k, name) for name, e in SUBJECTS.items() for k in e.keywords if " " not in k]
    clashes = []
    for keyword, name in owners:
        stem = keyword.removesuffix("*")
        for word in (stem, stem + "а", stem + "s") if keyword.endswith("*") else (stem,):
            others = {n for k, n in owners if n != name and _matches(k, word)}
            if others:
                clashes.append((name, keyword, word, sorted(others)))
    assert clashes == []


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_main_colour_is_really_the_subjects_own(name: str) -> None:
    entry = SUBJECTS[name]
    if entry.main is None:
        return
    assert entry.main in dsl.PALETTE or entry.main.startswith("#")
    rgb = render_at(entry.plan, None)
    main = color(entry.main).to_bytes(3, "big")
    share = sum(1 for i in range(0, len(rgb), 3) if rgb[i : i + 3] == main) / (96 * 96)
    assert share >= 0.02, f"{entry.main} covers {share:.1%} of the picture"


@pytest.mark.parametrize("name", sorted(n for n, e in SUBJECTS.items() if e.head is not None))
def test_head_is_on_the_subject(name: str) -> None:
    """The square under the head's top (its width wide and tall) is mostly the subject."""
    entry = SUBJECTS[name]
    assert entry.head is not None
    x, y, w = entry.head
    assert 0 <= x < 96
    assert 0 <= y < 96
    assert 4 <= w <= 96
    rgb = render_at(entry.plan, None)
    bg = color(entry.plan.bg or dsl.DEFAULT_BG).to_bytes(3, "big")
    box = [
        (px, py)
        for py in range(y, min(96, y + w))
        for px in range(max(0, x - w // 2), min(96, x + w // 2 + 1))
    ]
    painted = sum(1 for px, py in box if rgb[3 * (py * 96 + px) : 3 * (py * 96 + px) + 3] != bg)
    assert painted >= 0.4 * len(box), f"only {painted} of {len(box)} head pixels are the subject"


def test_the_few_shot_answer_of_a_plain_subject_is_its_plan() -> None:
    for entry in SUBJECTS.values():
        plan, reasons = dsl.validate(entry.example)
        assert reasons == []
        assert plan == entry.plan


def test_library_files_ship_with_the_package() -> None:
    """Every library file matches a package-data pattern, so a wheel carries it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["drawstreamd"]
    for path in FILES:
        inside = path.relative_to(ROOT / "drawstreamd").as_posix()
        assert any(fnmatch.fnmatchcase(inside, p) and p.count("/") == inside.count("/")
                   for p in patterns), inside  # fmt: skip


# ---------------------------------------------------------------------------- bad files
CAT: dict[str, Any] = {
    "kw": ["кошак", "tomcat"],
    "ask": ["нарисуй кошака", "draw a tomcat"],
    "main": "orange",
    "head": [48, 30, 30],
    "plan": {
        "v": 1,
        "seed": 1,
        "bg": "dark_blue",
        "steps": [
            {"op": "circle", "x": 48, "y": 50, "r": 20, "c": "orange"},
            {"op": "circle", "x": 48, "y": 50, "r": 4, "c": "black"},
        ],
    },
}


def _tree(root: Path, files: dict[str, Any]) -> Path:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body if isinstance(body, str) else json.dumps(body), "utf-8")
    return root


def _with(**changes: Any) -> dict[str, Any]:
    return {**CAT, **changes}


def test_a_good_tree_loads(tmp_path: Path) -> None:
    hat = _with(kw=["шляпка", "hat"], ask=["нарисуй шляпку", "draw a hat"], head=None)
    nested = _with(
        kw=["кот-король", "catking"],
        ask=["нарисуй кот-король", "draw a catking"],
        plan={
            "v": 1,
            "seed": 2,
            "bg": "black",
            "steps": [{"op": "use", "n": "tomcat"}, {"op": "use", "n": "hat", "x": 30, "sz": 40}],
        },
    )
    entries = library.load(
        _tree(
            tmp_path,
            {"animals/tomcat.json": CAT, "objects/hat.json": hat, "games/cat_king.json": nested},
        )
    )
    assert sorted(entries) == ["cat_king", "hat", "tomcat"]
    king = entries["cat_king"]
    assert len(king.plan.steps) == 4  # both subjects' steps, expanded
    assert '"op":"use"' in king.example  # the few-shot answer keeps the short form
    assert entries["tomcat"].keywords == ("кошак", "tomcat")


BAD: list[tuple[dict[str, Any], str]] = [
    ({"animals/tomcat.json": "{not json"}, "animals/tomcat.json: "),
    ({"animals/tomcat.json": _with(size=3)}, "animals/tomcat.json: Object contains unknown"),
    ({"animals/tomcat.json": {k: v for k, v in CAT.items() if k != "kw"}}, "missing required"),
    ({"animals/tomcat.json": _with(kw=["кошак"])}, "kw has no English keyword"),
    ({"animals/tomcat.json": _with(kw=["tomcat"])}, "kw has no Russian keyword"),
    ({"animals/tomcat.json": _with(kw=["ко*", "tomcat"])}, "stem shorter than 3"),
    ({"animals/tomcat.json": _with(ask=["draw a tomcat", "нарисуй"])}, "first ask must be Russian"),
    ({"animals/tomcat.json": _with(ask=["нарисуй кошака"])}, "two or more"),
    ({"animals/tomcat.json": _with(main="pink")}, "main colour 'pink' is not used"),
    ({"animals/tomcat.json": _with(main="sparkly")}, "main: unknown colour"),
    ({"animals/tomcat.json": _with(head=[48, 120, 30])}, "head [48, 120, 30]"),
    (
        {"animals/tomcat.json": _with(plan={**CAT["plan"], "steps": [{"op": "star"}]})},
        "animals/tomcat.json: Invalid value 'star' - at `$.plan.steps[0].op`",
    ),
    (
        {"animals/tomcat.json": _with(plan={**CAT["plan"], "steps": [{"op": "use", "n": "x"}]})},
        "use: unknown subject 'x'",
    ),
    (
        {"animals/tomcat.json": _with(plan={**CAT["plan"], "steps": [{"op": "use", "n": "x"}]})},
        "animals/tomcat.json: invalid plan: step 0: use: unknown subject 'x'",
    ),
    (
        {"animals/tomcat.json": _with(plan={**CAT["plan"], "bg": "sparkly"})},
        "animals/tomcat.json: invalid plan: unknown colour 'sparkly'",
    ),
    ({"pets/tomcat.json": CAT}, "pets/: not a category"),
    ({"animals/Tom Cat.json": CAT}, "animals/Tom Cat.json: not a subject file"),
    ({"animals/tomcat.json": CAT, "food/tomcat.json": CAT}, "taken by animals/tomcat.json"),
    (
        {"animals/tomcat.json": CAT, "animals/tom.json": _with(kw=["кот", "tomcat"])},
        "keyword 'tomcat' also belongs to",
    ),
    (
        {"animals/tomcat.json": CAT, "animals/tom.json": _with(kw=["кошак*", "tom"])},
        "keyword 'кошак' is also matched by кошак* of animals/tom.json",
    ),
]


@pytest.mark.parametrize(("files", "message"), BAD)
def test_a_bad_file_is_refused_naming_it(
    tmp_path: Path, files: dict[str, Any], message: str
) -> None:
    with pytest.raises(library.LibraryError) as caught:
        library.load(_tree(tmp_path, files))
    assert message in str(caught.value)
    assert str(caught.value).startswith((*files, "pets/"))


def test_subjects_that_use_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    a = _with(plan={**CAT["plan"], "steps": [{"op": "use", "n": "b"}]})
    b = _with(kw=["бэ", "bee"], ask=["нарисуй бэ", "draw a bee"], main=None,
              plan={**CAT["plan"], "steps": [{"op": "use", "n": "a"}]})  # fmt: skip
    with pytest.raises(library.LibraryError, match=r"uses itself \(a -> b -> a\)"):
        library.load(_tree(tmp_path, {"animals/a.json": a, "animals/b.json": b}))


def test_subjects_may_not_nest_without_bound(tmp_path: Path) -> None:
    files: dict[str, Any] = {"animals/s0.json": CAT}
    for i in range(1, 7):
        files[f"animals/s{i}.json"] = _with(
            kw=[f"шаг{i}", f"step{i}"],
            ask=[f"нарисуй шаг{i}", f"draw step{i}"],
            plan={**CAT["plan"], "steps": [{"op": "use", "n": f"s{i - 1}"}]},
        )
    with pytest.raises(library.LibraryError, match="nest more than 4 deep"):
        library.load(_tree(tmp_path, files))
