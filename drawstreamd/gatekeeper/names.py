"""Donor names: viewer-chosen handles read as words before they are judged.

A handle glues its words together: ``xXpussySlayerXx``, ``Adolf_1488``, ``HitlerDidNothingWrong``,
``негр_убийца``. ``readings`` takes the decoration off (``xX…Xx``), splits at separators and at
camelCase boundaries, once with digits kept inside words (leet: ``N1gga``) and once with digits
apart (``Adolf1488`` → ``adolf 1488``); the message rules then judge each reading. A few stems
are never innocent even glued inside a lowercase handle (``killallniggers``); surnames that
happen to be a slur's or a body word's form (Хохлов, Чуркин, Cumming, Butts) are names.
"""

from __future__ import annotations

import re

from drawstreamd.gatekeeper import lexicon
from drawstreamd.gatekeeper.normalize import TO_CYR_TABLE, TO_LAT_TABLE, fold

# 'xXnameXx', 'XxNameXx': the gamer's frame around a handle (only when both cases are there).
_FRAME_RE = re.compile(r"^[xX]*(?:xX|Xx)[xX]*(?=[^xX])|(?<=[^xX])[xX]*(?:xX|Xx)[xX]*$")
_SEPARATORS_RE = re.compile(r"[\W_]+")
# aB → a B; ABc → A Bc (an acronym before a word).
_CAMEL_RE = re.compile(r"(?<=[a-zа-яё])(?=[A-ZА-ЯЁ])")
_ACRONYM_RE = re.compile(r"(?<=[A-ZА-ЯЁ])(?=[A-ZА-ЯЁ][a-zа-яё])")
_DIGITS_RE = re.compile(r"(?<=\D)(?=\d)|(?<=\d)(?=\D)")

# Surnames (folded) that are spelled like a slur's or a body word's form; in a handle they are
# the surname ('Хохлов' is also the genitive plural of a slur).
_SURNAMES = """
    хохлов хохлова москалев москалева москаленко чуркин чуркина членов членова херов херова
    сосков соскова cumming butts
"""
SURNAMES = frozenset(_SURNAMES.split())
# Stems that stay refused glued inside a handle (no innocent word holds them, or the innocent
# ones are listed after them).
_GLUED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nigg", lexicon.HATE_SLUR, ("snigger", "niggl", "niggard")),
    ("niqq", lexicon.HATE_SLUR, ()),
    ("нигг", lexicon.HATE_SLUR, ()),
    ("hitler", lexicon.NAZI, ()),
    ("гитлер", lexicon.NAZI, ()),
    ("siegheil", lexicon.SALUTE, ()),
    ("зигхайл", lexicon.SALUTE, ()),
    ("whitepower", lexicon.NAZI, ("whitepowerranger",)),
    ("whitepride", lexicon.NAZI, ()),
    ("rahowa", lexicon.EXTREMIST, ()),
    ("swastik", lexicon.SWASTIKA, ()),
    ("свастик", lexicon.SWASTIKA, ()),
    ("porn", lexicon.PORN, ()),
    ("hentai", lexicon.PORN, ()),
    ("хентай", lexicon.PORN, ()),
    ("pussy", lexicon.GENITALS, ("pussycat", "pussywillow")),
    ("dildo", lexicon.GENITALS, ()),
    ("vagina", lexicon.GENITALS, ()),
    ("blowjob", lexicon.ACT, ()),
    ("faggot", lexicon.SLUR, ()),
    ("whore", lexicon.SLUR, ()),
    ("lolicon", lexicon.MINORS, ()),
    ("jailbait", lexicon.MINORS, ()),
    ("pedobear", lexicon.MINORS, ()),
)
# '88' is a birth year ('Katya88') unless the handle says what it means.
_MEANING_OF_88 = "adolf aryan heil hh reich sieg white ss nazi wp hitler 14 fuhrer зиг хайль адольф"
_EIGHTY_EIGHT_WITH = frozenset(_MEANING_OF_88.split())


def readings(name: str) -> list[str]:
    """The handle as space-separated words: digits kept in words, then digits apart."""
    framed = _FRAME_RE.sub("", name) or name
    words = _ACRONYM_RE.sub(" ", _CAMEL_RE.sub(" ", framed))
    words = " ".join(_SEPARATORS_RE.sub(" ", words).split())
    apart = " ".join(_DIGITS_RE.sub(" ", words).split())
    kept = [_without_surnames(words)]
    if apart != words:
        kept.append(_without_surnames(apart))
    return kept


def _without_surnames(words: str) -> str:
    return " ".join(w for w in words.split() if fold(w) not in SURNAMES)


def glued_rule(name: str) -> str | None:
    """A stem that stays refused glued inside a handle ('killallniggers', 'pornking')."""
    letters = _SEPARATORS_RE.sub("", fold(name))
    for text in {letters, letters.translate(TO_LAT_TABLE), letters.translate(TO_CYR_TABLE)}:
        for stem, rule, innocent in _GLUED:
            at = text.find(stem)
            while at >= 0:
                if not any(_holds(text, at, word, stem) for word in innocent):
                    return rule
                at = text.find(stem, at + 1)
    return None


def _holds(text: str, at: int, word: str, stem: str) -> bool:
    """Is the stem found at ``at`` part of this innocent word?"""
    start = at - word.index(stem)
    return start >= 0 and text.startswith(word, start)


def hate_number(words: str) -> str | None:
    """'88' beside a word that says what it means ('Aryan88', 'HH_88')."""
    parts = fold(words).split()
    if "88" in parts and _EIGHTY_EIGHT_WITH.intersection(parts):
        return lexicon.HATE_CODE
    return None
