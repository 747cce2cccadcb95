"""The DonatePay source: its Centrifugo socket rings, its transactions list says what came.

A DonatePay socket notification carries a notification id, which is not the transaction id
the list uses, so the two cannot be matched reliably; the source therefore takes every
donation from one place, the transactions list, keyed by transaction id, and the socket is
the doorbell that says "look now". Each donation is journaled once, in transaction order; the
watermark is the newest transaction id journaled. The socket (``DP_WS_URL``: connection token
from ``/api/v2/socket/token``, connect, channel token for ``$public:<user id>``, subscribe,
method-7 pings) reconnects with the shared backoff; while it is down the list is read every
``DP_POLL_INTERVAL_SEC``. Each API method is called at most once per
``DP_REQUEST_INTERVAL_SEC``. An API key DonatePay refuses stops the source with one line.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.retry import Backoff
from drawstreamd.sources.api import ApiError, SignInRejected
from drawstreamd.sources.base import SourceState, report, run_tasks, source_off
from drawstreamd.sources.centrifugo_client import Timing, close_drop, subscribed_session
from drawstreamd.sources.donatepay.api import DPClient, fetch_since, newest_id
from drawstreamd.sources.donatepay.transactions import SOURCE, rings
from drawstreamd.sources.feed import Feed
from drawstreamd.sources.wsclient import Drop, run_websocket
from drawstreamd.sources.wsclient import Tuning as SocketTuning

if TYPE_CHECKING:
    import httpx

    from drawstreamd.config import Settings
    from drawstreamd.sources.base import DonationSink

log = logging.getLogger("drawstreamd.donatepay")


@dataclass(frozen=True)
class Tuning(SocketTuning):
    quiet_poll_factor: float = 15.0
    """With the socket up, the list is still read every this many poll intervals (a doorbell
    that never rings must not hide donations for long)."""


@dataclass
class _State:
    settings: Settings
    api: DPClient
    feed: Feed
    tuning: Tuning
    user_id: int = 0
    up: bool = False
    rung: trio.Event = field(default_factory=trio.Event)

    def ring(self) -> None:
        self.rung.set()


async def catch_up(st: _State) -> None:
    """Read the transactions list after the watermark and deliver what the journal lacks."""
    mark = await st.feed.load_mark()
    if mark is None:
        newest = await newest_id(st.api)
        log.info("donatepay first run: history not taken, starting after transaction %d", newest)
        await st.feed.start_at(newest)
        return
    found, newest = await fetch_since(st.api, mark)
    for t in found:
        if t.why_not:
            log.info("donatepay transaction not a request id=%d reason=%s", t.id, t.why_not)
    await st.feed.caught_up([(t.donation, t.id) for t in found if not t.why_not], newest)


async def _fetch_loop(st: _State) -> None:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    interval = st.settings.DP_POLL_INTERVAL_SEC
    while True:
        wait = interval * st.tuning.quiet_poll_factor if st.up else interval
        with trio.move_on_after(wait):
            await st.rung.wait()
        st.rung = trio.Event()  # a ring during this read asks for another one
        try:
            await catch_up(st)
            backoff.reset()
        except SignInRejected:
            raise
        except ApiError as exc:
            # a 429 (or any failure) backs off: DonatePay counts the refused calls too
            delay = max(getattr(exc, "retry_after", 0.0), backoff.next_delay())
            log.warning("donatepay list read failed error=%s retry_in=%.1fs", exc, delay)
            await trio.sleep(delay)
            st.ring()


class _PublicChannel:
    def __init__(self, st: _State) -> None:
        self.st = st
        self.name = f"$public:{st.user_id}"

    async def channel_token(self, client: str) -> str:
        try:
            return await self.st.api.channel_token(client, self.name)
        except SignInRejected:
            raise
        except ApiError as exc:
            raise Drop(str(exc), wait=getattr(exc, "retry_after", None)) from None

    async def subscribed(self, client: str) -> None:
        self.st.up = True
        report(self.st.feed.sink, SOURCE, SourceState.CONNECTED, f"user id {self.st.user_id}")
        log.info("donatepay socket connected user_id=%d client=%s", self.st.user_id, client)
        self.st.ring()  # whatever came while we were away

    async def publication(self, data: Any) -> None:
        if rings(data):
            self.st.ring()


async def _connection(st: _State) -> Drop:
    try:
        token = await st.api.connection_token()
    except SignInRejected:
        raise
    except ApiError as exc:
        return Drop(str(exc), wait=getattr(exc, "retry_after", None))
    t = st.tuning
    return await run_websocket(
        st.settings.DP_WS_URL,
        functools.partial(
            subscribed_session,
            token=token,
            channel=_PublicChannel(st),
            timing=Timing(t.handshake_timeout, t.ping_interval, t.pong_timeout),
            log=log,
            prefix="donatepay",
        ),
        setting="DP_WS_URL",
        limit=t.handshake_timeout,
        max_message=t.max_message,
        on_close=close_drop,
    )


async def _socket_loop(st: _State) -> None:
    t = st.tuning
    policy = t.reconnects()
    while True:
        began = trio.current_time()
        drop = await _connection(st)
        lived = trio.current_time() - began if st.up else None
        if st.up:
            st.up = False
            report(st.feed.sink, SOURCE, SourceState.RETRYING, str(drop))
        delay = policy.delay(drop, lived)
        log.warning("donatepay socket down reason=%s reconnect_in=%.1fs", drop, delay)
        await trio.sleep(delay)


async def _user(st: _State) -> tuple[int, str]:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        try:
            return await st.api.user_id()
        except ApiError as exc:
            if isinstance(exc, SignInRejected):
                raise
            wait = getattr(exc, "retry_after", None) or backoff.next_delay()
            log.warning("donatepay user lookup failed error=%s retry_in=%.1fs", exc, wait)
            await trio.sleep(wait)


async def check_sign_in(settings: Settings, http: httpx.AsyncClient) -> str:
    """For ``drawstreamd doctor``: one line on the configured DonatePay API key.

    Raises :class:`~drawstreamd.sources.api.SignInRejected` when DonatePay refuses it,
    :class:`~drawstreamd.sources.api.ApiError` when it cannot be asked.
    """
    if not settings.dp_configured:
        raise SignInRejected("no DP_API_KEY configured")
    uid, name = await DPClient(http, settings).user_id()
    return f"DonatePay API key accepted for {name or '?'} (user id {uid})"


async def serve(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the DonatePay source until cancelled.

    ``task_status.started()`` comes at once; the socket, list and retry tasks are owned here.
    Returns (never raises) when no key is configured, or when DonatePay refuses it: one error
    line says so, the other sources keep running.
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
    if not settings.dp_configured:
        source_off(sink, SOURCE, "DP_API_KEY", log, task_status)
        return
    st = _State(
        settings, DPClient(http, settings), Feed(sink, settings, source=SOURCE, log=log), tuning
    )
    report(sink, SOURCE, SourceState.CONNECTING)

    known = trio.Event()

    async def connect() -> None:
        st.user_id, _ = await _user(st)
        known.set()
        await _socket_loop(st)

    async def fetch() -> None:
        await known.wait()
        st.ring()
        await _fetch_loop(st)

    rejected = await run_tasks(
        [st.feed.retry_loop, fetch, connect], stop_on=SignInRejected, task_status=task_status
    )
    if rejected:
        report(sink, SOURCE, SourceState.SIGNED_OUT, "check DP_API_KEY")
        log.error(
            "DonatePay refused the configured API key (%s); put the key from "
            "donatepay.ru/page/api in DP_API_KEY and restart. DonatePay source stopped; the "
            "other sources keep running.",
            rejected,
        )
