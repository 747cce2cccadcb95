"""The gatekeeper: is a donation message a request for sexual content or a hate symbol?

``Gatekeeper.check`` folds the message (normalize.py), reads every word as Cyrillic and as
Latin (look-alikes, leetspeak, masks, repeats, transliteration) against the compiled lexicon
(rules.py, index.py, lexicon.py), then looks across words: context rules keep idioms and
innocent neighbours apart ("член команды", "blue tit"), phrases ("без одежды"), words split
by spaces ("х у й", "свасти ку"), emoji pairs and glued words. Every verdict names the rule
that fired. Cost is linear in the message length; results per word and chunk are cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import TYPE_CHECKING

from drawstreamd.gatekeeper import lexicon, names
from drawstreamd.gatekeeper.combos import Message
from drawstreamd.gatekeeper.index import Entry, Index
from drawstreamd.gatekeeper.normalize import TO_CYR_TABLE, TO_LAT_TABLE, fold, main_form
from drawstreamd.gatekeeper.rules import (
    COMBO,
    HIT,
    MARKS,
    PHRASE,
    SHORT,
    SINGLE,
    Chunk,
    Rules,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

# Donation Alerts messages are up to about 300 characters. Past this many characters
# of one message, only word-by-word checks in the usual reading and the glued-substring search
# run (they are enough for 100 KB in well under 50 ms; see bench/gatekeeper.py).
FULL_CHECK_CHARS = 1024
_CYRILLIC_RE = re.compile(r"[а-яєіїґ]")
# Three or more single letters in a row, each standing alone ('х у й').
_SPELLED_RE = re.compile(r"(?<!\S)(?:\w\s+){2,}\w(?!\S)")
# Pictures typed with keys: 8===D, (.)(.), (.Y.)
_ASCII_PENIS_RE = re.compile(r"8\s*={2,}\s*[dэ>з3]|[cсє<]\s*={2,}\s*8")
_ASCII_BREASTS_RE = re.compile(r"\(\s*[.*]\s*\)\s*\(\s*[.*]\s*\)|\(\s*\.\s*[yу]\s*\.\s*\)")
_ADULT_RE = re.compile(r"(?<![\d.,])18\s?\+")
# '(((them)))': the antisemitic echo (a sad '(((' alone is common in Russian chat).
_ECHO_RE = re.compile(r"\({3}\s*\w[^()]{0,40}\){3}")
_LATINISH_RE = re.compile(r"[a-z0-9@$!|іїєґў]")
# Letters of scripts the stream does not draw as letters (CJK, Georgian, Hebrew…): the HUD and
# the picture show them as boxes, so between two letters they are fillers like emoji.
_UNDRAWN_RE = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f\u0400-\u052f]")
_BOX = "\u25a1"
_ARTICLES = frozenset({"a", "an", "the", "this", "that", "such", "total", "complete"})
_WORD_RE = re.compile(r"[\w@$*!]+")
_PROFANITY: list[Index] = []  # built on the first mask() call


def _profanity() -> Index:
    if not _PROFANITY:
        index = Index()
        for pattern in lexicon.PROFANITY.split():
            index.add(pattern, Entry("profanity"))
        _PROFANITY.append(index.finish())
    return _PROFANITY[0]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a message must not be drawn, and the rule that decided it.

    ``nsfw`` is the refusal. ``doubtful`` marks a request that passes in automatic mode but
    that a moderator should look at (swimwear, kissing, blood, politicians…); ``rule`` then
    names the borderline rule ('doubtful:swimwear'). A refusal always wins over a doubt.
    """

    nsfw: bool
    rule: str | None
    doubtful: bool = False


ALLOWED = Verdict(False, None)


class Gatekeeper:
    """Classifies donation messages; safe to share between threads and tasks.

    ``extra_block`` adds words (``word`` or ``stem*``) and phrases (several words) that block
    with the rule ``config:block``; ``extra_allow`` adds words that never block.
    """

    def __init__(self, extra_block: Iterable[str] = (), extra_allow: Iterable[str] = ()) -> None:
        self._rules = Rules(extra_block, extra_allow)

    def reload(self, extra_block: Iterable[str], extra_allow: Iterable[str]) -> None:
        """Swap in new config word lists; checks running meanwhile finish with the old ones."""
        self._rules = Rules(extra_block, extra_allow)

    def check(self, text: str) -> Verdict:
        """Decide on one message; linear in its length."""
        verdict = self._check(text)
        if not verdict.nsfw and ("\u202e" in text or "\u2067" in text):
            # A right-to-left override shows 'йух' as 'хуй': read it the way it is shown too.
            shown = self._check(text[::-1])
            if shown.nsfw or not verdict.doubtful:
                verdict = shown
        if not verdict.nsfw and not text.isascii() and _UNDRAWN_RE.search(text):
            # 'х中у中й' is shown as 'х□у□й': read it that way too.
            boxed = self._check(_UNDRAWN_RE.sub(_BOX, text))
            if boxed.nsfw:
                verdict = boxed
        return verdict

    def _check(self, text: str) -> Verdict:
        rules = self._rules
        folded = fold(text)
        rule = _symbols(folded)
        doubt = None
        if rule is None:
            head, tail = folded, ""
            if len(folded) > FULL_CHECK_CHARS:
                cut = folded.rfind(" ", 0, FULL_CHECK_CHARS)
                cut = cut if cut > 0 else FULL_CHECK_CHARS
                head, tail = folded[:cut], folded[cut:]
            cyr_context = _CYRILLIC_RE.search(head) is not None
            # Chunks of bare punctuation are dropped: 'х . у . й' is a run of letters.
            chunks = [c for c in (rules.chunk(t, cyr_context) for t in head.split()) if c.words]
            flags = 0
            for chunk in chunks:
                flags |= chunk.flags
            if flags & ~COMBO:
                rule = _across_words(rules, chunks, cyr_context)
            if flags & COMBO or (rule is not None and rule.startswith("sexual:")):
                rule, doubt = _combinations(chunks, head, rule)
            if rule is None and tail:
                rule = next(filter(None, map(rules.quick, set(tail.split()))), None)
                if rule is None:
                    rule = _spelled_runs(rules, tail)
        if rule is not None:
            return Verdict(True, rule)
        return ALLOWED if doubt is None else Verdict(False, doubt, doubtful=True)

    def check_name(self, name: str) -> Verdict:
        """Decide on a donor's name: refused for slurs, hate codes and sexual words in it.

        A handle has no request in it; it is read as words (names.py: 'xXpussySlayerXx' is
        'pussy slayer', 'Adolf_1488' is 'adolf 1488') and judged like a message, plus a few
        stems that stay refused glued inside it. Never doubtful.
        """
        for words in names.readings(name):
            verdict = self.check(words)
            if verdict.nsfw:
                return verdict
            rule = names.hate_number(words)
            if rule is not None:
                return Verdict(True, rule)
        rule = names.glued_rule(name)
        return ALLOWED if rule is None else Verdict(True, rule)

    def mask(self, text: str) -> str:
        """The message with profanity and blocked words starred out for the HUD ('х**')."""
        rules = self._rules

        def star(match: re.Match[str]) -> str:
            word = match.group()
            core = word.strip("!*")
            if len(core) < 2:
                return word
            folded = fold(core)
            info = rules.chunk(folded, _CYRILLIC_RE.search(folded) is not None)
            readings = (folded.translate(TO_CYR_TABLE), folded.translate(TO_LAT_TABLE))
            clean = not info.flags & HIT
            if clean and not any(_profanity().lookup(r) for r in readings):
                return word
            lead = word.index(core[0])
            return word[: lead + 1] + "*" * (len(word) - lead - 1)

        return _WORD_RE.sub(star, text)


def _combinations(
    chunks: list[Chunk], folded: str, rule: str | None
) -> tuple[str | None, str | None]:
    """(refusal, doubt) once the word groups of combos.py are counted in: a sexual refusal in
    a message about a minor becomes minors:sexual; several kinds of words may refuse together
    ('a black man hanging from a tree'); with no refusal, a doubtful rule may apply."""
    if rule is not None and not rule.startswith("sexual:"):
        return rule, None
    message = Message(folded, chunks)
    present = MARKS.present(message)
    if rule is not None:
        return (lexicon.MINORS if MARKS.has_minor(present) else rule), None
    rule = MARKS.refusal(present, message)
    if rule is not None:
        return rule, None
    return None, MARKS.doubt(present, message)


def _symbols(folded: str) -> str | None:
    if "ᛋᛋ" in folded or "ϟϟ" in folded:
        return lexicon.SS
    if any(symbol in folded for symbol in lexicon.SWASTIKA_CHARS):
        return lexicon.SWASTIKA
    if any(emoji in folded for emoji in lexicon.EXPLICIT_EMOJI):
        return lexicon.EMOJI
    if sum(emoji in folded for emoji in lexicon.SEXUAL_EMOJI) >= 2:
        return lexicon.EMOJI
    if "👉👌" in folded or "👌👈" in folded:
        return lexicon.EMOJI
    if "+" in folded and _ADULT_RE.search(folded):
        return lexicon.PORN
    if "=" in folded and _ASCII_PENIS_RE.search(folded):
        return lexicon.GENITALS
    if "(" in folded and _ASCII_BREASTS_RE.search(folded):
        return lexicon.BREASTS
    if "(((" in folded and _ECHO_RE.search(folded):
        return lexicon.CARICATURE
    return None


def _across_words(rules: Rules, chunks: list[Chunk], cyr_context: bool) -> str | None:
    """Context rules, phrases and split words; only flagged chunks are looked at."""
    words = list(chain.from_iterable(c.words for c in chunks))
    raws = list(chain.from_iterable(c.raws for c in chunks))
    starts = list(accumulate((len(c.words) for c in chunks), initial=0))
    flagged = [i for i, c in enumerate(chunks) if c.flags]
    for i in flagged:
        chunk = chunks[i]
        if not chunk.flags & HIT:
            continue
        start, end = starts[i], starts[i + 1]
        for offset, hit in enumerate(chunk.hits):
            if hit is not None and _fires(hit, words, start + offset, start + offset + 1):
                return hit.rule
        if chunk.whole is not None and _fires(chunk.whole, words, start, end):
            return chunk.whole.rule
    for i in flagged:
        if chunks[i].flags & PHRASE:
            for position in range(starts[i], starts[i + 1]):
                rule = _phrase(rules, words, position)
                if rule:
                    return rule
    return _split_words(rules, chunks, flagged, starts, words, raws, cyr_context)


def _split_words(
    rules: Rules,
    chunks: list[Chunk],
    flagged: list[int],
    starts: list[int],
    words: list[str],
    raws: list[str],
    cyr_context: bool,
) -> str | None:
    """Runs of single letters ('х у й') and halves of a word ('свасти ку', 'пи зда')."""
    run_start = run_end = -1
    for i in [*flagged, len(chunks) + 1]:
        if i < len(chunks) and chunks[i].flags & SINGLE:
            if i == run_end:
                run_end = i + 1
                continue
            rule = _run(rules, words, raws, starts, run_start, run_end, cyr_context)
            if rule:
                return rule
            run_start, run_end = i, i + 1
    rule = _run(rules, words, raws, starts, run_start, run_end, cyr_context)
    if rule:
        return rule
    checked: set[int] = set()
    for i in flagged:
        if not chunks[i].flags & (SHORT | SINGLE):
            continue
        for left in (starts[i] - 1, starts[i + 1] - 1):
            if left in checked or left < 0 or left + 1 >= len(raws):
                continue
            checked.add(left)
            a, b = raws[left], raws[left + 1]
            if min(len(a), len(b)) > 3 or len(a) + len(b) < 3:
                continue
            if words[left] in lexicon.STOPWORDS or words[left + 1] in lexicon.STOPWORDS:
                continue
            if rules.innocent(words[left]) or rules.innocent(words[left + 1]):
                continue  # 'Penistone lad' is not 'penis' split in two
            entry = rules.match_word(a + b, cyr_context)
            if entry is not None and _fires(entry, words, left, left + 2):
                return entry.rule
    return None


def _run(
    rules: Rules,
    words: list[str],
    raws: list[str],
    starts: list[int],
    first: int,
    end: int,
    cyr_context: bool,
) -> str | None:
    if end - first < 3 or first < 0:
        return None
    begin, stop = starts[first], starts[end]
    # The run may start or end with one-letter words ('draw a n a k e d', 'в х у й').
    heads = [begin]
    while heads[-1] < stop - 3 and words[heads[-1]] in lexicon.STOPWORDS and len(heads) < 3:
        heads.append(heads[-1] + 1)
    ends = [stop]
    while ends[-1] > begin + 3 and words[ends[-1] - 1] in lexicon.STOPWORDS and len(ends) < 3:
        ends.append(ends[-1] - 1)
    spans = [(a, b) for a in heads for b in ends if b - a >= 3]
    if any(rules.innocent(main_form("".join(raws[a:b]))) for a, b in spans):
        return None
    for a, b in spans:
        entry = rules.match_word("".join(raws[a:b]), cyr_context)
        if entry is not None and _fires(entry, words, a, b):
            return entry.rule
    spelled = rules.spelled_out("".join(raws[begin:stop]))
    return spelled.rule if spelled else None


def _spelled_runs(rules: Rules, text: str) -> str | None:
    for match in _SPELLED_RE.finditer(text):
        spelled = rules.spelled_out("".join(match.group().split()))
        if spelled is not None:
            return spelled.rule
    return None


def _phrase(rules: Rules, words: list[str], index: int) -> str | None:
    for tail, rule in rules.phrases_at(words[index]):
        if _tail_follows(tail, words, index + 1):
            return rule
    return None


def _tail_follows(tail: tuple[str, ...], words: list[str], at: int) -> bool:
    """The rest of a phrase from ``words[at]``; one filler word may sit between two of its
    words ('without any clothes')."""
    for part in tail:
        if at < len(words) and _part_matches(part, words[at]):
            at += 1
        elif (
            at + 1 < len(words)
            and words[at] in lexicon.FILLERS
            and _part_matches(part, words[at + 1])
        ):
            at += 2
        else:
            return False
    return True


def _part_matches(part: str, word: str) -> bool:
    return word.startswith(part[:-1]) if part.endswith("*") else word == part


def _at(words: list[str], index: int) -> str | None:
    return words[index] if 0 <= index < len(words) else None


def _neighbour_matches(word: str | None, wanted: tuple[str, ...]) -> bool:
    if word is None:
        return "<end>" in wanted
    for option in wanted:
        if option.endswith("="):
            if word == option[:-1]:
                return True
        elif len(option) <= 2:
            if word == option:
                return True
        elif word.startswith(option):
            return True
    return False


def _fires(entry: Entry, words: list[str], first: int, end: int) -> bool:
    """Does a match over ``words[first:end]`` block, given its neighbours?"""
    if not entry.contextual:
        return True
    prev, nxt = _at(words, first - 1), _at(words, end)
    if entry.after and prev is not None:
        if _neighbour_matches(prev, entry.after):
            return False
        # past an article: 'be a dick', 'such a pussy'
        before_article = _at(words, first - 2) if prev in _ARTICLES else None
        if before_article is not None and _neighbour_matches(before_article, entry.after):
            return False
    if entry.before and (
        _neighbour_matches(nxt, entry.before)
        # one word may come in between: 'членов королевской семьи', 'nude pink lipstick'
        or (nxt is not None and _neighbour_matches(_at(words, end + 1), entry.before))
    ):
        return False
    if entry.near and any(_neighbour_matches(w, entry.near) for w in words):
        return False
    return not entry.only_before or _neighbour_matches(nxt, entry.only_before)
