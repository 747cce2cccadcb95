"""Compiled word index: exact words and stems of one script, with their allow-list.

Lookups are dictionary probes on word prefixes (one per distinct stem length), so matching a
word costs time proportional to its length whatever the size of the lexicon.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drawstreamd.gatekeeper import lexicon
from drawstreamd.gatekeeper.normalize import WILDCARD, collapse, skeleton_of_cyrillic

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True, slots=True)
class Entry:
    """What a matched word means: the rule, and neighbours that make it innocent."""

    rule: str
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    only_before: tuple[str, ...] = ()
    verbal: bool = False
    near: tuple[str, ...] = ()

    @property
    def contextual(self) -> bool:
        return bool(self.after or self.before or self.only_before or self.near)


def expand(pattern: str) -> list[str]:
    """Brace expansion: ``хуй{,а}*`` → ``хуй*``, ``хуйа*``."""
    open_at = pattern.find("{")
    if open_at < 0:
        return [pattern]
    close_at = pattern.index("}", open_at)
    head, tail = pattern[:open_at], pattern[close_at + 1 :]
    return [
        word
        for option in pattern[open_at + 1 : close_at].split(",")
        for word in expand(head + option + tail)
    ]


_HEAD = 2
_ANY_ENDING = 99
# Words are read with Ukrainian letters as their Russian twins; so are the patterns.
_UKRAINIAN = str.maketrans("іїєґў", "ииегу")


def _buckets(items: Iterable[tuple[str, Entry]]) -> dict[str, tuple[tuple[str, Entry], ...]]:
    """Stems grouped by their first letters, longest first (the most specific rule wins)."""
    grouped: dict[str, list[tuple[str, Entry]]] = {}
    for stem, entry in items:
        grouped.setdefault(stem[:_HEAD], []).append((stem, entry))
    return {
        head: tuple(sorted(pairs, key=lambda pair: -len(pair[0])))
        for head, pairs in grouped.items()
    }


class Index:
    """Exact words and word-start stems mapped to entries, plus innocent exceptions."""

    def __init__(
        self, *, verb_prefixes: tuple[str, ...] = (), max_ending: int = _ANY_ENDING
    ) -> None:
        self.exact: dict[str, Entry] = {}
        self.prefix: dict[str, Entry] = {}
        self.allow_exact: set[str] = set()
        self.allow_prefix: set[str] = set()
        self._verb_prefixes = verb_prefixes
        # How many letters a word may have past a stem (a Russian ending is at most 4).
        self._max_ending = max_ending
        self._heads: dict[str, tuple[tuple[str, Entry], ...]] = {}
        self._verbal_heads: dict[str, tuple[tuple[str, Entry], ...]] = {}
        self._allow_heads: dict[str, tuple[str, ...]] = {}
        self._verb_set = frozenset(verb_prefixes)
        self._verb_lens = tuple(sorted({len(v) for v in verb_prefixes}))

    def add(self, pattern: str, entry: Entry) -> None:
        verbal = pattern.startswith("~")
        for word in expand(pattern.lstrip("~").translate(_UKRAINIAN)):
            if word.endswith("*"):
                stem = word[:-1]
                if len(stem) >= _HEAD:
                    chosen = Entry(
                        entry.rule, entry.after, entry.before, entry.only_before, verbal, entry.near
                    )
                    self.prefix.setdefault(stem, chosen)
            elif word:
                self.exact.setdefault(word, entry)

    def allow(self, pattern: str) -> None:
        for word in expand(pattern.translate(_UKRAINIAN)):
            if word.endswith("*"):
                if len(word) > _HEAD:
                    self.allow_prefix.add(word[:-1])
            elif word:
                self.allow_exact.add(word)

    def finish(self) -> Index:
        """Bucket the stems by their first letters; call after the last add/allow."""
        self._heads = _buckets(self.prefix.items())
        self._verbal_heads = _buckets((k, e) for k, e in self.prefix.items() if e.verbal)
        allow: dict[str, list[str]] = {}
        for stem in self.allow_prefix:
            allow.setdefault(stem[:_HEAD], []).append(stem)
        self._allow_heads = {head: tuple(stems) for head, stems in allow.items()}
        return self

    def allowed(self, word: str) -> bool:
        if word in self.allow_exact:
            return True
        return any(word.startswith(stem) for stem in self._allow_heads.get(word[:_HEAD], ()))

    def lookup(self, word: str) -> Entry | None:
        found = self.exact.get(word)
        if found is None:
            for stem, entry in self._heads.get(word[:_HEAD], ()):
                if word.startswith(stem) and (
                    entry.verbal or len(word) - len(stem) <= self._ending_after(stem)
                ):
                    found = entry
                    break
        if found is None and self._verbal_heads:
            found = self._behind_verb_prefix(word)
        if found is not None and self.allowed(word):
            return None
        return found

    def _ending_after(self, stem: str) -> int:
        if self._max_ending < _ANY_ENDING and len(stem) <= 4:
            # A four-letter stem with a long tail is usually some other word ('pysqlite').
            return min(self._max_ending, 3)
        return self._max_ending

    def _behind_verb_prefix(self, word: str) -> Entry | None:
        for n in self._verb_lens:
            if word[:n] not in self._verb_set or len(word) - n < 3:
                continue
            core = word[n:]
            for stem, entry in self._verbal_heads.get(core[:_HEAD], ()):
                if core.startswith(stem) and not self.allowed(core):
                    return entry
        return None

    # Derived indexes -------------------------------------------------------------------

    def collapsed(self, min_word: int = 3) -> Index:
        """The same words with doubled letters squeezed (matches 'хууй', 'сиськии').

        ``min_word`` keeps short squeezed words out where they collide with ordinary ones
        ('booby' squeezed is 'boby', and a policeman is a bobby).
        """
        out = Index()
        for key, entry in self.exact.items():
            squeezed = collapse(key)
            if len(squeezed) >= min_word:
                out.exact.setdefault(squeezed, entry)
        for key, entry in self.prefix.items():
            squeezed = collapse(key)
            if len(squeezed) >= 5:  # a short squeezed stem starts too many words ('pepe')
                out.prefix.setdefault(squeezed, entry)
        out.allow_exact = {collapse(k) for k in self.allow_exact}
        out.allow_prefix = {collapse(k) for k in self.allow_prefix}
        return out.finish()

    def masked(self) -> Index:
        """Every word with one or two letters hidden by ``*`` (matches 'х*й', 'p**n').

        The first letter is never hidden: a masked word that keeps no letter of its start
        says too little to block on.
        """
        out = Index()
        for source, target in ((self.exact, out.exact), (self.prefix, out.prefix)):
            for key, entry in source.items():
                if len(key) < 3:
                    continue
                spots = range(1, len(key))
                hidden: list[tuple[int, ...]] = [(i,) for i in spots]
                if len(key) >= 5 or (len(key) == 3 and "а" <= key[0] <= "я"):
                    # 'х**' hides two of three letters but everyone reads it.
                    hidden += list(itertools.combinations(spots, 2))
                for chosen in hidden:
                    letters = list(key)
                    for spot in chosen:
                        letters[spot] = WILDCARD
                    target.setdefault("".join(letters), entry)
        return out.finish()

    def skeletons(self, collisions: frozenset[str]) -> Index:
        """Cyrillic words by sound skeleton, to meet Latin transliteration ('siski')."""
        out = Index(max_ending=5)
        for key, entry in self.exact.items():
            sound = skeleton_of_cyrillic(key)
            if len(sound) >= 3 and sound not in collisions:
                out.exact.setdefault(sound, entry)
        for key, entry in self.prefix.items():
            sound = skeleton_of_cyrillic(key)
            if len(sound) >= 4 and sound not in collisions:
                out.prefix.setdefault(sound, entry)
        out.allow_exact = {skeleton_of_cyrillic(k) for k in self.allow_exact}
        out.allow_prefix = {s for s in map(skeleton_of_cyrillic, self.allow_prefix) if len(s) >= 3}
        return out.finish()


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


def _with_translit(words: str) -> tuple[str, ...]:
    """Neighbour words, plus the transliteration of the Cyrillic ones ('komandy')."""
    listed = words.split()
    sounds = [
        skeleton_of_cyrillic(w[:-1]) + "=" if w.endswith("=") else skeleton_of_cyrillic(w)
        for w in listed
        if _is_cyrillic(w)
    ]
    return tuple(dict.fromkeys(listed + [s for s in sounds if s]))


def build_lexicon_indexes() -> tuple[Index, Index]:
    """The Russian/Ukrainian and the English index built from ``lexicon``."""
    ru = Index(verb_prefixes=lexicon.VERB_PREFIXES)
    en = Index()
    for rule, patterns in lexicon.BLOCK.items():
        for pattern in patterns.split():
            (ru if _is_cyrillic(pattern) else en).add(pattern, Entry(rule))
    for context in lexicon.CONTEXT:
        entry = Entry(
            context.rule,
            _with_translit(context.after),
            _with_translit(context.before),
            _with_translit(context.only_before),
            near=_with_translit(context.near),
        )
        for pattern in context.patterns.split():
            (ru if _is_cyrillic(pattern) else en).add(pattern, entry)
    for pattern in lexicon.ALLOW.split():
        (ru if _is_cyrillic(pattern) else en).allow(pattern)
    return ru.finish(), en.finish()
