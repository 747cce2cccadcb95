"""The HTTP/WebSocket API: a Quart-Trio app over the one command layer, served by Hypercorn.

Every route is declared once in :data:`drawstreamd.control.openapi.ROUTES`; the Quart rules
and the OpenAPI document at ``/api/v1/openapi.json`` are both built from that table and from
the msgspec types in :mod:`drawstreamd.control.commands`, so they cannot drift apart.

Everything under ``/api/v1`` but ``/health``, ``/signin`` and the OpenAPI document needs
``Authorization: Bearer <token>`` (see :mod:`drawstreamd.control.auth`); the events WebSocket
also takes it as a ``token`` query parameter or as its first message. After
:data:`~drawstreamd.control.ratelimit.WRONG_LIMIT` wrong tokens or sign-in codes in a minute
an address gets 429. Ahead of every route, :mod:`drawstreamd.control.access` checks the Host
(and a WebSocket's Origin). The overlay and the gallery (other blueprints) need no token.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import msgspec
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart import Blueprint, Response, request, websocket
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from drawstreamd.control import commands as cmd
from drawstreamd.control.access import AccessGuard, AccessPolicy
from drawstreamd.control.auth import Credentials
from drawstreamd.control.openapi import (
    PREFIX,
    ROUTES,
    STATUS_FOR,
    ErrorReply,
    Param,
    Route,
    openapi,
)
from drawstreamd.control.overlay import CSP
from drawstreamd.control.protocol import ErrorCode, ProtocolError
from drawstreamd.control.ratelimit import RateLimiter, ShedLoad, WrongCredentials, client_key
from drawstreamd.model import EVENT_KINDS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus

log = logging.getLogger("drawstreamd.http")

MAX_BODY = 16 * 1024
MAX_WS_PER_CLIENT = 16
MAX_WS = 256
WS_SEND_TIMEOUT_SEC = 10.0
WS_TOKEN_WAIT_SEC = 10.0
"""An events socket opened without a token must send it as its first message within this."""
STATIC = Path(__file__).parent / "static"

BlueprintFactory = Callable[[trio.Event], Blueprint]
"""Builds a blueprint for the app (the overlay, the gallery), given the event that is set
when the server starts to shut down (WebSockets close on it)."""


# -- the app -------------------------------------------------------------------------------
_encode = msgspec.json.Encoder().encode


def _json(body: msgspec.Struct, status: int = 200) -> Response:
    return Response(_encode(body), status=status, content_type="application/json")


def _error(code: ErrorCode, message: str, status: int | None = None) -> Response:
    reply = ErrorReply(error=code.name.lower(), code=int(code), message=message)
    resp = _json(reply, status or STATUS_FOR.get(code, 400))
    if code is ErrorCode.PERMISSION:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="drawstreamd"'
    return resp


def _query_int(param: Param) -> int:
    text = request.args.get(param.name)
    if text is None:
        return param.default
    try:
        value = int(text)
    except ValueError:
        raise cmd.CommandError(ErrorCode.ARG, f"{param.name} must be a whole number") from None
    if not param.minimum <= value <= param.maximum:
        raise cmd.CommandError(
            ErrorCode.ARG, f"{param.name} must be between {param.minimum} and {param.maximum}"
        )
    return value


_CODE_ROUTES = frozenset({"signin"})
"""Routes that take a credential other than the token (a sign-in code): they count too."""


def _bearer(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when there is no such header."""
    scheme, _, value = (header or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class TokenGate:
    """The token check of every private route, with the limit on wrong guesses per address."""

    def __init__(
        self,
        credentials: Credentials,
        wrong: WrongCredentials | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.wrong = wrong if wrong is not None else WrongCredentials()
        self.clock = clock

    def locked(self, address: str | None) -> Response | None:
        """429 while ``address`` has used up its wrong guesses, else None."""
        wait = self.wrong.locked_for(client_key(address), self.clock())
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        resp = _error(
            ErrorCode.BUSY,
            f"too many wrong tokens or sign-in codes from this address; try again in {seconds} s",
        )
        resp.headers["Retry-After"] = str(seconds)
        return resp

    def wrong_guess(self, address: str | None) -> None:
        self.wrong.record(client_key(address), self.clock())

    def check(self, address: str | None, given: str | None) -> Response | None:
        """None when ``given`` is the token in force; else the response that refuses."""
        refused = self.locked(address)
        if refused is not None:
            return refused
        if given is None:
            return _error(
                ErrorCode.PERMISSION,
                "this needs the API token: Authorization: Bearer <token> "
                "(drawstreamctl token prints it)",
            )
        if not self.credentials.matches(given):
            self.wrong_guess(address)
            return _error(ErrorCode.PERMISSION, "wrong API token")
        return None


def _view(
    route: Route, commands: cmd.Commands, gate: TokenGate
) -> Callable[..., Awaitable[Response]]:
    method: Callable[..., Awaitable[msgspec.Struct | bytes]] = getattr(commands, route.call)

    async def view(**path_args: Any) -> Response:
        address = request.remote_addr
        if route.auth:
            refused = gate.check(address, _bearer(request.headers.get("Authorization")))
            if refused is not None:
                return refused
        elif route.call in _CODE_ROUTES:
            refused = gate.locked(address)
            if refused is not None:
                return refused
        kwargs: dict[str, Any] = dict(path_args)
        for param in route.query:
            kwargs[param.name] = _query_int(param)
        if "item_id" in kwargs and not 1 <= kwargs["item_id"] <= cmd.MAX_ID:
            raise cmd.CommandError(ErrorCode.ARG, f"item_id must be between 1 and {cmd.MAX_ID}")
        if route.body is not None:
            raw = await request.get_data(as_text=False)
            if route.body_optional and not raw:
                raw = b"{}"
            elif request.mimetype != "application/json":
                return _error(ErrorCode.ARG, "send the body as application/json", 415)
            try:
                kwargs["req"] = msgspec.json.decode(raw, type=route.body)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise cmd.CommandError(ErrorCode.ARG, f"body: {exc}") from None
        try:
            reply = await method(**kwargs)
        except cmd.CommandError as exc:
            if exc.code is ErrorCode.PERMISSION:
                gate.wrong_guess(address)
            raise
        if isinstance(reply, bytes):
            resp = Response(reply, status=route.status, content_type=route.media)
            resp.headers["Cache-Control"] = "no-store"
            return resp
        return _json(reply, route.status)

    view.__name__ = f"{route.call}_{route.method.lower()}"
    return view


_SHUTTING_DOWN = (1001, "drawstreamd is shutting down")


class _FirstMessage(msgspec.Struct, forbid_unknown_fields=True):
    token: str


async def _first_message(stopping: trio.Event) -> str | bytes | None:
    """The socket's first message; None after WS_TOKEN_WAIT_SEC or once shutdown starts."""
    got: str | bytes | None = None
    with trio.move_on_after(WS_TOKEN_WAIT_SEC):
        async with trio.open_nursery() as nursery:

            async def on_shutdown() -> None:
                await stopping.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(on_shutdown)
            got = await websocket.receive()
            nursery.cancel_scope.cancel()
    return got


async def _token_from_first_message(
    gate: TokenGate, stopping: trio.Event
) -> tuple[int, str] | None:
    """Read the token a browser sends first (``{"token": "…"}``): None when it is the one
    in force, else the close code and reason."""
    raw = await _first_message(stopping)
    if raw is None and stopping.is_set():
        return _SHUTTING_DOWN
    if raw is None:
        return 1008, 'no token: send {"token": "…"} first'
    try:
        given = msgspec.json.decode(raw, type=_FirstMessage).token
    except (msgspec.ValidationError, msgspec.DecodeError):
        return 1008, 'the first message must be {"token": "…"}'
    address = websocket.remote_addr
    if gate.locked(address) is not None:
        return 1013, "too many wrong tokens from this address; try again later"
    if not gate.credentials.matches(given):
        gate.wrong_guess(address)
        return 1008, "wrong API token"
    return None


def api_blueprint(
    commands: cmd.Commands, events: EventBus, gate: TokenGate, stopping: trio.Event
) -> Blueprint:
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    for route in ROUTES:
        rule = route.path.replace("{item_id}", "<int:item_id>")
        bp.add_url_rule(rule, view_func=_view(route, commands, gate), methods=[route.method])
    document = openapi()

    async def openapi_json() -> Response:
        return Response(document, content_type="application/json")

    bp.add_url_rule("/openapi.json", view_func=openapi_json, methods=["GET"])
    sockets_per_client: dict[str, int] = {}

    async def events_ws() -> Response | None:
        kinds_arg = websocket.args.get("kinds", "")
        kinds = frozenset(k for k in kinds_arg.split(",") if k) or None
        bad = sorted((kinds or frozenset()) - set(EVENT_KINDS))
        if bad:
            return _error(ErrorCode.ARG, f"unknown event kind {bad[0]!r}")
        rotated = gate.credentials.rotation()  # taken with the check: a later rotation counts
        given = _bearer(websocket.headers.get("Authorization")) or websocket.args.get("token")
        if given is not None:
            refused = gate.check(websocket.remote_addr, given)
            if refused is not None:
                return refused
        else:
            refused = gate.locked(websocket.remote_addr)
            if refused is not None:
                return refused
        client = websocket.remote_addr or "?"
        if sockets_per_client.get(client, 0) >= MAX_WS_PER_CLIENT:
            return _error(ErrorCode.BUSY, f"at most {MAX_WS_PER_CLIENT} event sockets per client")
        if sum(sockets_per_client.values()) >= MAX_WS:
            return _error(ErrorCode.BUSY, f"at most {MAX_WS} event sockets")
        sockets_per_client[client] = sockets_per_client.get(client, 0) + 1
        try:
            await websocket.accept()
            closing = None
            if given is None:
                closing = await _token_from_first_message(gate, stopping)
                rotated = gate.credentials.rotation()  # checked just now, with no await between
            if closing is None:
                closing = await _forward_events(events, kinds, stopping, rotated)
            with trio.move_on_after(1.0):
                await websocket.close(*closing)
        finally:
            sockets_per_client[client] -= 1
            if not sockets_per_client[client]:
                del sockets_per_client[client]
        return None

    bp.add_websocket("/events", view_func=events_ws)
    return bp


async def _forward_events(
    events: EventBus, kinds: frozenset[str] | None, stopping: trio.Event, rotated: trio.Event
) -> tuple[int, str]:
    """Send events until shutdown, a rotated token or a client that stopped reading; the
    close code and reason for that."""
    closing = _SHUTTING_DOWN
    async with events.subscribe(kinds) as sub, trio.open_nursery() as nursery:

        async def forward() -> None:
            nonlocal closing
            while True:
                for event in await sub.next_batch():
                    with trio.move_on_after(WS_SEND_TIMEOUT_SEC) as sending:
                        await websocket.send(_encode(event).decode())
                    if sending.cancelled_caught:  # the client stopped reading
                        closing = (1008, "not reading events")
                        nursery.cancel_scope.cancel()
                        return

        async def on_rotation() -> None:
            nonlocal closing
            await rotated.wait()
            closing = (1008, "the API token was rotated; sign in again")
            nursery.cancel_scope.cancel()

        nursery.start_soon(forward)
        nursery.start_soon(on_rotation)
        await stopping.wait()
        nursery.cancel_scope.cancel()
    return closing


async def _mod_page_view() -> Response:
    """Until the moderator page is built, ``/mod`` signs in and shows the live status."""
    resp = Response((STATIC / "mod.html").read_bytes(), content_type="text/html; charset=utf-8")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def create_app(
    settings: Settings,
    commands: cmd.Commands,
    events: EventBus,
    *,
    credentials: Credentials,
    stopping: trio.Event | None = None,
    blueprints: Sequence[Blueprint] = (),
    wrong: WrongCredentials | None = None,
) -> QuartTrio:
    """The Quart-Trio app: the API blueprint, ``/mod``, then ``blueprints`` (the overlay, the
    gallery). ``wrong`` counts wrong tokens and codes (default: 10 a minute per address)."""
    app = QuartTrio("drawstreamd")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["BODY_TIMEOUT"] = 10
    gate = TokenGate(credentials, wrong)
    app.register_blueprint(
        api_blueprint(commands, events, gate, trio.Event() if stopping is None else stopping)
    )
    app.add_url_rule("/mod", view_func=_mod_page_view, methods=["GET"])
    for bp in blueprints:
        app.register_blueprint(bp)

    @app.errorhandler(ProtocolError)
    async def command_error(exc: ProtocolError) -> Response:
        return _error(exc.code, exc.message)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = ErrorCode.UNKNOWN if status in (404, 405) else ErrorCode.ARG
        resp = _error(code, exc.description or exc.name, status)
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                resp.headers["Allow"] = value
        return resp

    @app.errorhandler(Exception)
    async def internal_error(exc: Exception) -> Response:
        log.exception("HTTP API: unexpected error")
        return _error(ErrorCode.SYSTEM, f"internal error: {type(exc).__name__}")

    return app


# -- serving -------------------------------------------------------------------------------
def _never_refused(scope: Any) -> bool:
    """The overlay is OBS's browser source: a local flood must not blank it on stream."""
    return str(scope.get("path", "")).startswith("/overlay")


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


async def serve_http(
    settings: Settings,
    commands: cmd.Commands,
    events: EventBus,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    blueprints: Sequence[BlueprintFactory] = (),
    limiter: RateLimiter | None = None,
    wrong: WrongCredentials | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the HTTP API on ``API_HOST:API_PORT`` until ``shutdown_trigger`` returns.

    ``blueprints`` add routes beside ``/api/v1`` (the overlay, the gallery): each factory is
    called with the event set when shutdown starts, for its WebSockets to close (1001) on.
    The token and sign-in codes are ``commands.credentials``; when that is None they are
    prepared here (:meth:`Credentials.prepare`) and put there, for the control socket too.
    With API_TLS_CERT and API_TLS_KEY it serves HTTPS (and WSS).

    ``task_status.started(urls)`` hands back the bound URLs (``["http://127.0.0.1:8765"]``)
    once listening. Raises :class:`~drawstreamd.control.auth.HttpConfigError` (before
    binding) when it must not listen: a network address with a weak token, TLS files that do
    not load. Owns Hypercorn's connections; when the trigger fires, event WebSockets are
    closed with 1001 and requests get a short grace.
    """
    credentials = commands.credentials
    if credentials is None:
        credentials = commands.credentials = Credentials.prepare(settings)
    stopping = trio.Event()

    async def trigger() -> None:
        await shutdown_trigger()
        stopping.set()

    extra = [make(stopping) for make in blueprints]
    app = create_app(
        settings,
        commands,
        events,
        credentials=credentials,
        stopping=stopping,
        blueprints=extra,
        wrong=wrong,
    )
    guarded = AccessGuard(app, AccessPolicy.from_settings(settings, tls=credentials.tls))
    shed = ShedLoad(guarded, limiter, gate=commands.gate, exempt=_never_refused)
    config = HypercornConfig()
    config.bind = [_bind(settings.API_HOST, settings.API_PORT)]
    config.graceful_timeout = 2.0
    config.accesslog = None
    config.errorlog = log
    config.keep_alive_timeout = 5.0
    config.h11_max_incomplete_size = 16 * 1024
    config.websocket_max_message_size = 64 * 1024
    if credentials.tls:
        config.certfile = str(settings.API_TLS_CERT)
        config.keyfile = str(settings.API_TLS_KEY)
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(
            functools.partial(
                hypercorn_serve, cast("Any", shed), config, shutdown_trigger=trigger, mode="asgi"
            )
        )
        credentials.port = urlsplit(urls[0]).port
        task_status.started(urls)
