"""What a drawing request asks for, read from its words (RU and EN): which library subjects,
in which colours, wearing what, where, and how many.

Pure: a message and the library in, a :class:`Request` out. A word is compared lower-cased
with ``ё`` as ``е`` (:func:`drawstreamd.plan.library.fold`); a library keyword matches as the
library describes. Some words mean a subject alone and a modifier next to another subject:
"корона" is the crown, "кот в короне" a cat wearing it; "ночь" is the moon, "кот ночью" a
cat at night. The rule: when the request names a subject that is only a subject, such words
are modifiers; otherwise the first of them is the subject and the rest modify it; after a
preposition ("в шляпе", "at night") such a word is always a modifier.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Final

from drawstreamd.plan.library import fold

if TYPE_CHECKING:
    from collections.abc import Mapping

    from drawstreamd.plan.library import Entry

_WORD: Final = re.compile(r"[0-9a-zа-я]+|[\u2600-\u27bf\U0001f000-\U0001faff]")
MAX_SUBJECTS: Final = 3
_NEAR: Final = 3
"""A colour word binds to a subject at most this many words after it (else the one before)."""


def _spans(message: str) -> tuple[list[str], list[bool]]:
    """The words, and for each whether only spaces part it from the word before."""
    text = fold(message).replace("<3", " ❤ ")
    found, joined, end = [], [], 0
    for m in _WORD.finditer(text):
        found.append(m.group())
        joined.append(bool(found[:-1]) and not text[end : m.start()].strip())
        end = m.end()
    return found, joined


def words(message: str) -> list[str]:
    """The words of a request: runs of letters and digits, and every emoji on its own."""
    return _spans(message)[0]


# ---------------------------------------------------------------------------- vocabulary
_ENDINGS: Final = "ый ий ой ая яя ое ее ого его ому ему ую юю ые ие ых их ым им ыми ими ом ем"
_SMALL_ENDINGS: Final = "ий ая ое ого ому ую ие их ой им ими"


def _ru_adjective(*stems: str) -> list[str]:
    """Every case form of Russian adjectives, plain and diminutive (красный, красненькую…)."""
    plain = [s + e for s in stems for e in _ENDINGS.split()]
    return plain + [s + "еньк" + e for s in stems for e in _SMALL_ENDINGS.split()]


_COLOUR_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "red": ("red", "crimson", "scarlet", *_ru_adjective("красн", "алы")),
    "orange": ("orange", "ginger", *_ru_adjective("оранжев", "рыж")),
    "yellow": ("yellow", "golden", "gold", *_ru_adjective("желт", "золот", "золотист")),
    "green": ("green", "lime", *_ru_adjective("зелен", "салатов")),
    "blue": ("blue", "cyan", "turquoise", *_ru_adjective("син", "голуб", "бирюзов")),
    "#8e44d8": ("purple", "violet", *_ru_adjective("фиолетов")),
    "lavender": ("lavender", "lilac", *_ru_adjective("сиренев", "лилов")),
    "pink": ("pink", *_ru_adjective("розов")),
    "black": ("black", *_ru_adjective("черн")),
    "white": ("white", *_ru_adjective("бел", "белоснежн")),
    "light_grey": ("grey", "gray", "silver", *_ru_adjective("сер", "серебрян", "серебрист")),
    "brown": ("brown", *_ru_adjective("коричнев", "бур")),
    "dark_purple": ("maroon", *_ru_adjective("бордов")),
}
COLOURS: Final = {w: colour for colour, ws in _COLOUR_WORDS.items() for w in ws}
"""Colour word -> the colour a subject's ``main`` becomes."""

ACCESSORIES: Final[dict[str, tuple[str, ...]]] = {
    "hat": ("top_hat", "hat", "cap", "santa_hat", "wizard_hat"),
    "party_hat": ("party_hat",),
    "crown": ("crown",),
    "glasses": ("glasses", "sunglasses"),
    "scarf": ("scarf",),
}
"""Accessory kind -> the library subjects that can be it, the first one present is used."""
_ACCESSORY_WORDS: Final = {
    "hat": "шляп* шляпк* шапк* шапочк* цилиндр* кепк* кепочк* панамк* "
    "hat hats tophat cap caps beanie",
    "party_hat": "колпак* колпачк*",
    "crown": "корон* коронк* тиар* диадем* crown crowns tiara",
    "glasses": "очки очках очками очков очечк* очочк* солнцезащитн* "
    "glasses sunglasses shades specs eyeglasses",
    "scarf": "шарф шарфе шарфом шарфа шарфик* шарфиком scarf scarfs scarves",
}

SETTINGS: Final = ("night", "space", "sea", "snow", "grass")
_SETTING_WORDS: Final = {
    "night": "ночью ночь ночи ночной ночная ночное ночного ночную полночь "
    "night nighttime midnight tonight",
    "space": "космос космосе космоса космосом галактик* вселенн* space galaxy cosmos",
    "sea": "море моря морю морем морской морская морское морские океан* пляж* "
    "sea seas ocean oceans seaside beach",
    "snow": "снег снегу снега снегом снежн* сугроб* зимой snow snowy snowfall winter",
    "grass": "трава траве траву травой травке травку травка травушк* лужайк* газон* "
    "луг лугу лугом поляне поляна полянке поле поля grass grassy meadow lawn field",
}

_COUNT_WORDS: Final = {
    2: "два две двух двое пару пара парочку парочка 2 two pair couple",
    3: "три трех трое троих несколько 3 three few several",
    4: "четыре четырех четверо 4 four",
    5: "пять пяти пятеро много множество кучу куча кучка кучку стаю стая стадо толпу "
    "толпа 5 five many lots plenty bunch flock herd crowd",
    6: "шесть 6 six",
}


@lru_cache(maxsize=1)
def _modifier_words() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """word -> (kind, value) for exact words and for ``*`` stems."""
    exact: dict[str, tuple[str, str]] = {w: ("colour", c) for w, c in COLOURS.items()}
    stems: dict[str, tuple[str, str]] = {}
    tables = [
        ("accessory", _ACCESSORY_WORDS),
        ("setting", _SETTING_WORDS),
        ("count", {str(n): ws for n, ws in _COUNT_WORDS.items()}),
    ]
    for kind, table in tables:
        for value, ws in table.items():
            for w in ws.split():
                (stems if w.endswith("*") else exact)[w.removesuffix("*")] = (kind, value)
    return exact, stems


def _modifier(word: str) -> tuple[str, str] | None:
    exact, stems = _modifier_words()
    if word in exact:
        return exact[word]
    for n in range(len(word), 2, -1):
        if word[:n] in stems:
            return stems[word[:n]]
    return None


# ---------------------------------------------------------------------------- keywords
class Index:
    """The library's keywords, ready to match words of a request."""

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.entries = entries
        self._exact: dict[str, str] = {}
        self._stems: dict[str, str] = {}
        self._phrases: dict[str, list[tuple[list[str], str]]] = {}
        for entry in entries.values():
            for k in entry.keywords:
                parts = k.split()
                if len(parts) > 1:
                    self._phrases.setdefault(parts[0], []).append((parts, entry.name))
                elif k.endswith("*"):
                    self._stems.setdefault(k[:-1], entry.name)
                else:
                    self._exact.setdefault(k, entry.name)
        for found in self._phrases.values():
            found.sort(key=lambda item: -len(item[0]))

    def word(self, word: str) -> str | None:
        """The subject one word names, if any."""
        if word in self._exact:
            return self._exact[word]
        for n in range(len(word), 2, -1):
            if word[:n] in self._stems:
                return self._stems[word[:n]]
        return None

    def at(self, ws: list[str], i: int) -> tuple[str, int] | None:
        """The subject named by the words from ``ws[i]`` on, and how many words name it."""
        for parts, name in self._phrases.get(ws[i], ()):
            following = ws[i : i + len(parts)]
            if len(following) == len(parts) and all(map(_matches, parts, following)):
                return name, len(parts)
        single = self.word(ws[i])
        return (single, 1) if single is not None else None

    def first(self, message: str) -> str | None:
        """The subject named first in ``message``."""
        ws = words(message)
        for i in range(len(ws)):
            found = self.at(ws, i)
            if found is not None:
                return found[0]
        return None


def _matches(keyword: str, word: str) -> bool:
    return word.startswith(keyword[:-1]) if keyword.endswith("*") else word == keyword


_INDEXES: dict[int, Index] = {}


def index_of(entries: Mapping[str, Entry]) -> Index:
    """The keyword index of a library (built once; the builtin library stays for good)."""
    found = _INDEXES.get(id(entries))
    if found is None or found.entries is not entries:
        if len(_INDEXES) >= 8:
            _INDEXES.clear()
        found = _INDEXES[id(entries)] = Index(entries)
    return found


# ---------------------------------------------------------------------------- requests
@dataclass
class Request:
    """What a request asks for; ``subjects`` empty: nothing the library can draw."""

    subjects: list[str] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    """subject -> the colour its ``main`` becomes."""
    accessories: list[tuple[str, str]] = field(default_factory=list)
    """(wearer, accessory subject) pairs."""
    setting: str | None = None
    count: int = 1
    """Copies of a lone subject ("много котиков", "three cats")."""

    @property
    def plain(self) -> bool:
        """One subject, nothing else: the library's own picture."""
        return (
            len(self.subjects) == 1
            and not (self.colours or self.accessories or self.setting)
            and self.count == 1
        )


@dataclass
class _Mention:
    at: int
    name: str | None
    modifier: tuple[str, str] | None
    names: str | None = None
    """The subject the word names, even where it only modifies another."""
    length: int = 1


def _accessory_subject(kind: str, entries: Mapping[str, Entry]) -> str | None:
    return next((n for n in ACCESSORIES[kind] if n in entries), None)


def _accessory_kind(name: str) -> str | None:
    return next((kind for kind, names in ACCESSORIES.items() if name in names), None)


_PREPOSITIONS: Final = frozenset(
    ["в", "во", "на", "под", "с", "со", "at", "in", "on", "under", "with", "wearing"]
)
_ARTICLES: Final = frozenset(["a", "an", "the", "his", "her", "its", "my", "some"])
_ADVERBS: Final = frozenset(["ночью", "зимой", "tonight"])


def _after_preposition(ws: list[str], i: int) -> bool:
    """ "в шляпе", "at night", "on the grass", "ночью": a place or a thing worn, never the
    subject itself (while "шляпа" or "night" alone may be)."""
    j = i - 1 if i > 0 and ws[i - 1] not in _ARTICLES else i - 2
    return ws[i] in _ADVERBS or (j >= 0 and ws[j] in _PREPOSITIONS)


def _mentions(ws: list[str], index: Index) -> list[_Mention]:
    out: list[_Mention] = []
    i = 0
    while i < len(ws):
        found = index.at(ws, i)
        modifier = _modifier(ws[i]) if found is None or found[1] == 1 else None
        if found is not None and modifier is None:
            kind = _accessory_kind(found[0])
            modifier = ("accessory", kind) if kind is not None else None
        name = found[0] if found is not None else None
        worn_or_where = modifier is not None and modifier[0] in ("accessory", "setting")
        if worn_or_where and _after_preposition(ws, i):
            name = None
        if name is not None or modifier is not None:
            names, length = found if found is not None else (None, 1)
            out.append(_Mention(i, name, modifier, names, length))
        i += found[1] if found is not None else 1
    return out


def _resolve(mentions: list[_Mention]) -> None:
    """Settle the words that can be a subject or a modifier (see the module docstring)."""
    named = {m.name for m in mentions if m.name is not None and m.modifier is None}
    plain = bool(named)
    for m in mentions:
        if m.modifier is not None and m.names in named:
            m.name = m.modifier = None  # "лодка на море": the boat's own sea, no setting
        if m.name is None or m.modifier is None:
            continue
        if plain:
            m.name = None
        else:
            m.modifier = None
            plain = True


def _nearest(mentions: list[_Mention], at: int, *, after: bool, wearers: set[str]) -> str | None:
    subjects = [m for m in mentions if m.name is not None and m.name in wearers]
    if after:
        later = [m for m in subjects if at < m.at <= at + _NEAR]
        if later:
            return later[0].name
    earlier = [m for m in subjects if m.at < at]
    if earlier:
        return earlier[-1].name
    later = [m for m in subjects if m.at > at]
    return later[0].name if later else None


ANYTHING: Final = ("heart", "flower", "sun", "star", "rainbow", "butterfly", "cat", "rocket")
"""What "нарисуй что-нибудь" / "draw anything" gets: one of these, chosen by the message."""


def _anything(ws: list[str]) -> bool:
    if {"нибудь", "угодно", "anything", "something", "whatever"} & set(ws):
        return True
    return "что" in ws and bool({"хочешь", "то"} & set(ws))


_VERBS: Final = frozenset(
    ["нарисуй", "нарисуйте", "нарисовать", "нарисуешь", "рисуй", "draw", "drw", "paint"]
)


def _alike(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)  # balloon, balloons


def _covers(wide: str, narrow: str) -> bool:
    """Does the name ``wide`` contain every word of ``narrow`` (police_car: car)?"""
    return all(any(_alike(p, n) for p in wide.split("_")) for n in narrow.split("_"))


def _share(a: str, b: str) -> bool:
    """Do two names share a word (easter_egg, fried_egg)?"""
    return any(_alike(p, q) for p in a.split("_") for q in b.split("_"))


def _adjective(word: str) -> bool:
    """Russian adjective endings, English -ed/-ing/-y: "злую", "angry", "laughing"."""
    if any(word.endswith(e) for e in _ENDINGS.split() if len(e) == 2 and e not in ("ом", "ем")):
        return len(word) > 3
    return word.isascii() and len(word) > 3 and word.endswith(("ed", "ing", "y", "ful", "ic"))


def _one_thing(
    mentions: list[_Mention], ws: list[str], joined: list[bool], entries: Mapping[str, Entry]
) -> None:
    """Two subjects named by neighbouring words are often one thing. When their names share
    a word ("police car", "palm tree", "пасхальное яйцо"), the one whose name holds the
    other's stays (else the first); when the first word is an adjective, the first stays if
    both are of a kind ("удивлённый смайлик"), else the noun ("злую собаку", "angry dog").
    Two nouns ("кот собака") stay two."""
    named = [m for m in mentions if m.name is not None]
    for a, b in pairwise(named):
        if a.name is None or b.name is None or b.at != a.at + a.length or not joined[b.at]:
            continue
        if _covers(b.name, a.name):
            a.name = None
        elif _share(a.name, b.name):
            b.name = None
        elif _adjective(ws[a.at]):
            if entries[a.name].category == entries[b.name].category:
                b.name = None
            else:
                a.name = None


def _after_the_verb(mentions: list[_Mention], ws: list[str]) -> None:
    """ "love the stream, can u draw a kitty": subjects before "draw" are not asked for,
    when some come after it."""
    verb = next((i for i, w in enumerate(ws) if w in _VERBS), None)
    if verb is not None and any(m.name is not None and m.at > verb for m in mentions):
        for m in mentions:
            if m.at < verb:
                m.name = None


def read(message: str, entries: Mapping[str, Entry]) -> Request:
    """What ``message`` asks the library for ("draw anything": a subject of :data:`ANYTHING`
    picked by the message's checksum, so the same words get the same picture)."""
    ws, joined = _spans(message)
    mentions = _mentions(ws, index_of(entries))
    _resolve(mentions)
    _one_thing(mentions, ws, joined, entries)
    _after_the_verb(mentions, ws)
    req = Request()
    for m in mentions:
        if m.name is not None and m.name not in req.subjects and len(req.subjects) < MAX_SUBJECTS:
            req.subjects.append(m.name)
    if not req.subjects and _anything(ws):
        choice = [n for n in ANYTHING if n in entries]
        if choice:
            req.subjects.append(choice[zlib.crc32(message.encode()) % len(choice)])
    if not req.subjects:
        return req
    heads = {n for n in req.subjects if entries[n].head is not None}
    mains = {n for n in req.subjects if entries[n].main is not None}
    for m in mentions:
        if m.modifier is None or m.name is not None:
            continue
        kind, value = m.modifier
        if kind == "colour":
            target = _nearest(mentions, m.at, after=True, wearers=mains)
            if target is not None:
                req.colours[target] = value
        elif kind == "accessory":
            wearer = _nearest(mentions, m.at, after=False, wearers=heads)
            thing = _accessory_subject(value, entries)
            pair = (wearer, thing)
            if wearer is not None and thing is not None and pair not in req.accessories:
                req.accessories.append((wearer, thing))
        elif kind == "setting":
            req.setting = req.setting or value
        elif kind == "count" and len(req.subjects) == 1:
            req.count = max(req.count, int(value))
    return req
