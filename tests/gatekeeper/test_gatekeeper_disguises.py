"""Property tests: any disguise of a blocked word still blocks; the same tricks applied to an
innocent look-alike never do."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawstreamd.gatekeeper.filter import Gatekeeper

GATE = Gatekeeper()

BAD = [
    "хуй", "пизду", "сиськи", "член", "жопу", "свастику", "гитлера", "порно", "секс", "голую",
    "вагину", "пенис", "минет", "dick", "penis", "boobs", "tits", "porn", "sex", "swastika",
    "nazi", "hitler", "naked", "pussy", "vagina", "hentai", "nude",
    "негра", "ниггера", "жида", "хачика", "черножопого", "малолетку", "нимфетку", "линчевание",
    "nigger", "nigga", "wetback", "raghead", "noose", "lolicon", "jailbait", "totenkopf", "rahowa",
]  # fmt: skip
INNOCENT = [
    "корабль", "рубля", "употреблять", "застраховать", "небо", "хлеб", "тебя", "команду",
    "херувима", "членистоногое", "сосну", "трактор", "страуса", "cockatoo", "cocktail",
    "sussex", "analyst", "therapist", "scunthorpe", "shuttlecock", "peacock", "titmouse",
    "sextant", "pencil", "penguin", "assassin", "hitchhiker", "pepper", "puppy",
    "хохлому", "хачапури", "жидкость", "шотландца", "менору", "качели", "веревку", "негатив",
    "negroni", "nigeria", "raccoon", "cocoon", "lollipop", "snigger", "spicy", "rope", "swing",
]  # fmt: skip

_TWIN = dict(zip("авсенкмортхуип", "abcehkmoptxyun", strict=True))
_TWIN |= {latin: cyr for cyr, latin in _TWIN.items()}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "а": "@", "о": "0", "е": "3", "и": "1"}
SEPARATORS = [" ", ".", "-", "_", "\u200b", "\u00ad", " . ", "中", "ა"]
"""The last two are letters the HUD and the picture draw as boxes: fillers, like emoji."""


@st.composite
def disguised(draw: st.DrawFn, word: str, *, masks: bool) -> str:
    kind = draw(st.sampled_from(["separate", "twins", "leet", "repeat", "case", "mask"]))
    if kind == "separate":
        return draw(st.sampled_from(SEPARATORS)).join(word)
    if kind == "twins":
        flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
        return "".join(_TWIN.get(c, c) if flip else c for c, flip in zip(word, flips, strict=True))
    if kind == "leet":
        spots = [i for i, c in enumerate(word) if c in _LEET]
        if not spots:
            return word
        i = draw(st.sampled_from(spots))
        return word[:i] + _LEET[word[i]] + word[i + 1 :]
    if kind == "repeat":
        i = draw(st.integers(0, len(word) - 1))
        return word[:i] + word[i] * draw(st.integers(3, 6)) + word[i + 1 :]
    if kind == "mask" and masks and len(word) >= 4:
        i = draw(st.integers(1, len(word) - 2))
        return word[:i] + draw(st.sampled_from("*#")) + word[i + 1 :]
    return word.upper()


def _request(word: str, disguise: str) -> str:
    russian = any("а" <= c <= "я" for c in word)
    return ("нарисуй " if russian else "draw a ") + disguise


@settings(derandomize=True, max_examples=300, deadline=None, database=None)
@given(st.data())
def test_disguised_bad_words_are_blocked(data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(BAD))
    disguise = data.draw(disguised(word, masks=True))
    verdict = GATE.check(_request(word, disguise))
    assert verdict.nsfw, disguise
    assert verdict.rule is not None


@settings(derandomize=True, max_examples=300, deadline=None, database=None)
@given(st.data())
def test_innocent_look_alikes_survive_the_same_tricks(data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(INNOCENT))
    disguise = data.draw(disguised(word, masks=False))
    assert not GATE.check(_request(word, disguise)).nsfw, disguise


@pytest.mark.parametrize("word", INNOCENT)
def test_innocent_look_alikes_pass_plainly(word: str) -> None:
    assert not GATE.check(_request(word, word)).nsfw
