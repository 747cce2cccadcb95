"""The Twitch Helix calls the source makes (https://dev.twitch.tv/docs/api/reference/).

Every call sends ``Authorization: Bearer <user token>`` and ``Client-Id``; a 401 refreshes the
token once (one refresh in flight however many calls got the 401) and retries; a 429 waits
until ``Ratelimit-Reset`` (or a second, when the header is missing). Calls:

* ``POST /eventsub/subscriptions`` (WebSocket transport, the session id from the welcome);
* ``GET``/``POST``/``PATCH /channel_points/custom_rewards`` (``only_manageable_rewards``: the
  ones this Client-Id created, the only ones whose redemptions it may update);
* ``GET``/``PATCH /channel_points/custom_rewards/redemptions`` (``status=UNFULFILLED``,
  ``sort=OLDEST``, ``first`` ≤ 50, cursor ``after``; ``status`` FULFILLED or CANCELED).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drawstreamd.sources.api import ApiError, RateLimited, SignInRejected, decode, send

if TYPE_CHECKING:
    import httpx

    from drawstreamd.config import Settings
    from drawstreamd.sources.tokens import RefreshingTokens

log = logging.getLogger("drawstreamd.twitch")

PAGE = 50


class HelixError(ApiError):
    """A Helix error reply; ``message`` is Twitch's own (safe to log)."""

    def __init__(self, what: str, status: int, message: str) -> None:
        super().__init__(
            f"{what}: HTTP {status}" + (f": {message}" if message else ""), status=status
        )
        self.message = message


def _reset_wait(resp: httpx.Response) -> float:
    reset = resp.headers.get("Ratelimit-Reset")
    try:
        return max(1.0, min(60.0, float(reset) - time.time())) if reset else 1.0
    except ValueError:
        return 1.0


@dataclass(frozen=True)
class Reward:
    id: str
    title: str
    cost: int
    raw: dict[str, Any]


class Helix:
    def __init__(
        self, http: httpx.AsyncClient, settings: Settings, tokens: RefreshingTokens
    ) -> None:
        self._http = http
        self._base = settings.TWITCH_API_URL
        self._client_id = settings.TWITCH_CLIENT_ID
        self.tokens = tokens

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> Any:
        resp: httpx.Response | None = None
        for attempt in range(2):
            token = await self.tokens.access_token()
            resp = await send(
                self._http,
                method,
                f"{self._base}{path}",
                what=path,
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {token}", "Client-Id": self._client_id},
            )
            if resp.status_code == 401 and attempt == 0:
                log.info("twitch api answered 401; refreshing the access token path=%s", path)
                await self.tokens.refresh(token)
                continue
            break
        assert resp is not None
        if resp.status_code == 429:
            wait = _reset_wait(resp)
            raise RateLimited(f"{path}: HTTP 429, retry in {wait:g} s", retry_after=wait)
        if not 200 <= resp.status_code < 300:
            message = ""
            try:
                reply = resp.json()
                message = str(reply.get("message", ""))[:200] if isinstance(reply, dict) else ""
            except ValueError:
                pass
            if resp.status_code == 401:
                raise SignInRejected(f"{path}: HTTP 401: {message}", status=401)
            raise HelixError(path, resp.status_code, message)
        return decode(resp, path)

    # -- EventSub --------------------------------------------------------------------------------
    async def subscribe(self, kind: str, condition: dict[str, str], session_id: str) -> str:
        """Create a WebSocket subscription; its id (an existing one counts as made)."""
        body = {
            "type": kind,
            "version": "1",
            "condition": condition,
            "transport": {"method": "websocket", "session_id": session_id},
        }
        try:
            reply = await self.call("POST", "/eventsub/subscriptions", body=body)
        except HelixError as exc:
            if exc.status == 409:
                return ""
            raise
        data = reply.get("data") if isinstance(reply, dict) else None
        return str(data[0].get("id", "")) if isinstance(data, list) and data else ""

    # -- the reward ------------------------------------------------------------------------------
    async def manageable_rewards(self, broadcaster: str) -> list[Reward]:
        reply = await self.call(
            "GET",
            "/channel_points/custom_rewards",
            params={"broadcaster_id": broadcaster, "only_manageable_rewards": "true"},
        )
        return [_reward(r) for r in _data(reply, "/channel_points/custom_rewards")]

    async def create_reward(self, broadcaster: str, fields: dict[str, Any]) -> Reward:
        reply = await self.call(
            "POST",
            "/channel_points/custom_rewards",
            params={"broadcaster_id": broadcaster},
            body=fields,
        )
        return _reward(_data(reply, "/channel_points/custom_rewards")[0])

    async def update_reward(self, broadcaster: str, reward: str, fields: dict[str, Any]) -> Reward:
        reply = await self.call(
            "PATCH",
            "/channel_points/custom_rewards",
            params={"broadcaster_id": broadcaster, "id": reward},
            body=fields,
        )
        return _reward(_data(reply, "/channel_points/custom_rewards")[0])

    # -- redemptions -----------------------------------------------------------------------------
    async def unfulfilled(self, broadcaster: str, reward: str) -> list[dict[str, Any]]:
        """Every UNFULFILLED redemption of ``reward``, oldest first."""
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(200):
            params = {
                "broadcaster_id": broadcaster,
                "reward_id": reward,
                "status": "UNFULFILLED",
                "sort": "OLDEST",
                "first": str(PAGE),
            }
            if cursor:
                params["after"] = cursor
            reply = await self.call(
                "GET", "/channel_points/custom_rewards/redemptions", params=params
            )
            out.extend(_data(reply, "/channel_points/custom_rewards/redemptions"))
            page = reply.get("pagination") if isinstance(reply, dict) else None
            cursor = str(page.get("cursor") or "") if isinstance(page, dict) else ""
            if not cursor:
                break
        return out

    async def set_status(
        self, broadcaster: str, reward: str, ids: list[str], status: str
    ) -> set[str]:
        """Set ``status`` (FULFILLED or CANCELED) on up to 50 redemptions; the ids Twitch says
        it changed. A 404 (none of them is UNFULFILLED any more) changes none."""
        params = [("broadcaster_id", broadcaster), ("reward_id", reward)]
        params += [("id", i) for i in ids[:PAGE]]
        try:
            reply = await self.call(
                "PATCH",
                "/channel_points/custom_rewards/redemptions",
                params=params,
                body={"status": status},
            )
        except HelixError as exc:
            if exc.status == 404:
                return set()
            raise
        return {
            str(r.get("id")) for r in _data(reply, "/channel_points/custom_rewards/redemptions")
        }


def _data(reply: Any, what: str) -> list[dict[str, Any]]:
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list):
        raise ApiError(f"{what}: reply has no data list")
    return [d for d in data if isinstance(d, dict)]


def _reward(raw: dict[str, Any]) -> Reward:
    try:
        return Reward(str(raw["id"]), str(raw.get("title", "")), int(raw.get("cost", 0)), raw)
    except (KeyError, TypeError, ValueError):
        raise ApiError("custom reward reply is not as documented") from None
