"""Word- and chunk-level matching: every reading of a word against the compiled lexicon.

A *piece* is a run of letters, digits and leet characters; a *chunk* is what sits between two
spaces (``kick-ass,`` has the pieces ``kick`` and ``ass``). Results are cached per piece and
per chunk; a ``Rules`` object is immutable apart from its caches, so a config reload builds a
new one and swaps it in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drawstreamd.gatekeeper import lexicon
from drawstreamd.gatekeeper.combos import Marks
from drawstreamd.gatekeeper.index import Entry, Index, build_lexicon_indexes
from drawstreamd.gatekeeper.normalize import (
    LATIN_LOOKING_RE,
    TO_CYR_TABLE,
    TO_LAT_TABLE,
    TWINS_RE,
    WILDCARD,
    chunk_parts,
    collapse,
    cyrillic_variants,
    fold,
    latin_leet_as_cyrillic,
    latin_variants,
    main_form,
    script_counts,
    translit_skeletons,
    twin_variants,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

CONFIG_RULE = "config:block"
# Longer pieces cannot be one word; they are read only as written (the glued-stem search
# still looks inside them).
MAX_WORD = 48
_CACHE_LIMIT = 10_000
_LEET_TO_LAT = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_LEET_RE = re.compile(r"[0-9@$!]")
_DOUBLE_RE = re.compile(r"(.)\1")
_TRIPLE_RE = re.compile(r"(.)\1\1+")
_REPEATED_RE = re.compile(r"(.{2,}?)\1+")
_TAIL_RUN_RE = re.compile(r"(.)\1+$")
# Request verbs glued to the next word ('нарисуйхуй', 'drawboobs').
_REQUEST_RE = re.compile(
    "нарисуй(?:те)?|нарисовать|изобрази|покажи|хочу|намалюй|draw|paint|sketch|show"
)
_DROP_SEPARATORS = str.maketrans(dict.fromkeys(".,-_*#%?~'\"`/\\|:;()[]{}<>«»"))
_NOT_RUSSIAN_RE = re.compile(r"[^а-я]")

# Chunk flags: what the message-level passes have to look at.
HIT = 1  # a piece or the rebuilt chunk matched a rule
PHRASE = 2  # a piece starts a multi-word phrase
SINGLE = 4  # the chunk is one single character (maybe part of 'х у й')
SHORT = 8  # a short piece that may be half of a split word ('свасти ку')
COMBO = 16  # a piece belongs to a word group that may start a combination (combos.py)


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one chunk contributes to a message."""

    words: tuple[str, ...]  # main reading of each piece (for context and phrases)
    raws: tuple[str, ...]  # the pieces as written (folded)
    hits: tuple[Entry | None, ...]  # per piece, or () when none matched
    whole: Entry | None  # the chunk rebuilt without separators or masks
    flags: int
    marks: tuple[frozenset[str], ...] = ()  # per piece, the word groups of combos.py, or ()


class Rules:
    """The built-in lexicon plus config words, compiled; matching with caches."""

    def __init__(self, extra_block: Iterable[str], extra_allow: Iterable[str]) -> None:
        self.config = Index()
        self.phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self.phrase_stems: list[tuple[str, tuple[str, ...], str]] = []
        for text, rule in lexicon.PHRASES:
            self._add_phrase(text.split(), rule)
        for raw in extra_block:
            words = fold(raw).split()
            if len(words) == 1:
                self.config.add(words[0], Entry(CONFIG_RULE))
            elif words:
                self._add_phrase(words, CONFIG_RULE)
        self.config.finish()
        self._phrase_starts = tuple(stem for stem, _, _ in self.phrase_stems)
        self.has_config = bool(self.config.exact or self.config.prefix)
        self.config_squeezed = self.config.collapsed()
        self.allow = Index()
        for raw in extra_allow:
            for word in fold(raw).split():
                self.allow.allow(word)
        self.allow.finish()
        self.has_allow = bool(self.allow.allow_exact or self.allow.allow_prefix)
        self._words: dict[tuple[str, bool], Entry | None] = {}
        self._chunks: tuple[dict[str, Chunk], dict[str, Chunk]] = ({}, {})

    def _add_phrase(self, words: list[str], rule: str) -> None:
        if words[0].endswith("*"):
            self.phrase_stems.append((words[0][:-1], tuple(words[1:]), rule))
        else:
            self.phrases.setdefault(words[0], []).append((tuple(words[1:]), rule))

    def phrases_at(self, word: str) -> list[tuple[tuple[str, ...], str]]:
        """Phrases that may start with this word, as (the words after it, rule)."""
        found = list(self.phrases.get(word, ()))
        found += [(tail, rule) for stem, tail, rule in self.phrase_stems if word.startswith(stem)]
        return found

    # Single pieces -------------------------------------------------------------------

    def match_word(self, piece: str, cyr_context: bool) -> Entry | None:
        """The rule a piece matches under any of its readings, or None."""
        key = (piece, cyr_context)
        try:
            return self._words[key]
        except KeyError:
            pass
        found = self._match_word(piece, cyr_context)
        if len(self._words) >= _CACHE_LIMIT:
            self._words.clear()
        self._words[key] = found
        return found

    def _match_word(self, piece: str, cyr_context: bool) -> Entry | None:
        if len(piece) < 2:
            return None
        if piece.isdigit():
            return Entry(lexicon.HATE_CODE) if piece in lexicon.HATE_NUMBERS else None
        if self.has_allow and self.allow.allowed(main_form(piece)):
            return None
        if len(piece) > MAX_WORD:
            return self._lookup(_RU, piece) or self._lookup(_EN, piece)
        cyr, lat = script_counts(piece)
        leet = _LEET_RE.search(piece) is not None
        squeeze = _DOUBLE_RE.search(piece) is not None
        if cyr or (leet and not lat):
            odd = lat or leet or _NOT_RUSSIAN_RE.search(piece) is not None
            forms = cyrillic_variants(piece) if odd else [piece]
            if "ь" in piece[1:] or "ъ" in piece:
                forms = [*forms, forms[0].replace("ь", "").replace("ъ", "")]  # 'чьлен', 'хуйь'
            found = self._lookup_forms(_RU, forms, squeeze, piece)
            if found is not None:
                return found
        if lat or leet or (cyr and LATIN_LOOKING_RE.fullmatch(piece)):
            forms = latin_variants(piece) if (cyr or leet) else [piece]
            found = self._lookup_forms(_EN, forms, squeeze, piece)
            if found is not None:
                return found
        if lat and not cyr:
            found = self._latin_as_russian(piece, cyr_context, leet, squeeze)
            if found is not None:
                return found
        if lat and not self._latin_allowed(piece, squeeze):
            sounds = translit_skeletons(piece.translate(_LEET_TO_LAT))
            found = self._lookup_forms(_SKELETON, sounds, False, sounds[0])
            if found is not None:
                return found
        repeated = _REPEATED_RE.fullmatch(piece) if len(piece) >= 6 else None
        if repeated is not None:
            return self.match_word(repeated.group(1), cyr_context)  # 'хуйхуйхуй'
        verb = _REQUEST_RE.match(piece)
        if verb is not None and len(piece) - verb.end() >= 3:
            return self.match_word(piece[verb.end() :], cyr_context)  # 'нарисуйхуй'
        return None

    def _latin_allowed(self, piece: str, squeeze: bool) -> bool:
        """An innocent English word, also with its repeated letters squeezed ('negrooooni')."""
        latin = piece if piece.isascii() else piece.translate(TO_LAT_TABLE)
        return _EN[0].allowed(latin) or (squeeze and _EN[0].allowed(collapse(latin)))

    def _latin_as_russian(
        self, piece: str, cyr_context: bool, leet: bool, squeeze: bool
    ) -> Entry | None:
        """A Russian word typed in Latin letters that look Cyrillic ('xyu', 'NEHUC', 'n1zda').

        Only words made entirely of look-alike letters are read this way, so names and English
        words in a Russian message stay what they are ('pony', 'Jonathan', 'css'); in an
        English message, only with an x or a leet digit ('fan' would turn into 'фап').
        """
        if leet:
            forms = latin_leet_as_cyrillic(piece)
        elif TWINS_RE.fullmatch(piece) and (cyr_context or "x" in piece):
            forms = twin_variants(piece)
        else:
            return None
        found = self._lookup_forms(_RU, forms, squeeze, piece)
        if found is not None and found.rule in lexicon.NOT_FROM_LATIN:
            return None
        return found

    def _lookup(self, indexes: tuple[Index, Index, Index | None], form: str) -> Entry | None:
        if self.has_config:
            found = self.config.lookup(form)
            if found is not None:
                return found
        return indexes[0].lookup(form)

    def _lookup_forms(
        self, indexes: tuple[Index, Index, Index | None], forms: list[str], squeeze: bool, raw: str
    ) -> Entry | None:
        masked = indexes[2]
        if forms[0] != raw and _LEET_RE.search(raw):
            forms = [*forms, raw]  # leet may also be meant literally ('rule34')
        for form in forms:
            found = self._lookup(indexes, form)
            if found is None and WILDCARD in form and masked is not None:
                found = _masked_index(masked).lookup(form)
            if found is None and squeeze:
                found = self._squeezed(indexes, form)
            elif found is None and indexes is _RU:
                found = indexes[1].lookup(form)  # a double letter written once: 'фалос'
            if found is None and squeeze and _LEET_RE.search(raw):
                found = self._lookup(indexes, collapse(form))  # doubled leet: 'd!!ck'
            if found is not None:
                return found
        return None

    def _squeezed(self, indexes: tuple[Index, Index, Index | None], form: str) -> Entry | None:
        """Letters repeated for emphasis: three or more become one or two ('peeenis', 'asss');
        doubled letters are squeezed only against whole words and long stems ('хууй')."""
        if indexes[0].allowed(form):
            return None  # 'assess' is not 'asses' with a long s
        if _TRIPLE_RE.search(form):
            for repeat in (r"\1", r"\1\1"):
                squeezed = _TRIPLE_RE.sub(repeat, form)
                if indexes[0].allowed(squeezed):
                    return None  # 'negrooooni' is 'negroni'
                found = self._lookup(indexes, squeezed) if len(squeezed) >= 3 else None
                if found is not None:
                    return found
        tail = _TAIL_RUN_RE.search(form)
        if tail is not None:
            # Emphasis on the last letter ('pussyy', 'хуйяяя'): one of it, or none.
            for cut in (form[: tail.start() + 1], form[: tail.start()]):
                if indexes[0].allowed(cut):
                    return None  # 'хохломууу' is 'хохлому', not 'хохлом'
                found = self._lookup(indexes, cut)
                if found is not None:
                    return found
        short = collapse(form)
        if short == form:
            return None
        found = self.config_squeezed.lookup(short) if self.has_config else None
        return found or indexes[1].lookup(short)

    # Chunks --------------------------------------------------------------------------

    def chunk(self, text: str, cyr_context: bool) -> Chunk:
        """Pieces, readings, hits and flags of one whitespace-delimited chunk (cached)."""
        cache = self._chunks[cyr_context]
        found = cache.get(text)
        if found is None:
            found = self._chunk(text, cyr_context)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[text] = found
        return found

    def _chunk(self, text: str, cyr_context: bool) -> Chunk:
        if text.isalpha():
            pieces, joined, masked = [text], text, None
        else:
            pieces, joined, masked = chunk_parts(text)
        words = tuple(map(main_form, pieces))
        flags = 0
        marks = tuple(map(MARKS.of, words))
        if not any(marks):
            marks = ()
        elif any(m & MARKS.keys for m in marks):
            flags |= COMBO
        if len(pieces) == 1 and len(pieces[0]) == 1:
            flags |= SINGLE
        for piece, word in zip(pieces, words, strict=True):
            if word in self.phrases or word.startswith(self._phrase_starts):
                flags |= PHRASE
            if 2 <= len(piece) <= 3 and word not in lexicon.STOPWORDS:
                flags |= SHORT
        if len(pieces) > 1 and self._innocent_compound(main_form(joined)):
            return Chunk(words, tuple(pieces), (), None, flags, marks)
        hits = tuple(self.match_word(p, cyr_context) for p in pieces)
        whole = None
        if masked is not None:
            whole = self.match_word(masked, cyr_context)
        if whole is None and len(pieces) > 1:
            whole = self.match_word(joined, cyr_context)
            if whole is None and len(joined) == len(pieces):
                whole = self.spelled_out(joined)  # 'х.у.й.н.я' spelled letter by letter
        if all(h is None for h in hits):
            hits = ()
            if whole is None and not (self.has_allow and self.allow.allowed(main_form(joined))):
                whole = glued(joined)
        if hits or whole is not None:
            flags |= HIT
        return Chunk(words, tuple(pieces), hits, whole, flags, marks)

    def quick(self, chunk: str) -> str | None:
        """Rule of a chunk read only the usual way (for the far end of very long messages;
        the caller passes each distinct chunk once, so nothing is cached here)."""
        word = chunk if chunk.isalpha() else chunk.translate(_DROP_SEPARATORS)
        if len(word) < 2 or (self.has_allow and self.allow.allowed(main_form(word))):
            return None
        if word.isalpha() and word.isascii():
            as_cyr, as_lat = "", word
        elif word.isalpha() and _NOT_RUSSIAN_RE.search(word) is None:
            as_cyr, as_lat = word, ""
        else:
            as_cyr, as_lat = word.translate(TO_CYR_TABLE), word.translate(TO_LAT_TABLE)
        for indexes, form in ((_RU, as_cyr), (_EN, as_lat)):
            if not form or (form[:2] not in _HEADS and not self.has_config):
                continue
            found = self._lookup(indexes, form)
            if found is None and _DOUBLE_RE.search(form):
                found = indexes[1].lookup(collapse(form))
            if found is not None and not found.contextual:
                return found.rule
        found = _glued_in(as_cyr, as_lat)
        return found.rule if found is not None else None

    def innocent(self, word: str) -> bool:
        """A word on an allow-list, built in or from the config ('cockatoo', 'членистоногое')."""
        return self.allow.allowed(word) or any(i.allowed(word) for i in _BASE)

    def _innocent_compound(self, joined: str) -> bool:
        """A hyphenated word that is innocent as a whole ('cock-a-doodle-doo')."""
        return self.innocent(joined)

    def spelled_out(self, letters: str) -> Entry | None:
        """A blocked stem inside letters typed one by one ('н а р и с у й х у й'), unless the
        letters spell an innocent word ('c o c k a t o o')."""
        if self.innocent(main_form(letters)):
            return None
        return spelled_out(letters)


_BASE: tuple[Index, Index] = build_lexicon_indexes()
MARKS = Marks()
# (plain, squeezed, source of the masked index) per script; masked ones are built on first use.
_RU = (_BASE[0], _BASE[0].collapsed(), _BASE[0])
_EN = (_BASE[1], _BASE[1].collapsed(min_word=5), _BASE[1])
_SKELETON_PLAIN = _BASE[0].skeletons(lexicon.TRANSLIT_COLLISIONS)
_SKELETON = (_SKELETON_PLAIN, _SKELETON_PLAIN.collapsed(min_word=5), None)
_MASKED: dict[int, Index] = {}
# First two letters of every word or stem that can match (verbal prefixes included), so the
# quick reading can skip most words with one set lookup.
_HEADS = frozenset(
    key[:2] for index in (*_BASE, _RU[1], _EN[1]) for key in (*index.exact, *index.prefix)
) | frozenset(
    (head + stem)[:2]
    for head in lexicon.VERB_PREFIXES
    for stem, entry in _BASE[0].prefix.items()
    if entry.verbal
)


def glued(word: str) -> Entry | None:
    """A stem that is never innocent inside a longer word ('нарисуйсвастику', 'drawporn')."""
    if len(word) < _GLUED_MIN:
        return None
    if _NOT_RUSSIAN_RE.search(word) is None:
        return _glued_in(word, "")
    if word.isascii() and word.isalpha():
        return _glued_in("", word)
    return _glued_in(word.translate(TO_CYR_TABLE), word.translate(TO_LAT_TABLE))


def _glued_in(as_cyr: str, as_lat: str) -> Entry | None:
    found = None
    if len(as_cyr) >= _GLUED_MIN:
        found = _GLUED_CYR.search(as_cyr)
    if found is None and len(as_lat) >= _GLUED_MIN:
        found = _GLUED_LAT.search(as_lat)
    return None if found is None else Entry(_GLUED_RULES[found.group()])


# A glued word is a stem of four or more letters and at least one more letter.
_GLUED_MIN = 5
_GLUED_RULES = dict(lexicon.ANYWHERE)
_GLUED_CYR = re.compile("|".join(stem for stem, _ in lexicon.ANYWHERE if not stem.isascii()))
_GLUED_LAT = re.compile("|".join(stem for stem, _ in lexicon.ANYWHERE if stem.isascii()))


def spelled_out(letters: str) -> Entry | None:
    """A blocked stem inside letters typed one by one ('н а р и с у й х у й')."""
    as_cyr = letters.translate(TO_CYR_TABLE)
    as_lat = letters.translate(TO_LAT_TABLE)
    for stem, rule in lexicon.RUN_STEMS:
        if stem in as_cyr or stem in as_lat:
            return Entry(rule)
    return None


def _masked_index(source: Index) -> Index:
    """Built on first use; two threads racing here both build it, and either result is right."""
    found = _MASKED.get(id(source))
    if found is None:
        found = _MASKED[id(source)] = source.masked()
    return found
