"""Rules that need more than one kind of word in a message, and the doubtful verdicts.

Many refusals are not in one word: "a black man hanging from a tree", "a jew with a hook nose
and money bags", "a little girl in a bikini posing", "a woman wearing nothing". A *group* is a
set of words and stems (listed in combo_lexicon.py); each piece of a message is looked up
once (per chunk, cached) and marked with the groups it belongs to. A *combination* then fires
when the message holds a word of each group it lists (anywhere), a run of consecutive words
when it has one (``seq``; one filler word may sit between two of them), and no word of its
``unless`` groups. The same machinery gives the doubtful verdicts: requests that pass in
automatic mode but that a moderator should look at (swimwear, kissing, blood, politicians…).

Matching is on the main reading of each word (look-alikes and leet undone, see
``normalize.main_form``); the single words these rules are built around (slurs, "noose",
"loli") are in lexicon.py, where every disguise is undone.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, NamedTuple, Protocol

from drawstreamd.gatekeeper.combo_lexicon import (
    AGE_RE,
    COMMON,
    DERIVED_SEQ,
    DOUBTFUL,
    GROUPS,
    MINOR,
    REFUSALS,
    SKIPPABLE,
    Combo,
)
from drawstreamd.gatekeeper.index import expand

if TYPE_CHECKING:
    from collections.abc import Sequence

_END = "<end>"
_NONE: frozenset[str] = frozenset()


class _Compiled(NamedTuple):
    rule: str
    also: frozenset[str]
    seq: tuple[str, ...]
    unless: frozenset[str]

    @property
    def needs(self) -> frozenset[str]:
        return self.also | {slot for slot in self.seq if slot != _END}

    @property
    def trigger(self) -> str:
        wanted = [*sorted(self.also), *(slot for slot in self.seq if slot != _END)]
        return next((group for group in wanted if group not in COMMON), wanted[0])


class Marks:
    """Every group word compiled: which groups a word belongs to, and the combinations."""

    def __init__(self) -> None:
        self._exact: dict[str, set[str]] = {}
        self._prefix: dict[str, dict[str, set[str]]] = {}  # by the first two letters
        for name, patterns in GROUPS.items():
            self._add_group("@" + name, patterns)
        self.refusals = tuple(self._compile(c) for c in REFUSALS)
        self.doubtful = tuple(self._compile(c) for c in DOUBTFUL)
        self._derived = tuple(("@" + group, self._slots(seq)) for group, seq in DERIVED_SEQ)
        self._by_trigger = (_by_trigger(self.refusals), _by_trigger(self.doubtful))
        self._exact_groups = {word: frozenset(names) for word, names in self._exact.items()}
        self._heads = {
            head: tuple((stem, frozenset(names)) for stem, names in stems.items())
            for head, stems in self._prefix.items()
        }
        # Groups that make a message worth a look at the combinations.
        self.keys = frozenset(
            {*self._by_trigger[0], *self._by_trigger[1], *(seq[0] for _, seq in self._derived)}
        )
        self._frozen: dict[str, frozenset[str]] = {}

    def _add_group(self, name: str, patterns: str) -> None:
        for pattern in patterns.split():
            for word in expand(pattern):
                if word.endswith("*"):
                    stem = word[:-1]
                    self._prefix.setdefault(stem[:2], {}).setdefault(stem, set()).add(name)
                else:
                    self._exact.setdefault(word, set()).add(name)

    def _slot(self, text: str) -> str:
        """A group name for one slot: '@name' as is, 'a|b*' becomes a group of its own."""
        if text.startswith("@") or text == _END:
            return text
        if "@" in text:
            raise ValueError(f"a group cannot be one of several choices: {text}")
        self._add_group(text, text.replace("|", " "))
        return text

    def _slots(self, text: str) -> tuple[str, ...]:
        return tuple(self._slot(part) for part in text.split())

    def _compile(self, combo: Combo) -> _Compiled:
        return _Compiled(
            combo.rule,
            frozenset(self._slots(combo.also)),
            self._slots(combo.seq),
            frozenset(self._slots(combo.unless)),
        )

    def of(self, word: str) -> frozenset[str]:
        """The groups a word (in its main reading) belongs to."""
        found = self._frozen.get(word)
        if found is None:
            found = self._exact_groups.get(word, _NONE)
            for stem, names in self._heads.get(word[:2], ()):
                if word.startswith(stem):
                    found = found | names
            if len(self._frozen) < 100_000:
                self._frozen[word] = found
        return found

    def present(self, message: Message) -> set[str]:
        """Groups in the message, with those that come from runs of words and from ages."""
        present = message.groups
        for group, seq in self._derived:
            if seq[0] in present and _seq_at(seq, message) is not None:
                present.add(group)
        if "@" + MINOR not in present and AGE_RE.search(message.folded):
            present.add("@" + MINOR)
        return present

    def has_minor(self, present: set[str]) -> bool:
        return "@" + MINOR in present

    def refusal(self, present: set[str], message: Message) -> str | None:
        return _first(self.refusals, self._by_trigger[0], present, message)

    def doubt(self, present: set[str], message: Message) -> str | None:
        return _first(self.doubtful, self._by_trigger[1], present, message)


class Marked(Protocol):
    """What combinations need of a chunk: its words and, per word, its groups (or ())."""

    @property
    def words(self) -> tuple[str, ...]: ...

    @property
    def marks(self) -> tuple[frozenset[str], ...]: ...


class Message:
    """The groups of one message; its words in order are built only when a run is looked for."""

    def __init__(self, folded: str, chunks: Sequence[Marked]) -> None:
        self.folded = folded
        self._chunks = chunks
        self.groups: set[str] = set().union(*(m for c in chunks for m in c.marks))
        self._lists: tuple[list[str], list[frozenset[str]]] | None = None

    def lists(self) -> tuple[list[str], list[frozenset[str]]]:
        if self._lists is None:
            chunks = self._chunks
            words = list(chain.from_iterable(c.words for c in chunks))
            marks = list(chain.from_iterable(c.marks or (_NONE,) * len(c.words) for c in chunks))
            self._lists = words, marks
        return self._lists


def _by_trigger(combos: tuple[_Compiled, ...]) -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for number, combo in enumerate(combos):
        found.setdefault(combo.trigger, []).append(number)
    return {group: tuple(numbers) for group, numbers in found.items()}


def _first(
    combos: tuple[_Compiled, ...],
    by_trigger: dict[str, tuple[int, ...]],
    present: set[str],
    message: Message,
) -> str | None:
    candidates = sorted(n for group in present for n in by_trigger.get(group, ()))
    for number in candidates:
        combo = combos[number]
        if not combo.needs <= present or combo.unless & present:
            continue
        if combo.seq and _seq_at(combo.seq, message) is None:
            continue
        return combo.rule
    return None


def _seq_at(seq: tuple[str, ...], message: Message) -> int | None:
    """Where the slots of ``seq`` match consecutive words (one filler may sit between)."""
    words, marks = message.lists()
    for start, groups in enumerate(marks):
        if seq[0] not in groups:
            continue
        at = start + 1
        for slot in seq[1:]:
            if slot == _END:
                if at != len(words):
                    break
                continue
            if at < len(words) and slot in marks[at]:
                at += 1
            elif at + 1 < len(words) and words[at] in SKIPPABLE and slot in marks[at + 1]:
                at += 2
            else:
                break
        else:
            return start
    return None
