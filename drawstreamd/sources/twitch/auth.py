"""Twitch sign-in: the device code grant flow, refresh, validation, the 0600 token file.

Facts (https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#device-code-grant-flow,
…/refresh-tokens/, …/validate-tokens/; twitchdev/twitch-cli ``internal/login``): a public
client starts with ``POST /device`` (``client_id``, ``scopes``) and gets ``device_code``,
``user_code``, ``verification_uri``, ``interval`` and ``expires_in``; it then polls
``POST /token`` (``client_id``, ``scopes``, ``device_code``,
``grant_type=urn:ietf:params:oauth:grant-type:device_code``) every ``interval`` seconds: HTTP
400 ``{"message": "authorization_pending"}`` while the user has not typed the code,
``slow_down`` to poll less often, ``invalid device code`` once it expired or was used. Success
gives ``access_token``, ``refresh_token``, ``expires_in`` and ``scope`` (a list). A public
client refreshes with ``grant_type=refresh_token`` and no secret; its refresh tokens work once,
so every new one is saved at once. ``GET /validate`` with ``Authorization: OAuth <token>`` names
the user and the scopes; Twitch asks apps to validate at start and hourly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.sources.api import ApiError, decode, send
from drawstreamd.sources.tokens import (
    AuthRevoked,
    OAuthError,
    RefreshingTokens,
    Tokens,
    load_tokens,
    mask,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    import httpx

    from drawstreamd.config import Settings

log = logging.getLogger("drawstreamd.twitch")

TOKENS_FILE = "twitch_tokens.json"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MANAGE_REDEMPTIONS = "channel:manage:redemptions"
READ_BITS = "bits:read"


def tokens_path(settings: Settings) -> Path:
    return settings.STATE_DIR / TOKENS_FILE


def initial_tokens(settings: Settings) -> Tokens | None:
    """The stored tokens (``drawstreamd auth twitch``) if they belong to this app, else the
    configured ones; None when there are none."""
    stored = load_tokens(tokens_path(settings), "twitch")
    if stored is not None and stored.access_token:
        if not settings.TWITCH_CLIENT_ID or stored.client_id in ("", settings.TWITCH_CLIENT_ID):
            return stored
        log.warning("twitch token file belongs to another client id; using the configured tokens")
    access = settings.TWITCH_ACCESS_TOKEN.get_secret_value()
    refresh = settings.TWITCH_REFRESH_TOKEN.get_secret_value()
    if not access and not refresh:
        return None
    return Tokens(
        access_token=access,
        refresh_token=refresh,
        scopes=settings.TWITCH_SCOPES,
        client_id=settings.TWITCH_CLIENT_ID,
    )


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _tokens(body: Any, settings: Settings, now: float, fallback_refresh: str = "") -> Tokens:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise OAuthError("token endpoint reply has no access_token")
    scope = body.get("scope")
    scopes = " ".join(scope) if isinstance(scope, list) else str(scope or settings.TWITCH_SCOPES)
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else None
    refresh = body.get("refresh_token")
    tokens = Tokens(
        access_token=body["access_token"],
        refresh_token=refresh if isinstance(refresh, str) else fallback_refresh,
        expires_at=now + lifetime if lifetime is not None else None,
        lifetime=lifetime,
        scopes=scopes,
        client_id=settings.TWITCH_CLIENT_ID,
    )
    mask(tokens)
    return tokens


# -- the device code grant flow --------------------------------------------------------------
@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    interval: float
    expires_in: float


class DeviceFlowFailed(Exception):
    """The sign-in did not happen; the message is safe to show."""


async def start_device_flow(http: httpx.AsyncClient, settings: Settings) -> DeviceCode:
    resp = await send(
        http,
        "POST",
        f"{settings.TWITCH_AUTH_URL}/device",
        what="/device",
        data={"client_id": settings.TWITCH_CLIENT_ID, "scopes": settings.TWITCH_SCOPES},
    )
    if resp.status_code != 200:
        said = _message(resp)
        raise DeviceFlowFailed(
            f"Twitch refused to start the sign-in (HTTP {resp.status_code}"
            + (f": {said}" if said else "")
            + "); is TWITCH_CLIENT_ID a public client with the device flow enabled?"
        )
    body = resp.json()
    try:
        return DeviceCode(
            device_code=str(body["device_code"]),
            user_code=str(body["user_code"]),
            verification_uri=str(body["verification_uri"]),
            interval=max(1.0, float(body.get("interval", 5))),
            expires_in=float(body.get("expires_in", 1800)),
        )
    except (KeyError, TypeError, ValueError):
        raise DeviceFlowFailed("Twitch's /device reply is not as documented") from None


async def finish_device_flow(
    http: httpx.AsyncClient,
    settings: Settings,
    code: DeviceCode,
    *,
    sleep: Callable[[float], Awaitable[None]] = trio.sleep,
) -> Tokens:
    """Poll until the user typed the code (or it expired)."""
    interval = code.interval
    deadline = trio.current_time() + code.expires_in
    form = {
        "client_id": settings.TWITCH_CLIENT_ID,
        "scopes": settings.TWITCH_SCOPES,
        "device_code": code.device_code,
        "grant_type": DEVICE_GRANT,
    }
    while trio.current_time() < deadline:
        await sleep(interval)
        try:
            resp = await send(
                http, "POST", f"{settings.TWITCH_AUTH_URL}/token", what="/token", data=form
            )
        except ApiError as exc:
            log.debug("twitch device poll failed error=%s", exc)
            continue
        if resp.status_code == 200:
            return _tokens(resp.json(), settings, time.time())
        said = _message(resp)
        if said == "authorization_pending":
            continue
        if said == "slow_down":
            interval += 5
            continue
        if said == "invalid device code":
            raise DeviceFlowFailed("the code expired or was already used; run the sign-in again")
        raise DeviceFlowFailed(f"Twitch refused the sign-in (HTTP {resp.status_code} {said})")
    raise DeviceFlowFailed(f"nobody typed the code within {code.expires_in:g} s")


# -- refresh and validation ------------------------------------------------------------------
class TwitchTokens(RefreshingTokens):
    """Twitch user tokens of a public client: refreshed without a secret, rotated each time."""

    prefix = "twitch"

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        tokens: Tokens,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(tokens, tokens_path(settings), clock=clock)
        self._settings = settings
        self._http = http

    def _expiring(self) -> bool:
        # Twitch asks apps to refresh in answer to a 401, not on a timer
        # (https://dev.twitch.tv/docs/authentication/refresh-tokens/)
        return False

    async def renew(self, tokens: Tokens) -> Tokens:
        s = self._settings
        if not s.TWITCH_CLIENT_ID:
            raise AuthRevoked("cannot refresh: TWITCH_CLIENT_ID is not set")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": s.TWITCH_CLIENT_ID,
        }
        try:
            resp = await send(
                self._http, "POST", f"{s.TWITCH_AUTH_URL}/token", what="/token", data=form
            )
        except ApiError as exc:
            raise OAuthError(str(exc)) from None
        if resp.status_code == 200:
            return _tokens(resp.json(), s, self._clock(), tokens.refresh_token)
        said = _message(resp)
        message = f"token endpoint said HTTP {resp.status_code}" + (f" {said}" if said else "")
        if resp.status_code in (400, 401, 403):
            raise AuthRevoked(message, error=said, status=resp.status_code)
        raise OAuthError(message, status=resp.status_code)


@dataclass(frozen=True)
class Identity:
    user_id: str
    login: str
    scopes: frozenset[str]
    client_id: str


async def validate(
    http: httpx.AsyncClient, settings: Settings, tokens: RefreshingTokens
) -> Identity:
    """Who the token belongs to and what it may do; a 401 refreshes once.

    Raises :class:`AuthRevoked` when the sign-in is gone, :class:`ApiError` when Twitch cannot
    be asked.
    """
    for attempt in range(2):
        token = await tokens.access_token()
        resp = await send(
            http,
            "GET",
            f"{settings.TWITCH_AUTH_URL}/validate",
            what="/validate",
            headers={"Authorization": f"OAuth {token}"},
        )
        if resp.status_code == 401 and attempt == 0:
            await tokens.refresh(token)
            continue
        if resp.status_code == 401:
            raise AuthRevoked("Twitch no longer accepts the access token")
        body = decode(resp, "/validate")
        if not isinstance(body, dict) or not body.get("user_id"):
            raise ApiError("/validate: reply has no user_id")
        scopes = body.get("scopes") or []
        return Identity(
            user_id=str(body["user_id"]),
            login=str(body.get("login", "")),
            scopes=frozenset(str(s) for s in scopes),
            client_id=str(body.get("client_id", "")),
        )
    raise AssertionError("unreachable")
