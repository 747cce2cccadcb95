"""One EventSub session over WebSocket: its connections, in tasks, driven by
:class:`~drawstreamd.sources.twitch.eventsub.Session`.

Each connection runs in its own task and hands every frame (and its close) to one inbox; the
session loop feeds them to the state machine and does what it says: subscribe after a fresh
welcome (in a task, so frames keep being read: Twitch wants the subscriptions within 10 s),
open the ``reconnect_url`` as a second connection, close the old one once the new one said
welcome, hand notifications to the handler, and end the session when the keepalive is lost or
the connection closes unasked. The client sends no frames at all (Twitch closes 4001 on any).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import trio

from drawstreamd.sources.twitch import eventsub
from drawstreamd.sources.wsclient import Drop, run_websocket
from drawstreamd.sources.wsclient import Tuning as SocketTuning

if TYPE_CHECKING:
    from trio_websocket import WebSocketConnection

log = logging.getLogger("drawstreamd.twitch")


@dataclass(frozen=True)
class Tuning(SocketTuning):
    keepalive_seconds: int | None = None
    """Asked of Twitch with ``?keepalive_timeout_seconds`` (10–600); None: Twitch's 10."""
    subscribe_timeout: float = 8.0
    """Subscribing must finish inside Twitch's 10 s; past this the connection is given up."""
    recheck_sec: float = 60.0
    """How often redemptions still waiting for a status are looked at without an event."""
    validate_sec: float = 3600.0
    """Twitch asks apps to validate their tokens hourly."""


class Handler(Protocol):
    async def subscribe(self, session_id: str) -> None:
        """Create the subscriptions (raise :class:`Drop` to give the connection up)."""
        ...

    async def up(self) -> None:
        """Subscribed: the session delivers from now on."""
        ...

    async def notification(self, note: eventsub.Notification) -> None: ...

    async def revoked(self, revoked: eventsub.Revoked) -> None:
        """A subscription ended (raise to stop the source, or :class:`Drop`)."""
        ...


def base_url(url: str, keepalive: int | None) -> str:
    if keepalive is None:
        return url
    parts = urlsplit(url)
    query = "&".join(
        q for q in (parts.query, urlencode({"keepalive_timeout_seconds": keepalive})) if q
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@dataclass(frozen=True)
class _Frame:
    conn: int
    message: str | bytes


@dataclass(frozen=True)
class _Closed:
    conn: int
    code: int | None
    reason: str


@dataclass(frozen=True)
class _Ended:
    """The subscribe task's verdict: a Drop ends the session; an exception stops the source."""

    drop: Drop | None = None
    failure: Exception | None = None


_Item = _Frame | _Closed | _Ended


async def _connection(
    conn: int,
    url: str,
    inbox: trio.MemorySendChannel[_Item],
    tuning: Tuning,
    *,
    task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED,
) -> None:
    with trio.CancelScope() as scope:
        task_status.started(scope)
        seen: list[tuple[int | None, str]] = []

        def on_close(code: int | None, reason: str) -> Drop:
            seen.append((code, reason))
            return Drop(eventsub.close_reason(code, reason))

        async def read(ws: WebSocketConnection) -> Drop:
            while True:
                inbox.send_nowait(_Frame(conn, await ws.get_message()))

        drop = await run_websocket(
            url,
            read,
            setting="TWITCH_EVENTSUB_URL",
            limit=tuning.handshake_timeout,
            max_message=tuning.max_message,
            on_close=on_close,
        )
        code, reason = seen[0] if seen else (None, str(drop))
        inbox.send_nowait(_Closed(conn, code, reason))


class _Run:
    """The connections of one session and the loop that reads them."""

    def __init__(self, handler: Handler, tuning: Tuning, nursery: trio.Nursery) -> None:
        self.handler = handler
        self.tuning = tuning
        self.nursery = nursery
        self.session = eventsub.Session(trio.current_time())
        self.send, self.inbox = trio.open_memory_channel[_Item](math.inf)
        self.scopes: dict[int, trio.CancelScope] = {}
        self.counter = 0

    async def open(self, url: str, *, reconnect: bool) -> None:
        self.counter += 1
        self.session.opened(self.counter, reconnect=reconnect)
        self.scopes[self.counter] = await self.nursery.start(
            functools.partial(_connection, self.counter, url, self.send, self.tuning)
        )

    async def setup(self, session_id: str) -> None:
        try:
            with trio.fail_after(self.tuning.subscribe_timeout):
                await self.handler.subscribe(session_id)
            await self.handler.up()
        except trio.TooSlowError:
            self.send.send_nowait(_Ended(Drop("subscribing took too long")))
        except Drop as drop:
            self.send.send_nowait(_Ended(drop))
        except Exception as exc:
            self.send.send_nowait(_Ended(failure=exc))

    async def loop(self) -> Drop | Exception:
        session = self.session
        while True:
            item: _Item | None = None
            with trio.move_on_at(session.deadline):
                item = await self.inbox.receive()
            now = trio.current_time()
            if item is None:
                dead = session.expired(now)
                if dead is not None:
                    return Drop(dead.reason)
                continue
            if isinstance(item, _Ended):
                return item.failure or item.drop or Drop("connection ended")
            if isinstance(item, _Closed):
                self.scopes.pop(item.conn, None)
                events = session.closed(item.conn, item.code, item.reason)
            else:
                events = session.receive(item.conn, item.message, now, time.time())
            for event in events:
                ending = await self.act(event)
                if ending is not None:
                    return ending

    async def act(self, event: eventsub.Event) -> Drop | Exception | None:
        if isinstance(event, eventsub.Dead):
            return Drop(event.reason)
        if isinstance(event, eventsub.Welcome):
            if event.fresh:
                self.nursery.start_soon(self.setup, event.session_id)
            else:
                log.info("twitch eventsub moved to the reconnect url session=%s", event.session_id)
        elif isinstance(event, eventsub.CloseOld):
            old = self.scopes.pop(event.conn, None)
            if old is not None:
                old.cancel()
        elif isinstance(event, eventsub.OpenReconnect):
            log.info("twitch eventsub asked to reconnect; opening the new url first")
            await self.open(event.url, reconnect=True)
        elif isinstance(event, eventsub.Notification):
            await self.handler.notification(event)
        elif isinstance(event, eventsub.Revoked):
            try:
                await self.handler.revoked(event)
            except Drop as drop:
                return drop
            except Exception as exc:
                return exc
        elif isinstance(event, eventsub.Malformed):
            log.warning("twitch eventsub bad frame; ignored reason=%s", event.reason)
        elif isinstance(event, eventsub.Ignored):
            log.debug("twitch eventsub frame ignored reason=%s", event.reason)
        return None


async def run_session(url: str, handler: Handler, tuning: Tuning) -> Drop:
    """One session, from the first connection to its end; returns why it ended. An exception
    the handler raises (a revoked sign-in) is raised once every connection is closed."""
    async with trio.open_nursery() as nursery:
        run = _Run(handler, tuning, nursery)
        await run.open(base_url(url, tuning.keepalive_seconds), reconnect=False)
        outcome = await run.loop()
        nursery.cancel_scope.cancel()
    if isinstance(outcome, Exception) and not isinstance(outcome, Drop):
        raise outcome
    assert isinstance(outcome, Drop)
    return outcome
