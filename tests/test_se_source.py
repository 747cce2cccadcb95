"""The StreamElements source against the fake: once and in order through drops, reconnect
requests, outages, duplicates, a dark network and a journal that refuses writes."""

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
from drawstreamd.sources.streamelements.source import Tuning, check_sign_in, run
from drawstreamd.testing.fake_streamelements import FakeSE, open_fake_se

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
    rest_per_minute=6000,
)
MARK = "streamelements.watermark"


def settings_for(fake: FakeSE, state: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {"SE_POLL_INTERVAL_SEC": 1.0, **extra}
    return Settings(
        SE_API_URL=fake.api_url,
        SE_WS_URL=fake.ws_url,
        SE_JWT=SecretStr(fake.jwt),
        STATE_DIR=state,
        **values,
    )


class SE(Running):
    fake: FakeSE


@asynccontextmanager
async def se_source(
    tmp_path: Path,
    *,
    sink: MemorySink | None = None,
    fake: FakeSE | None = None,
    **extra: Any,
) -> AsyncIterator[tuple[FakeSE, Running]]:
    sink = sink or MemorySink()
    async with httpx.AsyncClient() as http:
        if fake is None:
            async with open_fake_se() as fake_se:
                settings = settings_for(fake_se, tmp_path, **extra)
                go = functools.partial(run, settings, sink, http, tuning=FAST)
                async with running(go, sink, settings) as r:
                    yield fake_se, r
        else:
            settings = settings_for(fake, tmp_path, **extra)
            go = functools.partial(run, settings, sink, http, tuning=FAST)
            async with running(go, sink, settings) as r:
                yield fake, r


async def first_catch_up(r: Running) -> None:
    await r.sink.wait_for(lambda: MARK in r.sink.meta)


async def test_tip_is_normalised_and_moderation_is_waited_for(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with se_source(tmp_path) as (fake, r):
            await r.wait_connected()
            await first_catch_up(r)
            tip = fake.publish("draw a cat", username="Sam", amount=4.5, currency="eur")
            held = fake.publish("draw a dog", username="Kim", approved="pending")
            await r.sink.wait_for(lambda: len(r.sink.kept) == 1)
            donation, reason = r.sink.kept[("streamelements", tip["_id"])]
            assert (donation.donor, donation.message, donation.amount) == ("Sam", "draw a cat", 4.5)
            assert (donation.currency, reason) == ("EUR", None)
            await trio.sleep(0.3)
            assert ("streamelements", held["_id"]) not in r.sink.kept  # not yet allowed
            fake.moderate(held["_id"], "allowed")
            await r.sink.wait_for(lambda: ("streamelements", held["_id"]) in r.sink.kept)
            assert r.sink.order == [tip["_id"], held["_id"]]


async def test_three_hundred_tips_through_drops_and_a_reconnect_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.streamelements")
    with trio.fail_after(40):
        async with se_source(tmp_path) as (fake, r):
            await r.wait_connected()
            await first_catch_up(r)
            published = []
            for i in range(300):
                published.append(fake.publish(f"draw number {i}")["_id"])
                if i % 37 == 20:
                    fake.drop()
                if i == 150:
                    fake.ask_reconnect(grace=0.05)
                if i == 200:
                    fake.hub.duplicate = 5  # at-least-once delivery
                await trio.sleep(0.004)
            await r.sink.wait_for(lambda: len(r.sink.kept) >= 300)
            await r.sink.wait_for(lambda: r.sink.meta.get(MARK) == str(_ms(fake, published[-1])))
            await trio.sleep(0.3)  # anything late and duplicated would show up now
            assert r.sink.order == published  # each once, in the order they were made
            assert fake.hub.counters["drops"] >= 7
            assert fake.hub.counters["resumed"] == 1
            via = [m.split("via=")[1].split()[0] for m in caplog.messages if "via=" in m]
            assert via.count("socket") >= 100
            assert via.count("rest") >= 10  # the gaps were filled from the tips list


def _ms(fake: FakeSE, tip_id: str) -> int:
    from drawstreamd.sources.streamelements.tips import created_ms

    tip = next(t for t in fake.tips if t["_id"] == tip_id)
    ms = created_ms(tip["createdAt"])
    assert ms is not None
    return ms


async def test_tips_made_while_the_socket_is_refused_are_polled(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with se_source(tmp_path) as (fake, r):
            await r.wait_connected()
            await first_catch_up(r)
            fake.hub.refuse = 502
            fake.drop()
            missed = [fake.publish(f"during the outage {i}")["_id"] for i in range(20)]
            # SE_POLL_INTERVAL_SEC is 1 s: the list is read while the socket stays down
            await r.sink.wait_for(lambda: len(r.sink.kept) == 20)
            assert r.sink.order == missed
            assert "retrying" in r.states()
            fake.hub.refuse = None
            await r.wait_connected(2)
            late = fake.publish("after")["_id"]
            await r.sink.wait_for(lambda: late in r.sink.ids())
            assert r.sink.order == [*missed, late]


async def test_dark_network_is_noticed_and_its_tips_caught_up(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with se_source(tmp_path, SE_POLL_INTERVAL_SEC=60.0) as (fake, r):
            await r.wait_connected()
            await first_catch_up(r)
            fake.silent = True
            lost = [fake.publish(f"in the dark {i}")["_id"] for i in range(5)]
            await r.sink.wait_for(lambda: "retrying" in r.states())
            reason = next(d["reason"] for _, d in r.sink.events if d.get("state") == "retrying")
            assert "no pong" in reason
            fake.silent = False
            await r.sink.wait_for(lambda: len(r.sink.kept) == 5)
            assert r.sink.order == lost


async def test_a_journal_that_refuses_writes_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.streamelements")
    sink = FlakySink()
    with trio.fail_after(20):
        async with se_source(tmp_path, sink=sink) as (fake, r):
            await r.wait_connected()
            await first_catch_up(r)
            before = sink.meta[MARK]
            first = fake.publish("before the disk filled")["_id"]
            await sink.wait_for(lambda: first in sink.ids())
            sink.broken = True
            waiting = [fake.publish(f"disk full {i}")["_id"] for i in range(5)]
            await sink.wait_for(lambda: sink.refused >= 2)  # tried, and tried again
            assert sink.ids() == {first}
            assert sink.meta[MARK] != before  # moved for the first tip…
            assert int(sink.meta[MARK]) < _ms(fake, waiting[0])  # …and not past the refused one
            sink.broken = False
            await sink.wait_for(lambda: len(sink.kept) == 6)
            assert sink.order == [first, *waiting]
    lines = errors(caplog.records)
    assert len(lines) == 1  # said once, not once per retry
    assert "journal refused" in lines[0]


async def test_a_restart_catches_up_what_came_while_stopped(tmp_path: Path) -> None:
    sink = MemorySink()
    with trio.fail_after(20):
        async with open_fake_se() as fake:
            old = [fake.publish(f"before the first start {i}")["_id"] for i in range(3)]
            async with se_source(tmp_path, sink=sink, fake=fake) as (_, r):
                await r.wait_connected()
                await first_catch_up(r)
                seen = fake.publish("while running")["_id"]
                await sink.wait_for(lambda: seen in sink.ids())
            assert not set(old) & sink.ids()  # a first run takes no history
            while_stopped = [fake.publish(f"while stopped {i}")["_id"] for i in range(120)]
            async with se_source(tmp_path, sink=sink, fake=fake) as (_, r2):
                await sink.wait_for(lambda: len(sink.kept) == 121)
                assert sink.order == [seen, *while_stopped]
                assert r2.connects() >= 0


async def test_a_revoked_token_is_one_line_and_the_source_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.streamelements")
    with trio.fail_after(15):
        async with se_source(tmp_path) as (fake, r):
            await r.wait_connected()
            fake.revoke()
            await r.finished.wait()  # run() returned: no reconnect loop
            requests = sum(fake.requests.values())
            accepted = fake.hub.counters["accepted"]
            await trio.sleep(0.5)
            assert (sum(fake.requests.values()), fake.hub.counters["accepted"]) == (
                requests,
                accepted,
            )
            assert r.sink.events[-1][1]["state"] == "signed_out"
    lines = errors(caplog.records)
    assert len(lines) == 1
    assert "SE_JWT" in lines[0]
    assert fake.jwt not in caplog.text


async def test_no_token_means_the_source_is_off(tmp_path: Path) -> None:
    sink = MemorySink()
    with trio.fail_after(5):
        async with httpx.AsyncClient() as http:
            await run(Settings(STATE_DIR=tmp_path), sink, http, tuning=FAST)
    assert sink.events == [
        (
            "source_disconnected",
            {"source": "streamelements", "state": "off", "reason": "no SE_JWT or SE_OAUTH_TOKEN"},
        )
    ]


async def test_oauth_token_and_the_sign_in_check(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake, httpx.AsyncClient() as http:
            oauth = fake.issue_oauth()
            settings = Settings(
                SE_API_URL=fake.api_url,
                SE_WS_URL=fake.ws_url,
                SE_OAUTH_TOKEN=SecretStr(oauth),
                STATE_DIR=tmp_path,
            )
            line = await check_sign_in(settings, http)
            assert fake.channel_id in line
            sink = MemorySink()
            async with running(
                functools.partial(run, settings, sink, http, tuning=FAST), sink, settings
            ) as r:
                await r.wait_connected()
                tip = fake.publish("via oauth")["_id"]
                await sink.wait_for(lambda: tip in sink.ids())
            wrong = settings.model_copy(update={"SE_CHANNEL_ID": "000000000000000000000000"})
            with pytest.raises(SignInRejected, match="belongs to channel"):
                await check_sign_in(wrong, http)
            fake.revoke()
            with pytest.raises(SignInRejected, match="401"):
                await check_sign_in(settings, http)
