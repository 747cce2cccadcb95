"""The builtin planner: pictures from the library, composed from the words of a request, and
the cards.

The library (:mod:`drawstreamd.plan.library`) holds one plan per subject with RU/EN keywords.
A request naming one subject gets that subject's own picture; one that names two or three,
a colour, an accessory, a setting or "many" gets a picture composed of library subjects
(:mod:`drawstreamd.plan.request` reads the words, :mod:`drawstreamd.plan.compose` lays it
out with ``use`` steps). Anything else is written on a text card.

Everything here is an ordinary DSL plan, drawn like any other: the library plans double as
few-shot examples for the LLM (:func:`examples_for` picks those nearest to a request), and
the cards (text, "You are too small", error) are plans too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from drawstreamd.plan import compose, request
from drawstreamd.plan.dsl import LIMITS, Group, Plan, Step, parse_step, validate
from drawstreamd.plan.library import SUBJECTS, Entry, fold

if TYPE_CHECKING:
    from collections.abc import Mapping

    from drawstreamd.plan.base import PlanBuffer

LIBRARY: Final[Mapping[str, Entry]] = SUBJECTS
"""The library's subjects by name."""


def match(message: str) -> tuple[str, Plan] | None:
    """The library subject named first in ``message`` and its own picture, if any."""
    name = request.index_of(LIBRARY).first(message)
    return (name, LIBRARY[name].plan) if name is not None else None


def composed(message: str, entries: Mapping[str, Entry] = LIBRARY) -> dict[str, object] | None:
    """The plan for ``message`` as written with ``use`` steps (decoded JSON), or ``None``
    when it names no subject of ``entries``."""
    req = request.read(message, entries)
    if not req.subjects:
        return None
    if req.plain:
        return {"v": 1, "seed": entries[req.subjects[0]].plan.seed, "bg": None,
                "steps": [{"op": "use", "n": req.subjects[0]}]}  # fmt: skip
    return compose.compose(req, entries)


def picture(message: str, entries: Mapping[str, Entry] = LIBRARY) -> Plan | None:
    """The library's picture for ``message`` (a subject's own, or composed), if any."""
    req = request.read(message, entries)
    if not req.subjects:
        return None
    if req.plain:
        return entries[req.subjects[0]].plan
    plan, _ = validate(compose.compose(req, entries), subjects=entries)
    return plan


# ---------------------------------------------------------------------------- cards
# The renderer wraps the text for real (``Text.w``); here the card only has to pick a scale
# and a length that surely fit. The font is 7 px high, 9 px per line, and at most 6 px per
# letter including the gap (7 for Щ), so this estimate never has fewer lines than the real one.
_CARD_W: Final = 84
_CARD_H: Final = 84


def _advance(ch: str) -> int:
    return 7 if ch in "щЩ" else 6


def _lines(text: str, scale: int) -> int:
    """Upper bound of the lines the renderer's greedy wrap makes at ``scale``."""
    width = _CARD_W // scale + 1  # in units of an unscaled glyph advance
    lines, cur = 0, 0
    for word in text.split():
        need = sum(_advance(ch) for ch in word)
        if cur and cur + _advance(" ") + need <= width:
            cur += _advance(" ") + need
            continue
        lines += 1
        cur = 0
        for ch in word:  # over-long words are broken by letters
            if cur and cur + _advance(ch) > width:
                lines += 1
                cur = 0
            cur += _advance(ch)
    return max(lines, 1)


def _fits(text: str, scale: int) -> bool:
    return _lines(text, scale) * 9 * scale - 2 * scale <= _CARD_H


def _card(text: str, *, bg: str, frame: str, ink: str, seed: int) -> Plan:
    text = " ".join(text.split()) or "?"
    if len(text) > LIMITS.TEXT_CHARS:
        text = text[: LIMITS.TEXT_CHARS - 3].rstrip() + "..."
    words_fit = all(sum(_advance(ch) for ch in w) <= _CARD_W // 2 + 1 for w in text.split())
    scale = 2 if words_fit and _fits(text, 2) else 1
    while not _fits(text, scale):
        text = text.removesuffix("...")
        text = (text.rsplit(" ", 1)[0] if " " in text else text[:-4]).rstrip() + "..."
    steps: list[Step] = [
        parse_step({"op": "rect", "x": 3, "y": 3, "w": 90, "h": 90, "c": frame, "f": False}),
        parse_step(
            {
                "op": "text",
                "x": 48,
                "y": 48,
                "t": text,
                "c": ink,
                "s": scale,
                "w": _CARD_W,
                "al": "middle",
                "ms": min(3000, 300 + 25 * len(text)),
            }
        ),
    ]
    return Plan(seed=seed, bg=bg, steps=steps)


def text_card(text: str) -> Plan:
    """The message itself written on a card (for anything the planners cannot draw)."""
    return _card(text, bg="dark_blue", frame="lavender", ink="white", seed=11)


def too_small_card() -> Plan:
    """The card shown instead of NSFW or hateful requests."""
    return _card("You are too small", bg="dark_purple", frame="pink", ink="white", seed=12)


def error_card(reason: str = "Oops! Drawing failed") -> Plan:
    """The card shown when planning or drawing failed."""
    return _card(reason, bg="dark_grey", frame="red", ink="white", seed=13)


class BuiltinPlanner:
    """Planner that draws library plans and writes everything else on a text card."""

    name = "builtin"

    async def plan(self, message: str, out: PlanBuffer) -> None:
        out.fill(*plan_for(message))


def plan_for(message: str) -> tuple[Plan, str]:
    """The library's picture for ``message``, else the message on a text card; with its origin."""
    plan = picture(message)
    return (plan, "builtin") if plan is not None else (text_card(message), "card")


# ---------------------------------------------------------------------------- few-shot
DEFAULT_EXAMPLES: Final = ("cat", "house", "rocket")
"""Shown when nothing in the library resembles a request."""
COMPOSED_ASKS: Final = ("нарисуй синего кота в короне", "draw a blue cat wearing a crown")
"""The composed example every prompt ends with (it shows the ``use`` step at work)."""
_LIKE: Final = 0.6
"""Least similarity (see :func:`_similarity`) for a subject to count as close to a request."""
_FILLER: Final = frozenset(
    ["нарисуй", "нарисуйте", "нарисовать", "пожалуйста", "draw", "please", "plz", "pls"]
)


def _bigrams(text: str) -> frozenset[str]:
    padded = f"^{text}"
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


_Keyword = tuple[str, str, bool, frozenset[str]]
"""(subject, keyword without its star, was it a star keyword, its letter pairs)."""
_KEYWORDS: dict[int, tuple[Mapping[str, Entry], dict[str, list[_Keyword]]]] = {}


def _keywords(entries: Mapping[str, Entry]) -> dict[str, list[_Keyword]]:
    """Every keyword of 3+ letters by its first letter (a typo rarely hits the first one)."""
    found = _KEYWORDS.get(id(entries))
    if found is not None and found[0] is entries:
        return found[1]
    table: dict[str, list[_Keyword]] = {}
    for entry in entries.values():
        for k in entry.keywords:
            core = k.removesuffix("*")
            if len(core) >= 3 and core.isalpha():
                table.setdefault(core[0], []).append(
                    (entry.name, core, k.endswith("*"), _bigrams(core))
                )
    if len(_KEYWORDS) >= 8:
        _KEYWORDS.clear()
    _KEYWORDS[id(entries)] = (entries, table)
    return table


def _similarity(word: str, core: str, stem: bool, pairs: frozenset[str]) -> float:
    """Dice similarity of letter pairs: a typo, a diminutive or a missing word form still
    scores high. A ``*`` keyword is compared with as much of the word as its stem (plus one
    letter, for a letter typed twice); a word much longer than a whole-word keyword is
    another word ("hedgehog" is no "hedge")."""
    shorter = 1.0
    if stem:
        word = word[: len(core) + 1]
    elif len(word) > len(core) + 2:
        shorter = len(core) / len(word)
    mine = _bigrams(word)
    return shorter * 2 * len(mine & pairs) / (len(mine) + len(pairs))


def nearest(message: str, n: int, entries: Mapping[str, Entry] = LIBRARY) -> list[str]:
    """Up to ``n`` library subjects closest to ``message``: those its words name (in order),
    then those with a keyword most like one of its words (:func:`_similarity`)."""
    found = [s for s in request.read(message, entries).subjects if s in entries][:n]
    words = [w for w in request.words(message) if len(w) >= 3 and w.isalpha()]
    words = [w for w in words if w not in _FILLER]
    if len(found) >= n or not words:
        return found
    table = _keywords(entries)
    scores: dict[str, float] = {}
    for word in words:
        for name, core, stem, pairs in table.get(word[0], ()):
            if name not in found:
                scores[name] = max(scores.get(name, 0.0), _similarity(word, core, stem, pairs))
    ranked = sorted(scores, key=lambda name: -scores[name])
    return found + [name for name in ranked if scores[name] >= _LIKE][: n - len(found)]


def _ask(entry: Entry, russian: bool) -> str:
    english = [a for a in entry.asks if a.isascii()]
    return entry.asks[0] if russian or not english else english[0]


EXAMPLE_BYTES: Final = 1600
"""The subjects' example plans together stay within this many bytes of JSON (about 750
tokens), so the prompt stays short whatever the request (bench/prompt_tokens.py). A subject
too big for it is still in reach: the model may ``use`` it by name."""


def writable(plan: Plan, points: int, shapes: int) -> bool:
    """Could a model held to these caps have written ``plan`` (points per step, shapes per
    group)? Only such plans are shown to it as examples."""
    for step in plan.steps:
        kids = step.s if isinstance(step, Group) else [step]
        if len(kids) > shapes or any(len(getattr(k, "p", ())) > points for k in kids):
            return False
    return True


def examples_for(
    message: str,
    n: int = 3,
    entries: Mapping[str, Entry] = LIBRARY,
    *,
    points: int = LIMITS.POINTS,
    shapes: int = LIMITS.GROUP_CHILDREN,
) -> list[tuple[str, str]]:
    """Up to ``n`` few-shot (request, compact plan JSON) pairs for ``message``: the library
    subjects nearest to it (:func:`nearest`; the defaults after them) whose plans fit
    :data:`EXAMPLE_BYTES` together and the model's caps (``points``, ``shapes``, see
    :func:`writable`), and last a picture composed with ``use`` steps. The requests are in
    the message's language."""
    russian = any("а" <= ch <= "я" for ch in fold(message))
    names = nearest(message, n + 2, entries)
    names += [d for d in DEFAULT_EXAMPLES if d in entries and d not in names]
    ask = COMPOSED_ASKS[0 if russian else 1]
    plan = composed(ask, entries)
    room, pairs = EXAMPLE_BYTES, list[tuple[str, str]]()
    for name in names:
        example = entries[name].example
        fits = writable(entries[name].plan, points, shapes)
        if fits and len(pairs) < n - 1 and len(example.encode()) <= room:
            pairs.append((_ask(entries[name], russian), example))
            room -= len(example.encode())
    if n > 0 and plan is not None:
        pairs.append((ask, compact_json(plan)))
    return pairs[:n]


def compact_json(plan: dict[str, object]) -> str:
    import msgspec

    return msgspec.json.encode(plan).decode()


def few_shot(n: int) -> list[tuple[str, str]]:
    """``n`` (request, compact plan JSON) pairs from the library, the default examples first,
    alternating RU and EN (the same for every request: see :func:`examples_for`)."""
    names = [d for d in DEFAULT_EXAMPLES if d in LIBRARY]
    names += [name for name in LIBRARY if name not in names]
    pairs: list[tuple[str, str]] = []
    for i, name in enumerate(names[:n]):
        entry = LIBRARY[name]
        pairs.append((entry.asks[i % len(entry.asks)], entry.example))
    return pairs
