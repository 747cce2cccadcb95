"""``drawstreamd auth``: sign a streamer in to Donation Alerts (OAuth authorization-code flow).

Prints the authorize address (and opens the browser), catches the redirect on a loopback
listener at ``http://127.0.0.1:<port>/callback``, exchanges the code and stores the tokens in
``<STATE_DIR>/da_tokens.json`` (mode 0600), where the daemon picks them up. The redirect
address must be the one registered for the app at donationalerts.com/application/clients.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import webbrowser
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import trio

from drawstreamd.sources.donationalerts.oauth import (
    OAuthError,
    TokenManager,
    authorize_url,
    exchange_code,
    save_tokens,
    tokens_path,
)
from drawstreamd.sources.donationalerts.rest import ApiError, DAClient

if TYPE_CHECKING:
    from drawstreamd.config import Settings

DEFAULT_PORT = 8910
_MAX_REQUEST = 16 * 1024
_PAGE = """<!doctype html><meta charset="utf-8"><title>drawstreamd</title>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body>"""


class AuthFailed(Exception):
    pass


@dataclass
class _Callback:
    code: str | None = None
    error: str | None = None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drawstreamd auth",
        description="Sign in to Donation Alerts and store the tokens for the daemon.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"loopback port of the redirect address (default {DEFAULT_PORT}; "
        "register http://127.0.0.1:PORT/callback for your app)",
    )
    p.add_argument("--no-browser", action="store_true", help="only print the address")
    p.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the browser (default 300)"
    )
    return p


async def _answer(stream: trio.SocketStream, status: str, title: str, text: str) -> None:
    body = _PAGE.format(title=title, text=text).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(trio.BrokenResourceError):
        await stream.send_all(head + body)


async def _read_target(stream: trio.SocketStream) -> str | None:
    data = b""
    with trio.move_on_after(10):
        while b"\r\n\r\n" not in data and len(data) < _MAX_REQUEST:
            chunk = await stream.receive_some(4096)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "GET":
        return None
    return parts[1]


async def _handle(
    stream: trio.SocketStream, state: str, result: _Callback, done: trio.Event
) -> None:
    # a browser that hangs up early must not end the sign-in
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await _respond(stream, state, result, done)


async def _respond(
    stream: trio.SocketStream, state: str, result: _Callback, done: trio.Event
) -> None:
    async with stream:
        target = await _read_target(stream)
        if target is None:
            await _answer(stream, "400 Bad Request", "Bad request", "Expected a GET.")
            return
        url = urlsplit(target)
        if url.path != "/callback":
            await _answer(
                stream,
                "404 Not Found",
                "Not here",
                "This listener only takes the Donation Alerts redirect.",
            )
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if query.get("state") != state:
            await _answer(
                stream,
                "400 Bad Request",
                "Unexpected sign-in",
                "This redirect does not belong to the running `drawstreamd auth`.",
            )
            return
        if "error" in query:
            result.error = query["error"]
            await _answer(
                stream,
                "200 OK",
                "Not signed in",
                f"Donation Alerts said: {query['error']}. You can close this tab.",
            )
        elif query.get("code"):
            result.code = query["code"]
            await _answer(
                stream,
                "200 OK",
                "Signed in",
                "drawstreamd has its Donation Alerts access. You can close this tab.",
            )
        else:
            await _answer(stream, "400 Bad Request", "No code", "The redirect carried no code.")
            return
        done.set()


async def _flow(settings: Settings, args: argparse.Namespace) -> str:
    listeners = await trio.open_tcp_listeners(args.port, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    state = secrets.token_urlsafe(16)
    url = authorize_url(settings, redirect_uri, state)
    print(f"Redirect address (register it for your app): {redirect_uri}")
    print(f"Open this address, sign in and allow access:\n\n  {url}\n", flush=True)
    result = _Callback()
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            trio.serve_listeners, lambda s: _handle(s, state, result, done), listeners
        )
        if not args.no_browser:
            await trio.to_thread.run_sync(webbrowser.open, url)
        with trio.move_on_after(args.timeout):
            await done.wait()
        nursery.cancel_scope.cancel()
    if result.error:
        raise AuthFailed(f"Donation Alerts refused the sign-in: {result.error}")
    if not result.code:
        raise AuthFailed(f"no redirect within {args.timeout:g} s")
    async with httpx.AsyncClient() as http:
        tokens = await exchange_code(http, settings, result.code, redirect_uri)
        await trio.to_thread.run_sync(save_tokens, tokens_path(settings), tokens)
        try:
            user = await DAClient(http, settings, TokenManager(settings, http, tokens)).user()
        except (ApiError, OAuthError):
            return "signed in"
    return f"signed in as {user.name or '?'} (user id {user.id})"


def main(settings: Settings, argv: list[str]) -> int:
    """Run the sign-in; 0 on success, 1 when it failed, 2 on a usage or config problem."""
    args = _parser().parse_args(argv)
    if not settings.DA_CLIENT_ID or not settings.DA_CLIENT_SECRET.get_secret_value():
        print(
            "drawstreamd auth: set DA_CLIENT_ID and DA_CLIENT_SECRET first (the app id and "
            "API key from donationalerts.com/application/clients)",
            file=sys.stderr,
        )
        return 2
    try:
        who = trio.run(_flow, settings, args)
    except OSError as exc:
        print(
            f"drawstreamd auth: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    except (AuthFailed, OAuthError) as exc:
        print(f"drawstreamd auth: {exc}", file=sys.stderr)
        return 1
    print(
        f"Donation Alerts: {who}. Tokens saved to {tokens_path(settings)}; "
        "start (or restart) the daemon to use them."
    )
    return 0
