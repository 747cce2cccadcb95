"""Pure text folding for the gatekeeper.

Everything here is a total function on ``str`` with linear cost: Unicode folding, splitting a
message into chunks and pieces, Latin/Cyrillic look-alike and leetspeak maps (with a bounded
number of spelling variants for ambiguous characters), a phonetic skeleton that lets Latin
transliteration (``hui``, ``siski``) meet Cyrillic stems, and emphasis collapsing.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width and invisible format characters that viewers slip between letters.
_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
_INVISIBLE += "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067"
_INVISIBLE += "\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"

# Invisible characters and stray combining marks, removed in one regex pass (str.translate
# is slow on non-ASCII text).
_INVISIBLE_RE = re.compile(
    "[" + _INVISIBLE + "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u20d0-\u20ff]+"
)

# Multi-character drawings of letters ("}{уй", ">|<опа").
_ASCII_ART = ((">|<", "ж"), ("}{", "х"), ("][", "х"), ("|/|", "и"), ("|\\|", "и"))

CYRILLIC = frozenset("абвгдежзийклмнопрстуфхцчшщъыьэюяіїєґўѣ")
LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")

# Characters that stand for a letter inside a word (leetspeak).
LEET = frozenset("0123456789@$!")
# Characters that hide one letter ("х*й", "f#ck").
MASKS = frozenset("*#%?|")
WILDCARD = "*"

# Read as Cyrillic: look-alikes first, then transliteration; the first option is the usual one.
_TO_CYR: dict[str, tuple[str, ...]] = {
    "a": ("а",),
    "b": ("в", "б"),
    "c": ("с",),
    "d": ("д",),
    "e": ("е",),
    "f": ("ф",),
    "g": ("г",),
    "h": ("х", "н"),
    "i": ("и",),
    "j": ("ж", "й"),
    "k": ("к",),
    "l": ("л",),
    "m": ("м",),
    "n": ("п", "н"),
    "o": ("о",),
    "p": ("р", "п"),
    "q": ("к",),
    "r": ("г",),
    "s": ("с",),
    "t": ("т",),
    "u": ("и", "у"),
    "v": ("в",),
    "w": ("ш",),
    "x": ("х",),
    "y": ("у", "й"),
    "z": ("з",),
    "і": ("и",),
    "ї": ("и",),
    "є": ("е",),
    "ґ": ("г",),
    "ў": ("у",),
    "0": ("о",),
    "1": ("и",),
    "3": ("з", "е"),
    "4": ("ч", "а"),
    "5": ("с",),
    "6": ("б",),
    "7": ("т",),
    "8": ("в",),
    "9": ("я",),
    "@": ("а",),
    "$": ("с",),
    "!": ("и",),
    **{greek: (cyr,) for greek, cyr in zip("αβγεικμνορτυχ", "авуеикмвортух", strict=True)},
}

# Read as Latin: Cyrillic look-alikes and leetspeak.
_TO_LAT: dict[str, tuple[str, ...]] = {
    "а": ("a",),
    "в": ("b",),
    "с": ("c",),
    "е": ("e",),
    "н": ("h",),
    "к": ("k",),
    "м": ("m",),
    "о": ("o",),
    "р": ("p",),
    "т": ("t",),
    "х": ("x",),
    "у": ("y",),
    "и": ("u",),
    "п": ("n",),
    "г": ("r",),
    "ь": ("b",),
    "з": ("z",),
    "д": ("d",),
    "л": ("l",),
    "і": ("i",),
    "ї": ("i",),
    "ј": ("j",),
    "ѕ": ("s",),
    "0": ("o",),
    "1": ("i", "l"),
    "3": ("e",),
    "4": ("a",),
    "5": ("s",),
    "7": ("t",),
    "8": ("b",),
    "9": ("g",),
    "@": ("a",),
    "$": ("s",),
    "!": ("i",),
    **{greek: (lat,) for greek, lat in zip("αβγεηικμνορτυχ", "abyenikmvoptux", strict=True)},
}

# Words written only with Cyrillic letters that have a Latin twin ('соск' reads as 'cock').
LATIN_LOOKING_RE = re.compile("[" + "".join(k for k in _TO_LAT if not k.isascii()) + "]+")
TO_CYR_TABLE = str.maketrans({k: v[0] for k, v in _TO_CYR.items()})
TO_LAT_TABLE = str.maketrans({k: v[0] for k, v in _TO_LAT.items()})

# Cyrillic to a rough Latin sound skeleton shared with transliterated input.
_SKELETON = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "д": "d",
        "е": "e",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "й": "i",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ф": "f",
        "х": "h",
        "ц": "c",
        "ч": "ch",
        "ш": "sh",
        "щ": "sh",
        "ъ": "",
        "ы": "i",
        "ь": "",
        "э": "e",
        "ю": "iu",
        "я": "ia",
        "і": "i",
        "ї": "i",
        "є": "e",
        "ґ": "g",
        "ў": "u",
        "'": "",
    }
)
_TRANSLIT_DIGRAPHS = (
    ("shch", "sh"),
    ("oo", "u"),
    ("ee", "i"),
    ("sch", "sh"),
    ("kh", "h"),
    ("ck", "k"),
    ("tz", "c"),
    ("ts", "c"),
    ("x", "h"),
    ("w", "v"),
    ("q", "k"),
)
_TRANSLIT_DIGRAPHS_TS = tuple(d for d in _TRANSLIT_DIGRAPHS if d[0] != "ts")
_DOUBLE = re.compile(r"(.)\1+")
_MAX_VARIANTS = 8


# Latin letters with accents lose them ('pénis'); Cyrillic й and ё are left alone.
_LATIN_ACCENTED_RE = re.compile("[\u00c0-\u024f]")
_LATIN_PLAIN = str.maketrans(
    {
        chr(code): unicodedata.normalize("NFD", chr(code))[0]
        for code in range(0xC0, 0x250)
        if unicodedata.normalize("NFD", chr(code))[0].isascii()
    }
)


# Letter shapes NFKC leaves alone: small capitals and a few IPA letters ('ᴘᴇɴɪs').
_ODD_LETTERS = str.maketrans(
    "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢɑıɩʋ",
    "abcdefghijklmnopqrstuvwyzaiiv",
)
_ODD_LETTERS_RE = re.compile("[ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢɑıɩʋ]")
# Letters drawn as emoji tiles NFKC leaves alone: 🅐 (negative circled), 🅰 (negative squared)
# and regional indicators 🇦 that spell words when nothing pairs them into a flag.
_EMOJI_LETTERS = str.maketrans(
    {
        **{chr(0x1F150 + i): chr(97 + i) for i in range(26)},
        **{chr(0x1F170 + i): chr(97 + i) for i in range(26)},
        **{chr(0x1F1E6 + i): chr(97 + i) for i in range(26)},
    }
)
_EMOJI_LETTERS_RE = re.compile("[\U0001f150-\U0001f169\U0001f170-\U0001f189\U0001f1e6-\U0001f1ff]")


def fold(text: str) -> str:
    """NFKC, case fold, ё→е, plain Latin letters, no invisible characters or stray marks."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if not folded.isascii():
        if _LATIN_ACCENTED_RE.search(folded):
            folded = folded.translate(_LATIN_PLAIN)
        if _ODD_LETTERS_RE.search(folded):
            folded = folded.translate(_ODD_LETTERS)
        if _EMOJI_LETTERS_RE.search(folded):
            folded = folded.translate(_EMOJI_LETTERS)
        # NFKC has composed й and ё; a combining mark left over was put there deliberately.
        folded = _INVISIBLE_RE.sub("", folded)
        if "ё" in folded:
            folded = folded.replace("ё", "е")
    for art, letter in _ASCII_ART:
        if art in folded:
            folded = folded.replace(art, letter)
    return folded


def collapse(word: str) -> str:
    """Squeeze letters repeated for emphasis: 'хуууй' → 'хуй', 'diiick' → 'dick'."""
    return _DOUBLE.sub(_first, word) if _DOUBLE.search(word) else word


def _first(match: re.Match[str]) -> str:
    return match.group(1)


_ONLY_RUSSIAN_RE = re.compile(r"[а-я]+")
_ONLY_LATIN_RE = re.compile(r"[a-z]+")


def script_counts(word: str) -> tuple[int, int]:
    """How many Cyrillic and how many Latin letters the word has."""
    if _ONLY_RUSSIAN_RE.fullmatch(word):
        return len(word), 0
    if _ONLY_LATIN_RE.fullmatch(word):
        return 0, len(word)
    cyr = lat = 0
    for ch in word:
        if ch in CYRILLIC:
            cyr += 1
        elif ch in LATIN:
            lat += 1
    return cyr, lat


class _Reader:
    """Readings of a word through one table: the usual one first, then the alternatives."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        self.usual = str.maketrans({k: v[0] for k, v in table.items()})
        self.others = {k: v for k, v in table.items() if len(v) > 1}
        self.ambiguous = re.compile("[" + re.escape("".join(self.others)) + "]")

    def __call__(self, word: str) -> list[str]:
        first = word.translate(self.usual)
        spots = [m.start() for m in self.ambiguous.finditer(word)]
        if not spots:
            return [first]
        out = [first]
        for spot in spots:
            # One alternative letter at a time, then all the second choices together.
            for other in self.others[word[spot]][1:]:
                if len(out) >= _MAX_VARIANTS:
                    return out
                out.append(first[:spot] + other + first[spot + 1 :])
        if len(spots) > 1 and len(out) < _MAX_VARIANTS:
            letters = list(first)
            for spot in spots:
                letters[spot] = self.others[word[spot]][1]
            out.append("".join(letters))
        return out


_CYR_READER = _Reader(_TO_CYR)
# An all-Latin word with leet digits ('n1zda', 'p0ny'): p stays р, or 'p0ny' would be 'попу'.
_LATIN_LEET_READER = _Reader({**_TO_CYR, "p": ("р",)})
_LAT_READER = _Reader(_TO_LAT)
# Latin letters that look like Cyrillic ones (upper or lower case), nothing phonetic.
_TWINS: dict[str, tuple[str, ...]] = {
    "a": ("а",),
    "b": ("в", "ь"),
    "c": ("с",),
    "e": ("е",),
    "h": ("н", "х"),
    "k": ("к",),
    "m": ("м",),
    "n": ("п", "н"),
    "o": ("о",),
    "p": ("р",),
    "r": ("г",),
    "t": ("т",),
    "u": ("и", "у"),
    "w": ("ш",),
    "x": ("х",),
    "y": ("у",),
}
TWINS_RE = re.compile("[" + "".join(_TWINS) + "]+")
_TWIN_READER = _Reader(_TWINS)


def twin_variants(word: str) -> list[str]:
    """Readings of an all-look-alike Latin word as Cyrillic ('NEHUC' → 'пенис')."""
    return _TWIN_READER(word)


def cyrillic_variants(word: str) -> list[str]:
    """Readings of a word as Cyrillic (first is the most likely)."""
    return _CYR_READER(word)


def latin_leet_as_cyrillic(word: str) -> list[str]:
    """Readings as Cyrillic of an all-Latin word written with leet digits."""
    return _LATIN_LEET_READER(word)


def latin_variants(word: str) -> list[str]:
    """Readings of a word as Latin (first is the most likely)."""
    return _LAT_READER(word)


def skeleton_of_cyrillic(word: str) -> str:
    """Sound skeleton of a Cyrillic word, as transliteration would spell it."""
    return collapse(word.translate(_SKELETON))


def translit_skeletons(word: str) -> list[str]:
    """Sound skeletons of a Latin (or mixed) word read as Russian transliteration.

    'huy', 'xuy', 'khui' and 'хuй' all give 'hui'; 'j' is read both as й and as ж; 'ts' both
    as ц ('natsist') and as т+с ('-istskiy').
    """
    out = _skeletons(word, _TRANSLIT_DIGRAPHS)
    if word.count("ts") > 1:
        out.append(_skeletons(word.replace("ts", "c", 1), _TRANSLIT_DIGRAPHS_TS)[0])
    return out


def _skeletons(word: str, digraphs: tuple[tuple[str, str], ...]) -> list[str]:
    base = word.translate(_SKELETON)
    for digraph, sound in digraphs:
        if digraph in base:
            base = base.replace(digraph, sound)
    first = base.replace("ya", "ia").replace("yu", "iu").replace("y", "i")
    as_i = collapse(first.replace("ja", "ia").replace("ju", "iu").replace("j", "i"))
    out = [as_i]
    if "j" in first:
        out.append(collapse(first.replace("j", "zh")))
    if "y" in base:
        out.append(collapse(base.replace("y", "u")))
    return out


_LATIN_RE = re.compile(r"[a-z]")


def main_form(word: str) -> str:
    """The single most likely reading of a word in its majority script (for context rules)."""
    if word.isalpha() and (word.isascii() or _LATIN_RE.search(word) is None):
        return word  # one script already (the common case)
    cyr, lat = script_counts(word)
    if cyr >= lat and cyr:
        return word.translate(TO_CYR_TABLE)
    if lat:
        return word.translate(TO_LAT_TABLE)
    return word


_EDGE_KEEP = LEET | MASKS


def chunk_parts(chunk: str) -> tuple[list[str], str, str | None]:
    """Split one whitespace-delimited chunk of folded text.

    Returns the pieces between separators and masks (``kick-ass`` → ``kick``, ``ass``), the
    chunk with separators and masks removed (``х.у.й`` → ``хуй``), and, when the chunk hides
    letters behind masks, the chunk with each mask as ``*`` (``х*й``), else None.
    """
    start, end = 0, len(chunk)
    while start < end and not (chunk[start].isalnum() or chunk[start] in "$@"):
        start += 1
    while end > start and not (chunk[end - 1].isalnum() or chunk[end - 1] in "$*#@"):
        end -= 1
    pieces: list[str] = []
    joined: list[str] = []
    masked: list[str] = []
    current: list[str] = []
    has_mask = False
    for ch in chunk[start:end]:
        if ch.isalnum() or ch in LEET:
            current.append(ch)
            joined.append(ch)
            masked.append(ch)
            continue
        if ch in MASKS:
            has_mask = True
            masked.append(WILDCARD)
        if current:
            pieces.append("".join(current))
            current = []
    if current:
        pieces.append("".join(current))
    return pieces, "".join(joined), "".join(masked) if has_mask else None
