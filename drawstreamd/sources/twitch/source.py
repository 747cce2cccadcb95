"""The Twitch source: redemptions of the daemon's own reward, and cheers, over EventSub.

At start it validates the sign-in (``drawstreamd auth twitch``, or ``TWITCH_ACCESS_TOKEN`` and
``TWITCH_REFRESH_TOKEN``), finds or creates the reward, then keeps one EventSub session: on a
fresh welcome it subscribes to ``channel.channel_points_custom_reward_redemption.add`` for that
reward and, with ``bits:read``, to ``channel.cheer``; then reads the reward's UNFULFILLED
redemptions (Helix) while the socket's wait, so redemptions made while the session was down
come first and in order. Cheers made during a gap are not kept by Twitch and cannot be caught
up. ``session_reconnect`` moves to the new URL without a gap (no resubscribing, no catch-up).

What became of each redemption goes back to Twitch: drawn → FULFILLED; skipped for any reason
(the gatekeeper refused it, an operator removed or skipped it, under the minimum) or failed →
CANCELED, which returns the viewer's points. A sign-in Twitch no longer accepts (a dead
refresh token, ``authorization_revoked``) stops the source with one line.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.retry import Backoff
from drawstreamd.sources.api import ApiError, SignInRejected
from drawstreamd.sources.base import SourceState, report, run_tasks, source_off
from drawstreamd.sources.feed import Feed
from drawstreamd.sources.tokens import AuthRevoked, OAuthError
from drawstreamd.sources.twitch import requests
from drawstreamd.sources.twitch.auth import (
    MANAGE_REDEMPTIONS,
    READ_BITS,
    Identity,
    TwitchTokens,
    initial_tokens,
    validate,
)
from drawstreamd.sources.twitch.helix import Helix, HelixError, Reward
from drawstreamd.sources.twitch.requests import CHEER, REDEMPTION, SOURCE
from drawstreamd.sources.twitch.reward import RewardUnusable, ensure_reward
from drawstreamd.sources.twitch.socket import Tuning, run_session
from drawstreamd.sources.wsclient import Drop

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

    from drawstreamd.config import Settings
    from drawstreamd.sources.base import DonationSink, OutcomeSink
    from drawstreamd.sources.twitch import eventsub

__all__ = ["RefreshHeld", "Tuning", "check_sign_in", "run", "serve"]

log = logging.getLogger("drawstreamd.twitch")

FATAL = (AuthRevoked, SignInRejected, RewardUnusable)


@dataclass
class _State:
    settings: Settings
    sink: DonationSink
    http: httpx.AsyncClient
    helix: Helix
    tokens: TwitchTokens
    feed: Feed
    tuning: Tuning
    me: Identity | None = None
    reward: Reward | None = None
    cheers: bool = False
    up: bool = False
    waiting: dict[str, str] = field(default_factory=dict)
    """Redemptions UNFULFILLED on Twitch that we know of: redemption id → reward id."""
    ready: trio.Event = field(default_factory=trio.Event)
    catch_up_lock: trio.Lock = field(default_factory=trio.Lock)

    @property
    def broadcaster(self) -> str:
        assert self.me is not None
        return self.me.user_id


async def _retrying(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        try:
            return await call()
        except FATAL:
            raise
        except (ApiError, OAuthError) as exc:
            wait = getattr(exc, "retry_after", None) or backoff.next_delay()
            log.warning("twitch %s failed error=%s retry_in=%.1fs", what, exc, wait)
            await trio.sleep(wait)


# -- catch-up ----------------------------------------------------------------------------------
async def catch_up(st: _State) -> None:
    """The reward's UNFULFILLED redemptions, oldest first, then what the socket held."""
    assert st.reward is not None
    async with st.catch_up_lock:
        rows = await st.helix.unfulfilled(st.broadcaster, st.reward.id)
        found = []
        for row in rows:
            try:
                donation, reward_id = requests.redemption(row)
            except requests.BadEvent as exc:
                log.error("twitch redemption unreadable; not queued error=%s", exc)
                continue
            st.waiting[str(row["id"])] = reward_id or st.reward.id
            found.append((donation, None))
        await st.feed.caught_up(found, None)


async def _catch_up_until_done(st: _State) -> None:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        try:
            await catch_up(st)
            return
        except FATAL:
            raise
        except (ApiError, OAuthError) as exc:
            await st.feed.release()
            wait = getattr(exc, "retry_after", None) or backoff.next_delay()
            log.warning("twitch redemptions catch-up failed error=%s retry_in=%.1fs", exc, wait)
            await trio.sleep(wait)


# -- the session -------------------------------------------------------------------------------
class _Handler:
    def __init__(self, st: _State, nursery: trio.Nursery) -> None:
        self.st = st
        self.nursery = nursery
        self.failure: Exception | None = None
        """A fatal error of a helper task, raised once the session is closed."""

    async def _catch_up(self) -> None:
        try:
            await _catch_up_until_done(self.st)
        except FATAL as exc:
            self.failure = exc
            self.nursery.cancel_scope.cancel()

    async def subscribe(self, session_id: str) -> None:
        st = self.st
        assert st.reward is not None
        # from the first subscription on, live events wait for the catch-up that follows
        st.feed.hold()
        me = {"broadcaster_user_id": st.broadcaster}
        try:
            await st.helix.subscribe(REDEMPTION, {**me, "reward_id": st.reward.id}, session_id)
        except HelixError as exc:
            if exc.status == 403:
                raise SignInRejected(
                    f"redemption subscription refused ({exc.message}): the sign-in lacks "
                    f"{MANAGE_REDEMPTIONS}"
                ) from None
            raise Drop(str(exc)) from None
        except ApiError as exc:
            raise Drop(str(exc), wait=getattr(exc, "retry_after", None)) from None
        if not st.cheers:
            return
        try:
            await st.helix.subscribe(CHEER, me, session_id)
        except HelixError as exc:
            if exc.status != 403:
                raise Drop(str(exc)) from None
            st.cheers = False
            log.warning("twitch cheers off: the cheer subscription was refused (%s)", exc.message)
        except ApiError as exc:
            raise Drop(str(exc), wait=getattr(exc, "retry_after", None)) from None

    async def up(self) -> None:
        st = self.st
        assert st.me is not None
        st.up = True
        report(st.sink, SOURCE, SourceState.CONNECTED, f"as {st.me.login}")
        log.info("twitch eventsub connected login=%s cheers=%s", st.me.login, st.cheers)
        self.nursery.start_soon(self._catch_up)

    async def notification(self, note: eventsub.Notification) -> None:
        st = self.st
        try:
            if note.subscription_type == REDEMPTION:
                donation, reward_id = requests.redemption(note.event)
                rid = str(note.event["id"])
                st.waiting[rid] = reward_id or (st.reward.id if st.reward else "")
                await st.feed.live(donation)
            elif note.subscription_type == CHEER:
                await st.feed.live(requests.cheer(note.event, note.message_id))
        except requests.BadEvent as exc:
            log.error("twitch %s unreadable; not queued error=%s", note.subscription_type, exc)

    async def revoked(self, revoked: eventsub.Revoked) -> None:
        if revoked.status in ("authorization_revoked", "user_removed"):
            raise AuthRevoked(
                f"Twitch revoked the {revoked.subscription_type} subscription: {revoked.status}"
            )
        log.error(
            "twitch subscription revoked type=%s status=%s; subscribing afresh",
            revoked.subscription_type,
            revoked.status,
        )
        raise Drop(f"subscription revoked: {revoked.status}")


async def _eventsub_loop(st: _State) -> None:
    await st.ready.wait()
    policy = st.tuning.reconnects()
    while True:
        began = trio.current_time()
        drop = Drop("stopped")
        async with trio.open_nursery() as helpers:
            handler = _Handler(st, helpers)
            try:
                drop = await run_session(st.settings.TWITCH_EVENTSUB_URL, handler, st.tuning)
            except Exception as exc:  # raised below, outside the nursery, by its own type
                handler.failure = exc
            helpers.cancel_scope.cancel()
        if handler.failure is not None:
            raise handler.failure
        lived = trio.current_time() - began if st.up else None
        st.feed.lost()
        if st.feed.holding:
            await st.feed.release()
        if st.up:
            st.up = False
            report(st.sink, SOURCE, SourceState.RETRYING, str(drop))
        delay = policy.delay(drop, lived)
        log.warning("twitch eventsub down reason=%s reconnect_in=%.1fs", drop, delay)
        await trio.sleep(delay)


# -- what became of each redemption ------------------------------------------------------------
async def settle(st: _State, sink: OutcomeSink, keys: set[tuple[str, str]] | None) -> int:
    """Tell Twitch what became of the waiting redemptions that are decided; how many."""
    if keys is None:
        candidates = list(st.waiting)
    else:
        ids = (requests.redemption_id(eid) for src, eid in keys if src == SOURCE)
        candidates = [rid for rid in ids if rid is not None and rid in st.waiting]
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rid in candidates:
        outcome = await sink.outcome(SOURCE, requests.redemption_key(rid))
        if outcome is not None:
            status = "FULFILLED" if outcome.drawn else "CANCELED"
            groups[(st.waiting[rid], status)].append(rid)
    settled = 0
    for (reward_id, status), rids in groups.items():
        for start in range(0, len(rids), 50):
            chunk = rids[start : start + 50]
            try:
                changed = await st.helix.set_status(st.broadcaster, reward_id, chunk, status)
            except FATAL:
                raise
            except (ApiError, OAuthError) as exc:
                log.warning("twitch redemption status not set yet status=%s error=%s", status, exc)
                continue
            for rid in chunk:
                st.waiting.pop(rid, None)
                settled += 1
                if rid in changed:
                    log.info("twitch redemption id=%s set %s", rid, status)
                else:
                    log.info(
                        "twitch redemption id=%s was no longer waiting (handled on Twitch)", rid
                    )
    return settled


async def _outcome_loop(st: _State, sink: OutcomeSink) -> None:
    await st.ready.wait()
    async with sink.decisions() as decided:
        keys: set[tuple[str, str]] | None = None
        while True:
            await settle(st, sink, keys)
            keys = None
            with trio.move_on_after(st.tuning.recheck_sec):
                keys = await decided.next()


async def _validate_loop(st: _State) -> None:
    await st.ready.wait()
    while True:
        await trio.sleep(st.tuning.validate_sec)
        me = await _retrying(
            "token check", functools.partial(validate, st.http, st.settings, st.tokens)
        )
        if MANAGE_REDEMPTIONS not in me.scopes:
            raise SignInRejected(f"the sign-in no longer has {MANAGE_REDEMPTIONS}")


async def _start(st: _State) -> None:
    me: Identity = await _retrying(
        "token check", functools.partial(validate, st.http, st.settings, st.tokens)
    )
    if MANAGE_REDEMPTIONS not in me.scopes:
        raise SignInRejected(f"the sign-in lacks {MANAGE_REDEMPTIONS}")
    st.me = me
    st.cheers = READ_BITS in me.scopes
    if not st.cheers:
        log.info("twitch cheers off: the sign-in has no %s", READ_BITS)
    st.reward = await _retrying(
        "reward setup", functools.partial(ensure_reward, st.helix, st.settings, me.user_id)
    )
    st.ready.set()


class RefreshHeld(Exception):
    """The access token expired, and refreshing it is the running daemon's to do (Twitch's
    refresh tokens work once: a second refresher would sign the daemon out)."""


class _NoRefresh(TwitchTokens):
    async def refresh(self, stale: str) -> str:
        raise RefreshHeld("the access token has expired; the running daemon refreshes it")


async def check_sign_in(
    settings: Settings, http: httpx.AsyncClient, *, may_refresh: bool = True
) -> str:
    """For ``drawstreamd doctor``: one line on the Twitch sign-in (token valid, scopes).

    With ``may_refresh`` False (a daemon runs on this state dir) an expired token raises
    :class:`RefreshHeld` instead of being refreshed. Raises
    :class:`~drawstreamd.sources.tokens.AuthRevoked` or
    :class:`~drawstreamd.sources.api.SignInRejected` when the sign-in is not usable,
    :class:`~drawstreamd.sources.api.ApiError` or
    :class:`~drawstreamd.sources.tokens.OAuthError` when Twitch cannot be asked.
    """
    tokens = initial_tokens(settings)
    if tokens is None or not settings.TWITCH_CLIENT_ID:
        raise SignInRejected(
            "not signed in: set TWITCH_CLIENT_ID and run `drawstreamd auth twitch`"
        )
    manager = (TwitchTokens if may_refresh else _NoRefresh)(settings, http, tokens)
    me = await validate(http, settings, manager)
    if MANAGE_REDEMPTIONS not in me.scopes:
        raise SignInRejected(f"signed in as {me.login}, but without {MANAGE_REDEMPTIONS}")
    cheers = "cheers on" if READ_BITS in me.scopes else f"cheers off (no {READ_BITS})"
    return f"Twitch signed in as {me.login} (user id {me.user_id}); redemptions on, {cheers}"


async def serve(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the Twitch source until cancelled.

    ``task_status.started()`` comes at once; the EventSub, outcome, token and retry tasks are
    owned here. Returns (never raises) when not signed in, or when Twitch stops accepting the
    sign-in: one error line says so, the other sources keep running. With a sink that can
    tell outcomes (:class:`~drawstreamd.sources.base.OutcomeSink`) redemptions are set
    FULFILLED or CANCELED.
    """
    await run(settings, sink, http, tuning=Tuning(), task_status=task_status)


async def run(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    tuning: Tuning,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """:func:`serve` with explicit timings."""
    tokens = initial_tokens(settings)
    if tokens is None or not settings.TWITCH_CLIENT_ID:
        missing = "TWITCH_CLIENT_ID" if tokens else "sign-in (`drawstreamd auth twitch`)"
        source_off(sink, SOURCE, missing, log, task_status)
        return
    manager = TwitchTokens(settings, http, tokens)
    feed = Feed(
        sink,
        settings,
        source=SOURCE,
        log=log,
        skip=lambda d: requests.below_bits(d, settings.TWITCH_MIN_BITS),
    )
    st = _State(settings, sink, http, Helix(http, settings, manager), manager, feed, tuning)
    report(sink, SOURCE, SourceState.CONNECTING)
    tasks: list[Callable[[], Awaitable[None]]] = [
        st.feed.retry_loop,
        functools.partial(_start, st),
        functools.partial(_eventsub_loop, st),
        functools.partial(_validate_loop, st),
    ]
    if hasattr(sink, "outcome") and hasattr(sink, "decisions"):
        tasks.append(functools.partial(_outcome_loop, st, sink))  # type: ignore[arg-type]
    else:
        log.warning("twitch: this sink cannot say what became of redemptions; none is set")
    stopped = await run_tasks(tasks, stop_on=FATAL, task_status=task_status)
    if stopped is None:
        return
    if isinstance(stopped, RewardUnusable):
        report(sink, SOURCE, SourceState.SIGNED_OUT, "the reward cannot be used")
        log.error("Twitch: %s. Twitch source stopped; the other sources keep running.", stopped)
        return
    report(sink, SOURCE, SourceState.SIGNED_OUT, "run `drawstreamd auth twitch`")
    log.error(
        "Twitch sign-in is no longer valid (%s); run `drawstreamd auth twitch` to sign in again. "
        "Twitch source stopped; the other sources keep running.",
        stopped,
    )
