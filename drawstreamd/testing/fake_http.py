"""What the fakes' HTTP sides share: a tiny ASGI shell served by Hypercorn, request counters and
fault knobs.

A fake's state object derives from :class:`FakeState` (counters, ``slow``, ``fail_next``); its
HTTP side derives from :class:`FakeHttp` and implements :meth:`FakeHttp.route`, a plain
function of one :class:`Request` returning one :class:`Reply`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

Scope = dict[str, Any]


class FakeState:
    """Counters and HTTP fault knobs every fake has."""

    def __init__(self) -> None:
        self.requests: collections.Counter[str] = collections.Counter()
        self.request_log: list[tuple[float, str]] = []
        """(trio time, "METHOD path") of every request, for rate checks."""
        self.slow = 0.0
        """Seconds every HTTP reply (but the admin's) waits."""
        self._fail_next: dict[str, collections.deque[int]] = collections.defaultdict(
            collections.deque
        )

    def fail_next(self, endpoint: str, status: int, times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` (a path) answer ``status`` (e.g. 429)."""
        self._fail_next[endpoint].extend([status] * times)

    def stop_failing(self) -> None:
        self._fail_next.clear()


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON ({} when empty); ValueError when it is not JSON."""
        return json.loads(self.body) if self.body.strip() else {}

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def bearer(self, scheme: str = "Bearer") -> str | None:
        """The token of ``Authorization: <scheme> <token>`` (scheme compared case-blind)."""
        value = self.headers.get("authorization", "")
        word, _, token = value.partition(" ")
        return token.strip() if word.lower() == scheme.lower() and token.strip() else None


def fault_reply(status: int) -> Reply:
    if status == 429:
        return Reply(429, {"message": "Too Many Attempts."}, [("Retry-After", "1")])
    return Reply(status, {"message": "Server Error"})


class FakeHttp:
    """The ASGI app: counts, delays and fails requests as the knobs say, then routes them."""

    log = logging.getLogger("drawstreamd.fake.http")

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def route(self, req: Request) -> Reply:
        raise NotImplementedError

    def failure(self, path: str) -> Reply | None:
        failing = self.state._fail_next.get(path)
        return fault_reply(failing.popleft()) if failing else None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        req = Request(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            query={
                k: v[0]
                for k, v in parse_qs(
                    scope["query_string"].decode("latin-1"), keep_blank_values=True
                ).items()
            },
            body=body,
        )
        self.state.requests[req.path] += 1
        self.state.request_log.append((trio.current_time(), f"{req.method} {req.path}"))
        if self.state.slow and not req.path.startswith("/_fake"):
            await trio.sleep(self.state.slow)
        reply = self.failure(req.path)
        if reply is None:
            try:
                reply = self.route(req)
            except Exception:  # a fake must answer, even to what crashes it
                self.log.exception("fake route failed path=%s", req.path)
                reply = Reply(500, {"message": "Server Error"})
        await _answer(send, reply)


async def _answer(send: Any, reply: Reply) -> None:
    if reply.raw is not None:
        payload = reply.raw
    elif reply.body is None:
        payload = b""
    else:
        payload = json.dumps(reply.body, ensure_ascii=False).encode()
    out = [(k.encode(), v.encode()) for k, v in reply.headers]
    if reply.raw is None and reply.body is not None:
        out.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": reply.status, "headers": out})
    await send({"type": "http.response.body", "body": payload})


async def serve_app(
    app: FakeHttp,
    *,
    host: str,
    port: int,
    log_name: str,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` with Hypercorn until cancelled; ``task_status.started(base_url)``."""
    config = HypercornConfig()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger(log_name)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(hypercorn_serve, app, config)
        task_status.started(binds[0])


def admin_args(req: Request) -> dict[str, Any]:
    """An admin call's JSON object body; ValueError otherwise."""
    args = req.json()
    if not isinstance(args, dict):
        raise ValueError("body must be a JSON object")
    return args


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as ``2025-02-19T15:07:09.302Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class Clock:
    """Strictly increasing milliseconds (two events never share a creation time)."""

    def __init__(self) -> None:
        self.last = 0

    def now_ms(self) -> int:
        self.last = max(self.last + 1, int(time.time() * 1000))
        return self.last


async def serve_pair(
    app: FakeHttp,
    serve_ws: Callable[..., Awaitable[None]],
    *,
    host: str,
    http_port: int,
    ws_port: int,
    log_name: str,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A fake's HTTP side and its socket until cancelled; ``task_status.started((http base
    URL, socket port))`` once both listen."""
    async with trio.open_nursery() as nursery:
        base = await nursery.start(
            functools.partial(serve_app, app, host=host, port=http_port, log_name=log_name)
        )
        port = await nursery.start(serve_ws, host, ws_port)
        task_status.started((base, port))


F = TypeVar("F")


@asynccontextmanager
async def open_fake(fake: F, serve: Callable[..., Awaitable[None]]) -> AsyncIterator[F]:
    """``serve(fake, task_status=…)`` running for the duration of the block."""
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake)
        try:
            yield fake
        finally:
            nursery.cancel_scope.cancel()


def run_until_interrupted(
    serve: Callable[..., Awaitable[None]], describe: Callable[[], str]
) -> int:
    """``python -m`` entry: serve, print ``describe()`` (the settings), run until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve)
            print(describe(), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        trio.run(run)
    return 0
