"""Doctor checks of the control surfaces: the socket path, the HTTP port, leaving loopback.

A socket or a port held by the daemon running on this state dir is fine; one held by
anything else is what would stop the daemon from starting.
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import ssl
import stat
from typing import TYPE_CHECKING

import httpx
import trio

from drawstreamd.control.access import is_loopback
from drawstreamd.control.auth import TOKEN_FILE, exposure_findings
from drawstreamd.control.protocol import GREETING_PREFIX
from drawstreamd.control.unix import MAX_PATH
from drawstreamd.doctor.result import Result, Status, fail, ok, warn
from drawstreamd.doctor.state import can_create_in, nearest_existing

if TYPE_CHECKING:
    from pathlib import Path

    from drawstreamd.config import Settings
    from drawstreamd.doctor.result import Context

PROBE_TIMEOUT_SEC = 2.0
"""The shortest API_TOKEN accepted once the API leaves loopback."""
_OTHER_SOCKET = "give this daemon another socket with --socket or CONTROL_SOCKET"


# -- the control socket ----------------------------------------------------------------------
async def _greeting(path: Path) -> str | None:
    """The first line a listener on ``path`` says; None when nothing listens (a stale file)."""
    try:
        stream = await trio.open_unix_socket(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return None
    async with stream:
        data = b""
        with trio.move_on_after(PROBE_TIMEOUT_SEC):
            while b"\n" not in data and len(data) < 1024:
                chunk = await stream.receive_some(1024)
                if not chunk:
                    break
                data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def _directory(path: Path) -> Result | None:
    """A problem with the socket's directory, or None when it is fine."""
    name = "control socket"
    parent = path.parent
    if not parent.exists():
        why = can_create_in(nearest_existing(parent))
        if why is not None:
            return fail(name, f"cannot create {parent}: {why}", _OTHER_SOCKET)
        return None
    if not parent.is_dir():
        return fail(name, f"{parent} is not a directory", _OTHER_SOCKET)
    st = parent.stat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid() or mode & 0o022:
        owner = (
            "another user's"
            if st.st_uid != os.getuid()
            else f"writable by others (mode {mode:04o})"
        )
        return warn(
            name,
            f"{path}: its directory {parent} is {owner}, so others may replace the socket",
            "use a directory only you can write, such as the default "
            "$XDG_RUNTIME_DIR/drawstreamd (unset CONTROL_SOCKET and --socket)",
        )
    return None


async def control_socket(ctx: Context) -> list[Result]:
    name = "control socket"
    path = ctx.config.control_socket()
    if len(os.fsencode(path)) > MAX_PATH:
        return [
            fail(
                name,
                f"{path} is longer than {MAX_PATH} bytes, the limit of a Unix socket path",
                "choose a shorter path with --socket or CONTROL_SOCKET",
            )
        ]
    problem = _directory(path)
    if problem is not None and problem.status is Status.FAIL:
        return [problem]
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        found = ok(name, f"{path} is free; the daemon creates it (mode 0600)")
    else:
        if not stat.S_ISSOCK(mode):
            q = shlex.quote(str(path))
            return [
                fail(
                    name,
                    f"{path} exists and is not a socket",
                    f"remove it (`rm {q}`), or {_OTHER_SOCKET}",
                )
            ]
        try:
            greeting = await _greeting(path)
        except OSError as exc:
            return [
                fail(
                    name,
                    f"cannot connect to {path} ({exc.strerror or exc})",
                    f"remove it if no daemon of yours runs there, or {_OTHER_SOCKET}",
                )
            ]
        if greeting is None:
            found = ok(name, f"{path} is left from an earlier run; the daemon replaces it")
        elif not greeting:
            return [
                fail(
                    name,
                    f"something listens on {path} but says nothing within {PROBE_TIMEOUT_SEC:g} s",
                    f"stop it (a hung drawstreamd: `systemctl --user restart drawstreamd`), "
                    f"or {_OTHER_SOCKET}",
                )
            ]
        elif not greeting.startswith((GREETING_PREFIX, "ACK ")):  # ACK: a busy daemon
            return [
                fail(
                    name,
                    f"another program listens on {path} (it said {greeting[:60]!r})",
                    f"stop it, or {_OTHER_SOCKET}",
                )
            ]
        elif ctx.daemon_pid is not None:
            found = ok(name, f"{path} {ctx.held_by_daemon()}")
        else:
            return [
                fail(
                    name,
                    f"another drawstreamd answers on {path} "
                    f"(not the one with state dir {ctx.config.STATE_DIR})",
                    f"stop that daemon, or {_OTHER_SOCKET}",
                )
            ]
    return [problem or found]


# -- the HTTP port ---------------------------------------------------------------------------
def _tls_files(settings: Settings) -> tuple[str, str]:
    cert, key = settings.API_TLS_CERT, settings.API_TLS_KEY
    return (str(cert) if cert else "", str(key) if key else "")


def _try_bind(host: str, port: int) -> OSError | None:
    """Bind as Hypercorn binds (SO_REUSEADDR, the family from the address), then let go."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        return exc
    finally:
        sock.close()
    return None


def reach_host(host: str) -> str:
    """Where to reach a server bound to ``host``: the wildcard addresses mean this machine."""
    bare = host.strip("[]")
    if bare in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bare == "::":
        return "[::1]"
    return f"[{bare}]" if ":" in bare else bare


async def _health(settings: Settings) -> dict[str, object] | None:
    """The ``/api/v1/health`` reply of whatever holds the port, if it is a drawstreamd."""
    scheme = "https" if all(_tls_files(settings)) else "http"
    url = f"{scheme}://{reach_host(settings.API_HOST)}:{settings.API_PORT}/api/v1/health"
    # only a health question is asked, nothing secret is sent: any certificate will do
    async with httpx.AsyncClient(verify=False, timeout=PROBE_TIMEOUT_SEC) as http:
        try:
            with trio.fail_after(PROBE_TIMEOUT_SEC):
                resp = await http.get(url)
            body = resp.json()
        except (httpx.HTTPError, trio.TooSlowError, ValueError):
            return None
    if resp.status_code == 200 and isinstance(body, dict) and "protocol" in body:
        return body
    return None


async def http_port(ctx: Context) -> list[Result]:
    s = ctx.config
    name = "HTTP port"
    host = s.API_HOST.strip("[]")
    where = f"[{host}]:{s.API_PORT}" if ":" in host else f"{host}:{s.API_PORT}"
    if s.API_PORT == 0:
        return [ok(name, "API_PORT=0: the daemon listens on any free port (it logs which)")]
    err = _try_bind(s.API_HOST, s.API_PORT)
    if err is None:
        return [ok(name, f"{where} is free")]
    if isinstance(err, socket.gaierror):
        return [
            fail(
                name,
                f"API_HOST {s.API_HOST} does not resolve to an address",
                "set API_HOST to 127.0.0.1 (this machine only) or to one of its own addresses",
            )
        ]
    if err.errno == errno.EADDRNOTAVAIL:
        return [
            fail(
                name,
                f"API_HOST {s.API_HOST} is not an address of this machine",
                "set API_HOST to 127.0.0.1 (this machine only) or to one of its own addresses",
            )
        ]
    if err.errno == errno.EACCES:
        return [
            fail(
                name,
                f"{where}: ports below 1024 need root",
                "set API_PORT to a port above 1023 (the default is 8765)",
            )
        ]
    if err.errno != errno.EADDRINUSE:
        return [
            fail(
                name,
                f"cannot listen on {where}: {err.strerror or err}",
                "set API_HOST and API_PORT to an address and port of this machine",
            )
        ]
    health = await _health(s)
    if ctx.daemon_pid is not None:
        if health is not None:
            return [ok(name, f"{where} {ctx.held_by_daemon()}")]
        return [
            fail(
                name,
                f"{where} is taken, and /api/v1/health gives no answer: the running daemon "
                f"(pid {ctx.daemon_pid}) may be hung, or another program holds the port",
                "restart the daemon (`systemctl --user restart drawstreamd`); if this stays, "
                f"`ss -ltnp 'sport = :{s.API_PORT}'` shows who holds the port",
            )
        ]
    spare = next(
        (
            p
            for p in range(s.API_PORT + 1, min(s.API_PORT + 20, 65535))
            if not _try_bind(s.API_HOST, p)
        ),
        None,
    )
    other_port = "set API_PORT to a free port" + (f" (e.g. {spare})" if spare else "")
    if health is not None:
        return [
            fail(
                name,
                f"{where} is held by another drawstreamd (version {health.get('version', '?')}, "
                f"not the one with state dir {s.STATE_DIR})",
                f"stop that daemon, or {other_port}",
            )
        ]
    return [
        fail(
            name,
            f"{where} is taken by another program",
            f"stop it (`ss -ltnp 'sport = :{s.API_PORT}'` shows which), or {other_port}",
        )
    ]


# -- leaving loopback ------------------------------------------------------------------------
def _api_token(s: Settings) -> str | None:
    """The token the daemon will use: API_TOKEN, else the generated one (None: not yet)."""
    configured = s.API_TOKEN.get_secret_value()
    if configured:
        return configured
    try:
        return (s.STATE_DIR / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _tls_loads(s: Settings) -> Result:
    name = "TLS"
    cert, key = _tls_files(s)
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        return fail(
            name,
            f"the certificate {cert} with the key {key} does not load ({exc})",
            "point API_TLS_CERT and API_TLS_KEY at a PEM certificate and its private key",
        )
    return ok(name, f"HTTPS on {s.API_HOST} with {cert}")


async def exposure(ctx: Context) -> list[Result]:
    """What the daemon itself says at start about exposing the API (control.auth), and
    whether the certificate and key really load."""
    s = ctx.config
    name = "network exposure"
    results = [
        (fail if f.fatal else warn)(name, f.problem, f.fix)
        for f in exposure_findings(s, _api_token(s))
    ]
    cert, key = _tls_files(s)
    if cert and key:
        results.append(_tls_loads(s))
    if not results:
        where = "loopback only" if is_loopback(s.API_HOST) else "the network, with a strong token"
        results.append(ok(name, f"the HTTP API listens on {where} ({s.API_HOST})"))
    return results
