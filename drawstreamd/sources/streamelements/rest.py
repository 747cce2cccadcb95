"""The StreamElements REST API (kappa v2): the channel id, and the tips list for catch-up.

Auth (StreamElements/api-docs ``Personal Access.md``, ``OAuth2.md``): the dashboard's JWT as
``Authorization: Bearer <JWT>``, or an OAuth2 access token as ``Authorization: oAuth <token>``.
``GET /channels/me`` names the channel (``_id``); ``GET /tips/{channel}`` pages the tips
(``offset``, ``limit`` ≤ 100, ``sort``, ``after``/``before`` in ms) as
``{"docs":[…],"total":N,"limit":L,"offset":O}``. The catch-up sorts by ``createdAt`` ascending,
so tips made during the walk land after it and never shift the offsets being read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from drawstreamd.sources.api import ApiError, RateLimiter, SignInRejected, decode, send
from drawstreamd.sources.streamelements.tips import BadTip, Tip, created_ms, parse_tip

if TYPE_CHECKING:
    import httpx

    from drawstreamd.config import Settings

log = logging.getLogger("drawstreamd.streamelements")

PAGE = 100
MAX_PAGES = 50
"""5,000 tips: past this a catch-up stops and says so, rather than page forever."""


def credentials(settings: Settings) -> tuple[str, str, str]:
    """(token, Astro token_type, REST Authorization header) from the configuration."""
    jwt = settings.SE_JWT.get_secret_value()
    if jwt:
        return jwt, "jwt", f"Bearer {jwt}"
    token = settings.SE_OAUTH_TOKEN.get_secret_value()
    return token, "oauth2", f"oAuth {token}"


class SEClient:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, limiter: RateLimiter) -> None:
        self._http = http
        self._base = settings.SE_API_URL
        self._auth = credentials(settings)[2]
        self.limiter = limiter

    async def _get(self, path: str, what: str, params: dict[str, str] | None = None) -> Any:
        await self.limiter.acquire()
        resp = await send(
            self._http,
            "GET",
            f"{self._base}{path}",
            what=what,
            params=params,
            headers={"Authorization": self._auth, "Accept": "application/json"},
        )
        if resp.status_code in (401, 403):
            raise SignInRejected(
                f"{what}: HTTP {resp.status_code}: StreamElements refused the token",
                status=resp.status_code,
            )
        return decode(resp, what)

    async def channel_id(self) -> str:
        """The ``_id`` of the channel the token belongs to."""
        raw = await self._get("/channels/me", "/channels/me")
        cid = raw.get("_id") if isinstance(raw, dict) else None
        if not isinstance(cid, str) or not cid:
            raise ApiError("/channels/me: reply has no _id")
        return cid

    async def tips_page(
        self,
        channel: str,
        *,
        offset: int,
        sort: str,
        after_ms: int | None = None,
        limit: int = PAGE,
    ) -> tuple[list[Any], int | None]:
        params = {"offset": str(offset), "limit": str(limit), "sort": sort}
        if after_ms is not None:
            params["after"] = str(max(0, after_ms))
        raw = await self._get(f"/tips/{channel}", "/tips", params)
        if not isinstance(raw, dict) or not isinstance(raw.get("docs"), list):
            raise ApiError("/tips: reply has no docs list")
        total = raw.get("total", raw.get("totalDocs"))
        return raw["docs"], total if isinstance(total, int) else None


async def newest_ms(api: SEClient, channel: str) -> int:
    """createdAt of the newest tip (0 when the channel has none)."""
    docs, _ = await api.tips_page(channel, offset=0, sort="-createdAt", limit=1)
    marks = [created_ms(d.get("createdAt")) for d in docs if isinstance(d, dict)]
    return max((m for m in marks if m is not None), default=0)


async def fetch_since(api: SEClient, channel: str, after_ms: int) -> list[Tip]:
    """Tips created at or after ``after_ms``, oldest first (each id once)."""
    found: dict[str, Tip] = {}
    offset = 0
    for _ in range(MAX_PAGES):
        docs, total = await api.tips_page(
            channel, offset=offset, sort="createdAt", after_ms=after_ms
        )
        for raw in docs:
            try:
                tip = parse_tip(raw)
            except BadTip as exc:
                log.error("streamelements rest tip unreadable; not queued error=%s", exc)
                continue
            found.setdefault(tip.donation.external_id, tip)
        offset += len(docs)
        if len(docs) < PAGE or (total is not None and offset >= total):
            break
    else:
        log.warning("streamelements catch-up stopped after %d pages", MAX_PAGES)
    return sorted(found.values(), key=lambda t: t.created_ms)
