"""OAuth tokens a source keeps: the 0600 token file, and one refresh at a time.

Tokens refreshed by the daemon (or obtained by ``drawstreamd auth …``) live in a file in the
state dir and win over the configured ones on the next start, so a refresh token the server
rotated is never lost to a restart. Concurrent 401s share one refresh (a rotated refresh token
works once: two refreshes at the same time would lose the sign-in). No token or secret ever
appears in a log line or an exception message.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

import msgspec
import trio

from drawstreamd import logs

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

log = logging.getLogger("drawstreamd.sources")

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
    """Signing in again is the only fix: the refresh token or the client was rejected."""


def load_tokens(path: Path, prefix: str = "da") -> Tokens | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("%s token file unreadable path=%s error=%s", prefix, path, exc.strerror)
        return None
    try:
        tokens = msgspec.json.decode(data, type=Tokens)
    except msgspec.DecodeError:
        log.warning("%s token file is not valid; ignoring it path=%s", prefix, path)
        return None
    mask(tokens)
    return tokens


def mask(tokens: Tokens) -> None:
    """Tokens that come from a file or a token endpoint are masked in every log line too."""
    logs.add_secrets(t for t in (tokens.access_token, tokens.refresh_token) if t)


def save_tokens(path: Path, tokens: Tokens) -> None:
    """Write atomically with mode 0600 (the file holds live credentials)."""
    mask(tokens)
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


class RefreshingTokens:
    """The live tokens of one source: refreshed before expiry and after a 401, then saved.

    A platform's subclass implements :meth:`renew` (the refresh request itself).
    """

    prefix = "source"
    """Names the platform in log lines."""

    def __init__(self, tokens: Tokens, path: Path, *, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = trio.Lock()
        self.path = path
        self.tokens = tokens
        self.refreshes = 0

    async def renew(self, tokens: Tokens) -> Tokens:
        raise NotImplementedError

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
            if not self.tokens.refresh_token:
                raise AuthRevoked("access token rejected and no refresh token is configured")
            fresh = await self.renew(self.tokens)
            self.tokens = fresh
            self.refreshes += 1
            try:
                await trio.to_thread.run_sync(save_tokens, self.path, fresh)
            except OSError as exc:
                log.error(
                    "%s refreshed tokens not saved path=%s error=%s",
                    self.prefix,
                    self.path,
                    exc.strerror,
                )
            log.info("%s access token refreshed expires_in=%s", self.prefix, fresh.lifetime)
            return fresh.access_token
