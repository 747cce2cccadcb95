"""Twitch redemptions and cheers → the project's :class:`Donation` (pure).

A redemption (EventSub ``channel.channel_points_custom_reward_redemption.add`` ``event``, or a
row of Helix's redemptions list: the same fields, ``status`` in capitals there) has its own
``id`` (the key Helix's status update takes), the viewer (``user_name``), ``user_input`` (what
to draw) and a ``reward`` snapshot with its ``cost``. A cheer (``channel.cheer``) has
``bits``, ``message`` (with the cheermotes in it, e.g. ``Cheer100``) and the viewer, all null
when ``is_anonymous``; it has no id of its own, so the notification's ``message_id`` is its key.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from drawstreamd.model import ANONYMOUS, Donation, donor_name

SOURCE = "twitch"
REDEMPTION = "channel.channel_points_custom_reward_redemption.add"
CHEER = "channel.cheer"
POINTS = "POINTS"
BITS = "BITS"
MAX_MESSAGE_CHARS = 500

# Twitch's global cheermote prefixes followed by an amount (e.g. "Cheer100", "Kappa50");
# they are how bits are given, not part of the request
_CHEERMOTE = re.compile(
    r"(?i)^(?:cheer|anon|biblethump|cheerwhal|corgo|uni|showlove|party|seemsgood|pride|kappa|"
    r"frankerz|heyguys|dansgame|elegiggle|trihard|kreygasm|4head|swiftrage|notlikethis|"
    r"failfish|vohiyo|pjsalt|mrdestructoid|bday|ripcheer|shamrock|bitboss|streamlabs|muxy|"
    r"holidaycheer|goal|charity)\d+$"
)


class BadEvent(ValueError):
    """An event we cannot use; the message is safe to log."""


def redemption_key(redemption_id: str) -> str:
    return f"redemption:{redemption_id}"


def cheer_key(message_id: str) -> str:
    return f"cheer:{message_id}"


def redemption_id(external_id: str) -> str | None:
    return (
        external_id.removeprefix("redemption:") if external_id.startswith("redemption:") else None
    )


def _when(text: Any) -> datetime:
    if isinstance(text, str):
        head, _, frac = text.rstrip("Z").partition(".")
        try:
            return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
        except ValueError:
            pass
    return datetime.now(UTC)


def redemption(event: dict[str, Any]) -> tuple[Donation, str]:
    """A redemption → (donation, reward id), or :class:`BadEvent`."""
    rid, reward = event.get("id"), event.get("reward")
    if not isinstance(rid, str) or not rid or not isinstance(reward, dict):
        raise BadEvent("redemption without an id or a reward")
    cost = reward.get("cost", 0)
    donation = Donation(
        source=SOURCE,
        external_id=redemption_key(rid),
        donor=donor_name(event.get("user_name") or event.get("user_login")),
        message=str(event.get("user_input") or "")[:MAX_MESSAGE_CHARS],
        amount=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0,
        currency=POINTS,
        created_at=_when(event.get("redeemed_at")),
    )
    return donation, str(reward.get("id", ""))


def strip_cheermotes(message: str) -> str:
    return " ".join(w for w in message.split() if not _CHEERMOTE.match(w))


def cheer(event: dict[str, Any], message_id: str) -> Donation:
    bits = event.get("bits")
    if isinstance(bits, bool) or not isinstance(bits, int) or bits <= 0:
        raise BadEvent(f"cheer without a number of bits: {str(bits)[:20]!r}")
    anonymous = bool(event.get("is_anonymous"))
    return Donation(
        source=SOURCE,
        external_id=cheer_key(message_id),
        donor=ANONYMOUS if anonymous else donor_name(event.get("user_name")),
        message=strip_cheermotes(str(event.get("message") or ""))[:MAX_MESSAGE_CHARS],
        amount=float(bits),
        currency=BITS,
    )


def below_bits(donation: Donation, least: int) -> str | None:
    """The skip reason of a cheer under ``TWITCH_MIN_BITS``."""
    if donation.currency == BITS and donation.amount < least:
        return f"below TWITCH_MIN_BITS ({donation.amount:g} < {least})"
    return None
