"""What every source's HTTP API client shares: errors safe to log, pacing, one JSON call.

Each platform keeps its own client (auth headers, paths, reply shapes); this module holds the
parts that are the same everywhere: :class:`ApiError` and :class:`RateLimited` (whose
``str()`` never carries a token), :class:`RateLimiter` (at most N calls in any window), and
:func:`request_json` (one call, its failures mapped to those errors).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import trio

if TYPE_CHECKING:
    from collections.abc import Sequence

REQUEST_TIMEOUT_SEC = 15.0


class ApiError(Exception):
    """A failed API call worth retrying later; ``str()`` is safe to log."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(ApiError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class SignInRejected(ApiError):
    """The platform refused the configured credentials: a new key or sign-in is the fix."""


class RateLimiter:
    """At most ``limit`` calls in any window of ``period`` seconds (on Trio's clock)."""

    def __init__(self, limit: int = 60, period: float = 60.0) -> None:
        self.limit = limit
        self.period = period
        self._sent: collections.deque[float] = collections.deque()
        self._lock = trio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = trio.current_time()
                while self._sent and now - self._sent[0] > self.period:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                await trio.sleep_until(self._sent[0] + self.period + 0.001)


def retry_after(resp: httpx.Response, default: float = 60.0) -> float:
    """The reply's Retry-After in seconds, kept between 1 s and 5 min."""
    try:
        return max(1.0, min(300.0, float(resp.headers.get("Retry-After", default))))
    except ValueError:
        return default


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    limit: float = REQUEST_TIMEOUT_SEC,
) -> httpx.Response:
    """One request; a transport failure is an :class:`ApiError` naming ``what``, never the URL
    (which may carry a key)."""
    try:
        return await http.request(
            method,
            url,
            headers=dict(headers or {}),
            params=(dict(params) if isinstance(params, Mapping) else list(params))
            if params
            else None,
            json=json,
            data=dict(data) if data else None,
            timeout=limit,
        )
    except httpx.HTTPError as exc:
        raise ApiError(f"{what}: {exc.__class__.__name__}") from None


def decode(resp: httpx.Response, what: str) -> Any:
    """The JSON body of a 2xx reply; 429 → :class:`RateLimited`, other codes → ApiError."""
    if resp.status_code == 429:
        wait = retry_after(resp)
        raise RateLimited(f"{what}: HTTP 429, retry in {wait:g} s", retry_after=wait)
    if not 200 <= resp.status_code < 300:
        raise ApiError(f"{what}: HTTP {resp.status_code}", status=resp.status_code)
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return msgspec.json.decode(resp.content)
    except msgspec.DecodeError:
        raise ApiError(f"{what}: reply is not JSON", status=resp.status_code) from None
