"""The HTTP API's routes, declared once, and the OpenAPI document built from them.

:data:`ROUTES` says, for every endpoint under ``/api/v1``, which command it runs, what it
takes and what it answers; :mod:`drawstreamd.control.http` registers Quart rules from it and
:func:`openapi` describes the same table with the msgspec types' JSON Schemas, so the
document cannot drift from what is served.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from drawstreamd.control import commands as cmd
from drawstreamd.control.protocol import ErrorCode
from drawstreamd.model import Event

PREFIX = "/api/v1"

STATUS_FOR: dict[ErrorCode, int] = {
    ErrorCode.NOT_LIST: 400,
    ErrorCode.ARG: 400,
    ErrorCode.PERMISSION: 401,
    ErrorCode.UNKNOWN: 404,
    ErrorCode.NO_EXIST: 404,
    ErrorCode.STATE: 409,
    ErrorCode.EXIST: 409,
    ErrorCode.BUSY: 429,
    ErrorCode.SYSTEM: 503,
}


class ErrorReply(msgspec.Struct, kw_only=True):
    error: str
    """A short name: arg, permission, no_exist, busy…"""
    code: int
    """The control protocol's ACK code."""
    message: str


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    minimum: int
    maximum: int
    default: int
    description: str


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: str
    """OpenAPI style, below /api/v1: ``/queue/{item_id}``."""
    summary: str
    reply: type[msgspec.Struct]
    call: str
    """The :class:`Commands` method."""
    auth: bool = True
    """Needs the bearer token (everything but /health and /signin)."""
    body: type[msgspec.Struct] | None = None
    query: tuple[Param, ...] = ()
    status: int = 200
    not_found: bool = False
    conflict: str | None = None
    """When the command can answer 409, why."""
    body_optional: bool = False
    """An empty body stands for the body type's defaults."""
    media: str = "application/json"
    """What a success answers with (``image/png``: the command returns the bytes)."""


_ID = Param("item_id", 1, cmd.MAX_ID, 0, "a donation id (see /queue and /history)")
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "Is the daemon up", cmd.PingReply, "ping", auth=False),
    Route("GET", "/status", "What is on screen, queue length, planner", cmd.StatusReply, "status"),
    Route("GET", "/current", "The drawing on screen", cmd.CurrentReply, "current"),
    Route("GET", "/queue", "The waiting donations, oldest first", cmd.QueueReply, "queue_list"),
    Route(
        "GET",
        "/stats",
        "Frame pacing over the last seconds: is the picture smooth",
        cmd.StatsReply,
        "stats",
        query=(Param("seconds", 1, 60, 10, "the window, in seconds"),),
        conflict="this daemon has no renderer",
    ),
    Route(
        "GET",
        "/history",
        "Past donations, newest first",
        cmd.HistoryReply,
        "history",
        query=(
            Param("limit", 1, cmd.HISTORY_MAX, cmd.HISTORY_DEFAULT, "how many"),
            Param("offset", 0, cmd.MAX_ID, 0, "skip this many of the newest"),
        ),
    ),
    Route("POST", "/skip", "End the current drawing or hold now", cmd.SkipReply, "skip", True),
    Route("POST", "/clear", "Drop every waiting donation", cmd.ClearReply, "clear", True),
    Route("POST", "/pause", "Start no new drawing", cmd.PauseReply, "pause", True),
    Route("POST", "/resume", "Start drawing again", cmd.PauseReply, "resume", True),
    Route(
        "POST",
        "/donations",
        "Queue a test donation",
        cmd.ItemInfo,
        "donate_request",
        True,
        body=cmd.DonateRequest,
        status=201,
    ),
    Route(
        "DELETE",
        "/queue/{item_id}",
        "Drop one waiting donation",
        cmd.RemoveReply,
        "remove",
        True,
        not_found=True,
    ),
    Route(
        "POST",
        "/replay/{item_id}",
        "Draw a past donation again",
        cmd.ItemInfo,
        "replay",
        True,
        status=201,
        not_found=True,
    ),
    Route(
        "POST",
        "/queue/{item_id}/approve",
        "Let a donation that waits for a moderator be drawn",
        cmd.ItemInfo,
        "approve",
        not_found=True,
    ),
    Route(
        "POST",
        "/queue/{item_id}/deny",
        "Skip a waiting donation with a reason; it is never shown",
        cmd.DenyReply,
        "deny",
        body=cmd.DenyRequest,
        body_optional=True,
        not_found=True,
    ),
    Route(
        "GET",
        "/queue/{item_id}/preview.png",
        "The planned picture, before it airs (404 until the plan is ready)",
        cmd.PingReply,
        "preview",
        not_found=True,
        media="image/png",
    ),
    Route("GET", "/bans", "The banned donors, oldest ban first", cmd.BansReply, "bans"),
    Route(
        "POST",
        "/bans",
        "Ban a donor: their later donations are skipped and never shown",
        cmd.BanReply,
        "ban",
        body=cmd.BanRequest,
    ),
    Route(
        "DELETE",
        "/bans",
        "Lift a donor's ban",
        cmd.BanReply,
        "unban",
        body=cmd.UnbanRequest,
    ),
    Route(
        "POST",
        "/signin",
        "Trade a one-time sign-in code (drawstreamctl mod-url) for the API token",
        cmd.SigninReply,
        "signin",
        auth=False,
        body=cmd.SigninRequest,
    ),
)


def openapi() -> bytes:
    """The OpenAPI 3.1 document, built from :data:`ROUTES` and the msgspec types."""
    types = sorted(
        {r.reply for r in ROUTES if r.media == "application/json"}
        | {r.body for r in ROUTES if r.body}
        | {ErrorReply, Event},
        key=lambda t: t.__name__,
    )
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )

    def ref(t: type) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{t.__name__}"}

    def err(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": ref(ErrorReply)}}}

    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        content: dict[str, Any] = (
            {"application/json": {"schema": ref(r.reply)}}
            if r.media == "application/json"
            else {r.media: {"schema": {"type": "string", "contentMediaType": r.media}}}
        )
        responses: dict[str, Any] = {
            str(r.status): {"description": "done", "content": content},
            "400": err("bad arguments"),
            "421": err("the request named a host this server does not answer for"),
            "429": err(
                "too many requests, or too many wrong tokens or codes from this address; "
                "retry after Retry-After seconds"
            ),
            "503": err("the daemon cannot do it right now"),
        }
        params: list[dict[str, Any]] = []
        for q in r.query:
            schema = {"type": "integer", "minimum": q.minimum, "maximum": q.maximum}
            params.append(
                {"name": q.name, "in": "query", "required": False, "schema": schema,
                 "description": q.description}
            )  # fmt: skip
        if "{item_id}" in r.path:
            schema = {"type": "integer", "minimum": _ID.minimum, "maximum": _ID.maximum}
            params.append(
                {"name": "item_id", "in": "path", "required": True, "schema": schema,
                 "description": _ID.description}
            )  # fmt: skip
            responses["404"] = err("no such donation")
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": r.call,
            "parameters": params,
            "responses": responses,
        }
        op["security"] = [{"bearer": []}] if r.auth else []
        if r.auth:
            responses["401"] = err("missing or wrong bearer token")
        elif r.call == "signin":
            responses["401"] = err("wrong, used or expired code")
        if r.body is not None:
            op["requestBody"] = {
                "required": not r.body_optional,
                "content": {"application/json": {"schema": ref(r.body)}},
            }
            responses["413"] = err("body too large")
            responses["415"] = err("the body must be application/json")
        if r.call == "donate_request":
            responses["409"] = err("already in the journal")
        if r.conflict:
            responses["409"] = err(r.conflict)
        paths.setdefault(PREFIX + r.path, {})[r.method.lower()] = op
    paths[PREFIX + "/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
            },
        }
    }
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "drawstreamd control API",
            "version": cmd.VERSION,
            "description": "The same commands as drawstreamctl. Everything but /health, "
            "/signin and this document needs `Authorization: Bearer <token>` "
            "(`drawstreamctl token` prints it). The WebSocket "
            f"{PREFIX}/events?kinds=queued,started streams Event objects as JSON text frames; "
            "it takes the token as that header, as a `token` query parameter, or (browsers) "
            'as its first message `{"token": "…"}`, and closes with 1008 when the token is '
            "wrong or has been rotated.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return msgspec.json.encode(doc)
