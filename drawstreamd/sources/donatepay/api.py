"""The DonatePay HTTP API: the user, the transactions list and the socket tokens.

The API key goes in the ``access_token`` query parameter (or, for the connection token, the
JSON body); replies are ``{"status": "success"|"error", "data": …}``. Each method may be called
about once per ``DP_REQUEST_INTERVAL_SEC`` (the clients' word: once per 20 s), and a second
call too soon gets HTTP 429 with an HTML page, so every call of one path waits its turn here.
The socket-token endpoint is called twice per connection (connection token, then channel
token), as every client does, and is paced by the reconnect backoff instead.
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.sources.api import ApiError, RateLimited, SignInRejected, decode, send
from drawstreamd.sources.donatepay.transactions import (
    BadTransaction,
    Transaction,
    parse_transaction,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from drawstreamd.config import Settings

log = logging.getLogger("drawstreamd.donatepay")

PAGE = 100
MAX_PAGES = 60


class _Pacer:
    """Calls of one path at least ``interval`` seconds apart, counted from the end of one call
    to the start of the next (on Trio's clock)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._locks: dict[str, trio.Lock] = {}

    @asynccontextmanager
    async def turn(self, path: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(path, trio.Lock()):
            await trio.sleep_until(self._next.get(path, 0.0))
            try:
                yield
            finally:
                self._next[path] = trio.current_time() + self.interval


class DPClient:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._base = settings.DP_API_URL
        self._key = settings.DP_API_KEY.get_secret_value()
        self.pacer = _Pacer(settings.DP_REQUEST_INTERVAL_SEC)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        key_in_query: bool = True,
        paced: bool = True,
    ) -> Any:
        query = {**(params or {}), **({"access_token": self._key} if key_in_query else {})}
        async with self.pacer.turn(path) if paced else contextlib.nullcontext():
            resp = await send(
                self._http,
                method,
                f"{self._base}{path}",
                what=path,
                params=query,
                json=json,
                headers={"Accept": "application/json"},
            )
        if resp.status_code in (401, 403):
            raise SignInRejected(
                f"{path}: HTTP {resp.status_code}: DonatePay refused the API key",
                status=resp.status_code,
            )
        if resp.status_code == 429 and "Retry-After" not in resp.headers:
            # DonatePay's 429 is an HTML page without Retry-After: a pacing interval, at least
            wait = self.pacer.interval
            raise RateLimited(f"{path}: HTTP 429, retry in {wait:g} s", retry_after=wait)
        raw = decode(resp, path)
        if isinstance(raw, dict) and raw.get("status") == "error":
            message = str(raw.get("message", ""))[:200]
            if "token" in message.lower() or "key" in message.lower():
                raise SignInRejected(f"{path}: DonatePay said: {message}")
            raise ApiError(f"{path}: DonatePay said: {message}")
        return raw

    async def user_id(self) -> tuple[int, str]:
        raw = await self._call("GET", "/v1/user")
        data = raw.get("data") if isinstance(raw, dict) else None
        uid = data.get("id") if isinstance(data, dict) else None
        if isinstance(uid, str) and uid.isdigit():
            uid = int(uid)
        if isinstance(uid, bool) or not isinstance(uid, int):
            raise ApiError("/v1/user: reply has no user id")
        name = data.get("name", "") if isinstance(data, dict) else ""
        return uid, str(name or "")

    async def connection_token(self) -> str:
        raw = await self._call(
            "POST",
            "/v2/socket/token",
            json={"access_token": self._key},
            key_in_query=False,
            paced=False,
        )
        token = raw.get("token") if isinstance(raw, dict) else None
        if not isinstance(token, str) or not token:
            raise ApiError("/v2/socket/token: reply has no token")
        return token

    async def channel_token(self, client: str, channel: str) -> str:
        raw = await self._call(
            "POST", "/v2/socket/token", json={"client": client, "channels": [channel]}, paced=False
        )
        channels = raw.get("channels") if isinstance(raw, dict) else None
        for entry in channels if isinstance(channels, list) else []:
            if isinstance(entry, dict) and entry.get("channel") == channel:
                token = entry.get("token")
                if isinstance(token, str) and token:
                    return token
        raise ApiError("/v2/socket/token: no token for our channel")

    async def transactions(self, *, after: int | None, order: str, limit: int = PAGE) -> list[Any]:
        params = {"limit": str(limit), "order": order, "type": "donation", "status": "success"}
        if after is not None:
            params["after"] = str(after)
        raw = await self._call("GET", "/v1/transactions", params=params)
        data = raw.get("data") if isinstance(raw, dict) else None
        if not isinstance(data, list):
            raise ApiError("/v1/transactions: reply has no data list")
        return data


async def newest_id(api: DPClient) -> int:
    """The newest donation's transaction id (0 with none at all)."""
    items = await api.transactions(after=None, order="DESC", limit=1)
    ids = [i.get("id") for i in items if isinstance(i, dict)]
    return max((int(i) for i in ids if isinstance(i, int) and not isinstance(i, bool)), default=0)


async def fetch_since(api: DPClient, watermark: int) -> tuple[list[Transaction], int]:
    """Donations after ``watermark``, oldest first, and the newest id seen."""
    found: dict[int, Transaction] = {}
    newest = after = watermark
    for _ in range(MAX_PAGES):
        items = await api.transactions(after=after, order="ASC")
        for raw in items:
            try:
                t = parse_transaction(raw)
            except BadTransaction as exc:
                log.error("donatepay transaction unreadable; not queued error=%s", exc)
                continue
            if t.id > watermark:
                found.setdefault(t.id, t)
                newest = max(newest, t.id)
        ids = [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)]
        if len(items) < PAGE or not ids or max(ids) <= after:
            break
        after = max(ids)
    else:
        log.warning("donatepay catch-up stopped after %d pages watermark=%d", MAX_PAGES, watermark)
    return [found[k] for k in sorted(found)], newest
