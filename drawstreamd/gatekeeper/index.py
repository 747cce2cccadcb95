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

    @property
    def contextual(self) -> bool:
        return bool(self.after or self.before or self.only_before)


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


def _lengths(keys: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({len(k) for k in keys}, reverse=True))


class Index:
    """Exact words and word-start stems mapped to entries, plus innocent exceptions."""

    def __init__(self, *, verb_prefixes: tuple[str, ...] = ()) -> None:
        self.exact: dict[str, Entry] = {}
        self.prefix: dict[str, Entry] = {}
        self.allow_exact: set[str] = set()
        self.allow_prefix: set[str] = set()
        self._verb_prefixes = verb_prefixes
        self._lens: tuple[int, ...] = ()
        self._verbal_lens: tuple[int, ...] = ()
        self._allow_lens: tuple[int, ...] = ()

    def add(self, pattern: str, entry: Entry) -> None:
        verbal = pattern.startswith("~")
        for word in expand(pattern.lstrip("~")):
            if word.endswith("*"):
                stem = word[:-1]
                if stem:
                    chosen = Entry(entry.rule, entry.after, entry.before, entry.only_before, verbal)
                    self.prefix.setdefault(stem, chosen)
            elif word:
                self.exact.setdefault(word, entry)

    def allow(self, pattern: str) -> None:
        for word in expand(pattern):
            if word.endswith("*"):
                if len(word) > 1:
                    self.allow_prefix.add(word[:-1])
            elif word:
                self.allow_exact.add(word)

    def finish(self) -> Index:
        self._lens = _lengths(self.prefix)
        self._verbal_lens = _lengths(k for k, e in self.prefix.items() if e.verbal)
        self._allow_lens = _lengths(self.allow_prefix)
        return self

    def allowed(self, word: str) -> bool:
        if word in self.allow_exact:
            return True
        prefixes = self.allow_prefix
        return any(word[:n] in prefixes for n in self._allow_lens if n <= len(word))

    def lookup(self, word: str) -> Entry | None:
        if self.allowed(word):
            return None
        found = self.exact.get(word)
        if found is not None:
            return found
        size = len(word)
        for n in self._lens:
            if n <= size:
                found = self.prefix.get(word[:n])
                if found is not None:
                    return found
        if self._verbal_lens:
            for head in self._verb_prefixes:
                if word.startswith(head) and size - len(head) >= 3:
                    core = word[len(head) :]
                    if self.allowed(core):
                        continue
                    for n in self._verbal_lens:
                        found = self.prefix.get(core[:n]) if n <= len(core) else None
                        if found is not None and found.verbal:
                            return found
        return None

    # Derived indexes -------------------------------------------------------------------

    def collapsed(self) -> Index:
        """The same words with doubled letters squeezed (matches 'хуууй', 'diiick')."""
        out = Index()
        for key, entry in self.exact.items():
            squeezed = collapse(key)
            if len(squeezed) >= 3:
                out.exact.setdefault(squeezed, entry)
        for key, entry in self.prefix.items():
            squeezed = collapse(key)
            if len(squeezed) >= 3:
                out.prefix.setdefault(squeezed, entry)
        out.allow_exact = {collapse(k) for k in self.allow_exact}
        out.allow_prefix = {collapse(k) for k in self.allow_prefix}
        return out.finish()

    def masked(self) -> Index:
        """Every word with one or two letters hidden by ``*`` (matches 'х*й', 'p**n')."""
        out = Index()
        for source, target in ((self.exact, out.exact), (self.prefix, out.prefix)):
            for key, entry in source.items():
                if len(key) < 3:
                    continue
                hide = 2 if len(key) >= 4 else 1
                for count in range(1, hide + 1):
                    for spots in itertools.combinations(range(len(key)), count):
                        letters = list(key)
                        for spot in spots:
                            letters[spot] = WILDCARD
                        target.setdefault("".join(letters), entry)
        return out.finish()

    def skeletons(self, collisions: frozenset[str]) -> Index:
        """Cyrillic words by sound skeleton, to meet Latin transliteration ('siski')."""
        out = Index()
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


def build_lexicon_indexes() -> tuple[Index, Index]:
    """The Russian/Ukrainian and the English index built from ``lexicon``."""
    ru = Index(verb_prefixes=lexicon.VERB_PREFIXES)
    en = Index()
    for rule, patterns in lexicon.BLOCK.items():
        for pattern in patterns.split():
            (ru if _is_cyrillic(pattern) else en).add(pattern, Entry(rule))
    for patterns, rule, after, before, only_before in lexicon.CONTEXT:
        entry = Entry(rule, after, before, only_before)
        for pattern in patterns.split():
            (ru if _is_cyrillic(pattern) else en).add(pattern, entry)
    for pattern in lexicon.ALLOW.split():
        (ru if _is_cyrillic(pattern) else en).allow(pattern)
    return ru.finish(), en.finish()
