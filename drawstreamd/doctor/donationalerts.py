"""Doctor check of the Donation Alerts sign-in: the token works and carries the scopes.

It signs in the way the source does (:func:`initial_tokens`, then ``/user/oauth`` through
:class:`DAClient`, refreshing an expired token and saving the new pair as the daemon would),
except while a daemon runs on this state dir: that daemon owns the refresh token then, and
a refresh here would retire the one it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from drawstreamd.doctor.result import Result, fail, ok, warn
from drawstreamd.sources.donationalerts.oauth import (
    AuthRevoked,
    OAuthError,
    TokenManager,
    granted_scopes,
    initial_tokens,
    load_tokens,
    tokens_path,
)
from drawstreamd.sources.donationalerts.rest import ApiError, DAClient, RateLimited

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.doctor.result import Context
    from drawstreamd.sources.donationalerts.oauth import Tokens

TIMEOUT_SEC = 3.0
NAME = "Donation Alerts"
SCOPES = "Donation Alerts scopes"
NEEDED = ("oauth-user-show", "oauth-donation-subscribe")
"""Without these the source cannot connect at all."""
CATCH_UP = "oauth-donation-index"
SIGN_IN = "run `drawstreamd auth` to sign in again"


class _RefreshHeld(Exception):
    pass


class _NoRefresh(TokenManager):
    """The tokens as they are: the running daemon refreshes them, not the doctor."""

    async def refresh(self, stale: str) -> str:
        raise _RefreshHeld


def _where(settings: Settings, tokens: Tokens) -> str:
    stored = load_tokens(tokens_path(settings))
    if stored is not None and stored.access_token == tokens.access_token:
        return str(tokens_path(settings))
    return "DA_ACCESS_TOKEN/DA_REFRESH_TOKEN"


def _scope_results(
    settings: Settings, granted: frozenset[str], index_refused: bool, where: str
) -> Result:
    asked = settings.DA_SCOPES.split()
    unasked = [s for s in NEEDED if s not in asked]
    if unasked:
        return fail(
            SCOPES,
            f"DA_SCOPES lacks {' '.join(unasked)}, which drawstreamd needs to receive donations",
            f"add {' '.join(unasked)} to DA_SCOPES (or unset it for the default), then {SIGN_IN}",
        )
    missing = [s for s in asked if s not in granted]
    if index_refused and CATCH_UP not in missing:
        missing.append(CATCH_UP)
    if missing:
        how = " (Donation Alerts refused the donation list)" if index_refused else ""
        return fail(
            SCOPES,
            f"the sign-in in {where} lacks {' '.join(missing)}{how}",
            f"{SIGN_IN}: it asks for every scope in DA_SCOPES",
        )
    if CATCH_UP not in asked:
        return warn(
            SCOPES,
            f"DA_SCOPES lacks {CATCH_UP}: donations made while the connection is down are lost",
            f"add {CATCH_UP} to DA_SCOPES, then {SIGN_IN}",
        )
    return ok(SCOPES, " ".join(asked))


def _api_failure(settings: Settings, exc: ApiError) -> Result:
    if isinstance(exc, RateLimited):
        return warn(NAME, f"Donation Alerts says to slow down ({exc})", "run the doctor later")
    if exc.status == 403:
        return fail(
            NAME,
            "Donation Alerts refused /user/oauth (HTTP 403): the sign-in lacks oauth-user-show",
            f"{SIGN_IN}: it asks for every scope in DA_SCOPES",
        )
    if exc.status is None:
        return fail(
            NAME,
            f"cannot reach {settings.DA_API_URL} ({exc})",
            "check the internet connection (and DA_API_URL if you changed it)",
        )
    return fail(
        NAME, f"Donation Alerts answered {exc}", "try again later; if it persists, " + SIGN_IN
    )


async def _sign_in(ctx: Context) -> list[Result]:
    s = ctx.config
    tokens = initial_tokens(s)
    path = tokens_path(s)
    unusable = (
        [warn(NAME, f"{path} is not a token file; it is ignored", SIGN_IN)]
        if path.exists() and load_tokens(path) is None
        else []
    )
    if not tokens.access_token and not tokens.refresh_token:
        return [*unusable, ok(NAME, "off: no sign-in (`drawstreamd auth` signs in)")]
    where = _where(s, tokens)
    manager_type = _NoRefresh if ctx.daemon_pid is not None else TokenManager
    manager = manager_type(s, ctx.http, tokens)
    api = DAClient(ctx.http, s, manager)
    try:
        user = await api.user()
    except _RefreshHeld:
        return [
            warn(
                NAME,
                f"the access token in {where} has expired; the running daemon "
                f"(pid {ctx.daemon_pid}) refreshes it itself",
                "run `drawstreamd doctor` again in a minute",
            )
        ]
    except AuthRevoked as exc:
        return [fail(NAME, f"the sign-in is no longer valid ({exc})", SIGN_IN)]
    except OAuthError as exc:
        return [
            fail(
                NAME,
                f"the access token has expired and could not be refreshed ({exc})",
                "check the internet connection (and DA_OAUTH_URL if you changed it)",
            )
        ]
    except ApiError as exc:
        return [_api_failure(s, exc)]
    refreshed = " (its access token was refreshed and saved)" if manager.refreshes else ""
    lines = [*unusable, ok(NAME, f"signed in as {user.name or '?'} (user id {user.id}){refreshed}")]
    index_refused = False
    if CATCH_UP in s.DA_SCOPES.split():
        try:
            await api.donations_page(1)
        except ApiError as exc:
            index_refused = exc.status == 403
        except (OAuthError, _RefreshHeld):
            pass
    lines.append(_scope_results(s, granted_scopes(manager.tokens), index_refused, where))
    return lines


async def donationalerts(ctx: Context) -> list[Result]:
    with trio.move_on_after(TIMEOUT_SEC):
        return await _sign_in(ctx)
    return [
        fail(
            NAME,
            f"no answer from Donation Alerts within {TIMEOUT_SEC:g} s",
            "check the internet connection (and DA_API_URL and DA_OAUTH_URL if you changed them)",
        )
    ]
