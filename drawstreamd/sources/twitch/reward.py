"""The daemon's own channel-points reward ("Draw something"): found, created, kept in step.

Only the Client-Id that created a reward may set its redemptions FULFILLED or CANCELED
(https://dev.twitch.tv/docs/api/reference/#update-redemption-status), so the daemon makes its
own: ``TWITCH_REWARD_TITLE``, ``TWITCH_REWARD_COST``, text input required, the per-stream,
per-viewer and cooldown limits when set, and never ``should_redemptions_skip_request_queue``
(skipped redemptions are FULFILLED at once and can no longer be refunded). At every start it
looks the reward up among the manageable ones (``only_manageable_rewards=true``) by title and
brings the settings it owns in line with the configuration; pausing or disabling it on the
dashboard is left alone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from drawstreamd.sources.twitch.helix import Helix, HelixError, Reward

if TYPE_CHECKING:
    from drawstreamd.config import Settings

log = logging.getLogger("drawstreamd.twitch")


class RewardUnusable(Exception):
    """The reward cannot be made or used; the message says what to change."""


def wanted(settings: Settings) -> dict[str, Any]:
    """The reward's settings the configuration owns, as Helix spells them."""
    s = settings
    fields: dict[str, Any] = {
        "title": s.TWITCH_REWARD_TITLE,
        "cost": s.TWITCH_REWARD_COST,
        "prompt": s.TWITCH_REWARD_PROMPT,
        "is_user_input_required": True,
        "should_redemptions_skip_request_queue": False,
        "is_max_per_stream_enabled": s.TWITCH_REWARD_MAX_PER_STREAM > 0,
        "is_max_per_user_per_stream_enabled": s.TWITCH_REWARD_MAX_PER_USER_PER_STREAM > 0,
        "is_global_cooldown_enabled": s.TWITCH_REWARD_COOLDOWN_SEC > 0,
    }
    # each limit is sent only when it is on (Helix wants ≥ 1 there)
    if s.TWITCH_REWARD_MAX_PER_STREAM > 0:
        fields["max_per_stream"] = s.TWITCH_REWARD_MAX_PER_STREAM
    if s.TWITCH_REWARD_MAX_PER_USER_PER_STREAM > 0:
        fields["max_per_user_per_stream"] = s.TWITCH_REWARD_MAX_PER_USER_PER_STREAM
    if s.TWITCH_REWARD_COOLDOWN_SEC > 0:
        fields["global_cooldown_seconds"] = s.TWITCH_REWARD_COOLDOWN_SEC
    return fields


def _current(raw: dict[str, Any]) -> dict[str, Any]:
    """A reward reply in the shape of :func:`wanted` (the limits are nested there)."""
    per_stream = raw.get("max_per_stream_setting") or {}
    per_user = raw.get("max_per_user_per_stream_setting") or {}
    cooldown = raw.get("global_cooldown_setting") or {}
    out = {k: raw.get(k) for k in ("title", "cost", "prompt", "is_user_input_required")}
    out["should_redemptions_skip_request_queue"] = raw.get("should_redemptions_skip_request_queue")
    out["is_max_per_stream_enabled"] = per_stream.get("is_enabled")
    out["max_per_stream"] = per_stream.get("max_per_stream")
    out["is_max_per_user_per_stream_enabled"] = per_user.get("is_enabled")
    out["max_per_user_per_stream"] = per_user.get("max_per_user_per_stream")
    out["is_global_cooldown_enabled"] = cooldown.get("is_enabled")
    out["global_cooldown_seconds"] = cooldown.get("global_cooldown_seconds")
    return out


async def ensure_reward(helix: Helix, settings: Settings, broadcaster: str) -> Reward:
    """The daemon's reward, created or updated to match the configuration."""
    want = wanted(settings)
    try:
        ours = await helix.manageable_rewards(broadcaster)
    except HelixError as exc:
        if exc.status == 403:
            raise RewardUnusable(
                f"Twitch will not show channel-point rewards ({exc.message or 'HTTP 403'}); "
                "channel points need an Affiliate or Partner channel"
            ) from None
        raise
    found = next((r for r in ours if r.title.casefold() == want["title"].casefold()), None)
    if found is None:
        try:
            reward = await helix.create_reward(broadcaster, want)
        except HelixError as exc:
            if exc.status == 400 and "DUPLICATE" in exc.message.upper():
                raise RewardUnusable(
                    f"the channel already has a reward titled {want['title']!r} that drawstreamd "
                    "did not make (Twitch lets only the app that made a reward refund or "
                    "complete its redemptions); delete it on the dashboard or set another "
                    "TWITCH_REWARD_TITLE"
                ) from None
            if exc.status in (400, 403):
                raise RewardUnusable(f"Twitch refused to create the reward: {exc}") from None
            raise
        log.info(
            "twitch reward created id=%s title=%r cost=%d", reward.id, reward.title, reward.cost
        )
        return reward
    current = _current(found.raw)
    changed = {k: v for k, v in want.items() if current.get(k) != v}
    if not changed:
        return found
    reward = await helix.update_reward(broadcaster, found.id, changed)
    log.info("twitch reward updated id=%s changed=%s", reward.id, ",".join(sorted(changed)))
    return reward
