"""What may wait, what may air, and what the audience sees of a donation.

The gatekeeper's word is taken at the door (:meth:`Gate.assess`, when a donation is
journaled): on the message and on the donor's name, which viewers choose on every platform.
Everything the audience can see — the window's HUD, the overlay, the gallery, text drawn in
the picture — takes viewer text only through :func:`audience_view`; the operator's surfaces
(``drawstreamctl``, the token-guarded HTTP API) show the raw message, the verdict and the rule.
"""

from __future__ import annotations

import logging
import math
import time
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import trio

from drawstreamd.journal import JournalWriteError
from drawstreamd.logs import kv
from drawstreamd.model import ANONYMOUS, Approval, Assessment, Check, QueueItem, Verdict
from drawstreamd.plan import dsl

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus
    from drawstreamd.journal import Journal
    from drawstreamd.model import Donation
    from drawstreamd.planning import Planning
    from drawstreamd.queue import DrawQueue

log = logging.getLogger("drawstreamd.moderation")


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
        self.banned: set[str] = set()
        """Banned donors, by :func:`donor_key` (kept in the journal; loaded at start)."""

    def is_banned(self, donor: str) -> bool:
        return donor != ANONYMOUS and donor_key(donor) in self.banned

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
            approval=Approval.WAITING if self.must_wait(donation, verdict) else None,
        )

    def must_wait(self, donation: Donation, verdict: Verdict) -> bool:
        """Whether ``MODERATION`` holds this donation for a moderator's decision.

        A refused message never waits (it draws the card); ``MODERATION_AUTO_APPROVE_AMOUNT``
        lets donations at or above it through (in the streamer's main currency when the
        source says, else in the donation's own).
        """
        s = self.settings
        if verdict is Verdict.REFUSED or s.MODERATION == "auto":
            return False
        if s.MODERATION == "flagged" and verdict is not Verdict.DOUBTFUL:
            return False
        threshold = s.MODERATION_AUTO_APPROVE_AMOUNT
        amount = donation.amount_main if donation.amount_main is not None else donation.amount
        return threshold is None or amount < threshold

    def reassess(self, item: QueueItem) -> bool:
        """Apply the current word lists and moderation mode to a waiting item; True when its
        verdict or its wait changed.

        A refusal by the model stands: the word lists cannot overrule it. A message the words
        refused before and pass now is put to the model, when the model check is on. An item
        a moderator already approved stays approved; one that waits is let through when the
        new mode would not hold it, and held when it would.
        """
        approval = item.approval
        if approval is not Approval.APPROVED:
            wait = self.must_wait(item.donation, item.verdict)
            approval = Approval.WAITING if wait else None
        if item.rule is not None and item.rule.startswith("model:"):
            changed = approval != item.approval
            item.approval = approval
            return changed
        fresh = self.assess(item.donation)
        if item.approval is not Approval.APPROVED:
            approval = fresh.approval
        check = item.check
        if fresh.verdict is Verdict.REFUSED:
            check = Check.OFF if check is Check.PENDING else check
        elif item.verdict is Verdict.REFUSED and self.model_check:
            check = Check.PENDING  # it was never put to the model
        before = (item.verdict, item.rule, item.name_rule, item.check, item.approval)
        item.verdict, item.rule, item.name_rule, item.check, item.approval = (
            fresh.verdict,
            fresh.rule,
            fresh.name_rule,
            check,
            approval,
        )
        return before != (item.verdict, item.rule, item.name_rule, item.check, item.approval)

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


DENIED = "denied by moderator"


class Moderation:
    """The moderators' side: approve, deny, bans, the wait's timeout, and plans ahead.

    Items that wait for a decision are planned ahead like the next drawing, so a moderator
    decides with the picture in front of them (``/api/v1/queue/{id}/preview.png``).
    """

    def __init__(
        self, settings: Settings, gate: Gate, queue: DrawQueue, journal: Journal,
        events: EventBus, planning: Planning,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.gate = gate
        self.queue = queue
        self.journal = journal
        self.events = events
        self.planning = planning

    async def load(self) -> None:
        """Read the bans kept in the journal (before the first donation is judged)."""
        self.gate.banned = {key for key, *_ in await self.journal.bans()}

    async def serve(
        self, *, task_status: trio.TaskStatus[Moderation] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Plan waiting items ahead and apply ``MODERATION_TIMEOUT_SEC`` until cancelled."""
        task_status.started(self)
        while True:
            changed = self.queue.changed()
            now = time.time()
            next_due = math.inf
            for item in list(self.queue.pending.values()):
                if item.approval is not Approval.WAITING:
                    continue
                self.planning.start(item)
                due = self._due(item)
                if due <= now:
                    await self._time_out(item)
                    changed = self.queue.changed()
                else:
                    next_due = min(next_due, due)
            with trio.move_on_after(max(0.0, next_due - time.time())):
                await changed.wait()

    def _due(self, item: QueueItem) -> float:
        timeout = self.settings.MODERATION_TIMEOUT_SEC
        return item.queued_at + timeout if timeout > 0 else math.inf

    async def _time_out(self, item: QueueItem) -> None:
        action = self.settings.MODERATION_TIMEOUT_ACTION
        try:
            if action == "approve":
                await self.queue.approve(item.id)
            else:
                await self.queue.remove(
                    item.id, f"{DENIED}: no decision within the timeout", kind="denied"
                )
        except JournalWriteError as exc:
            log.error(kv("moderation timeout not applied", item=item.id, error=str(exc)))
            await trio.sleep(1.0)
            return
        log.info(kv("moderation timed out", item=item.id, action=action))

    # -- commands -----------------------------------------------------------------------------
    async def approve(self, item_id: int) -> QueueItem | None:
        return await self.queue.approve(item_id)

    async def deny(self, item_id: int, reason: str | None) -> bool:
        text = f"{DENIED}: {reason}" if reason else DENIED
        return await self.queue.remove(item_id, text, kind="denied")

    async def ban(self, donor: str, reason: str | None) -> bool:
        key = donor_key(donor)
        added = await self.journal.ban(key, donor.strip(), reason)
        self.gate.banned.add(key)
        if added:
            self.events.emit("banned", donor=donor.strip(), reason=reason)
        return added

    async def unban(self, donor: str) -> bool:
        key = donor_key(donor)
        removed = await self.journal.unban(key)
        self.gate.banned.discard(key)
        if removed:
            self.events.emit("unbanned", donor=donor.strip())
        return removed

    async def planned(self, item_id: int) -> dsl.Plan | None:
        """The item's finished plan (its job's, or the one the journal kept), if any yet."""
        job = self.planning.jobs.get(item_id)
        if job is not None and job.buffer.closed:
            return job.buffer.snapshot()
        raw = await self.journal.get_plan(item_id)
        return dsl.validate(raw)[0] if raw is not None else None

    async def bans(self) -> list[tuple[str, str | None, float]]:
        """(name as given, reason, when) for every ban, oldest first."""
        return [(shown, reason, at) for _, shown, reason, at in await self.journal.bans()]
