"""One Centrifugo connection to Donation Alerts, and the loop that keeps one open.

Every connection runs the whole chain (``/user/oauth`` → connect frame →
``POST /centrifuge/subscribe`` with this connection's client id → subscribe, method 1), then
reads publications while a pinger sends method 7 and declares a silent connection dead.
Reconnects follow the shared :class:`~drawstreamd.retry.Backoff` (≥ 1 s, ≤ 30 s, jittered); a
close that says ``reconnect: false`` waits the full cap.
"""

from __future__ import annotations

import logging
import ssl
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
from drawstreamd.sources.base import SourceState, report
from drawstreamd.sources.donationalerts import frames
from drawstreamd.sources.donationalerts.donation import SOURCE
from drawstreamd.sources.donationalerts.oauth import AuthRevoked, OAuthError
from drawstreamd.sources.donationalerts.rest import ApiError, DAClient, RateLimited, User

if TYPE_CHECKING:
    from drawstreamd.sources.donationalerts.ingest import Ingest, Tuning

log = logging.getLogger("drawstreamd.da")


class _Drop(Exception):
    def __init__(self, reason: str, *, reconnect: bool = True, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reconnect = reconnect
        self.wait = wait


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


async def _read(ws: WebSocketConnection, session: frames.Session, ing: Ingest) -> None:
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
    ws: WebSocketConnection, user: User, api: DAClient, ing: Ingest, tuning: Tuning
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
    report(ing.sink, SOURCE, SourceState.CONNECTED, f"user id {user.id}")
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


async def _connection(api: DAClient, ing: Ingest, tuning: Tuning) -> None:
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


async def socket_loop(api: DAClient, ing: Ingest, tuning: Tuning) -> None:
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
                report(ing.sink, SOURCE, SourceState.RETRYING, str(drop))
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
