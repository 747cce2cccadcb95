"""The HTTP/WebSocket API: a Quart-Trio app over the one command layer, served by Hypercorn.

Every route is declared once in :data:`drawstreamd.control.openapi.ROUTES`; the Quart rules
and the OpenAPI document at ``/api/v1/openapi.json`` are both built from that table and from
the msgspec types in :mod:`drawstreamd.control.commands`, so they cannot drift apart.

Reading needs no credentials; changing anything needs ``Authorization: Bearer <token>``.
The token is ``API_TOKEN`` or, when that is unset, one generated on first start into
``<STATE_DIR>/api_token`` (mode 0600; ``drawstreamctl token`` prints it).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import msgspec
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart import Blueprint, Response, request, websocket
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from drawstreamd import logs
from drawstreamd.control import commands as cmd
from drawstreamd.control.openapi import (
    PREFIX,
    ROUTES,
    STATUS_FOR,
    ErrorReply,
    Param,
    Route,
    openapi,
)
from drawstreamd.control.protocol import ErrorCode, ProtocolError
from drawstreamd.control.ratelimit import RateLimiter, ShedLoad
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
TOKEN_FILE = "api_token"

BlueprintFactory = Callable[[trio.Event], Blueprint]
"""Builds a blueprint for the app (the overlay, the gallery), given the event that is set
when the server starts to shut down (WebSockets close on it)."""


class HttpConfigError(Exception):
    """The HTTP API cannot start with this configuration; the message says why."""


# -- tokens and binding --------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ensure_api_token(settings: Settings) -> str:
    """The bearer token: API_TOKEN, else ``<STATE_DIR>/api_token`` (created 0600 if missing)."""
    configured = settings.API_TOKEN.get_secret_value()
    if not configured and not is_loopback(settings.API_HOST):
        raise HttpConfigError(
            f"HTTP API: refusing to listen on {settings.API_HOST} without API_TOKEN "
            "(set API_TOKEN, or bind API_HOST to 127.0.0.1)"
        )
    if configured:
        return configured
    path = Path(settings.STATE_DIR) / TOKEN_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return token
            path.unlink()
            return ensure_api_token(settings)
        token = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HttpConfigError(f"HTTP API: cannot use the token file {path}: {why}") from None
    log.info("HTTP API token written to %s (drawstreamctl token prints it)", path)
    return token


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


def _view(route: Route, commands: cmd.Commands, token: str) -> Callable[..., Awaitable[Response]]:
    method: Callable[..., Awaitable[msgspec.Struct]] = getattr(commands, route.call)
    expected = f"Bearer {token}".encode()

    async def view(**path_args: Any) -> Response:
        if route.auth:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                raise cmd.CommandError(ErrorCode.PERMISSION, "missing or wrong bearer token")
        kwargs: dict[str, Any] = dict(path_args)
        for param in route.query:
            kwargs[param.name] = _query_int(param)
        if "item_id" in kwargs and not 1 <= kwargs["item_id"] <= cmd.MAX_ID:
            raise cmd.CommandError(ErrorCode.ARG, f"item_id must be between 1 and {cmd.MAX_ID}")
        if route.body is not None:
            if request.mimetype != "application/json":
                return _error(ErrorCode.ARG, "send the body as application/json", 415)
            raw = await request.get_data(as_text=False)
            try:
                kwargs["req"] = msgspec.json.decode(raw, type=route.body)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise cmd.CommandError(ErrorCode.ARG, f"body: {exc}") from None
        return _json(await method(**kwargs), route.status)

    view.__name__ = f"{route.call}_{route.method.lower()}"
    return view


def api_blueprint(
    commands: cmd.Commands, events: EventBus, token: str, stopping: trio.Event
) -> Blueprint:
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    for route in ROUTES:
        rule = route.path.replace("{item_id}", "<int:item_id>")
        bp.add_url_rule(rule, view_func=_view(route, commands, token), methods=[route.method])
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
        client = websocket.remote_addr or "?"
        if sockets_per_client.get(client, 0) >= MAX_WS_PER_CLIENT:
            return _error(ErrorCode.BUSY, f"at most {MAX_WS_PER_CLIENT} event sockets per client")
        if sum(sockets_per_client.values()) >= MAX_WS:
            return _error(ErrorCode.BUSY, f"at most {MAX_WS} event sockets")
        sockets_per_client[client] = sockets_per_client.get(client, 0) + 1
        try:
            await websocket.accept()
            stalled = False
            async with events.subscribe(kinds) as sub, trio.open_nursery() as nursery:

                async def forward() -> None:
                    nonlocal stalled
                    while True:
                        for event in await sub.next_batch():
                            with trio.move_on_after(WS_SEND_TIMEOUT_SEC) as sending:
                                await websocket.send(_encode(event).decode())
                            if sending.cancelled_caught:  # the client stopped reading
                                stalled = True
                                nursery.cancel_scope.cancel()
                                return

                nursery.start_soon(forward)
                await stopping.wait()
                nursery.cancel_scope.cancel()
            with trio.move_on_after(1.0):
                if stalled:
                    await websocket.close(1008, "not reading events")
                else:
                    await websocket.close(1001, "drawstreamd is shutting down")
        finally:
            sockets_per_client[client] -= 1
            if not sockets_per_client[client]:
                del sockets_per_client[client]
        return None

    bp.add_websocket("/events", view_func=events_ws)
    return bp


def create_app(
    settings: Settings,
    commands: cmd.Commands,
    events: EventBus,
    *,
    token: str,
    stopping: trio.Event | None = None,
    blueprints: Sequence[Blueprint] = (),
) -> QuartTrio:
    """The Quart-Trio app: the API blueprint, then ``blueprints`` (the overlay, the gallery)."""
    app = QuartTrio("drawstreamd")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["BODY_TIMEOUT"] = 10
    app.register_blueprint(
        api_blueprint(commands, events, token, trio.Event() if stopping is None else stopping)
    )
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
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the HTTP API on ``API_HOST:API_PORT`` until ``shutdown_trigger`` returns.

    ``blueprints`` add routes beside ``/api/v1`` (the overlay, the gallery): each factory is
    called with the event set when shutdown starts, for its WebSockets to close (1001) on.

    ``task_status.started(urls)`` hands back the bound URLs (``["http://127.0.0.1:8765"]``)
    once listening. Raises :class:`HttpConfigError` (before binding) for a non-loopback
    address without ``API_TOKEN``. Owns Hypercorn's connections; when the trigger fires,
    event WebSockets are closed with 1001 and requests get a short grace.
    """
    token = ensure_api_token(settings)
    logs.add_secrets([token])  # a generated token is as secret as a configured one
    stopping = trio.Event()

    async def trigger() -> None:
        await shutdown_trigger()
        stopping.set()

    extra = [make(stopping) for make in blueprints]
    app = create_app(settings, commands, events, token=token, stopping=stopping, blueprints=extra)
    shed = ShedLoad(app, limiter, gate=commands.gate, exempt=_never_refused)
    config = HypercornConfig()
    config.bind = [_bind(settings.API_HOST, settings.API_PORT)]
    config.graceful_timeout = 2.0
    config.accesslog = None
    config.errorlog = log
    config.keep_alive_timeout = 5.0
    config.h11_max_incomplete_size = 16 * 1024
    config.websocket_max_message_size = 64 * 1024
    await hypercorn_serve(
        cast("Any", shed), config, shutdown_trigger=trigger, task_status=task_status, mode="asgi"
    )
