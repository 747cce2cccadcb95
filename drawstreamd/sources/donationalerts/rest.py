"""The Donation Alerts HTTP API: rate-limited, 401 → one refresh → retry, and REST catch-up.

Every ``/api/v1`` call goes through one :class:`RateLimiter` (60 requests in any minute: the
documented per-application limit). :func:`fetch_since` pages ``/alerts/donations`` (newest
first) back to the watermark: the highest donation id already handed to the journal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from drawstreamd.sources.api import ApiError, RateLimited, RateLimiter, retry_after
from drawstreamd.sources.donationalerts.donation import BadDonation, parse_donation

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.model import Donation
    from drawstreamd.sources.donationalerts.oauth import TokenManager

__all__ = ["ApiError", "DAClient", "RateLimited", "RateLimiter", "fetch_since", "newest_id"]

log = logging.getLogger("drawstreamd.da")

REQUESTS_PER_MINUTE = 60
REQUEST_TIMEOUT_SEC = 15.0
MAX_CATCH_UP_PAGES = 200
"""6,000 donations: past this a catch-up stops and says so, rather than page forever."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    socket_token: str


@dataclass(frozen=True)
class Page:
    items: list[Any]
    has_next: bool


class _UserData(msgspec.Struct):
    id: int
    socket_connection_token: str
    name: str = ""


class _UserReply(msgspec.Struct):
    data: _UserData


class _ChannelToken(msgspec.Struct):
    channel: str
    token: str


class _ChannelsReply(msgspec.Struct):
    channels: list[_ChannelToken]


class DAClient:
    """The three API calls the ingestor makes, each authorised and rate-limited."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        tokens: TokenManager,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._base = settings.DA_API_URL
        self.tokens = tokens
        self.limiter = limiter or RateLimiter(REQUESTS_PER_MINUTE)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        resp: httpx.Response | None = None
        for attempt in range(2):
            token = await self.tokens.access_token()
            await self.limiter.acquire()
            try:
                resp = await self._http.request(
                    method,
                    f"{self._base}{path}",
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=REQUEST_TIMEOUT_SEC,
                )
            except httpx.HTTPError as exc:
                raise ApiError(f"{path}: {exc.__class__.__name__}") from None
            if resp.status_code == 401 and attempt == 0:
                log.info("da api answered 401; refreshing the access token path=%s", path)
                await self.tokens.refresh(token)
                continue
            break
        assert resp is not None
        if resp.status_code == 429:
            wait = retry_after(resp)
            raise RateLimited(f"{path}: HTTP 429, retry in {wait:g} s", retry_after=wait)
        if resp.status_code != 200:
            hint = " (missing scope? see DA_SCOPES)" if resp.status_code == 403 else ""
            raise ApiError(f"{path}: HTTP {resp.status_code}{hint}", status=resp.status_code)
        try:
            return msgspec.json.decode(resp.content)
        except msgspec.DecodeError:
            raise ApiError(f"{path}: reply is not JSON", status=resp.status_code) from None

    async def user(self) -> User:
        raw = await self._call("GET", "/user/oauth")
        try:
            data = msgspec.convert(raw, _UserReply, strict=False).data
        except msgspec.ValidationError as exc:
            raise ApiError(f"/user/oauth: unexpected reply: {exc}") from None
        return User(data.id, data.name, data.socket_connection_token)

    async def channel_tokens(self, client: str, channels: list[str]) -> dict[str, str]:
        raw = await self._call(
            "POST", "/centrifuge/subscribe", json={"channels": channels, "client": client}
        )
        try:
            reply = msgspec.convert(raw, _ChannelsReply)
        except msgspec.ValidationError as exc:
            raise ApiError(f"/centrifuge/subscribe: unexpected reply: {exc}") from None
        return {c.channel: c.token for c in reply.channels}

    async def donations_page(self, page: int) -> Page:
        raw = await self._call("GET", "/alerts/donations", params={"page": str(page)})
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
            raise ApiError("/alerts/donations: reply has no data list")
        links = raw.get("links")
        meta = raw.get("meta")
        has_next = bool(links.get("next")) if isinstance(links, dict) else False
        if not has_next and isinstance(meta, dict):
            current, last = meta.get("current_page"), meta.get("last_page")
            has_next = isinstance(current, int) and isinstance(last, int) and current < last
        return Page(raw["data"], has_next)


def _item_id(raw: Any) -> int | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


async def newest_id(api: DAClient) -> int:
    """The highest donation id on the first page (0 with no donations at all)."""
    page = await api.donations_page(1)
    return max((i for i in map(_item_id, page.items) if i is not None), default=0)


async def fetch_since(api: DAClient, watermark: int) -> tuple[list[Donation], int]:
    """Donations newer than ``watermark``, oldest first, and the newest id seen."""
    fresh: dict[int, Donation] = {}
    newest = watermark
    for page_no in range(1, MAX_CATCH_UP_PAGES + 1):
        page = await api.donations_page(page_no)
        reached = False
        for raw in page.items:
            did = _item_id(raw)
            if did is None:
                log.warning("da rest item without a usable id; ignored page=%d", page_no)
                continue
            if did <= watermark:
                reached = True
                continue
            newest = max(newest, did)
            if did in fresh:
                continue
            try:
                fresh[did] = parse_donation(raw)
            except BadDonation as exc:
                log.error("da rest donation unreadable; not queued id=%d error=%s", did, exc)
        if reached or not page.has_next or not page.items:
            break
    else:
        log.warning(
            "da rest catch-up stopped after %d pages watermark=%d", MAX_CATCH_UP_PAGES, watermark
        )
    return [fresh[k] for k in sorted(fresh)], newest
