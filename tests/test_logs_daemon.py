"""No secret leaves a real drawstreamd: not in logs, not in error messages, not in its files.

The daemon and its tools run with distinctive tokens and secrets while every outside service
fails: first on closed loopback ports, then against a hostile loopback server that answers
every request with an error quoting back all it received (headers and body, so the very
tokens). Then everything they wrote is searched: stdout, stderr and every file in the state
directory except the owner-only token files the daemon is meant to keep.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio
from support import process_env

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

BIN = Path(sys.executable).parent
SECRETS = {
    "DA_ACCESS_TOKEN": "dat-7Hq2Lm9Vx4Pz8Rk3Wn6Ty1",
    "DA_REFRESH_TOKEN": "drt-5Fg8Jk2Ls7Qa4Zx9Cv3Bn0",
    "DA_CLIENT_SECRET": "dcs-9Mn4Bv7Cx2Zl5Kj8Hg3Fd6",
    "API_TOKEN": "api-3Ws8Ed1Rf6Tg9Yh4Uj7Ik2",
    "LLM_API_KEY": "llm-6Pl9Ok2Ij5Uh8Yg1Tf4Rd7",
}
TOKEN_FILES = {"da_tokens.json", "api_token"}
"""Files the daemon keeps tokens in on purpose (mode 0600); everything else must be clean."""


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port with a socket bound but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class HostileServer:
    """An HTTP/1.1 server that refuses every request and quotes it back (headers and body).

    With ``grant_tokens`` its OAuth token endpoint instead hands out fresh tokens (each one
    new, remembered in ``issued``), so the daemon's refreshed credentials are quoted back too.
    """

    def __init__(self, *, grant_tokens: bool = False) -> None:
        self.grant_tokens = grant_tokens
        self.issued: list[str] = []

    async def handle(self, stream: trio.SocketStream) -> None:
        with trio.move_on_after(5):
            request = await self._read(stream)
            if request is not None:
                await stream.send_all(self._reply(*request))
        await stream.aclose()

    @staticmethod
    async def _read(stream: trio.SocketStream) -> tuple[bytes, bytes] | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            body += chunk
        return head, body

    def _reply(self, head: bytes, body: bytes) -> bytes:
        lines = head.split(b"\r\n")
        if self.grant_tokens and b"/oauth/token " in lines[0]:
            n = len(self.issued) // 2
            access, refresh = f"new-access-{n}-Qz8Xw3Lp", f"new-refresh-{n}-Vb5Nm1Ks"
            self.issued += [access, refresh]
            payload = {"access_token": access, "refresh_token": refresh, "expires_in": 3600}
            return self._http("200 OK", json.dumps(payload).encode())
        # the credentials first, so that even a shortened quote carries them
        auth = [x for x in lines if x.lower().startswith(b"authorization:")]
        echo = b"\n".join([*auth, body, *lines]).decode("utf-8", "replace")
        payload = {"error": "invalid_grant", "error_description": echo, "message": echo}
        return self._http("401 Unauthorized", json.dumps(payload).encode())

    @staticmethod
    def _http(status: str, reply: bytes) -> bytes:
        return (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(reply)}\r\nConnection: close\r\n\r\n"
        ).encode() + reply


def _env(tmp_path: Path, base: str, ws: str) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_RUNTIME_DIR": str(runtime),
        "SDL_VIDEODRIVER": "dummy",
        "API_PORT": "0",  # never the default port another daemon may hold
        "LOG_LEVEL": "DEBUG",
        "LLM_BACKEND": "openai",
        "LLM_ENDPOINT": f"{base}/v1",
        "LLM_TIMEOUT_SEC": "2",
        "LLM_ATTEMPTS": "2",
        "DA_OAUTH_URL": f"{base}/oauth",
        "DA_API_URL": f"{base}/api/v1",
        "DA_WS_URL": ws,
        "DA_CLIENT_ID": "4242",
        "SHOW_DURATION_SEC": "0.5",
        "DEFAULT_STEP_DURATION_MS": "20",
        **SECRETS,
    }


async def _run(tmp_path: Path, env: dict[str, str], name: str, *argv: str) -> None:
    """Run one command to its end (a daemon is stopped with SIGTERM after a while)."""
    with (tmp_path / f"{name}.out").open("wb") as out, (tmp_path / f"{name}.err").open("wb") as err:
        process = await trio.lowlevel.open_process(
            list(argv), env=env, cwd=tmp_path, stdout=out, stderr=err
        )
    try:
        if "--state-dir" in argv:
            await trio.sleep(8)  # through several demo donations and reconnect attempts
            process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            await process.wait()
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            if process.returncode is None:
                process.kill()
            await process.wait()


async def _exercise(tmp_path: Path, base: str, ws: str) -> Path:
    env = _env(tmp_path, base, ws)
    state = tmp_path / "state"
    daemon = str(BIN / "drawstreamd")
    await _run(tmp_path, env, "daemon", daemon, "--headless", "--demo", "--state-dir", str(state))
    await _run(tmp_path, env, "check", daemon, "check-config")
    await _run(tmp_path, env, "plan", daemon, "plan", "нарисуй кота")
    await _run(tmp_path, {**env, "API_PORT": "not-a-port"}, "badconf", daemon, "check-config")
    return state


def _leaks(tmp_path: Path, state: Path, extra: Iterable[str] = ()) -> list[str]:
    secrets = {**SECRETS, **{f"issued {v}": v for v in extra}}
    found = []
    written = [p for p in tmp_path.glob("*.out")] + [p for p in tmp_path.glob("*.err")]
    for path in state.rglob("*"):
        if not path.is_file():
            continue
        if path.name in TOKEN_FILES:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            continue
        written.append(path)
    for path in written:
        data = path.read_bytes()
        for key, value in secrets.items():
            if value.encode() in data:
                found.append(f"{key} in {path.relative_to(tmp_path)}")
    return found


def _text(tmp_path: Path, name: str) -> str:
    return (tmp_path / name).read_text(encoding="utf-8", errors="replace")


async def test_no_secret_is_written_when_every_service_is_unreachable(
    tmp_path: Path, closed_port: int
) -> None:
    base = f"http://127.0.0.1:{closed_port}"
    state = await _exercise(tmp_path, base, f"ws://127.0.0.1:{closed_port}/connection/websocket")
    assert _leaks(tmp_path, state) == []
    # the failure paths were really walked
    daemon_log = _text(tmp_path, "daemon.err")
    assert f"127.0.0.1:{closed_port}" in daemon_log
    assert " da: " in daemon_log  # the Donation Alerts source tried and failed too
    assert "********" in _text(tmp_path, "check.out")  # masked, yet shown to be set
    assert "API_PORT" in _text(tmp_path, "badconf.err")


async def test_no_secret_is_written_when_a_server_quotes_requests_back(tmp_path: Path) -> None:
    server = HostileServer()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        state = await _exercise(tmp_path, base, f"ws://127.0.0.1:{port}/connection/websocket")
        nursery.cancel_scope.cancel()
    assert _leaks(tmp_path, state) == []
    daemon_log = _text(tmp_path, "daemon.err") + _text(tmp_path, "plan.err")
    assert "401" in daemon_log


async def test_refreshed_and_stored_tokens_are_masked_too(tmp_path: Path) -> None:
    """Tokens the daemon did not start with: from its token file, and from each refresh."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    stored = {"access_token": "stored-access-Hd4Jf7Kg", "refresh_token": "stored-refresh-Mw2Er5Ty"}
    token_file = state / "da_tokens.json"
    token_file.write_text(json.dumps({**stored, "client_id": "4242"}), encoding="utf-8")
    token_file.chmod(0o600)
    server = HostileServer(grant_tokens=True)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, server.handle, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        env = _env(tmp_path, base, f"ws://127.0.0.1:{port}/connection/websocket")
        daemon = str(BIN / "drawstreamd")
        await _run(tmp_path, env, "daemon", daemon, "--headless", "--state-dir", str(state))
        nursery.cancel_scope.cancel()
    assert server.issued  # the daemon really refreshed
    assert _leaks(tmp_path, state, [*stored.values(), *server.issued]) == []


async def test_under_journald_every_line_carries_its_priority(tmp_path: Path) -> None:
    """With JOURNAL_STREAM naming its stderr, the daemon's lines start with <N> (JSON after)."""
    err_path = tmp_path / "journal.err"
    err_path.touch()
    st = err_path.stat()
    env = process_env(
        tmp_path,
        XDG_RUNTIME_DIR=str(tmp_path),
        API_PORT="0",  # never the default port another daemon may hold
        LOG_FORMAT="json",
        JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}",
    )
    argv = [str(BIN / "drawstreamd"), "--headless", "--state-dir", str(tmp_path / "state")]
    with err_path.open("ab") as err, (tmp_path / "journal.out").open("wb") as out:
        process = await trio.lowlevel.open_process(
            argv, env=env, cwd=tmp_path, stdout=out, stderr=err
        )
    try:
        with trio.fail_after(30):
            while "drawstreamd running" not in err_path.read_text(encoding="utf-8"):
                await trio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            if process.returncode is None:
                process.kill()
            await process.wait()
    lines = err_path.read_text(encoding="utf-8").splitlines()
    assert lines
    levels = {"debug": "7", "info": "6", "warning": "4", "error": "3", "critical": "2"}
    for line in lines:
        match = re.fullmatch(r"<(\d)>(\{.*\})", line)
        assert match, line
        record = json.loads(match[2])
        assert levels[record["level"]] == match[1]
        assert "time" not in record  # journald stamps the entry itself
    assert any(json.loads(line[3:])["event"] == "stopped" for line in lines)
