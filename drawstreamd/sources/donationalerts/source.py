"""The Donation Alerts source: the socket connection loop, REST catch-up and delivery.

Three tasks share one :class:`_Ingest`:

* the socket loop runs the whole chain on every connection (``/user/oauth`` → connect frame →
  ``POST /centrifuge/subscribe`` with this connection's client id → subscribe, method 1), reads
  publications, pings (method 7) and declares a silent connection dead, and reconnects with the
  shared :class:`~drawstreamd.retry.Backoff` (≥ 1 s, ≤ 30 s, jittered);
* the REST loop catches up on start and after every reconnect, and polls every
  ``DA_REST_POLL_INTERVAL_SEC`` while the socket is down;
* the token loop refreshes the access token before it expires.

Exactly once: both paths submit to the sink, whose journal drops a (source, id) it already
holds. The watermark (highest donation id known to be in the journal) moves only when nothing
below it can be missing: after a catch-up, and from the socket once this connection's catch-up
is done.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    wrap_client_stream,
)

from drawstreamd.retry import Backoff
from drawstreamd.sources.donationalerts import frames
from drawstreamd.sources.donationalerts.donation import (
    SOURCE,
    BadDonation,
    parse_donation,
    skip_reason,
)
from drawstreamd.sources.donationalerts.oauth import (
    REFRESH_MARGIN_SEC,
    AuthRevoked,
    OAuthError,
    TokenManager,
    initial_tokens,
)
from drawstreamd.sources.donationalerts.rest import (
    REQUESTS_PER_MINUTE,
    ApiError,
    DAClient,
    RateLimited,
    RateLimiter,
    User,
    fetch_since,
    newest_id,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

    from drawstreamd.config import Settings
    from drawstreamd.model import Donation
    from drawstreamd.sources.base import DonationSink

log = logging.getLogger("drawstreamd.da")

WATERMARK_KEY = "donationalerts.watermark"


@dataclass(frozen=True)
class Tuning:
    """Timings of the connection loop (tests shorten them; the defaults are the product's)."""

    reconnect_floor: float = 1.0
    reconnect_cap: float = 30.0
    healthy_after: float = 30.0
    """A connection that lived this long resets the backoff."""
    ping_interval: float = 15.0
    pong_timeout: float = 5.0
    handshake_timeout: float = 10.0
    max_message: int = 2 * 1024 * 1024
    rest_per_minute: int = REQUESTS_PER_MINUTE
    """API calls allowed in any minute (Donation Alerts allows 60 per application)."""
    forbidden_wait: float = 600.0
    """REST answered 403 (no ``oauth-donation-index``): try again this much later."""


class _Drop(Exception):
    def __init__(self, reason: str, *, reconnect: bool = True, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reconnect = reconnect
        self.wait = wait


class _Ingest:
    """Delivery, the watermark and the socket's state, shared by the tasks."""

    def __init__(self, settings: Settings, sink: DonationSink) -> None:
        self.settings = settings
        self.sink = sink
        self.watermark: int | None = None
        self._loaded = False
        self.socket_up = False
        self.generation = 0
        self.synced_generation = -1
        self.generation_max = 0
        self.first_socket_id: int | None = None
        """The first donation the socket brought in this run (bounds a first catch-up)."""
        self.kick = trio.Event()

    def wake(self) -> None:
        self.kick.set()
        self.kick = trio.Event()

    async def load_watermark(self) -> int | None:
        if not self._loaded:
            raw = await self.sink.get_meta(WATERMARK_KEY)
            try:
                self.watermark = int(raw) if raw is not None else None
            except ValueError:
                log.warning("da watermark unreadable; taking no history value=%r", (raw or "")[:40])
                self.watermark = None
            self._loaded = True
        return self.watermark

    async def advance(self, newest: int) -> None:
        if self.watermark is None or newest > self.watermark:
            self.watermark = newest
            await self.sink.set_meta(WATERMARK_KEY, str(newest))

    async def deliver(self, donation: Donation, via: str) -> None:
        reason = skip_reason(donation, self.settings.DRAW_MIN_AMOUNT)
        fresh = await self.sink.submit(donation, skip_reason=reason)
        if fresh:
            log.info(
                "da donation id=%s via=%s amount=%g currency=%s%s",
                donation.external_id,
                via,
                donation.amount,
                donation.currency,
                f" skipped={reason!r}" if reason else "",
            )

    async def from_socket(self, raw: object) -> None:
        try:
            donation = parse_donation(raw)
        except BadDonation as exc:
            log.error(
                "da socket donation unreadable; REST catch-up may still find it error=%s", exc
            )
            return
        await self.deliver(donation, "socket")
        did = int(donation.external_id)
        if self.first_socket_id is None:
            self.first_socket_id = did
        self.generation_max = max(self.generation_max, did)
        if self.synced_generation == self.generation:
            await self.advance(did)


# -- REST ----------------------------------------------------------------------------------------
async def _catch_up(api: DAClient, ing: _Ingest) -> None:
    mark = await ing.load_watermark()
    if mark is None and ing.first_socket_id is not None:
        # REST failed until now, but the socket ran: page back to where the socket began.
        mark = ing.first_socket_id - 1
    if mark is None:
        newest = await newest_id(api)
        await ing.advance(newest)
        log.info("da first run: history not taken, starting after donation id=%d", newest)
        return
    donations, newest = await fetch_since(api, mark)
    for donation in donations:
        await ing.deliver(donation, "rest")
    await ing.advance(newest)
    if donations:
        log.info("da rest catch-up found=%d watermark=%d", len(donations), newest)


async def _rest_loop(api: DAClient, ing: _Ingest, tuning: Tuning) -> None:
    backoff = Backoff(base=2.0, floor=1.0, cap=60.0)
    while True:
        kick = ing.kick
        log.debug("da rest catch-up socket_up=%s", ing.socket_up)
        generation = ing.generation if ing.socket_up else None
        wait: float | None = None
        rate_limited = False
        try:
            await _catch_up(api, ing)
        except RateLimited as exc:
            log.warning("da rest rate-limited by the server wait=%gs", exc.retry_after)
            wait = exc.retry_after
            rate_limited = True
        except ApiError as exc:
            wait = tuning.forbidden_wait if exc.status == 403 else backoff.next_delay()
            log.warning("da rest catch-up failed error=%s retry_in=%.1fs", exc, wait)
        except OAuthError as exc:
            wait = backoff.next_delay()
            log.warning("da token refresh failed error=%s retry_in=%.1fs", exc, wait)
        else:
            backoff.reset()
            if generation is not None and ing.socket_up and ing.generation == generation:
                ing.synced_generation = generation
                await ing.advance(ing.generation_max)
        if wait is not None:
            if rate_limited:
                await trio.sleep(wait)
            else:
                # a failed catch-up is retried at the latest after the backoff, at once on a
                # reconnect (the socket coming back is the moment missed donations matter)
                with trio.move_on_after(wait):
                    await kick.wait()
            continue
        if ing.socket_up:
            await kick.wait()
        else:
            with trio.move_on_after(ing.settings.DA_REST_POLL_INTERVAL_SEC):
                await kick.wait()


# -- the socket -----------------------------------------------------------------------------------
def _server_error(event: frames.ServerError) -> _Drop:
    # 109 "token expired": a new /user/oauth token fixes it, so reconnect as usual.
    return _Drop(f"server error {event.code} {event.message!r}", reconnect=True)


async def _expect(
    ws: WebSocketConnection, session: frames.Session, want: type[frames.Event], limit: float
) -> frames.Event:
    with trio.move_on_after(limit):
        while True:
            for event in session.receive(await ws.get_message()):
                if isinstance(event, want):
                    return event
                if isinstance(event, frames.ServerError) and event.fatal:
                    raise _server_error(event)
                if isinstance(event, frames.Malformed):
                    log.warning("da socket bad frame; ignored reason=%s", event.reason)
                    if session.phase is frames.Phase.FAILED:
                        raise _Drop("broken handshake reply")
    raise _Drop(f"no {want.__name__.lower()} reply within {limit:g}s")


async def _read(ws: WebSocketConnection, session: frames.Session, ing: _Ingest) -> None:
    while True:
        message = await ws.get_message()
        for event in session.receive(message):
            if isinstance(event, frames.Publication):
                await ing.from_socket(event.data)
            elif isinstance(event, frames.Malformed):
                log.warning("da socket bad frame; ignored reason=%s", event.reason)
            elif isinstance(event, frames.Unsubscribed):
                raise _Drop("the server ended our subscription")
            elif isinstance(event, frames.ServerError):
                log.warning("da socket error reply code=%d message=%r", event.code, event.message)
            elif isinstance(event, frames.Ignored):
                log.debug("da socket frame ignored reason=%s", event.reason)


async def _pinger(
    ws: WebSocketConnection,
    session: frames.Session,
    tuning: Tuning,
    ending: list[_Drop],
    scope: trio.CancelScope,
) -> None:
    try:
        while True:
            await trio.sleep(tuning.ping_interval)
            ping_id, frame = session.ping()
            await ws.send_message(frame)
            await trio.sleep(tuning.pong_timeout)
            if ping_id in session.pending_pings:
                ending.append(_Drop(f"no ping reply within {tuning.pong_timeout:g}s"))
                break
    except ConnectionClosed as exc:
        ending.append(_closed(exc))
    scope.cancel()


def _closed(exc: ConnectionClosed) -> _Drop:
    close = exc.reason
    info = frames.parse_close(close.code if close else None, close.reason if close else None)
    return _Drop(f"closed code={info.code} reason={info.reason!r}", reconnect=info.reconnect)


def _api_drop(exc: ApiError | OAuthError) -> _Drop:
    if isinstance(exc, AuthRevoked):
        raise exc
    return _Drop(str(exc), wait=exc.retry_after if isinstance(exc, RateLimited) else None)


_Stream = trio.SocketStream | trio.SSLStream[trio.SocketStream]


async def _open_stream(url: str, limit: float) -> tuple[_Stream, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise _Drop(
            f"DA_WS_URL must be a ws:// or wss:// URL, got scheme {parts.scheme!r}", reconnect=False
        )
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with trio.fail_after(limit):
            if parts.scheme == "wss":
                ctx = ssl.create_default_context()
                stream: _Stream = await trio.open_ssl_over_tcp_stream(
                    host, port, ssl_context=ctx, https_compatible=True
                )
            else:
                stream = await trio.open_tcp_stream(host, port)
    except (OSError, trio.TooSlowError) as exc:
        raise _Drop(f"cannot reach the socket: {exc.__class__.__name__}") from None
    return stream, host, resource


async def _session(
    ws: WebSocketConnection, user: User, api: DAClient, ing: _Ingest, tuning: Tuning
) -> _Drop:
    """Connect, subscribe, then read until the connection ends; returns why it ended."""
    channel = f"$alerts:donation_{user.id}"
    session = frames.Session()
    await ws.send_message(session.connect(user.socket_token))
    connected = await _expect(ws, session, frames.Connected, tuning.handshake_timeout)
    assert isinstance(connected, frames.Connected)
    try:
        tokens = await api.channel_tokens(connected.client, [channel])
    except (ApiError, OAuthError) as exc:
        return _api_drop(exc)
    if channel not in tokens:
        return _Drop("/centrifuge/subscribe returned no token for our channel")
    await ws.send_message(session.subscribe(channel, tokens[channel]))
    await _expect(ws, session, frames.Subscribed, tuning.handshake_timeout)
    ing.socket_up = True
    ing.generation += 1
    ing.generation_max = 0
    ing.sink.emit("source_connected", source=SOURCE, user_id=user.id)
    ing.wake()
    log.info("da socket connected user_id=%d client=%s", user.id, connected.client)
    ending: list[_Drop] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_pinger, ws, session, tuning, ending, nursery.cancel_scope)
        try:
            await _read(ws, session, ing)
        except ConnectionClosed as exc:
            ending.append(_closed(exc))
        except _Drop as drop:
            ending.append(drop)
        nursery.cancel_scope.cancel()
    return ending[0] if ending else _Drop("connection ended")


async def _connection(api: DAClient, ing: _Ingest, tuning: Tuning) -> None:
    """One connection, from ``/user/oauth`` to its end (always by raising :class:`_Drop`)."""
    try:
        user = await api.user()
    except (ApiError, OAuthError) as exc:
        raise _api_drop(exc) from None
    stream, host, resource = await _open_stream(ing.settings.DA_WS_URL, tuning.handshake_timeout)
    # The stream is ours to close: trio-websocket leaves it open after an abrupt drop.
    outcome: BaseException = _Drop("connection ended")
    try:
        async with trio.open_nursery() as nursery:
            ws: WebSocketConnection | None = None
            try:
                with trio.fail_after(tuning.handshake_timeout):
                    ws = await wrap_client_stream(
                        nursery, stream, host, resource, max_message_size=tuning.max_message
                    )
                outcome = await _session(ws, user, api, ing, tuning)
            except ConnectionClosed as exc:
                outcome = _closed(exc)
            except (HandshakeError, trio.TooSlowError) as exc:
                outcome = _Drop(f"websocket handshake failed: {_describe(exc)}")
            except (_Drop, AuthRevoked) as exc:
                outcome = exc
            finally:
                if ws is not None:
                    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                        await ws.aclose()
                nursery.cancel_scope.cancel()
    except* HandshakeError as group:
        # trio-websocket raises a refused handshake (e.g. HTTP 503) from its reader task.
        outcome = _Drop(f"websocket handshake refused: {_describe(group.exceptions[0])}")
    finally:
        await trio.aclose_forcefully(stream)
    raise outcome


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status is not None else exc.__class__.__name__


async def _socket_loop(api: DAClient, ing: _Ingest, tuning: Tuning) -> None:
    backoff = Backoff(
        base=tuning.reconnect_floor, floor=tuning.reconnect_floor, cap=tuning.reconnect_cap
    )
    while True:
        started = trio.current_time()
        try:
            await _connection(api, ing, tuning)
        except _Drop as drop:
            healthy = ing.socket_up and trio.current_time() - started >= tuning.healthy_after
            if ing.socket_up:
                ing.socket_up = False
                ing.sink.emit("source_disconnected", source=SOURCE, reason=str(drop))
                ing.wake()
            if healthy:
                backoff.reset()
            if drop.wait is not None:
                delay = drop.wait
            elif drop.reconnect:
                delay = backoff.next_delay()
            else:
                delay = tuning.reconnect_cap
            log.warning("da socket down reason=%s reconnect_in=%.1fs", drop, delay)
            await trio.sleep(delay)


async def _token_loop(tokens: TokenManager) -> None:
    backoff = Backoff(base=5.0, floor=1.0, cap=300.0)
    while True:
        t = tokens.tokens
        if t.expires_at is None:
            await trio.sleep(3600)
            continue
        margin = min(REFRESH_MARGIN_SEC, t.lifetime / 5 if t.lifetime else REFRESH_MARGIN_SEC)
        await trio.sleep(max(1.0, t.expires_at - margin - time.time()))
        try:
            await tokens.access_token()
            backoff.reset()
        except AuthRevoked:
            raise
        except OAuthError as exc:
            wait = backoff.next_delay()
            log.warning("da token refresh failed error=%s retry_in=%.1fs", exc, wait)
            await trio.sleep(wait)


async def serve(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the Donation Alerts source until cancelled.

    ``task_status.started()`` comes at once (the daemon does not wait for the internet); the
    socket, REST and token tasks are owned here and reconnect by themselves. Returns (never
    raises) when no credentials are configured, or when the sign-in is revoked: one error line
    says so and the daemon keeps its other sources.
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
    if not settings.da_configured:
        log.info("Donation Alerts: no credentials configured; source off")
        task_status.started()
        return
    tokens = TokenManager(settings, http, initial_tokens(settings))
    api = DAClient(http, settings, tokens, RateLimiter(tuning.rest_per_minute))
    ing = _Ingest(settings, sink)
    revoked: list[AuthRevoked] = []
    async with trio.open_nursery() as nursery:

        async def guarded(task: Callable[[], Awaitable[None]]) -> None:
            try:
                await task()
            except AuthRevoked as exc:
                revoked.append(exc)
                nursery.cancel_scope.cancel()

        nursery.start_soon(guarded, functools.partial(_rest_loop, api, ing, tuning))
        nursery.start_soon(guarded, functools.partial(_socket_loop, api, ing, tuning))
        nursery.start_soon(guarded, functools.partial(_token_loop, tokens))
        task_status.started()
    if ing.socket_up:
        sink.emit("source_disconnected", source=SOURCE, reason="signed out")
    if revoked:
        log.error(
            "Donation Alerts sign-in is no longer valid (%s); run `drawstreamd auth` to sign in "
            "again. Donation Alerts source stopped; the other sources keep running.",
            revoked[0],
        )
