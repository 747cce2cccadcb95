"""The Donation Alerts source: :func:`serve`, the entry point the daemon supervises.

It owns three tasks: the socket loop (``connection.py``: one Centrifugo connection after
another), the REST loop (``ingest.py``: catch-up on start and after every reconnect, polling
while the socket is down) and the token loop (refresh before expiry). Donations from both
paths go through one :class:`~drawstreamd.sources.donationalerts.ingest.Ingest`, so each is
journaled exactly once.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING

import trio

from drawstreamd.retry import Backoff
from drawstreamd.sources.base import SourceState, report, run_tasks, source_off
from drawstreamd.sources.donationalerts.connection import socket_loop
from drawstreamd.sources.donationalerts.donation import SOURCE
from drawstreamd.sources.donationalerts.ingest import WATERMARK_KEY, Ingest, Tuning, rest_loop
from drawstreamd.sources.donationalerts.oauth import (
    REFRESH_MARGIN_SEC,
    AuthRevoked,
    OAuthError,
    TokenManager,
    initial_tokens,
)
from drawstreamd.sources.donationalerts.rest import DAClient, RateLimiter

if TYPE_CHECKING:
    import httpx

    from drawstreamd.config import Settings
    from drawstreamd.sources.base import DonationSink

__all__ = ["WATERMARK_KEY", "Tuning", "run", "serve"]

log = logging.getLogger("drawstreamd.da")


async def _token_loop(tokens: TokenManager) -> None:
    backoff = Backoff(base=5.0, floor=1.0, cap=300.0)
    while True:
        t = tokens.tokens
        if t.expires_at is None:
            await trio.sleep(3600)
            continue
        margin = min(REFRESH_MARGIN_SEC, t.lifetime / 5 if t.lifetime else REFRESH_MARGIN_SEC)
        await trio.sleep(max(1.0, t.expires_at - margin - time.time()))
        try:
            await tokens.access_token()
            backoff.reset()
        except AuthRevoked:
            raise
        except OAuthError as exc:
            wait = backoff.next_delay()
            log.warning("da token refresh failed error=%s retry_in=%.1fs", exc, wait)
            await trio.sleep(wait)


async def serve(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the Donation Alerts source until cancelled.

    ``task_status.started()`` comes at once (the daemon does not wait for the internet); the
    socket, REST and token tasks are owned here and reconnect by themselves. Returns (never
    raises) when no credentials are configured, or when the sign-in is revoked: one error line
    says so and the daemon keeps its other sources.
    """
    await run(settings, sink, http, tuning=Tuning(), task_status=task_status)


async def run(
    settings: Settings,
    sink: DonationSink,
    http: httpx.AsyncClient,
    *,
    tuning: Tuning,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """:func:`serve` with explicit timings."""
    start = initial_tokens(settings)  # the tokens `drawstreamd auth` stored count too
    if not start.access_token and not start.refresh_token:
        source_off(sink, SOURCE, "DA_ACCESS_TOKEN or DA_REFRESH_TOKEN", log, task_status)
        return
    tokens = TokenManager(settings, http, start)
    api = DAClient(http, settings, tokens, RateLimiter(tuning.rest_per_minute))
    ing = Ingest(settings, sink)
    report(sink, SOURCE, SourceState.CONNECTING)
    revoked = await run_tasks(
        [
            functools.partial(rest_loop, api, ing, tuning),
            functools.partial(socket_loop, api, ing, tuning),
            functools.partial(_token_loop, tokens),
        ],
        stop_on=AuthRevoked,
        task_status=task_status,
    )
    if revoked:
        report(sink, SOURCE, SourceState.SIGNED_OUT, "run `drawstreamd auth`")
        log.error(
            "Donation Alerts sign-in is no longer valid (%s); run `drawstreamd auth` to sign in "
            "again. Donation Alerts source stopped; the other sources keep running.",
            revoked,
        )
