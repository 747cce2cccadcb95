"""``drawstreamd auth twitch``: sign a streamer in to Twitch with the device code flow.

Prints an address and a code; the streamer opens the address on any device, signs in and
types the code; meanwhile this polls Twitch, then stores the tokens in
``<STATE_DIR>/twitch_tokens.json`` (mode 0600), where the daemon picks them up. No redirect
server and no client secret: the app must be registered with Client Type "Public".
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from typing import TYPE_CHECKING

import httpx
import trio

from drawstreamd.sources.api import ApiError
from drawstreamd.sources.tokens import OAuthError, save_tokens
from drawstreamd.sources.twitch.auth import (
    MANAGE_REDEMPTIONS,
    READ_BITS,
    DeviceFlowFailed,
    TwitchTokens,
    finish_device_flow,
    start_device_flow,
    tokens_path,
    validate,
)

if TYPE_CHECKING:
    from drawstreamd.config import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drawstreamd auth twitch",
        description="Sign in to Twitch (device code flow) and store the tokens for the daemon.",
    )
    p.add_argument("--open", action="store_true", help="also open the address in a browser here")
    return p


async def _flow(settings: Settings, args: argparse.Namespace) -> str:
    async with httpx.AsyncClient() as http:
        code = await start_device_flow(http, settings)
        minutes = code.expires_in / 60
        print(
            f"To sign in, open\n\n  {code.verification_uri}\n\n"
            f"and enter the code  {code.user_code}\n"
            f"(it works for {minutes:.0f} minutes; scopes: {settings.TWITCH_SCOPES})",
            flush=True,
        )
        if args.open:
            await trio.to_thread.run_sync(webbrowser.open, code.verification_uri)
        tokens = await finish_device_flow(http, settings, code)
        path = tokens_path(settings)
        await trio.to_thread.run_sync(save_tokens, path, tokens)
        try:
            me = await validate(http, settings, TwitchTokens(settings, http, tokens))
        except (ApiError, OAuthError):
            return "signed in"
    notes = []
    if MANAGE_REDEMPTIONS not in me.scopes:
        notes.append(f"without {MANAGE_REDEMPTIONS}: redemptions will not work")
    if READ_BITS not in me.scopes:
        notes.append(f"without {READ_BITS}: cheers off")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return f"signed in as {me.login} (user id {me.user_id}){extra}"


def main(settings: Settings, argv: list[str]) -> int:
    """Run the sign-in; 0 on success, 1 when it failed, 2 on a usage or config problem."""
    args = _parser().parse_args(argv)
    if not settings.TWITCH_CLIENT_ID:
        print(
            "drawstreamd auth twitch: set TWITCH_CLIENT_ID first (the Client ID of an app "
            "registered at dev.twitch.tv/console with Client Type Public)",
            file=sys.stderr,
        )
        return 2
    try:
        who = trio.run(_flow, settings, args)
    except (DeviceFlowFailed, OAuthError, ApiError) as exc:
        print(f"drawstreamd auth twitch: {exc}", file=sys.stderr)
        return 1
    print(
        f"Twitch: {who}. Tokens saved to {tokens_path(settings)}; "
        "start (or restart) the daemon to use them."
    )
    return 0
