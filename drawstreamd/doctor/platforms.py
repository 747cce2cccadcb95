"""Doctor checks of the Twitch, StreamElements and DonatePay sign-ins.

Each asks the platform the way its source does (``check_sign_in`` of the source): the token is
valid and has what the source needs. A source without credentials is "off", which is not a
failure. While a daemon runs on this state dir the Twitch check refreshes nothing: Twitch's
refresh tokens work once, and the daemon holds the current one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from drawstreamd.doctor.result import Result, fail, ok, warn
from drawstreamd.sources.api import ApiError, SignInRejected
from drawstreamd.sources.donatepay import source as donatepay
from drawstreamd.sources.streamelements import source as streamelements
from drawstreamd.sources.tokens import AuthRevoked, OAuthError
from drawstreamd.sources.twitch import source as twitch
from drawstreamd.sources.twitch.auth import initial_tokens as twitch_tokens

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from drawstreamd.doctor.result import Context

TIMEOUT_SEC = 3.0


async def _ask(name: str, what: Awaitable[str], fix: str, reach: str) -> list[Result]:
    """Run one sign-in check in time; its line, or why not and what to do."""
    with trio.move_on_after(TIMEOUT_SEC):
        try:
            return [ok(name, await what)]
        except (SignInRejected, AuthRevoked) as exc:
            return [fail(name, f"the sign-in is not usable ({exc})", fix)]
        except twitch.RefreshHeld as exc:
            return [warn(name, str(exc), "run `drawstreamd doctor` again in a minute")]
        except (ApiError, OAuthError) as exc:
            return [fail(name, f"could not ask ({exc})", reach)]
    return [fail(name, f"no answer within {TIMEOUT_SEC:g} s", reach)]


async def check_twitch(ctx: Context) -> list[Result]:
    s = ctx.config
    if twitch_tokens(s) is None:
        return [ok("Twitch", "off: no sign-in (`drawstreamd auth twitch` signs in)")]
    return await _ask(
        "Twitch",
        twitch.check_sign_in(s, ctx.http, may_refresh=ctx.daemon_pid is None),
        "run `drawstreamd auth twitch` to sign in again (TWITCH_SCOPES lists what it asks for)",
        "check the internet connection (and TWITCH_AUTH_URL if you changed it)",
    )


async def check_streamelements(ctx: Context) -> list[Result]:
    s = ctx.config
    if not s.se_configured:
        return [ok("StreamElements", "off: no SE_JWT or SE_OAUTH_TOKEN")]
    return await _ask(
        "StreamElements",
        streamelements.check_sign_in(s, ctx.http),
        "copy the current JWT from the dashboard (Account › Channels › Show secrets) into SE_JWT",
        "check the internet connection (and SE_API_URL if you changed it)",
    )


async def check_donatepay(ctx: Context) -> list[Result]:
    s = ctx.config
    if not s.dp_configured:
        return [ok("DonatePay", "off: no DP_API_KEY")]
    return await _ask(
        "DonatePay",
        donatepay.check_sign_in(s, ctx.http),
        "copy the API key from donatepay.ru/page/api into DP_API_KEY",
        "check the internet connection (and DP_API_URL if you changed it)",
    )
