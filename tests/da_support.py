"""Test doubles for the Donation Alerts tests: a sink that keeps what it is given, like the journal."""

from __future__ import annotations

import collections
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import trio
from pydantic import SecretStr

from drawstreamd.config import Settings
from drawstreamd.sources.donationalerts.source import Tuning, run
from drawstreamd.testing.fake_da import FakeDA, open_fake_da

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from drawstreamd.model import Donation

FAST = Tuning(
    reconnect_floor=0.05,
    reconnect_cap=0.2,
    healthy_after=0.0,
    ping_interval=0.5,
    pong_timeout=0.5,
    handshake_timeout=3.0,
    rest_per_minute=6000,
)
"""Short timings so a test sees dozens of reconnects in seconds (the product's: :class:`Tuning`)."""


class MemorySink:
    """Dedupes on (source, external_id) like the journal; counts every submission."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], tuple[Donation, str | None]] = {}
        self.order: list[str] = []
        self.submissions: collections.Counter[str] = collections.Counter()
        self.meta: dict[str, str] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = trio.Event()

    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        key = (donation.source, donation.external_id)
        self.submissions[donation.external_id] += 1
        if key in self.kept:
            return False
        self.kept[key] = (donation, skip_reason)
        self.order.append(donation.external_id)
        self._wake()
        return True

    async def get_meta(self, key: str) -> str | None:
        await trio.lowlevel.checkpoint()
        return self.meta.get(key)

    async def set_meta(self, key: str, value: str) -> None:
        await trio.lowlevel.checkpoint()
        self.meta[key] = value
        self._wake()

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, check: Callable[[], bool]) -> None:
        while not check():
            await self._changed.wait()

    def ids(self) -> set[str]:
        return {eid for (_, eid) in self.kept}


def settings_for(
    fake: FakeDA, state_dir: Path, access: str, refresh: str, **extra: Any
) -> Settings:
    values: dict[str, Any] = {"DA_REST_POLL_INTERVAL_SEC": 1.0, **extra}
    return Settings(
        DA_OAUTH_URL=fake.oauth_url,
        DA_API_URL=fake.api_url,
        DA_WS_URL=fake.ws_url,
        DA_CLIENT_ID=fake.client_id,
        DA_CLIENT_SECRET=SecretStr(fake.client_secret),
        DA_ACCESS_TOKEN=SecretStr(access),
        DA_REFRESH_TOKEN=SecretStr(refresh),
        STATE_DIR=state_dir,
        **values,
    )


class Running:
    """A fake DA, and the source running against it with a :class:`MemorySink`."""

    def __init__(self, fake: FakeDA, sink: MemorySink, settings: Settings, nursery: trio.Nursery):
        self.fake = fake
        self.sink = sink
        self.settings = settings
        self.nursery = nursery
        self.finished = trio.Event()

    async def wait_connected(self, count: int = 1) -> None:
        await self.sink.wait_for(
            lambda: sum(k == "source_connected" for k, _ in self.sink.events) >= count
        )


@asynccontextmanager
async def running_source(
    tmp_path: Path,
    *,
    tuning: Tuning = FAST,
    sink: MemorySink | None = None,
    fake_options: dict[str, Any] | None = None,
    settings_extra: dict[str, Any] | None = None,
) -> AsyncIterator[Running]:
    sink = sink or MemorySink()
    async with open_fake_da(**(fake_options or {})) as fake, httpx.AsyncClient() as http:
        access, refresh = fake.issue_tokens()
        settings = settings_for(fake, tmp_path, access, refresh, **(settings_extra or {}))
        async with trio.open_nursery() as nursery:
            r = Running(fake, sink, settings, nursery)

            async def go() -> None:
                try:
                    await run(settings, sink, http, tuning=tuning)
                finally:
                    r.finished.set()

            nursery.start_soon(go)
            yield r
            nursery.cancel_scope.cancel()


def quiet_fake_logs() -> None:
    logging.getLogger("drawstreamd.fake_da.http").setLevel(logging.WARNING)
