"""The Donation Alerts source against the fake: exactly once through drops, outages and 401s."""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
from typing import TYPE_CHECKING

import httpx
import pytest
import trio
import trio.testing
from da_support import FAST, MemorySink, running_source, settings_for

from drawstreamd.config import Settings
from drawstreamd.events import EventBus
from drawstreamd.journal import Journal
from drawstreamd.model import ANONYMOUS, MessageType
from drawstreamd.queue import DrawQueue
from drawstreamd.sources.donationalerts.oauth import Tokens, save_tokens
from drawstreamd.sources.donationalerts.source import WATERMARK_KEY, Tuning, run, serve
from drawstreamd.testing.fake_da import open_fake_da

if TYPE_CHECKING:
    from pathlib import Path


def connects(sink: MemorySink) -> int:
    return sum(kind == "source_connected" for kind, _ in sink.events)


async def test_socket_donation_is_normalised(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            d = r.fake.publish(
                "нарисуй кота",
                username="Вася",
                amount=5,
                currency="USD",
                amount_in_user_currency=450.5,
            )
            anon = r.fake.publish("draw a dog", username=None)
            empty = r.fake.publish("draw a fox", username="  ")
            await r.sink.wait_for(lambda: len(r.sink.kept) == 3)
            donation, reason = r.sink.kept[("donationalerts", str(d["id"]))]
            assert donation.message == "нарисуй кота"
            assert donation.donor == "Вася"
            assert (donation.amount, donation.currency, donation.amount_main) == (5, "USD", 450.5)
            assert donation.created_at.utcoffset() is not None
            assert donation.message_type is MessageType.TEXT
            assert reason is None
            assert r.sink.kept[("donationalerts", str(anon["id"]))][0].donor == ANONYMOUS
            assert r.sink.kept[("donationalerts", str(empty["id"]))][0].donor == ANONYMOUS


async def test_audio_and_small_donations_are_journaled_as_skipped(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path, settings_extra={"DRAW_MIN_AMOUNT": 100.0}) as r:
            await r.wait_connected()
            audio = r.fake.publish("https://cdn.example/voice.wav", message_type="audio")
            small = r.fake.publish(
                "draw a cat", amount=1, currency="USD", amount_in_user_currency=90
            )
            big = r.fake.publish(
                "draw a cat", amount=2, currency="USD", amount_in_user_currency=180
            )
            await r.sink.wait_for(lambda: len(r.sink.kept) == 3)
            kept = {eid: reason for (_, eid), (_, reason) in r.sink.kept.items()}
            assert kept[str(audio["id"])] == "audio donation: nothing to draw"
            assert kept[str(small["id"])] == "below DRAW_MIN_AMOUNT (90 < 100)"
            assert kept[str(big["id"])] is None


async def test_thousand_donations_through_socket_drops_arrive_exactly_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.da")
    with trio.fail_after(20):
        async with running_source(tmp_path) as r:
            r.fake.drop_every = 37
            await r.wait_connected()
            published = []
            for i in range(1000):
                published.append(str(r.fake.publish(f"draw number {i}")["id"]))
                await trio.sleep(0.003)
            await r.sink.wait_for(lambda: len(r.sink.kept) >= 1000)
            await trio.sleep(0.3)  # anything late and duplicated would show up now
            assert set(r.sink.order) == set(published)
            assert len(r.sink.order) == 1000
            assert r.fake.hub.counters["drops"] >= 10
            assert connects(r.sink) >= 10
            # both paths carried a real share: the socket, and REST for the gaps
            via = [
                rec.getMessage().split("via=")[1].split()[0]
                for rec in caplog.records
                if "via=" in rec.getMessage()
            ]
            assert via.count("socket") >= 300
            assert via.count("rest") >= 20


async def test_socket_outage_donations_found_by_rest_while_down(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            r.fake.socket_available = False
            published = {str(r.fake.publish(f"draw {i}")["id"]) for i in range(20)}
            # DA_REST_POLL_INTERVAL_SEC is 1 s here: the poll finds them with the socket down.
            await r.sink.wait_for(lambda: published <= r.sink.ids())
            assert r.fake.hub.subscribed == 0
            r.fake.socket_available = True
            await r.wait_connected(2)
            late = str(r.fake.publish("after the outage")["id"])
            await r.sink.wait_for(lambda: late in r.sink.ids())
            assert all(r.sink.submissions[i] >= 1 for i in published)
            assert len(r.sink.kept) == 21


async def test_socket_and_rest_down_then_catch_up_after_reconnect(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            await trio.sleep(0.2)  # the first catch-up has run
            r.fake.socket_available = False
            r.fake.fail_next("/api/v1/alerts/donations", 500, times=10_000)
            published = {str(r.fake.publish(f"draw {i}")["id"]) for i in range(20)}
            await trio.sleep(2.5)  # more than two poll intervals: every poll failed
            assert not (published & r.sink.ids())
            r.fake._fail_next.clear()
            r.fake.socket_available = True
            await r.wait_connected(2)
            await r.sink.wait_for(lambda: published <= r.sink.ids())
            assert len(r.sink.kept) == 20
            newest = max(published, key=int)
            await r.sink.wait_for(lambda: r.sink.meta.get(WATERMARK_KEY) == newest)


async def test_first_run_takes_no_history_and_a_restart_catches_up(tmp_path: Path) -> None:
    sink = MemorySink()
    with trio.fail_after(15):
        async with running_source(tmp_path, sink=sink) as r:
            history = [str(r.fake.publish(f"old {i}")["id"]) for i in range(40)]
            await r.wait_connected()
            await sink.wait_for(lambda: WATERMARK_KEY in sink.meta)
            assert sink.meta[WATERMARK_KEY] == history[-1]
            fresh = str(r.fake.publish("new")["id"])
            await sink.wait_for(lambda: fresh in sink.ids())
            await trio.sleep(0.3)
            assert sink.ids() == {fresh}
            # the daemon stops; 35 donations come in (more than one REST page); it starts again
            r.nursery.cancel_scope.cancel()
    # A new fake is a new server; carry the same history over to model a restart.
    with trio.fail_after(15):
        async with running_source(tmp_path, sink=sink) as r2:
            r2.fake.donations.extend(r.fake.donations)
            r2.fake._next_id = r.fake._next_id
            missed = {str(r2.fake.publish(f"while stopped {i}")["id"]) for i in range(35)}
            await sink.wait_for(lambda: missed <= sink.ids())
            assert sink.ids() == missed | {fresh}


async def test_401_triggers_one_refresh_and_the_stream_continues(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            r.fake.expire_access_tokens()
            r.fake.drop_connections()  # the reconnect's /user/oauth meets the 401
            await r.wait_connected(2)
            d = str(r.fake.publish("after refresh")["id"])
            await r.sink.wait_for(lambda: d in r.sink.ids())
            assert r.fake.token_grants["refresh_token"] == 1
            path = tmp_path / "da_tokens.json"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            stored = json.loads(path.read_text())
            assert stored["access_token"] in r.fake._access
            assert stored["access_token"] != r.settings.DA_ACCESS_TOKEN.get_secret_value()


async def test_stored_tokens_win_over_config_on_restart(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            r.fake.expire_access_tokens()
            r.fake.drop_connections()
            await r.wait_connected(2)
            assert r.fake.token_grants["refresh_token"] == 1
            # The fake rotates refresh tokens: the configured pair is now dead for good.
            sink2 = MemorySink()
            settings2 = settings_for(
                r.fake,
                tmp_path,
                r.settings.DA_ACCESS_TOKEN.get_secret_value(),
                r.settings.DA_REFRESH_TOKEN.get_secret_value(),
            )
            async with httpx.AsyncClient() as http, trio.open_nursery() as second:
                second.start_soon(functools.partial(run, settings2, sink2, http, tuning=FAST))
                await sink2.wait_for(lambda: connects(sink2) >= 1)
                second.cancel_scope.cancel()
            assert r.fake.token_grants["refresh_token"] == 1
            assert r.fake.hub.counters["bad_connect_token"] == 0


async def test_revoked_refresh_token_stops_the_source_with_one_error_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.da")
    ticks = 0

    async def other_source() -> None:
        nonlocal ticks
        while True:
            await trio.sleep(0.01)
            ticks += 1

    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            r.nursery.start_soon(other_source)
            await r.wait_connected()
            r.fake.revoke_refresh_tokens()
            r.fake.drop_connections()
            await r.finished.wait()  # run() returned instead of raising
            before = ticks
            await trio.sleep(0.1)
            assert ticks > before  # the rest of the daemon is still running
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "drawstreamd auth" in line
    assert "invalid_grant" in line
    for secret in (
        r.settings.DA_REFRESH_TOKEN,
        r.settings.DA_ACCESS_TOKEN,
        r.settings.DA_CLIENT_SECRET,
    ):
        assert secret.get_secret_value() not in caplog.text
    assert r.sink.events[-1] == (
        "source_disconnected",
        {"source": "donationalerts", "state": "signed_out", "reason": "run `drawstreamd auth`"},
    )


async def test_no_credentials_means_source_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.da")
    with trio.fail_after(5):
        async with httpx.AsyncClient() as http, trio.open_nursery() as nursery:
            await nursery.start(
                serve, Settings.model_validate({"STATE_DIR": tmp_path}), MemorySink(), http
            )
    assert [r.getMessage() for r in caplog.records] == [
        "Donation Alerts: no credentials configured; source off"
    ]


async def test_a_sign_in_by_drawstreamd_auth_alone_is_enough(tmp_path: Path) -> None:
    """The tokens `drawstreamd auth` stored are credentials: no DA_ACCESS_TOKEN needed."""
    with trio.fail_after(15):
        async with open_fake_da() as fake, httpx.AsyncClient() as http:
            access, refresh = fake.issue_tokens()
            stored = Tokens(access_token=access, refresh_token=refresh, client_id=fake.client_id)
            save_tokens(tmp_path / "da_tokens.json", stored)
            settings = settings_for(fake, tmp_path, "", "")
            sink = MemorySink()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(functools.partial(run, settings, sink, http, tuning=FAST))
                await sink.wait_for(lambda: connects(sink) >= 1)
                d = str(fake.publish("нарисуй кота")["id"])
                await sink.wait_for(lambda: d in sink.ids())
                nursery.cancel_scope.cancel()


async def test_bad_frames_are_logged_and_survived(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.da")
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            # the catch-ups at start and after the connect are done; from here on only the
            # socket delivers (REST waits for a reconnect)
            while r.fake.requests["/api/v1/alerts/donations"] < 2:
                await trio.sleep(0.01)
            await trio.sleep(0.1)
            ch = r.fake.channel
            huge = json.dumps(
                {
                    "result": {
                        "channel": ch,
                        "data": {
                            "seq": 1,
                            "data": {
                                "id": 77,
                                "amount": 10,
                                "currency": "RUB",
                                "username": "flood",
                                "message": "x" * 1_000_000,
                            },
                        },
                    }
                }
            )
            bad: list[str | bytes] = [
                "this is not json{",
                '{"id": "seven", "result": {}}',
                '{"result": {"type": "join"}}',
                '{"result": {"type": 42, "channel": "x"}}',
                "[1, 2, 3]",
                json.dumps(
                    {
                        "result": {
                            "channel": ch,
                            "data": {"seq": 2, "data": {"id": "abc", "amount": "lots"}},
                        }
                    }
                ),
                "x" * 1_000_000,
                huge,
                b"\xff\xfe\xfd not utf-8",
            ]
            for message in bad:
                r.fake.send_raw(message)
            d = str(r.fake.publish("still alive")["id"])
            # the unreadable donation woke a REST catch-up, which may bring "still alive"
            # before the socket is through the rest of the bad frames: wait for both
            await r.sink.wait_for(lambda: d in r.sink.ids() and "77" in r.sink.ids())
            while not any("invalid UTF-8" in rec.getMessage() for rec in caplog.records):
                await trio.sleep(0.01)
            assert connects(r.sink) == 1  # survived without even reconnecting
            warnings = [
                rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING
            ]
            text = "\n".join(warnings)
            assert text.count("invalid JSON") == 2
            assert "bad id" in text
            assert "bad type" in text
            assert "unknown push type 42" in text
            assert "not a JSON object" in text
            assert "donation object rejected" in text
            assert "invalid UTF-8" in text
            assert all(len(w) < 2000 for w in warnings)
            # the 1 MB donation is kept, its message cut to a sane length
            kept = r.sink.kept[("donationalerts", "77")][0]
            assert len(kept.message) == 1000


async def test_silent_connection_is_declared_dead_and_replaced(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            r.fake.silent = True
            await r.sink.wait_for(
                lambda: any(d.get("state") == "retrying" for _, d in r.sink.events)
            )
            reason = next(d["reason"] for _, d in r.sink.events if d.get("state") == "retrying")
            assert "no ping reply" in reason
            r.fake.silent = False
            await r.wait_connected(2)
            d = str(r.fake.publish("back")["id"])
            await r.sink.wait_for(lambda: d in r.sink.ids())


async def test_close_without_reconnect_waits_instead_of_hammering(tmp_path: Path) -> None:
    tuning = Tuning(
        reconnect_floor=0.05,
        reconnect_cap=1.5,
        healthy_after=0.0,
        ping_interval=5,
        pong_timeout=5,
        rest_per_minute=6000,
    )
    with trio.fail_after(15):
        async with running_source(tmp_path, tuning=tuning) as r:
            await r.wait_connected()
            start = trio.current_time()
            r.fake.drop_connections(3001, "shutdown", reconnect=True)
            await r.wait_connected(2)
            quick = trio.current_time() - start
            start = trio.current_time()
            r.fake.drop_connections(3002, "invalid token", reconnect=False)
            await r.wait_connected(3)
            slow = trio.current_time() - start
            assert quick < 1.0
            assert slow >= 1.5


async def test_reconnect_waits_at_least_a_second(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path, tuning=Tuning()) as r:
            await r.wait_connected()
            start = trio.current_time()
            r.fake.drop_connections()
            await r.wait_connected(2)
            assert 1.0 <= trio.current_time() - start < 5.0


async def test_rate_limited_api_is_retried_after_the_pause(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            r.fake.fail_next("/api/v1/user/oauth", 429)
            start = trio.current_time()
            r.fake.drop_connections()
            await r.wait_connected(2)
            assert trio.current_time() - start >= 1.0  # the fake says Retry-After: 1
            d = str(r.fake.publish("after 429")["id"])
            await r.sink.wait_for(lambda: d in r.sink.ids())


async def test_thousand_donations_into_the_real_journal_exactly_once(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite3")
    queue = DrawQueue(journal, EventBus())
    try:
        with trio.fail_after(30):
            async with open_fake_da() as fake, httpx.AsyncClient() as http:
                access, refresh = fake.issue_tokens()
                settings = settings_for(fake, tmp_path, access, refresh)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(functools.partial(run, settings, queue, http, tuning=FAST))
                    while fake.hub.subscribed == 0 or fake.requests["/api/v1/alerts/donations"] < 2:
                        await trio.sleep(0.01)
                    fake.drop_every = 41
                    published = []
                    for i in range(1000):
                        published.append(str(fake.publish(f"draw number {i}")["id"]))
                        await trio.sleep(0.003)
                    while len(queue) < 1000:
                        await trio.sleep(0.05)
                    # the watermark catches up with the newest donation (a restart pages no
                    # further back than that)
                    while await journal.get_meta(WATERMARK_KEY) != published[-1]:
                        await trio.sleep(0.05)
                    await trio.sleep(0.3)  # anything late and duplicated would show up now
                    nursery.cancel_scope.cancel()
            assert fake.hub.counters["drops"] >= 10
        assert await journal.count() == 1000
        drawn = [item.donation.external_id for item in queue.preview(1000)]
        assert sorted(drawn, key=int) == published
    finally:
        journal.close()


async def test_first_run_with_rest_failing_still_catches_up_from_the_socket_start(
    tmp_path: Path,
) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            r.fake.fail_next("/api/v1/alerts/donations", 500, times=10_000)
            await r.wait_connected()
            first = str(r.fake.publish("seen by the socket")["id"])
            await r.sink.wait_for(lambda: first in r.sink.ids())
            r.fake.socket_available = False
            missed = {str(r.fake.publish(f"socket and REST down {i}")["id"]) for i in range(5)}
            await trio.sleep(0.5)
            r.fake._fail_next.clear()
            r.fake.socket_available = True
            await r.sink.wait_for(lambda: missed <= r.sink.ids())
            assert r.sink.ids() == missed | {first}


@pytest.fixture
def loopback_clock() -> trio.testing.MockClock:
    # Jumps only after 50 ms of real idleness, so loopback replies land before time moves.
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_a_simulated_minute_down_with_the_product_timings(
    tmp_path: Path, loopback_clock: trio.testing.MockClock
) -> None:
    # Socket refused and the donation list failing for a whole (virtual) minute, with the
    # product's own reconnect and ping timings: all 20 donations arrive once it is over.
    with trio.fail_after(600):
        async with running_source(
            tmp_path, tuning=Tuning(), settings_extra={"DA_REST_POLL_INTERVAL_SEC": 10.0}
        ) as r:
            await r.wait_connected()
            while r.fake.requests["/api/v1/alerts/donations"] < 2:
                await trio.sleep(0.1)
            r.fake.socket_available = False
            r.fake.fail_next("/api/v1/alerts/donations", 503, times=10_000)
            published = {str(r.fake.publish("draw first")["id"])}
            for i in range(19):
                await trio.sleep(3)
                published.add(str(r.fake.publish(f"draw {i}")["id"]))
            await trio.sleep(60 - 57)
            assert not (published & r.sink.ids())
            attempts = r.fake.hub.counters["rejected"]
            assert 4 <= attempts <= 20  # backing off between 1 s and 30 s, not hammering
            r.fake._fail_next.clear()
            r.fake.socket_available = True
            back = trio.current_time()
            await r.wait_connected(2)
            assert trio.current_time() - back <= 31  # the backoff never waits past its cap
            await r.sink.wait_for(lambda: published <= r.sink.ids())
            await trio.sleep(30)
            assert len(r.sink.kept) == 20


async def test_slow_api_replies_are_waited_for(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            r.fake.slow = 0.8
            r.fake.drop_connections()
            missed = str(r.fake.publish("while reconnecting slowly")["id"])
            await r.wait_connected(2)
            live = str(r.fake.publish("after")["id"])
            await r.sink.wait_for(lambda: {missed, live} <= r.sink.ids())
            assert r.fake.requests["/api/v1/user/oauth"] >= 2
