"""Who may use the HTTP API: the bearer token, one-time sign-in codes, where it may listen.

* The token is ``API_TOKEN`` or, when that is unset, one generated on first start into
  ``<STATE_DIR>/api_token`` (mode 0600; ``drawstreamctl token`` prints it). :class:`Credentials`
  holds it in memory and compares in constant time; ``token rotate`` on the control socket
  replaces a generated one, and the old one stops working at once.
* A sign-in code (``drawstreamctl mod-url``) is single-use, lives at most
  ``API_SIGNIN_CODE_TTL_SEC`` (10 minutes), is kept only as a hash and is never logged;
  ``POST /api/v1/signin`` trades it for the token.
* :func:`exposure_findings` is pure: it says what is unsafe about where and how the API
  listens (a short token or plain HTTP on a network address), for the daemon at start and
  for any check that wants to say the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import math
import os
import secrets
import ssl
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from drawstreamd import logs
from drawstreamd.control.access import is_loopback, is_wildcard

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.config import Settings

log = logging.getLogger("drawstreamd.http")

TOKEN_FILE = "api_token"
MIN_TOKEN_BITS = 256
"""32 random bytes."""
MAKE_TOKEN = "make one with `openssl rand -hex 32`"
MAX_CODES = 32
"""Sign-in codes waiting at once; minting another drops the one closest to expiring."""


class HttpConfigError(Exception):
    """The HTTP API cannot start with this configuration; the message says why."""


# -- where it is safe to listen (pure) ---------------------------------------------------------
def _alphabet(token: str) -> int:
    """How many symbols the token's characters were likely drawn from."""
    chars = set(token)
    if chars <= set("0123456789abcdef") or chars <= set("0123456789ABCDEF"):
        return 16
    size = 0
    for group, count in (
        ("0123456789", 10),
        ("abcdefghijklmnopqrstuvwxyz", 26),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26),
        ("-_+/", 2),  # base64 and base64url each add two
    ):
        if chars & set(group):
            size += count
    if chars - set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_+/"):
        size += 33  # other punctuation
    return size


def token_weakness(token: str) -> str | None:
    """Why ``token`` is not as good as 32 random bytes, or None when it is.

    A guess from its length and the characters it uses (hex: 4 bits a character, base64: 6),
    then two signs of a made-up token: few distinct characters, or a stretch that repeats.
    """
    body = token.rstrip("=")  # base64 padding carries nothing
    bits = len(body) * math.log2(max(2, _alphabet(body)))
    if bits < MIN_TOKEN_BITS:
        return f"too short: about {int(bits)} bits, {MIN_TOKEN_BITS} (32 random bytes) needed"
    counts = Counter(body)
    per_char = -sum(n / len(body) * math.log2(n / len(body)) for n in counts.values())
    seen: set[str] = set()
    for i in range(len(body) - 8):
        part = body[i : i + 9]
        if part in seen:
            return "low in entropy: it repeats itself"
        seen.add(part)
    if per_char < 3.0:
        return "low in entropy: too few different characters"
    return None


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing unsafe about how the API is exposed: ``fatal`` ones stop the daemon."""

    fatal: bool
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}"


def exposure_findings(settings: Settings, token: str | None) -> list[Finding]:
    """What is unsafe about serving the API as ``settings`` say, with ``token`` (None: none
    yet, one will be generated). Pure, so a configuration check can say the same as the
    daemon says at start: "plain HTTP on a network address", "token too short"…"""
    host = settings.API_HOST
    out: list[Finding] = []
    cert, key = settings.API_TLS_CERT, settings.API_TLS_KEY
    if (cert is None) != (key is None):
        given, missing = (
            ("API_TLS_CERT", "API_TLS_KEY") if key is None else ("API_TLS_KEY", "API_TLS_CERT")
        )
        out.append(Finding(True, f"{given} is set but {missing} is not", "set both, or neither"))
    if is_loopback(host):
        return out
    weak = token_weakness(token) if token is not None else None
    if weak is not None:
        source = "API_TOKEN" if settings.API_TOKEN.get_secret_value() else "the API token"
        out.append(
            Finding(
                True,
                f"{source} is {weak}, and API_HOST {host} is a network address",
                f"{MAKE_TOKEN} and set API_TOKEN to it",
            )
        )
    if cert is None or key is None:
        out.append(
            Finding(
                False,
                f"plain HTTP on a network address ({host}): the token and every reply "
                "cross the network readable",
                "set API_TLS_CERT and API_TLS_KEY (see docs/security.md)",
            )
        )
    if is_wildcard(host) and not settings.API_ALLOWED_HOSTS:
        out.append(
            Finding(
                False,
                f"API_HOST {host} listens on every address, but only requests for "
                "localhost are answered",
                "list the names clients use in API_ALLOWED_HOSTS",
            )
        )
    return out


# -- the token file ------------------------------------------------------------------------------
def _strong_token() -> str:
    while True:  # token_urlsafe(32) is 32 random bytes; once in ~1500 it looks weaker: redraw
        token = secrets.token_urlsafe(32)
        if token_weakness(token) is None:
            return token


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (0600), replacing it whole: a reader sees old or new."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def token_path(settings: Settings) -> Path:
    return Path(settings.STATE_DIR) / TOKEN_FILE


def ensure_api_token(settings: Settings) -> str:
    """The bearer token: API_TOKEN, else ``<STATE_DIR>/api_token`` (created 0600 if missing)."""
    configured = settings.API_TOKEN.get_secret_value()
    if configured:
        return configured
    path = token_path(settings)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token
            path.unlink()
            return ensure_api_token(settings)
        token = _strong_token()
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HttpConfigError(f"HTTP API: cannot use the token file {path}: {why}") from None
    log.info("HTTP API token written to %s (drawstreamctl token prints it)", path)
    return token


def check_tls(settings: Settings) -> bool:
    """True when TLS is configured and its files load; :class:`HttpConfigError` if they do not."""
    cert, key = settings.API_TLS_CERT, settings.API_TLS_KEY
    if cert is None or key is None:
        return False
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HttpConfigError(
            f"HTTP API: cannot use API_TLS_CERT {cert} with API_TLS_KEY {key}: {why}"
        ) from None
    return True


# -- the credentials in memory -------------------------------------------------------------------
def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("utf-8", "replace")).digest()


class Credentials:
    """The API token in force and the sign-in codes waiting, shared by both control surfaces."""

    def __init__(
        self,
        token: str,
        *,
        path: Path | None,
        tls: bool = False,
        code_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token.encode()
        self.path = path
        """The generated token's file; None when the token is API_TOKEN (it cannot rotate)."""
        self.tls = tls
        self.code_ttl = code_ttl
        self.clock = clock
        self.generation = 0
        self._rotated = trio.Event()
        self._codes: dict[bytes, float] = {}
        self.port: int | None = None
        """The port the HTTP API listens on, once it does."""

    @classmethod
    def prepare(cls, settings: Settings) -> Credentials:
        """Load or make the token, check the exposure and TLS files, warn once about what is
        unsafe. Raises :class:`HttpConfigError` (one line) when the API must not start."""
        token = ensure_api_token(settings)
        logs.add_secrets([token])
        findings = exposure_findings(settings, token)
        for f in findings:
            if f.fatal:
                raise HttpConfigError(f"HTTP API: refusing to start: {f}")
        tls = check_tls(settings)
        for f in findings:
            log.warning("HTTP API: %s", f)
        configured = bool(settings.API_TOKEN.get_secret_value())
        return cls(
            token,
            path=None if configured else token_path(settings),
            tls=tls,
            code_ttl=settings.API_SIGNIN_CODE_TTL_SEC,
        )

    @property
    def token(self) -> str:
        return self._token.decode()

    def matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._token)

    def rotation(self) -> trio.Event:
        """Set when the token in force now is replaced."""
        return self._rotated

    def rotate(self) -> str:
        """A new generated token, written to its file and in force at once. Raises
        :class:`HttpConfigError` when the token is API_TOKEN or the file cannot be written."""
        if self.path is None:
            raise HttpConfigError(
                "the API token is API_TOKEN from the configuration: change it there "
                "and restart drawstreamd"
            )
        token = _strong_token()
        try:
            _write_private(self.path, token)
        except OSError as exc:
            raise HttpConfigError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        logs.add_secrets([token])
        self._token = token.encode()
        self.generation += 1
        self._codes.clear()  # codes minted for the old token go with it
        rotated, self._rotated = self._rotated, trio.Event()
        rotated.set()
        log.info("HTTP API token rotated; the old one no longer works")
        return token

    # -- one-time sign-in codes --------------------------------------------------------------
    def issue_code(self) -> str:
        now = self.clock()
        self._codes = {d: t for d, t in self._codes.items() if t > now}
        while len(self._codes) >= MAX_CODES:
            del self._codes[min(self._codes, key=self._codes.__getitem__)]
        code = secrets.token_urlsafe(18)
        self._codes[_digest(code)] = now + self.code_ttl
        return code

    def redeem(self, code: str) -> str | None:
        """The token for a valid code (which is then spent), else None."""
        expires = self._codes.pop(_digest(code), None)
        if expires is None or expires <= self.clock():
            return None
        return self.token
