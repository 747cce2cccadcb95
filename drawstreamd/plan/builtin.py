"""The builtin planner: a hand-made library of plans matched by RU/EN keywords, and the cards.

The library lives in ``library.json`` next to this module: ``name -> {"kw": [...], "ask":
[...], "plan": {...}}``. A keyword matches a whole word of the message; a trailing ``*``
matches any ending (``котик*`` catches котика, котиков…). Words are compared lower-cased with
``ё`` folded to ``е``. The subject mentioned first in the message wins.

Everything here is an ordinary DSL plan, drawn like any other: the library plans double as
few-shot examples for the LLM, and the cards (text, "You are too small", error) are plans too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Final

from drawstreamd.plan.dsl import LIMITS, Plan, Step, encode, parse_step, validate

if TYPE_CHECKING:
    from drawstreamd.plan.base import PlanBuffer

_WORD = re.compile(r"[0-9a-zа-я]+")


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    keywords: tuple[str, ...]
    asks: tuple[str, ...]
    """Example requests (RU first) used for few-shot prompts."""
    plan: Plan


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def _load() -> dict[str, Entry]:
    raw = json.loads(resources.files(__package__).joinpath("library.json").read_text("utf-8"))
    out: dict[str, Entry] = {}
    for name, item in raw.items():
        plan, errors = validate(item["plan"])
        if plan is None or errors:
            raise ValueError(f"library plan {name!r} is invalid: {errors}")
        out[name] = Entry(name, tuple(_fold(k) for k in item["kw"]), tuple(item["ask"]), plan)
    return out


LIBRARY: Final[dict[str, Entry]] = _load()
"""The hand-made plans by name."""


def _keyword_matches(keyword: str, word: str) -> bool:
    if keyword.endswith("*"):
        return word.startswith(keyword[:-1])
    return word == keyword


def match(message: str) -> tuple[str, Plan] | None:
    """The library plan for the subject named first in ``message``, if any."""
    for word in _WORD.findall(_fold(message)):
        for entry in LIBRARY.values():
            if any(_keyword_matches(k, word) for k in entry.keywords):
                return entry.name, entry.plan
    return None


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
    found = match(message)
    return (found[1], "builtin") if found is not None else (text_card(message), "card")


def few_shot(n: int) -> list[tuple[str, str]]:
    """``n`` (request, compact plan JSON) pairs from the library, alternating RU and EN."""
    pairs: list[tuple[str, str]] = []
    for i, entry in enumerate(LIBRARY.values()):
        if len(pairs) >= n:
            break
        ask = entry.asks[i % len(entry.asks)]
        pairs.append((ask, encode(entry.plan).decode()))
    return pairs
