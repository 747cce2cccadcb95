"""What may wait, what may air, and what the audience sees of a donation.

The gatekeeper's word is taken at the door (:meth:`Gate.assess`, when a donation is
journaled): on the message and on the donor's name, which viewers choose on every platform.
Everything the audience can see — the window's HUD, the overlay, the gallery, text drawn in
the picture — takes viewer text only through :func:`audience_view`; the operator's surfaces
(``drawstreamctl``, the token-guarded HTTP API) show the raw message, the verdict and the rule.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from drawstreamd.model import ANONYMOUS, Approval, Assessment, Check, QueueItem, Verdict

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.model import Donation


class WordVerdict(Protocol):
    @property
    def nsfw(self) -> bool: ...
    @property
    def rule(self) -> str | None: ...


class Words(Protocol):
    """The word filter (:class:`drawstreamd.gatekeeper.filter.Gatekeeper`)."""

    def check(self, text: str) -> WordVerdict: ...
    def mask(self, text: str) -> str: ...


ANONYMOUS_TEXT = {"ru": "Аноним", "en": "Anonymous"}
REFUSED_TEXT = {"ru": "Сообщение скрыто", "en": "Message hidden"}
"""The neutral line shown in place of a refused message (``HUD_REFUSED_TEXT`` overrides)."""


def _doubtful(verdict: WordVerdict) -> bool:
    return bool(getattr(verdict, "doubtful", False))


def _check_name(words: Words, name: str) -> WordVerdict:
    check_name = getattr(words, "check_name", None)
    return check_name(name) if check_name is not None else words.check(name)


def donor_key(name: str) -> str:
    """How donors are compared for bans: case, width and spacing do not matter."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


class Gate:
    """The door every donation passes: verdicts, the model's second opinion, approval."""

    def __init__(self, settings: Settings, words: Words, *, model_check: bool = False) -> None:
        self.settings = settings
        self.words = words
        self.model_check = model_check
        """Whether a message the words pass still waits for the model's answer."""

    def assess(self, donation: Donation) -> Assessment:
        word = self.words.check(donation.message)
        name = _check_name(self.words, donation.donor) if donation.donor != ANONYMOUS else None
        name_rule = name.rule if name is not None and name.nsfw else None
        if word.nsfw:
            return Assessment(verdict=Verdict.REFUSED, rule=word.rule, name_rule=name_rule)
        verdict = Verdict.DOUBTFUL if _doubtful(word) else Verdict.ALLOWED
        return Assessment(
            verdict=verdict,
            rule=word.rule if verdict is Verdict.DOUBTFUL else None,
            name_rule=name_rule,
            check=Check.PENDING if self.model_check else Check.OFF,
        )

    def reassess(self, item: QueueItem) -> bool:
        """Apply the current word lists to a waiting item; True when its verdict changed.

        A refusal by the model stands: the word lists cannot overrule it. A message the words
        refused before and pass now is put to the model, when the model check is on.
        """
        if item.rule is not None and item.rule.startswith("model:"):
            return False
        fresh = self.assess(item.donation)
        check = item.check
        if fresh.verdict is Verdict.REFUSED:
            check = Check.OFF if check is Check.PENDING else check
        elif item.verdict is Verdict.REFUSED and self.model_check:
            check = Check.PENDING  # it was never put to the model
        before = (item.verdict, item.rule, item.name_rule, item.check)
        item.verdict, item.rule, item.name_rule, item.check = (
            fresh.verdict,
            fresh.rule,
            fresh.name_rule,
            check,
        )
        return before != (item.verdict, item.rule, item.name_rule, item.check)

    def text_rule(self, text: str) -> str | None:
        """The rule refusing ``text`` drawn in a picture, or None when it may be drawn."""
        verdict = self.words.check(text)
        return (verdict.rule or "refused") if verdict.nsfw else None


@dataclass(frozen=True, slots=True)
class Shown:
    """A donation as the audience may see it."""

    donor: str
    message: str
    """The message (masked when ``HUD_MASK_PROFANITY``), the neutral line in place of a refused
    one, or "" while it has not passed every check yet."""


def passed(item: QueueItem) -> bool:
    """Whether the message has passed everything that must pass before it airs."""
    if item.verdict is Verdict.REFUSED or not item.check.settled:
        return False
    return item.approval is not Approval.WAITING


def refused_text(settings: Settings) -> str:
    return settings.HUD_REFUSED_TEXT or REFUSED_TEXT.get(settings.LOCALE, REFUSED_TEXT["en"])


def anonymous_text(settings: Settings) -> str:
    return ANONYMOUS_TEXT.get(settings.LOCALE, ANONYMOUS_TEXT["en"])


def audience_view(item: QueueItem, settings: Settings, words: Words | None) -> Shown:
    """The one answer to "what may the audience see of this donation"."""
    d = item.donation

    def masked(text: str) -> str:
        return words.mask(text) if words is not None and settings.HUD_MASK_PROFANITY else text

    donor = d.donor
    if item.name_rule is not None or donor == ANONYMOUS or not donor.strip():
        donor = anonymous_text(settings)
    else:
        donor = masked(donor)
    if item.verdict is Verdict.REFUSED:
        message = refused_text(settings)
    elif passed(item):
        message = masked(d.message)
    else:
        message = ""
    return Shown(donor, message)
