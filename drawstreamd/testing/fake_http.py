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
    import argparse
    from collections.abc import AsyncIterator, Callable

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
    raw_query: str = ""
    """The query string as sent (for repeated keys)."""

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
            raw_query=scope["query_string"].decode("latin-1"),
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


class FakeServer(FakeState):
    """A fake with an HTTP side and a socket on its own port (what :func:`serve_fake` runs)."""

    log_name = "drawstreamd.fake.http"
    """Its HTTP side's logger. The socket side is ``self.hub``, anything with
    ``serve(host, port, task_status=…)``."""

    def http_app(self) -> FakeHttp:
        raise NotImplementedError

    def located(self, http_base: str, host: str, ws_port: int) -> None:
        """Both listen: set the URLs (``http_base`` is ``http://host:port``)."""
        raise NotImplementedError

    def settings_text(self) -> str:
        """What ``python -m`` prints: ``KEY=value`` lines and how to use the admin calls."""
        raise NotImplementedError

    # -- the admin calls every platform fake takes (``/_fake/...``) -------------------------------
    KNOBS: tuple[str, ...] = ("silent", "slow")
    """Attributes ``POST /_fake/knobs`` may set."""

    # ``publish(message, username=…, amount=…, currency=…)`` takes each platform's own
    # keywords (Twitch adds ``kind``), so it is looked up, not declared here

    def drop(self) -> int:
        raise NotImplementedError

    def ask_reconnect(self, grace: float | None = None) -> int:
        raise NotImplementedError

    def revoke(self) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        return {"requests": dict(self.requests)}

    def more_admin(self, method: str, path: str, args: dict[str, Any]) -> Reply | None:
        """A platform's own admin calls (None: not one of them)."""
        return None

    def admin(self, req: Request) -> Reply:
        path = req.path[len("/_fake") :]
        try:
            args = admin_args(req)
            if req.method == "GET" and path == "/stats":
                return Reply(200, self.stats())
            extra = self.more_admin(req.method, path, args)
            if extra is not None:
                return extra
            if req.method != "POST":
                return Reply(405, {"message": "use POST"})
            if path == "/donations":
                publish: Callable[..., dict[str, Any]] = getattr(self, "publish")  # noqa: B009
                return Reply(201, publish(**args))
            if path == "/drop":
                return Reply(200, {"dropped": self.drop()})
            if path == "/reconnect":
                grace = args.get("grace")
                return Reply(
                    200, {"asked": self.ask_reconnect(None if grace is None else float(grace))}
                )
            if path == "/revoke":
                self.revoke()
                return Reply(200, {})
            if path == "/knobs":
                for knob in self.KNOBS:
                    if knob in args:
                        setattr(self, knob, args[knob])
                return Reply(200, {knob: getattr(self, knob) for knob in self.KNOBS})
            if path == "/fail":
                self.fail_next(
                    str(args["endpoint"]), int(args["status"]), int(args.get("times", 1))
                )
                return Reply(200, {})
        except (ValueError, TypeError, KeyError, LookupError) as exc:
            return Reply(400, {"message": f"bad admin request: {exc!r}"})
        return Reply(404, {"message": "Not Found"})


S = TypeVar("S", bound=FakeServer)


async def serve_fake(
    fake: S,
    *,
    host: str = "127.0.0.1",
    http_port: int = 0,
    ws_port: int = 0,
    task_status: trio.TaskStatus[S] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``fake`` until cancelled; ``task_status.started(fake)`` once both listen and its
    URLs are set."""
    async with trio.open_nursery() as nursery:
        base = await nursery.start(
            functools.partial(
                serve_app, fake.http_app(), host=host, port=http_port, log_name=fake.log_name
            )
        )
        hub: Any = getattr(fake, "hub")  # noqa: B009 - each fake types its own hub
        port = await nursery.start(hub.serve, host, ws_port)
        fake.located(base, host, port)
        task_status.started(fake)


@asynccontextmanager
async def open_fake(fake: S) -> AsyncIterator[S]:
    """``fake`` served on loopback for the duration of the block."""
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_fake, fake)
        try:
            yield fake
        finally:
            nursery.cancel_scope.cancel()


def fake_main(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    make: Callable[[argparse.Namespace], FakeServer],
    *,
    http_port: int,
) -> int:
    """``python -m`` entry: serve, print the settings, run until Ctrl-C."""
    parser.add_argument("--http-port", type=int, default=http_port)
    parser.add_argument("--ws-port", type=int, default=http_port + 1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    fake = make(args)

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(serve_fake, fake, http_port=args.http_port, ws_port=args.ws_port)
            )
            print(fake.settings_text(), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        trio.run(run)
    return 0
