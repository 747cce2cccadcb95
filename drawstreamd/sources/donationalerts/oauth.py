"""OAuth 2.0 for Donation Alerts: the token endpoint, refresh, and the 0600 token file.

Tokens refreshed by the daemon (or obtained by ``drawstreamd auth``) live in
``<STATE_DIR>/da_tokens.json`` and win over ``DA_ACCESS_TOKEN``/``DA_REFRESH_TOKEN`` on the next
start, so a refresh token rotated by the server is never lost to a restart. No token or secret
ever appears in a log line or an exception message.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from drawstreamd.sources.tokens import (
    REFRESH_MARGIN_SEC,
    AuthRevoked,
    OAuthError,
    RefreshingTokens,
    Tokens,
    load_tokens,
    save_tokens,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from drawstreamd.config import Settings

__all__ = [
    "REFRESH_MARGIN_SEC",
    "AuthRevoked",
    "OAuthError",
    "TokenManager",
    "Tokens",
    "authorize_url",
    "exchange_code",
    "initial_tokens",
    "load_tokens",
    "save_tokens",
    "tokens_from_settings",
    "tokens_path",
]

log = logging.getLogger("drawstreamd.da")

TOKENS_FILE = "da_tokens.json"
_FATAL_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def tokens_from_settings(settings: Settings) -> Tokens:
    access = settings.DA_ACCESS_TOKEN.get_secret_value()
    claims = _jwt_claims(access)
    exp, iat = claims.get("exp"), claims.get("iat")
    expires_at = float(exp) if isinstance(exp, int | float) else None
    lifetime = (
        float(exp) - float(iat)
        if isinstance(exp, int | float) and isinstance(iat, int | float)
        else None
    )
    return Tokens(
        access_token=access,
        refresh_token=settings.DA_REFRESH_TOKEN.get_secret_value(),
        expires_at=expires_at,
        lifetime=lifetime,
        scopes=settings.DA_SCOPES,
        client_id=settings.DA_CLIENT_ID,
    )


def granted_scopes(tokens: Tokens) -> frozenset[str]:
    """The scopes of the sign-in: the access token's own ``scopes`` claim when it is a JWT
    that carries one, else the scopes stored with it (those asked for when it was granted).

    The API has no call that tells a token's scopes; a call outside them answers 403.
    """
    claim = _jwt_claims(tokens.access_token).get("scopes")
    if isinstance(claim, list) and all(isinstance(s, str) for s in claim):
        return frozenset(claim)
    if isinstance(claim, str):
        return frozenset(claim.split())
    return frozenset(tokens.scopes.split())


def tokens_path(settings: Settings) -> Path:
    return settings.STATE_DIR / TOKENS_FILE


def initial_tokens(settings: Settings) -> Tokens:
    """The stored tokens if they belong to this app, else the configured ones."""
    stored = load_tokens(tokens_path(settings))
    if stored is not None and stored.access_token:
        if not settings.DA_CLIENT_ID or stored.client_id in ("", settings.DA_CLIENT_ID):
            return stored
        log.warning("da token file belongs to another client_id; using the configured tokens")
    return tokens_from_settings(settings)


def authorize_url(settings: Settings, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "client_id": settings.DA_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": settings.DA_SCOPES,
            "state": state,
        }
    )
    return f"{settings.DA_OAUTH_URL}/authorize?{query}"


async def _token_request(
    http: httpx.AsyncClient, settings: Settings, form: dict[str, str], now: float
) -> Tokens:
    url = f"{settings.DA_OAUTH_URL}/token"
    try:
        resp = await http.post(url, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OAuthError(f"token endpoint unreachable: {exc.__class__.__name__}") from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200 or not isinstance(body, dict):
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        detail = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        message = f"token endpoint said HTTP {resp.status_code}"
        if error:
            message += f" {error}"
        if detail:
            message += f": {detail[:200]}"
        cls = AuthRevoked if error in _FATAL_ERRORS else OAuthError
        raise cls(message, error=error, status=resp.status_code)
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("token endpoint reply has no access_token", status=resp.status_code)
    refresh = body.get("refresh_token")
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else None
    return Tokens(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) else form.get("refresh_token", ""),
        expires_at=now + lifetime if lifetime is not None else None,
        lifetime=lifetime,
        scopes=form.get("scope", settings.DA_SCOPES),
        client_id=settings.DA_CLIENT_ID,
    )


async def exchange_code(
    http: httpx.AsyncClient, settings: Settings, code: str, redirect_uri: str
) -> Tokens:
    form = {
        "grant_type": "authorization_code",
        "client_id": settings.DA_CLIENT_ID,
        "client_secret": settings.DA_CLIENT_SECRET.get_secret_value(),
        "redirect_uri": redirect_uri,
        "code": code,
        "scope": settings.DA_SCOPES,
    }
    return await _token_request(http, settings, form, time.time())


class TokenManager(RefreshingTokens):
    """The live Donation Alerts tokens: refresh before expiry and after a 401, then persist."""

    prefix = "da"

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

    async def renew(self, tokens: Tokens) -> Tokens:
        s = self._settings
        if not s.DA_CLIENT_ID or not s.DA_CLIENT_SECRET.get_secret_value():
            raise AuthRevoked("cannot refresh: DA_CLIENT_ID or DA_CLIENT_SECRET is not set")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": s.DA_CLIENT_ID,
            "client_secret": s.DA_CLIENT_SECRET.get_secret_value(),
            "scope": tokens.scopes or s.DA_SCOPES,
        }
        return await _token_request(self._http, s, form, self._clock())
