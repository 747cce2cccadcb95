"""The StreamElements source: tips in real time from Astro, catch-up from the tips list.

One connection after another (``SE_WS_URL``): welcome, subscribe to ``channel.tips`` (and
``channel.tips.moderation``, so a tip held for moderation arrives once it is allowed), then
read. After every connection comes up, the tips list is read from the watermark (the
``createdAt`` of the newest tip known to be journaled, less an overlap) while the socket's
tips wait, so tips made during a gap come first and in order (:class:`~..feed.Feed`). While
the socket is down the list is polled every ``SE_POLL_INTERVAL_SEC``. A ``reconnect`` message
moves to a new connection with the reconnect token at once (subscriptions restored by the
server). A token StreamElements refuses stops the source with one error line.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from drawstreamd.retry import Backoff
from drawstreamd.sources.api import ApiError, RateLimiter, SignInRejected
from drawstreamd.sources.base import SourceState, report, run_tasks, source_off
from drawstreamd.sources.feed import Feed
from drawstreamd.sources.streamelements import astro
from drawstreamd.sources.streamelements.rest import (
    SEClient,
    credentials,
    fetch_since,
    newest_ms,
)
from drawstreamd.sources.streamelements.tips import SOURCE, BadTip, parse_tip
from drawstreamd.sources.wsclient import Drop, race, run_websocket
from drawstreamd.sources.wsclient import Tuning as SocketTuning

if TYPE_CHECKING:
    import httpx
    from trio_websocket import WebSocketConnection

    from drawstreamd.config import Settings
    from drawstreamd.sources.base import DonationSink

log = logging.getLogger("drawstreamd.streamelements")


@dataclass(frozen=True)
class Tuning(SocketTuning):
    ping_interval: float = 30.0
    """Our own WebSocket pings; a missing pong means a dead link."""
    pong_timeout: float = 10.0
    rest_per_minute: int = 30
    overlap_ms: int = 5 * 60 * 1000
    """How far before the watermark a catch-up reads again (clock skew, late writes)."""


@dataclass
class _State:
    settings: Settings
    api: SEClient
    feed: Feed
    tuning: Tuning
    channel: str = ""
    up: bool = False
    resume_token: str | None = None
    catch_up_lock: trio.Lock = field(default_factory=trio.Lock)


async def catch_up(st: _State) -> None:
    """Read the tips list from the watermark and deliver what the journal lacks."""
    async with st.catch_up_lock:
        mark = await st.feed.load_mark()
        if mark is None:
            newest = await newest_ms(st.api, st.channel)
            log.info("streamelements first run: history not taken, starting after %d", newest)
            await st.feed.start_at(newest)
            return
        tips = await fetch_since(st.api, st.channel, mark - st.tuning.overlap_ms)
        found = []
        for tip in tips:
            if tip.why_not:
                log.info(
                    "streamelements tip not a request id=%s reason=%s",
                    tip.donation.external_id,
                    tip.why_not,
                )
            else:
                found.append((tip.donation, tip.created_ms))
        newest = max([mark, *(t.created_ms for t in tips)])
        await st.feed.caught_up(found, newest)


async def _catch_up_until_done(st: _State, tuning: Tuning) -> None:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        try:
            await catch_up(st)
            return
        except SignInRejected:
            raise
        except ApiError as exc:
            await st.feed.release()
            wait = getattr(exc, "retry_after", None) or backoff.next_delay()
            log.warning("streamelements catch-up failed error=%s retry_in=%.1fs", exc, wait)
            await trio.sleep(wait)


async def _read(ws: WebSocketConnection, session: astro.Session, st: _State) -> Drop:
    while True:
        event = session.receive(await ws.get_message())
        if isinstance(event, astro.Message):
            if event.topic not in (astro.TOPIC_TIPS, astro.TOPIC_MODERATION):
                continue
            try:
                tip = parse_tip(event.data)
            except BadTip as exc:
                log.error(
                    "streamelements socket tip unreadable; catch-up may find it error=%s", exc
                )
                continue
            if tip.why_not:
                log.info(
                    "streamelements tip not a request id=%s reason=%s",
                    tip.donation.external_id,
                    tip.why_not,
                )
                continue
            await st.feed.live(tip.donation, tip.created_ms)
        elif isinstance(event, astro.Reconnect):
            st.resume_token = event.token
            return Drop("the server asked us to reconnect", wait=0.0)
        elif isinstance(event, astro.Refused):
            log.warning("streamelements socket error=%s message=%r", event.error, event.message)
        elif isinstance(event, astro.Malformed):
            log.warning("streamelements socket bad frame; ignored reason=%s", event.reason)


async def _pinger(ws: WebSocketConnection, tuning: Tuning) -> Drop:
    while True:
        await trio.sleep(tuning.ping_interval)
        with trio.move_on_after(tuning.pong_timeout) as scope:
            await ws.ping()
        if scope.cancelled_caught:
            return Drop(f"no pong within {tuning.pong_timeout:g}s")


async def _subscribe(ws: WebSocketConnection, session: astro.Session, st: _State) -> None:
    token, token_type, _ = credentials(st.settings)
    with trio.move_on_after(st.tuning.handshake_timeout):
        while not session.welcomed:
            session.receive(await ws.get_message())
    if not session.welcomed:
        raise Drop(f"no welcome within {st.tuning.handshake_timeout:g}s")
    if st.resume_token:
        log.info("streamelements socket resumed with the reconnect token")
        return
    for topic in (astro.TOPIC_TIPS, astro.TOPIC_MODERATION):
        await ws.send_message(session.subscribe(topic, st.channel, token, token_type))
    answered: set[str] = set()
    with trio.move_on_after(st.tuning.handshake_timeout):
        while len(answered) < 2:
            event = session.receive(await ws.get_message())
            if isinstance(event, astro.Subscribed):
                answered.add(event.topic)
            elif isinstance(event, astro.Refused):
                if event.topic == astro.TOPIC_MODERATION:
                    # without it, held tips come only from the list: not a reason to stop
                    log.warning(
                        "streamelements: tip moderation updates refused (%s); tips held for "
                        "moderation are found by the next catch-up",
                        event.error,
                    )
                    answered.add(event.topic)
                elif event.topic is None or not event.fatal:
                    raise Drop(f"subscribe answered {event.error}: {event.message}")
                elif event.error == "err_unauthorized":
                    raise SignInRejected(f"channel.tips subscribe refused: {event.message}")
                else:
                    raise Drop(
                        f"channel.tips subscribe refused: {event.error} {event.message}",
                        reconnect=False,
                    )
    if astro.TOPIC_TIPS not in answered:
        raise Drop("no answer to the channel.tips subscribe")


async def _session(ws: WebSocketConnection, st: _State) -> Drop:
    session = astro.Session()
    await _subscribe(ws, session, st)
    st.resume_token = None
    st.up = True
    st.feed.hold()
    report(st.feed.sink, SOURCE, SourceState.CONNECTED, f"channel {st.channel}")
    log.info("streamelements socket connected channel=%s", st.channel)
    return await race(
        functools.partial(_read, ws, session, st),
        functools.partial(_pinger, ws, st.tuning),
        also=[functools.partial(_catch_up_until_done, st, st.tuning)],
    )


def _url(st: _State) -> str:
    base = st.settings.SE_WS_URL
    return astro.reconnect_url(base, st.resume_token) if st.resume_token else base


async def _socket_loop(st: _State) -> None:
    tuning = st.tuning
    policy = tuning.reconnects()
    while True:
        began = trio.current_time()
        offered = st.resume_token
        drop = await run_websocket(
            _url(st),
            functools.partial(_session, st=st),
            setting="SE_WS_URL",
            limit=tuning.handshake_timeout,
            max_message=tuning.max_message,
        )
        if offered is not None and st.resume_token == offered:
            log.info("streamelements reconnect token not taken; connecting afresh")
            st.resume_token = None
        lived = trio.current_time() - began if st.up else None
        if st.up:
            st.up = False
            st.feed.lost()
            await st.feed.release()
            if st.resume_token is None:
                report(st.feed.sink, SOURCE, SourceState.RETRYING, str(drop))
        delay = policy.delay(drop, lived)
        log.warning("streamelements socket down reason=%s reconnect_in=%.1fs", drop, delay)
        await trio.sleep(delay)


async def _poll_loop(st: _State) -> None:
    """While the socket is down, read the tips list every ``SE_POLL_INTERVAL_SEC``."""
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        await trio.sleep(st.settings.SE_POLL_INTERVAL_SEC)
        if st.up or not st.channel:
            continue
        try:
            await catch_up(st)
            backoff.reset()
        except SignInRejected:
            raise
        except ApiError as exc:
            log.warning("streamelements tips poll failed error=%s", exc)
            await trio.sleep(getattr(exc, "retry_after", None) or backoff.next_delay())


async def _channel(st: _State) -> str:
    if st.settings.SE_CHANNEL_ID:
        return st.settings.SE_CHANNEL_ID
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        try:
            return await st.api.channel_id()
        except SignInRejected:
            raise
        except ApiError as exc:
            wait = backoff.next_delay()
            log.warning("streamelements channel lookup failed error=%s retry_in=%.1fs", exc, wait)
            await trio.sleep(wait)


async def check_sign_in(settings: Settings, http: httpx.AsyncClient) -> str:
    """For ``drawstreamd doctor``: one line on the configured StreamElements token.

    Raises :class:`~drawstreamd.sources.api.SignInRejected` when StreamElements refuses it,
    :class:`~drawstreamd.sources.api.ApiError` when it cannot be asked.
    """
    if not settings.se_configured:
        raise SignInRejected("no SE_JWT or SE_OAUTH_TOKEN configured")
    api = SEClient(http, settings, RateLimiter(5))
    channel = await api.channel_id()
    if settings.SE_CHANNEL_ID and channel != settings.SE_CHANNEL_ID:
        raise SignInRejected(
            f"the token belongs to channel {channel}, not SE_CHANNEL_ID={settings.SE_CHANNEL_ID}"
        )
    await api.tips_page(channel, offset=0, sort="-createdAt", limit=1)
    return f"StreamElements token accepted for channel {channel} (tips readable)"


async def serve(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the StreamElements source until cancelled.

    ``task_status.started()`` comes at once; the socket, poll and retry tasks are owned here
    and reconnect by themselves. Returns (never raises) when no token is configured, or when
    StreamElements refuses the token: one error line says so, the other sources keep running.
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
    if not settings.se_configured:
        source_off(sink, SOURCE, "SE_JWT or SE_OAUTH_TOKEN", log, task_status)
        return
    api = SEClient(http, settings, RateLimiter(tuning.rest_per_minute))
    st = _State(settings, api, Feed(sink, settings, source=SOURCE, log=log), tuning)
    report(sink, SOURCE, SourceState.CONNECTING)

    async def connect() -> None:
        st.channel = await _channel(st)
        await _socket_loop(st)

    rejected = await run_tasks(
        [st.feed.retry_loop, functools.partial(_poll_loop, st), connect],
        stop_on=SignInRejected,
        task_status=task_status,
    )
    if rejected:
        report(sink, SOURCE, SourceState.SIGNED_OUT, "check SE_JWT")
        log.error(
            "StreamElements refused the configured token (%s); put a current JWT from the "
            "dashboard (Account › Channels › Show secrets) in SE_JWT and restart. "
            "StreamElements source stopped; the other sources keep running.",
            rejected,
        )
