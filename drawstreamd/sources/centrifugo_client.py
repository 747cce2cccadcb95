"""One subscribed Centrifugo v2 connection, for the platforms that speak it (Donation Alerts,
DonatePay): connect with a token, get this connection's private-channel token, subscribe, then
read publications while a pinger sends method 7 and declares a silent connection dead.

The pure protocol is :mod:`drawstreamd.sources.centrifugo`; what differs per platform (where
the channel token comes from, what a publication means) is a :class:`Channel`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import trio

from drawstreamd.sources import centrifugo as frames
from drawstreamd.sources.wsclient import Drop, race

if TYPE_CHECKING:
    import logging

    from trio_websocket import WebSocketConnection


@dataclass(frozen=True)
class Timing:
    handshake_timeout: float
    ping_interval: float
    pong_timeout: float


class Channel(Protocol):
    """A platform's private channel on one connection."""

    name: str
    """The channel, e.g. ``$alerts:donation_42``."""

    async def channel_token(self, client: str) -> str:
        """The token for this connection's client id (raise :class:`Drop` when there is none)."""
        ...

    async def subscribed(self, client: str) -> None:
        """The subscription is confirmed: the connection is up."""
        ...

    async def publication(self, data: Any) -> None:
        """One published object."""
        ...


def close_drop(code: int | None, reason: str) -> Drop:
    """A server close: Centrifugo says in a JSON reason whether to come back."""
    info = frames.parse_close(code, reason or None)
    return Drop(f"closed code={info.code} reason={info.reason!r}", reconnect=info.reconnect)


async def _expect(
    ws: WebSocketConnection,
    session: frames.Session,
    want: type[frames.Event],
    limit: float,
    log: logging.Logger,
    prefix: str,
) -> frames.Event:
    with trio.move_on_after(limit):
        while True:
            for event in session.receive(await ws.get_message()):
                if isinstance(event, want):
                    return event
                if isinstance(event, frames.ServerError) and event.fatal:
                    # 109 "token expired": a new connection token fixes it: reconnect as usual
                    raise Drop(f"server error {event.code} {event.message!r}")
                if isinstance(event, frames.Malformed):
                    log.warning("%s socket bad frame; ignored reason=%s", prefix, event.reason)
                    if session.phase is frames.Phase.FAILED:
                        raise Drop("broken handshake reply")
    raise Drop(f"no {want.__name__.lower()} reply within {limit:g}s")


async def _read(
    ws: WebSocketConnection,
    session: frames.Session,
    channel: Channel,
    log: logging.Logger,
    prefix: str,
) -> Drop:
    while True:
        message = await ws.get_message()
        for event in session.receive(message):
            if isinstance(event, frames.Publication):
                await channel.publication(event.data)
            elif isinstance(event, frames.Malformed):
                log.warning("%s socket bad frame; ignored reason=%s", prefix, event.reason)
            elif isinstance(event, frames.Unsubscribed):
                return Drop("the server ended our subscription")
            elif isinstance(event, frames.ServerError):
                log.warning(
                    "%s socket error reply code=%d message=%r", prefix, event.code, event.message
                )
            elif isinstance(event, frames.Ignored):
                log.debug("%s socket frame ignored reason=%s", prefix, event.reason)


async def _pinger(ws: WebSocketConnection, session: frames.Session, timing: Timing) -> Drop:
    while True:
        await trio.sleep(timing.ping_interval)
        ping_id, frame = session.ping()
        await ws.send_message(frame)
        await trio.sleep(timing.pong_timeout)
        if ping_id in session.pending_pings:
            return Drop(f"no ping reply within {timing.pong_timeout:g}s")


async def subscribed_session(
    ws: WebSocketConnection,
    *,
    token: str,
    channel: Channel,
    timing: Timing,
    log: logging.Logger,
    prefix: str,
) -> Drop:
    """Connect, subscribe, then read until the connection ends; returns why it ended."""
    session = frames.Session()
    await ws.send_message(session.connect(token))
    connected = await _expect(ws, session, frames.Connected, timing.handshake_timeout, log, prefix)
    assert isinstance(connected, frames.Connected)
    channel_token = await channel.channel_token(connected.client)
    await ws.send_message(session.subscribe(channel.name, channel_token))
    await _expect(ws, session, frames.Subscribed, timing.handshake_timeout, log, prefix)
    await channel.subscribed(connected.client)
    return await race(
        functools.partial(_read, ws, session, channel, log, prefix),
        functools.partial(_pinger, ws, session, timing),
        on_close=close_drop,
    )
