"""The event bus: every control surface (``idle``, the events WebSocket, the overlay) listens here.

Emitting never blocks: a subscriber that falls behind loses the oldest events it has not read
and is told how many it missed, so a stuck client cannot slow the worker or the picture.
"""

from __future__ import annotations

import collections
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.model import Event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class Subscription:
    def __init__(self, kinds: frozenset[str] | None, limit: int) -> None:
        self.kinds = kinds
        self._buffer: collections.deque[Event] = collections.deque(maxlen=limit)
        self.missed = 0
        self._ready = trio.Event()

    def _push(self, event: Event) -> None:
        if self.kinds is not None and event.kind not in self.kinds:
            return
        if len(self._buffer) == self._buffer.maxlen:
            self.missed += 1
        self._buffer.append(event)
        self._ready.set()

    def pending(self) -> bool:
        return bool(self._buffer)

    def drain(self) -> list[Event]:
        out = list(self._buffer)
        self._buffer.clear()
        self._ready = trio.Event()
        return out

    async def wait(self) -> None:
        """Until at least one event is buffered."""
        if self._buffer:
            return
        await self._ready.wait()

    async def next_batch(self) -> list[Event]:
        await self.wait()
        return self.drain()


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def emit(self, kind: str, item_id: int | None = None, **data: Any) -> Event:
        event = Event(kind=kind, item_id=item_id, data=data, at=time.time())
        for sub in list(self._subs):
            sub._push(event)
        return event

    def attach(self, kinds: frozenset[str] | None = None, limit: int = 1000) -> Subscription:
        """A subscription that lasts until :meth:`detach` (prefer :meth:`subscribe`)."""
        sub = Subscription(kinds, limit)
        self._subs.add(sub)
        return sub

    def detach(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @asynccontextmanager
    async def subscribe(
        self, kinds: frozenset[str] | None = None, limit: int = 1000
    ) -> AsyncIterator[Subscription]:
        sub = self.attach(kinds, limit)
        try:
            yield sub
        finally:
            self.detach(sub)
