"""One Centrifugo connection to Donation Alerts, and the loop that keeps one open.

Every connection runs the whole chain (``/user/oauth`` → connect frame →
``POST /centrifuge/subscribe`` with this connection's client id → subscribe, method 1), then
reads publications while a pinger sends method 7 and declares a silent connection dead
(:mod:`drawstreamd.sources.centrifugo_client`). Reconnects follow the shared policy (≥ 1 s,
≤ 30 s, jittered); a close that says ``reconnect: false`` waits the full cap.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.sources.base import SourceState, report
from drawstreamd.sources.centrifugo_client import Timing, close_drop, subscribed_session
from drawstreamd.sources.donationalerts.donation import SOURCE
from drawstreamd.sources.donationalerts.oauth import AuthRevoked, OAuthError
from drawstreamd.sources.donationalerts.rest import ApiError, DAClient, RateLimited, User
from drawstreamd.sources.wsclient import Drop, Reconnects, run_websocket

if TYPE_CHECKING:
    from drawstreamd.sources.donationalerts.ingest import Ingest, Tuning

log = logging.getLogger("drawstreamd.da")


def _api_drop(exc: ApiError | OAuthError) -> Drop:
    if isinstance(exc, AuthRevoked):
        raise exc
    return Drop(str(exc), wait=exc.retry_after if isinstance(exc, RateLimited) else None)


class _AlertsChannel:
    def __init__(self, user: User, api: DAClient, ing: Ingest) -> None:
        self.name = f"$alerts:donation_{user.id}"
        self.user = user
        self.api = api
        self.ing = ing

    async def channel_token(self, client: str) -> str:
        try:
            tokens = await self.api.channel_tokens(client, [self.name])
        except (ApiError, OAuthError) as exc:
            raise _api_drop(exc) from None
        if self.name not in tokens:
            raise Drop("/centrifuge/subscribe returned no token for our channel")
        return tokens[self.name]

    async def subscribed(self, client: str) -> None:
        ing = self.ing
        ing.socket_up = True
        ing.generation += 1
        ing.generation_max = 0
        report(ing.sink, SOURCE, SourceState.CONNECTED, f"user id {self.user.id}")
        ing.wake()
        log.info("da socket connected user_id=%d client=%s", self.user.id, client)

    async def publication(self, data: Any) -> None:
        await self.ing.from_socket(data)


async def _connection(api: DAClient, ing: Ingest, tuning: Tuning) -> None:
    """One connection, from ``/user/oauth`` to its end (always by raising :class:`Drop`)."""
    try:
        user = await api.user()
    except (ApiError, OAuthError) as exc:
        raise _api_drop(exc) from None
    timing = Timing(tuning.handshake_timeout, tuning.ping_interval, tuning.pong_timeout)
    session = functools.partial(
        subscribed_session,
        token=user.socket_token,
        channel=_AlertsChannel(user, api, ing),
        timing=timing,
        log=log,
        prefix="da",
    )
    raise await run_websocket(
        ing.settings.DA_WS_URL,
        session,
        setting="DA_WS_URL",
        limit=tuning.handshake_timeout,
        max_message=tuning.max_message,
        on_close=close_drop,
    )


async def socket_loop(api: DAClient, ing: Ingest, tuning: Tuning) -> None:
    policy = Reconnects(
        floor=tuning.reconnect_floor, cap=tuning.reconnect_cap, healthy_after=tuning.healthy_after
    )
    while True:
        started = trio.current_time()
        try:
            await _connection(api, ing, tuning)
        except Drop as drop:
            lived = trio.current_time() - started if ing.socket_up else None
            if ing.socket_up:
                ing.socket_up = False
                report(ing.sink, SOURCE, SourceState.RETRYING, str(drop))
                ing.wake()
            delay = policy.delay(drop, lived)
            log.warning("da socket down reason=%s reconnect_in=%.1fs", drop, delay)
            await trio.sleep(delay)
