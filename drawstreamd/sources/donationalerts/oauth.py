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
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import msgspec
import trio

from drawstreamd import logs

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from drawstreamd.config import Settings

log = logging.getLogger("drawstreamd.da")

TOKENS_FILE = "da_tokens.json"
_FATAL_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
REFRESH_MARGIN_SEC = 3600.0
"""Refresh this long before expiry (or a fifth of the lifetime, if that is shorter)."""


class Tokens(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str = ""
    expires_at: float | None = None
    """Unix time the access token stops working, when known."""
    lifetime: float | None = None
    scopes: str = ""
    client_id: str = ""


class OAuthError(Exception):
    """The token endpoint refused or failed; ``str()`` is safe to log (no secrets)."""

    def __init__(self, message: str, *, error: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


class AuthRevoked(OAuthError):
    """Signing in again (``drawstreamd auth``) is the only fix: refresh token or client rejected."""


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


def load_tokens(path: Path) -> Tokens | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("da token file unreadable path=%s error=%s", path, exc.strerror)
        return None
    try:
        tokens = msgspec.json.decode(data, type=Tokens)
    except msgspec.DecodeError:
        log.warning("da token file is not valid; ignoring it path=%s", path)
        return None
    _mask(tokens)
    return tokens


def _mask(tokens: Tokens) -> None:
    """Tokens that come from a file or a token endpoint are masked in every log line too."""
    logs.add_secrets(t for t in (tokens.access_token, tokens.refresh_token) if t)


def save_tokens(path: Path, tokens: Tokens) -> None:
    """Write atomically with mode 0600 (the file holds live credentials)."""
    _mask(tokens)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, msgspec.json.encode(tokens))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


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


class TokenManager:
    """The live tokens of one daemon: refresh before expiry and after a 401, then persist."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        tokens: Tokens,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._lock = trio.Lock()
        self.tokens = tokens
        self.refreshes = 0

    def _expiring(self) -> bool:
        t = self.tokens
        if t.expires_at is None:
            return False
        margin = REFRESH_MARGIN_SEC
        if t.lifetime is not None:
            margin = min(margin, t.lifetime / 5)
        return self._clock() >= t.expires_at - margin

    async def access_token(self) -> str:
        """A usable access token, refreshed first when it is about to expire."""
        if not self.tokens.access_token or self._expiring():
            return await self.refresh(self.tokens.access_token)
        return self.tokens.access_token

    async def refresh(self, stale: str) -> str:
        """Refresh unless someone already replaced ``stale``; one refresh per rejected token."""
        async with self._lock:
            if self.tokens.access_token != stale:
                return self.tokens.access_token
            t = self.tokens
            if not t.refresh_token:
                raise AuthRevoked("access token rejected and no refresh token is configured")
            if (
                not self._settings.DA_CLIENT_ID
                or not self._settings.DA_CLIENT_SECRET.get_secret_value()
            ):
                raise AuthRevoked("cannot refresh: DA_CLIENT_ID or DA_CLIENT_SECRET is not set")
            form = {
                "grant_type": "refresh_token",
                "refresh_token": t.refresh_token,
                "client_id": self._settings.DA_CLIENT_ID,
                "client_secret": self._settings.DA_CLIENT_SECRET.get_secret_value(),
                "scope": t.scopes or self._settings.DA_SCOPES,
            }
            fresh = await _token_request(self._http, self._settings, form, self._clock())
            self.tokens = fresh
            self.refreshes += 1
            path = tokens_path(self._settings)
            try:
                await trio.to_thread.run_sync(save_tokens, path, fresh)
            except OSError as exc:
                log.error("da refreshed tokens not saved path=%s error=%s", path, exc.strerror)
            log.info("da access token refreshed expires_in=%s", fresh.lifetime)
            return fresh.access_token
