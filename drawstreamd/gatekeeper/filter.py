"""The gatekeeper: is a donation message a request for sexual content or a hate symbol?

``Gatekeeper.check`` folds the message (normalize.py), reads every word both as Cyrillic and
as Latin (look-alikes, leetspeak, masks, repeats, transliteration), and looks the readings up
in compiled word indexes (index.py, lexicon.py). Words hidden by separators are rebuilt from
the pieces of a chunk ("х.у.й") and from runs of single letters ("х у й"). Context rules keep
idioms and innocent neighbours apart ("член команды", "blue tit"). Every verdict names the
rule that fired. Cost is linear in the message length; results per word are cached.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drawstreamd.gatekeeper import lexicon
from drawstreamd.gatekeeper.index import Entry, Index, build_lexicon_indexes
from drawstreamd.gatekeeper.normalize import (
    LEET,
    TO_CYR_TABLE,
    TO_LAT_TABLE,
    WILDCARD,
    chunk_parts,
    collapse,
    cyrillic_variants,
    fold,
    latin_variants,
    main_form,
    script_counts,
    translit_skeletons,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

CONFIG_RULE = "config:block"
_CACHE_LIMIT = 50_000
_LEET_TO_LAT = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a message must not be drawn, and the rule that decided it."""

    nsfw: bool
    rule: str | None


ALLOWED = Verdict(False, None)


@dataclass(frozen=True, slots=True)
class _Chunk:
    words: tuple[str, ...]  # main readings of the pieces, for context and phrases
    raws: tuple[str, ...]  # the pieces as written (folded)
    hits: tuple[Entry | None, ...]  # per piece
    whole: Entry | None  # the chunk with separators or masks removed


_NO_HITS: tuple[Entry | None, ...] = ()


class _Rules:
    """One immutable compiled rule set (the built-in lexicon plus config words)."""

    def __init__(self, extra_block: Iterable[str], extra_allow: Iterable[str]) -> None:
        self.ru, self.en = _BASE
        self.config = Index()
        self.phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for text, rule in lexicon.PHRASES:
            self._add_phrase(text.split(), rule)
        for raw in extra_block:
            words = fold(raw).split()
            if len(words) == 1:
                self.config.add(words[0], Entry(CONFIG_RULE))
            elif words:
                self._add_phrase(words, CONFIG_RULE)
        self.config.finish()
        self.allow = Index()
        for raw in extra_allow:
            for word in fold(raw).split():
                self.allow.allow(word)
        self.allow.finish()
        self.words: dict[tuple[str, bool], Entry | None] = {}
        self.chunks: dict[tuple[str, bool], _Chunk] = {}

    def _add_phrase(self, words: list[str], rule: str) -> None:
        self.phrases.setdefault(words[0].rstrip("*"), []).append((tuple(words[1:]), rule))

    # Single words --------------------------------------------------------------------

    def match_word(self, piece: str, cyr_context: bool) -> Entry | None:
        key = (piece, cyr_context)
        try:
            return self.words[key]
        except KeyError:
            pass
        found = self._match_word(piece, cyr_context)
        if len(self.words) >= _CACHE_LIMIT:
            self.words.clear()
        self.words[key] = found
        return found

    def _match_word(self, piece: str, cyr_context: bool) -> Entry | None:
        if not piece:
            return None
        if piece.isdigit():
            return Entry(lexicon.HATE_CODE) if piece in lexicon.HATE_NUMBERS else None
        cyr, lat = script_counts(piece)
        if self.allow.allowed(main_form(piece)):
            return None
        leet = any(ch in LEET for ch in piece)
        if cyr or cyr_context or (leet and not lat):
            found = self._lookup_forms(_RU, cyrillic_variants(piece) if (lat or leet) else [piece])
            if found is not None:
                return found
        if lat or leet or cyr:
            found = self._lookup_forms(_EN, latin_variants(piece) if (cyr or leet) else [piece])
            if found is not None:
                return found
        if lat:
            sounds = translit_skeletons(piece.translate(_LEET_TO_LAT))
            found = self._lookup_forms(_SKELETON, sounds)
            if found is not None:
                return found
        return None

    def _lookup_forms(self, indexes: tuple[Index, ...], forms: list[str]) -> Entry | None:
        plain, squeezed, masked = indexes
        for form in forms:
            found = self.config.lookup(form) or plain.lookup(form)
            if found is None and WILDCARD in form:
                found = _masked_index(masked).lookup(form)
            if found is None:
                short = collapse(form)
                if short != form:
                    found = self.config.lookup(short) or squeezed.lookup(short)
            if found is not None:
                return found
        return None

    # Chunks --------------------------------------------------------------------------

    def chunk(self, text: str, cyr_context: bool) -> _Chunk:
        key = (text, cyr_context)
        found = self.chunks.get(key)
        if found is None:
            found = self._chunk(text, cyr_context)
            if len(self.chunks) >= _CACHE_LIMIT:
                self.chunks.clear()
            self.chunks[key] = found
        return found

    def _chunk(self, text: str, cyr_context: bool) -> _Chunk:
        pieces, joined, masked = chunk_parts(text)
        words = tuple(main_form(p) for p in pieces)
        if len(pieces) > 1 and self._innocent_compound(main_form(joined)):
            return _Chunk(words, tuple(pieces), _NO_HITS, None)
        hits = tuple(self.match_word(p, cyr_context) for p in pieces)
        whole = None
        if masked is not None:
            whole = self.match_word(masked, cyr_context)
        if whole is None and len(pieces) > 1:
            whole = self.match_word(joined, cyr_context)
        if all(h is None for h in hits):
            hits = _NO_HITS
        return _Chunk(words, tuple(pieces), hits, whole)

    def _innocent_compound(self, joined: str) -> bool:
        """A hyphenated word that is innocent as a whole ('cock-a-doodle-doo')."""
        return self.allow.allowed(joined) or any(i.allowed(joined) for i in _BASE)


_BASE: tuple[Index, Index] = build_lexicon_indexes()
_RU_SQUEEZED = _BASE[0].collapsed()
_EN_SQUEEZED = _BASE[1].collapsed()
_MASK_LOCK = threading.Lock()
_MASKED: dict[int, Index] = {}
# (plain, squeezed, masked-source) per script; masked indexes are built on first use.
_RU = (_BASE[0], _RU_SQUEEZED, _BASE[0])
_EN = (_BASE[1], _EN_SQUEEZED, _BASE[1])
_SKELETON_PLAIN = _BASE[0].skeletons(lexicon.TRANSLIT_COLLISIONS)
_SKELETON = (_SKELETON_PLAIN, _SKELETON_PLAIN.collapsed(), _SKELETON_PLAIN)


def _masked_index(source: Index) -> Index:
    found = _MASKED.get(id(source))
    if found is None:
        with _MASK_LOCK:
            found = _MASKED.get(id(source))
            if found is None:
                found = source.masked()
                _MASKED[id(source)] = found
    return found


def _neighbour_matches(word: str | None, wanted: tuple[str, ...]) -> bool:
    if word is None:
        return "<end>" in wanted
    for option in wanted:
        if len(option) <= 2:
            if word == option:
                return True
        elif word.startswith(option):
            return True
    return False


def _fires(entry: Entry, prev: str | None, nxt: str | None) -> bool:
    if not entry.contextual:
        return True
    if entry.after and prev is not None and _neighbour_matches(prev, entry.after):
        return False
    if entry.before and nxt is not None and _neighbour_matches(nxt, entry.before):
        return False
    return not entry.only_before or _neighbour_matches(nxt, entry.only_before)


_CYRILLIC_RE = re.compile(r"[а-яєіїґ]")
_WORD_RE = re.compile(r"[\w@$*!]+")
_PROFANITY = Index()
for _pattern in lexicon.PROFANITY.split():
    _PROFANITY.add(_pattern, Entry("profanity"))
_PROFANITY.finish()


class Gatekeeper:
    """Classifies donation messages; safe to share between threads and tasks.

    ``extra_block`` adds words (``word`` or ``stem*``) and phrases (several words) that block
    with the rule ``config:block``; ``extra_allow`` adds words that never block.
    """

    def __init__(self, extra_block: Iterable[str] = (), extra_allow: Iterable[str] = ()) -> None:
        self._rules = _Rules(extra_block, extra_allow)

    def reload(self, extra_block: Iterable[str], extra_allow: Iterable[str]) -> None:
        """Swap in new config word lists; checks running meanwhile finish with the old ones."""
        self._rules = _Rules(extra_block, extra_allow)

    def check(self, text: str) -> Verdict:
        """Decide on one message; linear in its length."""
        rules = self._rules
        folded = fold(text)
        symbol = _symbols(folded)
        if symbol is not None:
            return Verdict(True, symbol)
        cyr_context = _CYRILLIC_RE.search(folded) is not None
        words: list[str] = []
        raws: list[str] = []
        pending: list[tuple[Entry, int, int]] = []
        for text_chunk in folded.split():
            info = rules.chunk(text_chunk, cyr_context)
            start = len(words)
            words.extend(info.words)
            raws.extend(info.raws)
            for offset, hit in enumerate(info.hits):
                if hit is not None:
                    pending.append((hit, start + offset, start + offset + 1))
            if info.whole is not None:
                pending.append((info.whole, start, len(words)))
        for entry, first, end in pending:
            if _fires(entry, _at(words, first - 1), _at(words, end)):
                return Verdict(True, entry.rule)
        rule = _phrase(rules, words) or _glued(rules, words, raws, cyr_context) or _anywhere(folded)
        return Verdict(True, rule) if rule else ALLOWED

    def mask(self, text: str) -> str:
        """The message with profanity and blocked words starred out for the HUD ('х**')."""
        rules = self._rules

        def star(match: re.Match[str]) -> str:
            word = match.group()
            core = word.strip("!*")
            if len(core) < 2:
                return word
            folded = fold(core)
            cyr_context = _CYRILLIC_RE.search(folded) is not None
            info = rules.chunk(folded, cyr_context)
            readings = [folded.translate(TO_CYR_TABLE), folded.translate(TO_LAT_TABLE)]
            clean = info.whole is None and not info.hits
            if clean and not any(_PROFANITY.lookup(r) for r in readings):
                return word
            lead = word.index(core[0])
            return word[: lead + 1] + "*" * (len(word) - lead - 1)

        return _WORD_RE.sub(star, text)


def _at(words: list[str], index: int) -> str | None:
    return words[index] if 0 <= index < len(words) else None


def _symbols(folded: str) -> str | None:
    if not lexicon.HATE_CHARS.isdisjoint(folded):
        if "ᛋᛋ" in folded or "ϟϟ" in folded:
            return lexicon.SS
        if not lexicon.SWASTIKA_CHARS.isdisjoint(folded):
            return lexicon.SWASTIKA
    if not lexicon.EXPLICIT_EMOJI.isdisjoint(folded):
        return lexicon.EMOJI
    if len(lexicon.SEXUAL_EMOJI.intersection(folded)) >= 2:
        return lexicon.EMOJI
    return None


def _phrase(rules: _Rules, words: list[str]) -> str | None:
    phrases = rules.phrases
    for index, word in enumerate(words):
        options = phrases.get(word)
        if not options:
            continue
        for tail, rule in options:
            if index + len(tail) >= len(words):
                continue
            if all(
                words[index + 1 + k].startswith(part[:-1])
                if part.endswith("*")
                else words[index + 1 + k] == part
                for k, part in enumerate(tail)
            ):
                return rule
    return None


def _glued(rules: _Rules, words: list[str], raws: list[str], cyr_context: bool) -> str | None:
    """Words split by spaces: runs of single letters ('х у й') and halves ('свасти ку')."""
    run_start = -1
    for index in range(len(raws) + 1):
        single = index < len(raws) and len(raws[index]) == 1
        if single and run_start < 0:
            run_start = index
        elif not single and run_start >= 0:
            if index - run_start >= 2:
                rule = _run(rules, words, raws, run_start, index, cyr_context)
                if rule:
                    return rule
            run_start = -1
    stop = lexicon.STOPWORDS
    for index in range(len(raws) - 1):
        left, right = raws[index], raws[index + 1]
        if len(left) < 2 or len(right) < 2 or min(len(left), len(right)) > 3:
            continue
        if words[index] in stop or words[index + 1] in stop:
            continue
        entry = rules.match_word(left + right, cyr_context)
        if entry is not None and _fires(entry, _at(words, index - 1), _at(words, index + 2)):
            return entry.rule
    return None


def _run(
    rules: _Rules, words: list[str], raws: list[str], start: int, end: int, cyr_context: bool
) -> str | None:
    joined = "".join(raws[start:end])
    entry = rules.match_word(joined, cyr_context)
    if entry is not None and _fires(entry, _at(words, start - 1), _at(words, end)):
        return entry.rule
    as_cyr = joined.translate(TO_CYR_TABLE)
    as_lat = joined.translate(TO_LAT_TABLE)
    for stem, rule in lexicon.RUN_STEMS:
        if stem in as_cyr or stem in as_lat:
            return rule
    return None


def _anywhere(folded: str) -> str | None:
    as_cyr = folded.translate(TO_CYR_TABLE)
    as_lat = folded.translate(TO_LAT_TABLE)
    for stem, rule in lexicon.ANYWHERE:
        if stem in as_cyr or stem in as_lat:
            return rule
    return None
