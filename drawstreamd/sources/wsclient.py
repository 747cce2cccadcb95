"""One client WebSocket connection, from the TCP connect to the last byte, for every source.

:func:`run_websocket` opens ``ws://`` or ``wss://`` (TLS with the system's CA store), runs a
session callback on the connection and always ends with a :class:`Drop` that says why: the
callback's own, the server's close (read by a platform's ``on_close``), a refused handshake
(HTTP 502/503/429…) or an unreachable host. The TCP stream is closed here in every case:
trio-websocket leaves it open after an abrupt drop.
"""

from __future__ import annotations

import ssl
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

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence


class Drop(Exception):
    """Why a connection ended; ``str()`` is safe to log.

    ``reconnect`` False means the platform asked us not to come back soon (the loop waits its
    longest delay); ``wait`` is a delay the platform named (Retry-After).
    """

    def __init__(self, reason: str, *, reconnect: bool = True, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reconnect = reconnect
        self.wait = wait


def closed_plainly(code: int | None, reason: str) -> Drop:
    return Drop(f"closed code={code} reason={reason[:120]!r}")


_Stream = trio.SocketStream | trio.SSLStream[trio.SocketStream]


async def _open_stream(url: str, setting: str, limit: float) -> tuple[_Stream, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise Drop(
            f"{setting} must be a ws:// or wss:// URL, got scheme {parts.scheme!r}", reconnect=False
        )
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with trio.fail_after(limit):
            if parts.scheme == "wss":
                stream: _Stream = await trio.open_ssl_over_tcp_stream(
                    host, port, ssl_context=ssl.create_default_context(), https_compatible=True
                )
            else:
                stream = await trio.open_tcp_stream(host, port)
    except (OSError, trio.TooSlowError) as exc:
        raise Drop(f"cannot reach {host}:{port}: {exc.__class__.__name__}") from None
    return stream, host, resource


def _refused(exc: BaseException) -> Drop:
    status = getattr(exc, "status_code", None)
    if status is None:
        return Drop(f"websocket handshake failed: {exc.__class__.__name__}")
    wait: float | None = None
    headers = getattr(exc, "headers", None) or []
    for name, value in headers:
        if bytes(name).lower() == b"retry-after":
            try:
                wait = max(1.0, min(300.0, float(bytes(value).decode("latin-1"))))
            except ValueError:
                wait = None
    return Drop(f"websocket handshake refused: HTTP {status}", wait=wait)


async def run_websocket(
    url: str,
    session: Callable[[WebSocketConnection], Awaitable[Drop]],
    *,
    setting: str,
    limit: float,
    max_message: int,
    on_close: Callable[[int | None, str], Drop] = closed_plainly,
) -> Drop:
    """Connect to ``url`` and run ``session(ws)``; returns why the connection ended.

    ``session`` returns (or raises) a :class:`Drop`; a server close becomes
    ``on_close(code, reason)``. ``limit`` bounds the connect and the handshake; ``setting``
    names the URL's key for error lines. Any other exception from ``session`` is raised
    after the connection is closed.
    """
    try:
        stream, host, resource = await _open_stream(url, setting, limit)
    except Drop as drop:
        return drop
    outcome: Drop | None = None
    failure: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            ws: WebSocketConnection | None = None
            try:
                with trio.fail_after(limit):
                    ws = await wrap_client_stream(
                        nursery, stream, host, resource, max_message_size=max_message
                    )
                outcome = await session(ws)
            except ConnectionClosed as exc:
                close = exc.reason
                code = close.code if close else None
                outcome = on_close(code, (close.reason or "") if close else "")
            except (HandshakeError, trio.TooSlowError) as exc:
                outcome = _refused(exc)
            except Drop as drop:
                outcome = drop
            except Exception as exc:
                # raised after the nursery is closed, so callers see it bare, not grouped
                failure = exc
            finally:
                if ws is not None:
                    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                        await ws.aclose()
                nursery.cancel_scope.cancel()
    except* HandshakeError as group:
        # trio-websocket raises a refused upgrade (e.g. HTTP 503) from its reader task
        outcome = _refused(group.exceptions[0])
    finally:
        await trio.aclose_forcefully(stream)
    if failure is not None:
        raise failure
    return outcome or Drop("connection ended")


async def race(
    *until: Callable[[], Awaitable[Drop]],
    also: Sequence[Callable[[], Awaitable[None]]] = (),
    on_close: Callable[[int | None, str], Drop] = closed_plainly,
) -> Drop:
    """Run the ``until`` tasks and the ``also`` tasks until an ``until`` task ends.

    Returns the first :class:`Drop` (a server close, read by ``on_close``, counts as one); an
    ``also`` task may simply finish. Any other exception from any task cancels the rest and is
    raised bare (not in an exception group), so callers can catch it by type.
    """
    ending: list[Drop] = []
    failure: list[Exception] = []
    async with trio.open_nursery() as nursery:

        async def guard(task: Callable[[], Awaitable[Drop | None]], final: bool) -> None:
            try:
                result = await task()
            except ConnectionClosed as exc:
                close = exc.reason
                code = close.code if close else None
                result = on_close(code, (close.reason or "") if close else "")
            except Drop as drop:
                result = drop
            except Exception as exc:
                failure.append(exc)
                nursery.cancel_scope.cancel()
                return
            if result is not None or final:
                ending.append(result or Drop("connection ended"))
                nursery.cancel_scope.cancel()

        for final in until:
            nursery.start_soon(guard, final, True)
        for extra in also:
            nursery.start_soon(guard, extra, False)
    if failure:
        raise failure[0]
    return ending[0] if ending else Drop("connection ended")


@dataclass(frozen=True)
class Tuning:
    """A source's connection timings (tests shorten them; the defaults are the product's)."""

    reconnect_floor: float = 1.0
    reconnect_cap: float = 30.0
    healthy_after: float = 30.0
    """A connection that lived this long resets the backoff."""
    ping_interval: float = 15.0
    pong_timeout: float = 5.0
    handshake_timeout: float = 10.0
    max_message: int = 1024 * 1024

    def reconnects(self) -> Reconnects:
        return Reconnects(
            floor=self.reconnect_floor, cap=self.reconnect_cap, healthy_after=self.healthy_after
        )


class Reconnects:
    """When to try again after a connection ended: the shared backoff (floor ≤ delay ≤ cap,
    jittered), reset after a connection that stayed up ``healthy_after`` seconds; a delay
    the platform named wins; "do not reconnect" waits the whole cap."""

    def __init__(self, *, floor: float, cap: float, healthy_after: float) -> None:
        self.cap = cap
        self.healthy_after = healthy_after
        self.backoff = Backoff(base=floor, floor=floor, cap=cap)

    def delay(self, drop: Drop, lived: float | None) -> float:
        """``lived``: how long the connection was up (None when it never came up)."""
        if lived is not None and lived >= self.healthy_after:
            self.backoff.reset()
        if drop.wait is not None:
            return drop.wait
        if drop.reconnect:
            return self.backoff.next_delay()
        return self.cap
