"""Load shedding for the HTTP API, so that no client can make the picture stutter.

The HTTP server shares the daemon's Trio loop with the renderer, so every request costs the
picture a little. Three bounds keep that cost small whatever clients do:

* a token bucket per client address (``rate`` requests per second, ``burst`` at once);
* a cap on requests being handled at the same time (``max_inflight``);
* a refused request is answered ``429`` only after a short pause (a tarpit): a flooding
  client that waits for each answer on its keep-alive connections can then send only
  ``connections / tarpit_sec`` requests per second, instead of as many as the CPU allows.

:class:`RateLimiter` is pure (the clock is passed in); :class:`ShedLoad` is the ASGI wrapper.

:class:`WrongCredentials` (pure as well) counts wrong tokens and sign-in codes per address, so
that guessing is held to :data:`WRONG_LIMIT` tries a minute.
"""

from __future__ import annotations

import collections
import ipaddress
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import trio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

RATE_PER_SEC = 250.0
BURST = 500
MAX_INFLIGHT = 64
MAX_TRACKED = 4096
TARPIT_SEC = 0.5


class RateLimiter:
    """Token buckets per client key; remembers at most ``max_tracked`` clients (LRU)."""

    def __init__(
        self,
        rate: float = RATE_PER_SEC,
        burst: int = BURST,
        *,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_tracked = max_tracked
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_tracked:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, key: str) -> float:
        tokens, _ = self._buckets.get(key, (self.burst, 0.0))
        return max(0.0, (1.0 - tokens) / self.rate)

    def __len__(self) -> int:
        return len(self._buckets)


_BODY = b'{"error":"busy","code":57,"message":"too many requests; slow down"}'
_CLOSE = (b"connection", b"close")


def _has_body(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class ShedLoad:
    """ASGI middleware: refuse with 429 what the limits do not allow, before the app runs."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter | None = None,
        *,
        max_inflight: int = MAX_INFLIGHT,
        tarpit_sec: float = TARPIT_SEC,
        exempt: Callable[[Scope], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        gate: trio.CapacityLimiter | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.max_inflight = max_inflight
        self.tarpit_sec = tarpit_sec
        self.exempt = exempt
        self.clock = clock
        self.inflight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (self.exempt and self.exempt(scope)):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = str(client[0]) if client else "?"
        if self.inflight >= self.max_inflight or not self.limiter.allow(key, self.clock()):
            self.refused += 1
            await self._refuse(kind, key, send, scope)
            return
        # a WebSocket holds its slot only while it is being set up, not for its lifetime
        self.inflight += 1
        released = False
        body_read = not _has_body(scope)

        async def receive_and_note() -> Message:
            nonlocal body_read
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                body_read = True
            return message

        async def send_and_release(message: Message) -> None:
            nonlocal released
            kind = message["type"]
            if kind == "http.response.start" and not body_read:
                # Answered without reading the body (401, 405, 415…): Hypercorn would then
                # stall the next request on this keep-alive connection, so end it instead.
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            done = kind in ("websocket.accept", "websocket.close") or (
                kind == "http.response.body" and not message.get("more_body")
            )
            if done and not released:
                released = True
                self.inflight -= 1
            await send(message)

        try:
            if self.gate is None or kind == "websocket":
                await self.app(scope, receive_and_note, send_and_release)
            else:
                async with self.gate:
                    await self.app(scope, receive_and_note, send_and_release)
        finally:
            if not released:
                self.inflight -= 1

    async def _refuse(self, kind: str, key: str, send: Send, scope: Scope) -> None:
        await trio.sleep(self.tarpit_sec)
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1013})
            return
        retry = max(1, round(self.limiter.retry_after(key) + 0.5))
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(retry).encode()),
                    (b"content-length", str(len(_BODY)).encode()),
                    *([_CLOSE] if _has_body(scope) else []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BODY})


# -- wrong credentials ---------------------------------------------------------------------------
WRONG_LIMIT = 10
WRONG_WINDOW_SEC = 60.0


def client_key(address: str | None) -> str:
    """Whom to count a request against: its IPv4 address, or its IPv6 /64 (one host's share)."""
    if not address:
        return "?"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and not ip.is_loopback:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class WrongCredentials:
    """Wrong tokens and sign-in codes per client: after ``limit`` within ``window`` seconds the
    client is refused (429) until the oldest of them is ``window`` seconds old. Pure: the clock
    is passed in; remembers at most ``max_tracked`` clients."""

    def __init__(
        self,
        limit: int = WRONG_LIMIT,
        window: float = WRONG_WINDOW_SEC,
        *,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_tracked = max_tracked
        self._seen: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def locked_for(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0.0 when it may now."""
        times = self._seen.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[key]
            return 0.0
        if len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now

    def record(self, key: str, now: float) -> None:
        times = self._seen.pop(key, None) or collections.deque(maxlen=self.limit)
        times.append(now)
        self._seen[key] = times
        if len(self._seen) > self.max_tracked:
            self._seen.popitem(last=False)
