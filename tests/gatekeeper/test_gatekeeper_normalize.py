"""Pure text folding: what the gatekeeper sees after a viewer's disguise is taken off."""

from __future__ import annotations

import pytest

from drawstreamd.gatekeeper.normalize import (
    chunk_parts,
    collapse,
    cyrillic_variants,
    fold,
    latin_variants,
    main_form,
    skeleton_of_cyrillic,
    translit_skeletons,
)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ЁЖИК", "ежик"),
        ("х\u200bу\u200dй", "хуй"),  # zero-width characters between letters
        ("ｈｕｉ", "hui"),  # full-width forms (NFKC)
        ("𝐝𝐢𝐜𝐤", "dick"),  # mathematical bold
        ("}{уй", "хуй"),
        (">|<опа", "жопа"),
        ("йод", "йод"),  # й survives (it is not a stray combining mark)
        ("п\u0301изда", "пизда"),  # a stray accent is dropped
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_collapse_squeezes_emphasis() -> None:
    assert collapse("хууууй") == "хуй"
    assert collapse("diiiick") == "dick"


def test_chunk_parts_rebuild_words_split_by_separators_and_masks() -> None:
    assert chunk_parts("х.у.й") == (["х", "у", "й"], "хуй", None)
    assert chunk_parts("kick-ass,") == (["kick", "ass"], "kickass", None)
    assert chunk_parts("х*й") == (["х", "й"], "хй", "х*й")
    assert chunk_parts("«кота»!") == (["кота"], "кота", None)
    assert chunk_parts("$ex") == (["$ex"], "$ex", None)


def test_look_alikes_and_leet_read_as_either_script() -> None:
    assert "хуй" in cyrillic_variants("xyй")
    assert "пизда" in cyrillic_variants("пuзда")
    assert "пизда" in cyrillic_variants("nизда")
    assert "член" in cyrillic_variants("4л3н")
    assert "cock" in latin_variants("соск")  # all Cyrillic letters
    assert "penis" in latin_variants("pen1s")
    assert "swastika" in latin_variants("sw@st1ka")


def test_variants_are_bounded() -> None:
    assert len(cyrillic_variants("bbbbbbbbbbhhhhhhhhhnnnnnnn")) <= 12


def test_transliteration_meets_cyrillic_skeleton() -> None:
    target = skeleton_of_cyrillic("хуй")
    for spelling in ("hui", "huy", "xuy", "khui", "huj", "hooy"):
        assert target in translit_skeletons(spelling), spelling
    assert skeleton_of_cyrillic("жопа") in translit_skeletons("jopa")
    assert skeleton_of_cyrillic("сиськи") in translit_skeletons("siski")


def test_main_form_uses_the_majority_script() -> None:
    assert main_form("cиcьки") == "сиськи"
    assert main_form("diсk") == "dick"
    assert main_form("1488") == "1488"
