"""What a web page, a guesser or a stolen token can do to the real daemon: a process on
loopback, talked to over real HTTP and WebSockets (trio-websocket), as issue #16 asks.

The browser side of the same rules (the overlay, the gallery, the sign-in page) is in
test_overlay_browser.py and test_security_browser.py.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import trio
import trio_websocket
from support import DaemonProcess
from test_control_harness import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
    from pathlib import Path

    Start = Callable[..., Awaitable["Daemon"]]

READS = ("/status", "/current", "/queue", "/history", "/stats")
EVIL = "evil.example.com"


class Daemon(DaemonProcess):
    """A windowless daemon on a free port we know."""

    def __init__(self, home: Path, state: Path, **env: str) -> None:
        self.port = free_port()
        super().__init__(home, state, "--no-window", port=self.port, **env)
        self.scheme = "https" if "API_TLS_CERT" in env else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.origin = self.url

    def token(self) -> str:
        return (self.state / "api_token").read_text().strip()

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}

    def log_lines(self, text: str) -> list[str]:
        return [line for line in self.output().splitlines() if text in line]


@pytest.fixture
def start(clean_env: Path) -> Iterator[Start]:
    started: list[Daemon] = []

    async def run(name: str = "state", **env: str) -> Daemon:
        d = Daemon(clean_env, clean_env / name, **env)
        started.append(d)
        await trio.to_thread.run_sync(d.wait_ready)
        return d

    yield run
    for d in started:
        d.kill()


@contextlib.asynccontextmanager
async def websocket(
    d: Daemon,
    resource: str,
    *,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A WebSocket to the daemon on loopback, sending the Host and headers we choose."""
    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
    stream = await trio.open_tcp_stream("127.0.0.1", d.port)
    if tls is not None:
        stream = trio.SSLStream(stream, tls, server_hostname="127.0.0.1")
    async with stream, trio.open_nursery() as nursery:
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        ws = await trio_websocket.wrap_client_stream(
            nursery, stream, host or f"127.0.0.1:{d.port}", resource, extra_headers=extra
        )
        yield ws
        nursery.cancel_scope.cancel()


async def refused(d: Daemon, resource: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body with which the daemon turned a WebSocket handshake down."""
    rejected: list[trio_websocket.ConnectionRejected] = []
    try:
        async with websocket(d, resource, **kwargs):
            pass
    except* trio_websocket.ConnectionRejected as group:
        rejected.extend(
            e for e in _leaves(group) if isinstance(e, trio_websocket.ConnectionRejected)
        )
    assert rejected, f"{resource} was accepted"
    return rejected[0].status_code, json.loads(rejected[0].body or b"{}")


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


async def closed_with(ws: trio_websocket.WebSocketConnection) -> tuple[int, str | None]:
    """How the daemon closed ``ws`` (the messages before that are dropped)."""

    async def drain() -> None:
        while True:
            await ws.get_message()

    with pytest.raises(trio_websocket.ConnectionClosed) as closed:
        await drain()
    reason = closed.value.reason
    assert reason is not None
    return reason.code, reason.reason


async def ctl(d: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(lambda: d.ctl(*args, check=check))


async def next_event(ws: trio_websocket.WebSocketConnection) -> dict[str, object]:
    with trio.fail_after(10):
        event = json.loads(await ws.get_message())
    assert isinstance(event, dict)
    return event


# -- Host ----------------------------------------------------------------------------------------
async def test_a_foreign_host_is_refused_on_reads_mutations_pages_and_both_sockets(
    start: Start,
) -> None:
    with trio.fail_after(60):
        d = await start(API_ALLOWED_HOSTS="stream-pc.lan")
        evil = {"Host": f"{EVIL}:{d.port}"}
        async with httpx.AsyncClient(base_url=d.url) as http:
            r = await http.get("/api/v1/history", headers=d.auth() | evil)
            assert r.status_code == 421
            assert EVIL in r.json()["message"]
            assert "API_ALLOWED_HOSTS" in r.json()["message"]
            r = await http.post("/api/v1/pause", headers=d.auth() | evil)
            assert r.status_code == 421
            for page in ("/overlay", "/gallery", "/mod", "/api/v1/health"):
                assert (await http.get(page, headers=evil)).status_code == 421, page
            status, body = await refused(d, "/api/v1/events", host=EVIL, headers=d.auth())
            assert status == 421
            assert "API_ALLOWED_HOSTS" in str(body["message"])
            status, _ = await refused(d, "/overlay/ws", host=f"{EVIL}:{d.port}")
            assert status == 421
            # the names the daemon answers for
            for host in ("localhost", f"localhost:{d.port}", f"[::1]:{d.port}", "stream-pc.lan"):
                r = await http.get("/api/v1/status", headers=d.auth() | {"Host": host})
                assert r.status_code == 200, host
                assert r.json()["paused"] is False  # the refused mutation changed nothing
            async with websocket(d, "/overlay/ws", host=f"localhost:{d.port}") as ws:
                assert json.loads(await ws.get_message())["t"] == "hello"
        assert len(d.log_lines("refused a request for Host")) == 1  # once a minute at most
        assert d.log_lines(EVIL)  # the line says which name


# -- Origin --------------------------------------------------------------------------------------
async def test_a_foreign_origin_cannot_open_the_event_socket(start: Start) -> None:
    with trio.fail_after(60):
        d = await start(API_ALLOWED_ORIGINS="https://mod.example.com")
        for origin in ("http://evil.example.com", f"http://{EVIL}:{d.port}", "null"):
            headers = d.auth() | {"Origin": origin}
            status, body = await refused(d, "/api/v1/events", headers=headers)
            assert status == 403, origin
            assert "API_ALLOWED_ORIGINS" in str(body["message"])
            status, _ = await refused(d, "/overlay/ws", headers={"Origin": origin})
            assert status == 403
        for origin in (d.origin, f"http://localhost:{d.port}", "https://mod.example.com", None):
            headers = d.auth() | ({"Origin": origin} if origin else {})
            async with websocket(d, "/api/v1/events?kinds=paused", headers=headers) as ws:
                await trio.sleep(0.2)  # subscribed right after the handshake
                await ctl(d, "pause")
                assert (await next_event(ws))["kind"] == "paused"
                await ctl(d, "resume")
        async with websocket(d, "/overlay/ws", headers={"Origin": d.origin}) as ws:
            assert json.loads(await ws.get_message())["t"] == "hello"
        assert len(d.log_lines("refused a WebSocket from Origin")) == 1


# -- the token -----------------------------------------------------------------------------------
async def test_private_reads_need_the_token_and_public_surfaces_stay_open(
    start: Start,
) -> None:
    with trio.fail_after(60):
        d = await start()
        await ctl(d, "pause")
        await ctl(d, "donate", "--name", "Маша", "нарисуй кота")
        async with httpx.AsyncClient(base_url=d.url) as http:
            for path in READS:
                r = await http.get(f"/api/v1{path}")
                assert r.status_code == 401, path
                assert "drawstreamctl token" in r.json()["message"]
                assert "Маша" not in r.text
                r = await http.get(f"/api/v1{path}", headers=d.auth())
                assert r.status_code == 200, path
            r = await http.get("/api/v1/queue", headers=d.auth())
            assert r.json()["items"][0]["donor"] == "Маша"
            assert (await http.get("/api/v1/health")).status_code == 200
            doc = (await http.get("/api/v1/openapi.json")).json()
            assert doc["paths"]["/api/v1/history"]["get"]["security"] == [{"bearer": []}]
            assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
            for page in ("/overlay", "/gallery", "/overlay/static/overlay.js", "/mod"):
                assert (await http.get(page)).status_code == 200, page
        async with websocket(d, "/overlay/ws") as ws:  # the overlay's socket: no token
            assert json.loads(await ws.get_message())["t"] == "hello"

        # the events socket: refused with a wrong token, taken three ways
        status, _ = await refused(d, "/api/v1/events", headers=d.auth("wrong"))
        assert status == 401
        status, _ = await refused(d, "/api/v1/events?token=wrong")
        assert status == 401
        async with websocket(d, "/api/v1/events") as ws:
            await ws.send_message(json.dumps({"token": "wrong"}))
            assert await closed_with(ws) == (1008, "wrong API token")
        async with websocket(d, "/api/v1/events") as ws:
            await ws.send_message("not json")
            code, _ = await closed_with(ws)
            assert code == 1008
        async with (
            websocket(d, "/api/v1/events?kinds=queued", headers=d.auth()) as by_header,
            websocket(d, f"/api/v1/events?kinds=queued&token={d.token()}") as by_query,
            websocket(d, "/api/v1/events?kinds=queued") as by_message,
        ):
            await by_message.send_message(json.dumps({"token": d.token()}))
            await trio.sleep(0.3)
            await ctl(d, "donate", "дом")
            for ws in (by_header, by_query, by_message):
                event = await next_event(ws)
                assert (event["kind"], event["item_id"]) == ("queued", 2)


async def test_wrong_token_floods_get_429_until_the_minute_passes(
    start: Start,
) -> None:
    with trio.fail_after(60):
        d = await start()
        async with httpx.AsyncClient(base_url=d.url) as http:
            for n in range(10):
                r = await http.get("/api/v1/history", headers=d.auth(f"guess-{n}"))
                assert r.status_code == 401
            r = await http.get("/api/v1/history", headers=d.auth("guess-10"))
            assert r.status_code == 429
            assert 50 <= int(r.headers["retry-after"]) <= 60
            assert "too many wrong tokens" in r.json()["message"]
            # now even the right token waits: a guesser cannot tell a hit from a miss
            assert (await http.get("/api/v1/history", headers=d.auth())).status_code == 429
            status, _ = await refused(d, "/api/v1/events", headers=d.auth())
            assert status == 429
            r = await http.post("/api/v1/signin", json={"code": "guess"})
            assert r.status_code == 429
            assert (await http.get("/api/v1/health")).status_code == 200
            assert (await http.get("/overlay")).status_code == 200
        # another address is not locked out
        other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(base_url=d.url, transport=other) as http:
            assert (await http.get("/api/v1/history", headers=d.auth())).status_code == 200


async def test_a_rotated_token_is_refused_at_once(start: Start) -> None:
    with trio.fail_after(60):
        d = await start()
        old = d.token()
        async with (
            httpx.AsyncClient(base_url=d.url) as http,
            websocket(d, "/api/v1/events", headers=d.auth(old)) as by_header,
            websocket(d, "/api/v1/events") as by_message,
        ):
            await by_message.send_message(json.dumps({"token": old}))
            await trio.sleep(0.3)
            rotated = await ctl(d, "token", "--rotate")
            new = rotated.stdout.strip()
            assert new != old
            assert d.token() == new
            assert (await ctl(d, "token", "--state-dir", str(d.state))).stdout.strip() == new
            r = await http.get("/api/v1/status", headers=d.auth(old))
            assert r.status_code == 401
            assert r.json()["message"] == "wrong API token"
            assert (await http.get("/api/v1/status", headers=d.auth(new))).status_code == 200
            for ws in (by_header, by_message):
                with trio.fail_after(5):
                    code, reason = await closed_with(ws)
                assert code == 1008
                assert reason is not None
                assert "rotated" in reason
            status, _ = await refused(d, "/api/v1/events", headers=d.auth(old))
            assert status == 401
        assert old not in d.output()
        assert new not in d.output()


async def test_a_configured_token_is_not_rotated(start: Start) -> None:
    with trio.fail_after(60):
        configured = "Fq8bV1nX0sK3wT6yH9jM2pR5uA7dC4eG1iL0oN3qS6vY9zB2"
        d = await start(API_TOKEN=configured)
        run = await ctl(d, "token", "--rotate", check=False)
        assert run.returncode == 1
        assert "API_TOKEN" in run.stderr
        assert "change it there" in run.stderr
        async with httpx.AsyncClient(base_url=d.url) as http:
            r = await http.get("/api/v1/status", headers=d.auth(configured))
            assert r.status_code == 200


# -- the moderator's sign-in code ----------------------------------------------------------------
async def test_the_sign_in_code_works_once_then_not_and_expires(start: Start) -> None:
    with trio.fail_after(60):
        d = await start(API_SIGNIN_CODE_TTL_SEC="2")
        url = (await ctl(d, "mod-url")).stdout.strip()
        page, code = url.split("#code=")
        assert page == f"{d.url}/mod"
        async with httpx.AsyncClient(base_url=d.url) as http:
            r = await http.post("/api/v1/signin", json={"code": code})
            assert r.status_code == 200
            assert r.json() == {"token": d.token()}
            r = await http.post("/api/v1/signin", json={"code": code})
            assert r.status_code == 401
            assert r.json()["message"] == "wrong, used or expired sign-in code"
            late = (await ctl(d, "mod-url")).stdout.strip().split("#code=")[1]
            await trio.sleep(2.5)
            assert (await http.post("/api/v1/signin", json={"code": late})).status_code == 401
            assert (await http.get(page)).status_code == 200
            # wrong codes count toward the limit, like wrong tokens
            for n in range(7):
                r = await http.post("/api/v1/signin", json={"code": f"guess-{n}"})
                assert r.status_code == 401
            r = await http.post("/api/v1/signin", json={"code": code})
            assert r.status_code == 401  # the tenth wrong one
            fresh = (await ctl(d, "mod-url")).stdout.strip().split("#code=")[1]
            r = await http.post("/api/v1/signin", json={"code": fresh})
            assert r.status_code == 429
        log = d.output()
        for secret in (code, late, fresh, d.token()):
            assert secret not in log


# -- leaving loopback ----------------------------------------------------------------------------
def make_certificate(where: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made by Debian's openssl."""
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


async def test_the_daemon_serves_https_with_a_self_signed_certificate(
    start: Start, tmp_path: Path
) -> None:
    with trio.fail_after(60):
        cert, key = make_certificate(tmp_path)
        d = await start(API_TLS_CERT=str(cert), API_TLS_KEY=str(key))
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(base_url=d.url, verify=trust) as http:
            r = await http.get("/api/v1/status", headers=d.auth())
            assert r.status_code == 200
            assert r.json()["state"] == "idle"
            assert (await http.get("/api/v1/status")).status_code == 401
            assert (await http.get("/overlay")).status_code == 200
            url = (await ctl(d, "mod-url")).stdout.strip()
            assert url.startswith(f"https://127.0.0.1:{d.port}/mod#code=")
            r = await http.post("/api/v1/signin", json={"code": url.split("#code=")[1]})
            assert r.json() == {"token": d.token()}
        h2_trust = ssl.create_default_context(cafile=str(cert))  # httpx sets its ALPN
        async with httpx.AsyncClient(base_url=d.url, verify=h2_trust, http2=True) as h2:
            r = await h2.get("/api/v1/status", headers=d.auth())
            assert (r.http_version, r.status_code) == ("HTTP/2", 200)
            r = await h2.get("/api/v1/status", headers=d.auth() | {"Host": EVIL})  # :authority
            assert (r.http_version, r.status_code) == ("HTTP/2", 421)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{d.port}") as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get("/api/v1/health")  # no plain HTTP beside it
        async with websocket(d, "/overlay/ws", headers={"Origin": d.origin}, tls=trust) as ws:
            assert json.loads(await ws.get_message())["t"] == "hello"
        headers = d.auth() | {"Origin": f"http://127.0.0.1:{d.port}"}  # not this daemon's origin
        status, _ = await refused(d, "/api/v1/events", headers=headers, tls=trust)
        assert status == 403
        assert not d.log_lines("plain HTTP")


def test_a_network_address_with_a_short_token_refuses_to_start(clean_env: Path) -> None:
    port = free_port()
    token = "Tr0ub4dor-and-3"
    d = DaemonProcess(clean_env, clean_env / "state", "--no-window", port=port,
                      API_HOST="0.0.0.0", API_TOKEN=token)  # fmt: skip
    try:
        assert d.proc.wait(30) == 1
    finally:
        d.kill()
    out = d.output()
    [line] = [line for line in out.splitlines() if "ERROR" in line]
    assert "API_TOKEN is too short" in line
    assert "openssl rand -hex 32" in line
    assert token not in out
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # it never listened


def test_plain_http_on_a_network_address_is_a_warning_at_start(clean_env: Path) -> None:
    # 192.0.2.1 is reserved for documentation: no machine has it, so the daemon warns, then
    # cannot listen there, and stops; nothing is ever exposed
    strong = "3f0c9a1be47d25c8a6b0e9f14d73c2a85b16e0f9c3d42a7b8e51f06c9d2a4b7e"
    d = DaemonProcess(clean_env, clean_env / "state", "--no-window", port=free_port(),
                      API_HOST="192.0.2.1", API_TOKEN=strong)  # fmt: skip
    try:
        assert d.proc.wait(30) == 1
    finally:
        d.kill()
    warnings = [line for line in d.output().splitlines() if "plain HTTP" in line]
    assert len(warnings) == 1
    assert "WARNING" in warnings[0]
    assert "plain HTTP on a network address (192.0.2.1)" in warnings[0]
    assert "API_TLS_CERT" in warnings[0]


def test_drawstreamctl_needs_no_token(clean_env: Path) -> None:
    """The control socket is owner-only: drawstreamctl reads everything without a token."""
    d = DaemonProcess(clean_env, clean_env / "state", "--no-window", port=free_port())
    try:
        d.wait_ready()
        assert "API_TOKEN" not in d.env
        d.ctl("donate", "--name", "Маша", "нарисуй кота")
        history = json.loads(d.ctl("--json", "history").stdout)
        assert [i["donor"] for i in history["items"]] == ["Маша"]
    finally:
        d.kill()
