"""The DonatePay source against the fake: the socket rings, the transactions list is the record;
once and in transaction order through drops, reconnect requests, outages, duplicate rings, the
API's pacing and a journal that refuses writes."""

from __future__ import annotations

import functools
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import trio
from pydantic import SecretStr
from source_support import FlakySink, MemorySink, Running, errors, running

from drawstreamd.config import Settings
from drawstreamd.sources.api import SignInRejected
from drawstreamd.sources.donatepay.source import Tuning, check_sign_in, run
from drawstreamd.testing.fake_donatepay import FakeDP, open_fake_dp

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

FAST = Tuning(
    reconnect_floor=0.05,
    reconnect_cap=0.2,
    healthy_after=0.0,
    ping_interval=0.3,
    pong_timeout=0.3,
    handshake_timeout=3.0,
)
MARK = "donatepay.watermark"
INTERVAL = 0.15
"""The fake's 429 threshold and the client's pacing (DonatePay's is about 20 s)."""


def settings_for(fake: FakeDP, state: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "DP_POLL_INTERVAL_SEC": 1.0,
        "DP_REQUEST_INTERVAL_SEC": INTERVAL,
        **extra,
    }
    return Settings(
        DP_API_URL=fake.api_url,
        DP_WS_URL=fake.ws_url,
        DP_API_KEY=SecretStr(fake.key),
        STATE_DIR=state,
        **values,
    )


@asynccontextmanager
async def dp_source(
    tmp_path: Path, *, sink: MemorySink | None = None, fake: FakeDP | None = None, **extra: Any
) -> AsyncIterator[tuple[FakeDP, Running]]:
    sink = sink or MemorySink()
    async with httpx.AsyncClient() as http:
        if fake is None:
            async with open_fake_dp(min_interval=INTERVAL) as made:
                settings = settings_for(made, tmp_path, **extra)
                async with running(
                    functools.partial(run, settings, sink, http, tuning=FAST), sink, settings
                ) as r:
                    yield made, r
        else:
            settings = settings_for(fake, tmp_path, **extra)
            async with running(
                functools.partial(run, settings, sink, http, tuning=FAST), sink, settings
            ) as r:
                yield fake, r


async def started(fake: FakeDP, r: Running) -> None:
    await r.wait_connected()
    await r.sink.wait_for(lambda: MARK in r.sink.meta)


async def subscribed(fake: FakeDP) -> None:
    while fake.hub.subscribed == 0:
        await trio.sleep(0.01)


def ids(txs: list[dict[str, Any]]) -> list[str]:
    return [str(t["id"]) for t in txs]


async def test_a_ring_brings_the_donation_from_the_list(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with dp_source(tmp_path) as (fake, r):
            await started(fake, r)
            tx = fake.publish("нарисуй <кота>", username="Вася", amount=150)
            await r.sink.wait_for(lambda: len(r.sink.kept) == 1)
            donation, reason = r.sink.kept[("donatepay", str(tx["id"]))]  # the transaction id
            assert (donation.donor, donation.message, donation.amount) == (
                "Вася",
                "нарисуй <кота>",
                150,
            )
            assert (donation.currency, reason) == ("RUB", None)
            await r.sink.wait_for(lambda: r.sink.meta[MARK] == str(tx["id"]))
            assert fake.rate_limited == 0  # the client paced itself


async def test_three_hundred_donations_through_drops_and_a_reconnect_request(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with dp_source(tmp_path) as (fake, r):
            await started(fake, r)
            published = []
            for i in range(300):
                published.append(fake.publish(f"draw number {i}", amount=50 + i)["id"])
                if i % 41 == 20:
                    await subscribed(fake)
                    assert fake.drop() == 1
                if i == 150:
                    await subscribed(fake)
                    assert fake.ask_reconnect() == 1
                if i == 200:
                    fake.duplicate = 5
                await trio.sleep(0.004)
            await r.sink.wait_for(lambda: r.sink.meta.get(MARK) == str(published[-1]))
            await trio.sleep(0.5)  # anything late and duplicated would show up now
            assert r.sink.order == [str(i) for i in published]
            assert max(r.sink.submissions.values()) == 1  # the list is read from the watermark
            assert r.connects() >= 9


async def test_donations_while_the_socket_is_down_are_polled(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with dp_source(tmp_path) as (fake, r):
            await started(fake, r)
            fake.socket_available = False
            missed = [fake.publish(f"outage {i}")["id"] for i in range(15)]
            await r.sink.wait_for(lambda: len(r.sink.kept) == 15)  # DP_POLL_INTERVAL_SEC 1 s
            assert r.sink.order == [str(i) for i in missed]
            assert "retrying" in r.states()
            fake.socket_available = True
            await r.wait_connected(2)
            late = fake.publish("back")["id"]
            await r.sink.wait_for(lambda: str(late) in r.sink.ids())


async def test_a_silent_socket_is_noticed(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with dp_source(tmp_path, DP_POLL_INTERVAL_SEC=60.0) as (fake, r):
            await started(fake, r)
            fake.silent = True
            await r.sink.wait_for(lambda: "retrying" in r.states())
            reason = next(d["reason"] for _, d in r.sink.events if d.get("state") == "retrying")
            assert "no ping reply" in reason
            fake.silent = False
            await r.wait_connected(2)
            tx = fake.publish("after the silence")["id"]
            await r.sink.wait_for(lambda: str(tx) in r.sink.ids())


async def test_rate_limited_list_is_waited_for(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with dp_source(tmp_path) as (fake, r):
            await started(fake, r)
            fake.min_interval = 1.0  # stricter than the client thinks: it meets a 429 page
            for _ in range(3):
                fake.publish("ring")
                await trio.sleep(0.2)
            await r.sink.wait_for(lambda: len(r.sink.kept) == 3)
            assert fake.rate_limited >= 1
            assert r.sink.order == ids(fake.transactions)


async def test_a_journal_that_refuses_writes_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.donatepay")
    sink = FlakySink()
    with trio.fail_after(20):
        async with dp_source(tmp_path, sink=sink) as (fake, r):
            await started(fake, r)
            first = fake.publish("before")["id"]
            await sink.wait_for(lambda: str(first) in sink.ids())
            sink.broken = True
            waiting = [fake.publish(f"disk full {i}")["id"] for i in range(4)]
            await sink.wait_for(lambda: sink.refused >= 2)
            assert sink.meta[MARK] == str(first)  # not past what the journal refused
            sink.broken = False
            await sink.wait_for(lambda: len(sink.kept) == 5)
            assert sink.order == [str(i) for i in (first, *waiting)]
            await sink.wait_for(lambda: sink.meta[MARK] == str(waiting[-1]))
    assert len(errors(caplog.records)) == 1


async def test_a_restart_catches_up_and_a_first_run_takes_no_history(tmp_path: Path) -> None:
    sink = MemorySink()
    with trio.fail_after(20):
        async with open_fake_dp(min_interval=INTERVAL) as fake:
            old = [fake.publish(f"old {i}")["id"] for i in range(3)]
            async with dp_source(tmp_path, sink=sink, fake=fake) as (_, r):
                await started(fake, r)
                seen = fake.publish("while running")["id"]
                await sink.wait_for(lambda: str(seen) in sink.ids())
            stopped = [fake.publish(f"while stopped {i}")["id"] for i in range(130)]
            async with dp_source(tmp_path, sink=sink, fake=fake):
                await sink.wait_for(lambda: len(sink.kept) == 131)
                assert sink.order == [str(i) for i in (seen, *stopped)]
                assert not {str(i) for i in old} & sink.ids()


async def test_a_revoked_key_is_one_line_and_the_source_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.donatepay")
    with trio.fail_after(15):
        async with dp_source(tmp_path) as (fake, r):
            await started(fake, r)
            fake.revoke()
            fake.publish("after the key was changed")  # nobody rings: the socket is closed
            await r.finished.wait()
            calls = sum(fake.requests.values())
            await trio.sleep(0.5)
            assert sum(fake.requests.values()) == calls
            assert r.sink.events[-1][1]["state"] == "signed_out"
    lines = errors(caplog.records)
    assert len(lines) == 1
    assert "DP_API_KEY" in lines[0]
    assert fake.key not in caplog.text


async def test_no_key_means_the_source_is_off_and_the_sign_in_check(tmp_path: Path) -> None:
    sink = MemorySink()
    with trio.fail_after(10):
        async with httpx.AsyncClient() as http:
            await run(Settings(STATE_DIR=tmp_path), sink, http, tuning=FAST)
            assert sink.events == [
                (
                    "source_disconnected",
                    {"source": "donatepay", "state": "off", "reason": "no DP_API_KEY"},
                )
            ]
            async with open_fake_dp() as fake:
                settings = settings_for(fake, tmp_path)
                line = await check_sign_in(settings, http)
                assert "user id 1304427" in line
                fake.revoke()
                with pytest.raises(SignInRejected, match="401"):
                    await check_sign_in(settings, http)
