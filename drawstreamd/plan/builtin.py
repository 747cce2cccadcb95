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
from drawstreamd.plan.dsl import LIMITS, Plan, Step, parse_step, validate
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
_LIKE: Final = 0.34
"""Least trigram similarity for a subject to count as close to a word of the request."""


def _trigrams(word: str) -> frozenset[str]:
    padded = f"^{word}"
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _profile(entry: Entry) -> list[frozenset[str]]:
    words = [k.removesuffix("*") for k in entry.keywords if " " not in k]
    return [_trigrams(w) for w in [*words, *entry.name.split("_")] if len(w) >= 3]


def _similarity(word: frozenset[str], profile: list[frozenset[str]]) -> float:
    return max((len(word & p) / len(word | p) for p in profile), default=0.0)


def nearest(message: str, n: int, entries: Mapping[str, Entry] = LIBRARY) -> list[str]:
    """Up to ``n`` library subjects closest to ``message``: those its words name (in order),
    then those whose keywords look most like its words (character trigrams: catches typos,
    diminutives and word forms the keywords miss)."""
    found = [s for s in request.read(message, entries).subjects if s in entries][:n]
    words = [_trigrams(w) for w in request.words(message) if len(w) >= 3 and w.isalpha()]
    if len(found) < n and words:
        scores = {
            name: max(_similarity(w, _profile(entry)) for w in words)
            for name, entry in entries.items()
            if name not in found
        }
        ranked = sorted(scores, key=lambda name: -scores[name])
        found += [name for name in ranked if scores[name] >= _LIKE][: n - len(found)]
    return found


def _ask(entry: Entry, russian: bool) -> str:
    english = [a for a in entry.asks if a.isascii()]
    return entry.asks[0] if russian or not english else english[0]


def examples_for(
    message: str, n: int = 3, entries: Mapping[str, Entry] = LIBRARY
) -> list[tuple[str, str]]:
    """``n`` few-shot (request, compact plan JSON) pairs for ``message``: the library subjects
    nearest to it (see :func:`nearest`; the defaults when none is), the last one a composed
    picture written with ``use`` steps. Requests are in the message's language."""
    russian = any("а" <= ch <= "я" for ch in fold(message))
    names = nearest(message, n - 1, entries)
    names += [d for d in DEFAULT_EXAMPLES if d in entries and d not in names]
    names += [d for d in entries if d not in names]
    pairs = [(_ask(entries[name], russian), entries[name].example) for name in names[: n - 1]]
    ask = COMPOSED_ASKS[0 if russian else 1]
    plan = composed(ask, entries)
    if n > 0 and plan is not None and plan["steps"] and len(pairs) == n - 1:
        pairs.append((ask, compact_json(plan)))
    elif len(names) >= n:
        pairs.append((_ask(entries[names[n - 1]], russian), entries[names[n - 1]].example))
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
