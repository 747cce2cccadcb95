"""The Twitch source against the fake, with the real journal and queue: redemptions and cheers
once and in order through drops, reconnects, outages, duplicates and a lost keepalive; each
redemption's end told to Twitch (FULFILLED when drawn, CANCELED when refused or removed); the
reward made and kept; a revoked sign-in in one line."""

from __future__ import annotations

import json
import logging
import os
import stat
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import trio
from pydantic import SecretStr
from source_support import errors

from drawstreamd.config import Settings
from drawstreamd.events import EventBus
from drawstreamd.journal import Journal
from drawstreamd.model import Status
from drawstreamd.queue import DrawQueue
from drawstreamd.sources.base import QueueSink
from drawstreamd.sources.twitch.source import Tuning, check_sign_in, run
from drawstreamd.testing.fake_twitch import FakeTwitch, open_fake_twitch

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import pytest

FAST = Tuning(
    reconnect_floor=0.05,
    reconnect_cap=0.2,
    healthy_after=0.0,
    handshake_timeout=3.0,
    keepalive_seconds=1,
    subscribe_timeout=3.0,
    recheck_sec=0.3,
)


@dataclass
class Twitch:
    fake: FakeTwitch
    journal: Journal
    queue: DrawQueue
    sink: QueueSink
    settings: Settings
    events: list[tuple[str, dict[str, Any]]]
    finished: trio.Event

    async def ids(self) -> list[str]:
        return [i.donation.external_id for i in reversed(await self.journal.history(1000))]

    async def wait_for(self, count: int) -> list[str]:
        while len(ids := await self.ids()) < count:
            await trio.sleep(0.02)
        return ids

    async def connected(self, times: int = 1) -> None:
        while (
            sum(k == "source_connected" for k, _ in self.events) < times
            or self.fake.hub.subscribed == 0
        ):
            await trio.sleep(0.02)

    async def statuses_settled(self, ids: list[str], want: str) -> None:
        while any(self.fake.redemptions[i]["status"] != want for i in ids):
            await trio.sleep(0.02)


def settings_for(
    fake: FakeTwitch, state: Path, access: str, refresh: str, **extra: Any
) -> Settings:
    return Settings(
        TWITCH_CLIENT_ID=fake.client_id,
        TWITCH_AUTH_URL=fake.auth_url,
        TWITCH_API_URL=fake.api_url,
        TWITCH_EVENTSUB_URL=fake.ws_url,
        TWITCH_ACCESS_TOKEN=SecretStr(access),
        TWITCH_REFRESH_TOKEN=SecretStr(refresh),
        STATE_DIR=state,
        **extra,
    )


@asynccontextmanager
async def twitch_source(
    tmp_path: Path, *, fake: FakeTwitch | None = None, scopes: str | None = None, **extra: Any
) -> AsyncIterator[Twitch]:
    journal = Journal.open(tmp_path / "journal.sqlite3")
    bus = EventBus()
    queue = DrawQueue(journal, bus)
    sink = QueueSink(queue, journal, bus)
    try:
        async with httpx.AsyncClient() as http:
            made = open_fake_twitch(min_keepalive=1) if fake is None else None
            the_fake = fake if made is None else await made.__aenter__()
            try:
                access, refresh = the_fake.issue_tokens(*(s for s in [scopes] if s))
                settings = settings_for(the_fake, tmp_path, access, refresh, **extra)
                seen: list[tuple[str, dict[str, Any]]] = []
                async with (
                    bus.subscribe(frozenset({"source_connected", "source_disconnected"})) as sub,
                    trio.open_nursery() as nursery,
                ):
                    t = Twitch(the_fake, journal, queue, sink, settings, seen, trio.Event())

                    async def collect() -> None:
                        while True:
                            seen.extend((e.kind, e.data) for e in await sub.next_batch())

                    async def go() -> None:
                        try:
                            await run(settings, sink, http, tuning=FAST)
                        finally:
                            await trio.sleep(0.05)
                            t.finished.set()

                    nursery.start_soon(collect)
                    nursery.start_soon(go)
                    yield t
                    nursery.cancel_scope.cancel()
            finally:
                if made is not None:
                    await made.__aexit__(None, None, None)
    finally:
        journal.close()


def key(redemption: dict[str, Any]) -> str:
    return f"redemption:{redemption['id']}"


async def test_redemptions_and_cheers_are_normalised(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with twitch_source(tmp_path, TWITCH_MIN_BITS=50) as t:
            await t.connected()
            r = t.fake.redeem("нарисуй кота", username="Вася")
            t.fake.cheer("Cheer100 draw a dog", username="Bitsy", bits=100)
            t.fake.cheer("Cheer10 tiny", username=None, bits=10)
            await t.wait_for(3)
            items = list(reversed(await t.journal.history(10)))
            d = items[0].donation
            assert (d.external_id, d.donor, d.message, d.amount, d.currency) == (
                key(r),
                "Вася",
                "нарисуй кота",
                500,
                "POINTS",
            )
            cheer = items[1].donation
            assert (cheer.donor, cheer.message, cheer.amount, cheer.currency) == (
                "Bitsy",
                "draw a dog",
                100,
                "BITS",
            )
            assert (items[2].status, items[2].reason) == (
                Status.SKIPPED,
                "below TWITCH_MIN_BITS (10 < 50)",
            )
            reward = t.fake.rewards[t.fake.own_reward()]
            assert (reward["title"], reward["cost"], reward["is_user_input_required"]) == (
                "Draw something",
                500,
                True,
            )
            assert reward["should_redemptions_skip_request_queue"] is False


async def test_two_hundred_redemptions_through_drops_a_reconnect_and_duplicates(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with twitch_source(tmp_path) as t:
            await t.connected()
            published = []
            for i in range(200):
                published.append(key(t.fake.redeem(f"draw number {i}", username=f"v{i}")))
                if i % 37 == 20:
                    await t.connected()
                    assert t.fake.drop() == 1
                if i == 100:
                    await t.connected()
                    assert t.fake.ask_reconnect(grace=5) == 1
                if i == 150:
                    t.fake.hub.duplicate = 5
                await trio.sleep(0.005)
            assert await t.wait_for(200) == published  # each once, in the order made
            await trio.sleep(0.5)  # anything late and duplicated would show up now
            assert await t.ids() == published
            assert t.fake.hub.counters["reconnected"] == 1
            assert t.fake.hub.counters["drops"] >= 5


async def test_redemptions_made_while_down_are_caught_up_in_order(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with twitch_source(tmp_path) as t:
            await t.connected()
            first = key(t.fake.redeem("before"))
            await t.wait_for(1)
            t.fake.hub.refuse = 503
            t.fake.drop()
            missed = [key(t.fake.redeem(f"while down {i}")) for i in range(60)]  # > one page
            t.fake.cheer("a cheer nobody can catch up", bits=500)
            while not any(d.get("state") == "retrying" for _, d in t.events):
                await trio.sleep(0.02)
            t.fake.hub.refuse = None
            await t.connected(2)
            late = key(t.fake.redeem("after"))
            assert await t.wait_for(62) == [first, *missed, late]


async def test_a_lost_keepalive_is_noticed(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with twitch_source(tmp_path) as t:
            await t.connected()
            t.fake.silent = True
            lost = key(t.fake.redeem("in the dark"))
            while not any(d.get("state") == "retrying" for _, d in t.events):
                await trio.sleep(0.02)
            reason = next(d["reason"] for _, d in t.events if d.get("state") == "retrying")
            assert "keepalive lost" in reason
            t.fake.silent = False
            assert await t.wait_for(1) == [lost]  # caught up from the UNFULFILLED list


async def test_drawn_is_fulfilled_refused_or_removed_is_canceled(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with twitch_source(tmp_path) as t:
            await t.connected()
            drawn, refused, removed, cleared = (
                t.fake.redeem(f"draw {n}", username=n) for n in ("a", "b", "c", "d")
            )
            await t.wait_for(4)
            item = await t.queue.next()  # the worker draws the first…
            await t.journal.set_status(item.id, Status.SHOWN)
            t.sink.events.emit("finished", item.id)
            item = await t.queue.next()  # …the gatekeeper refuses the second
            await t.journal.set_status(item.id, Status.SKIPPED, reason="refused by the gatekeeper")
            t.sink.events.emit("skipped", item.id, reason="refused by the gatekeeper")
            found = await t.journal.find("twitch", key(removed))
            assert found is not None
            await t.queue.remove(found.id)  # an operator removes the third
            await t.statuses_settled([drawn["id"]], "FULFILLED")
            await t.statuses_settled([refused["id"], removed["id"]], "CANCELED")
            assert t.fake.redemptions[cleared["id"]]["status"] == "UNFULFILLED"  # still waiting
            await t.queue.clear()
            await t.statuses_settled([cleared["id"]], "CANCELED")
            assert t.fake.points == {"b": 500, "c": 500, "d": 500}  # the points went back


async def test_a_decision_made_while_stopped_reaches_twitch_on_the_next_start(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        async with open_fake_twitch(min_keepalive=1) as fake:
            async with twitch_source(tmp_path, fake=fake) as t:
                await t.connected()
                r = fake.redeem("draw a cat")
                await t.wait_for(1)
            # the daemon is stopped; meanwhile (say) the drawing it was in finished
            journal = Journal.open(tmp_path / "journal.sqlite3")
            item = await journal.find("twitch", key(r))
            assert item is not None
            await journal.set_status(item.id, Status.SHOWN)
            journal.close()
            async with twitch_source(tmp_path, fake=fake) as t2:
                await t2.statuses_settled([r["id"]], "FULFILLED")
                assert len(await t2.ids()) == 1  # the catch-up did not journal it again


async def test_the_reward_is_made_once_and_kept_in_step(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with open_fake_twitch(min_keepalive=1) as fake:
            async with twitch_source(tmp_path, fake=fake) as t:
                await t.connected()
            async with twitch_source(
                tmp_path, fake=fake, TWITCH_REWARD_COST=250, TWITCH_REWARD_MAX_PER_USER_PER_STREAM=2
            ) as t:
                await t.connected()
            assert len(fake.rewards) == 1
            reward = next(iter(fake.rewards.values()))
            assert reward["cost"] == 250
            assert reward["max_per_user_per_stream_setting"] == {
                "is_enabled": True,
                "max_per_user_per_stream": 2,
            }


async def test_a_reward_made_on_the_dashboard_with_our_title_stops_the_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.twitch")
    with trio.fail_after(20):
        async with open_fake_twitch(min_keepalive=1) as fake:
            fake.rewards["dash"] = {
                "id": "dash",
                "title": "Draw something",
                "cost": 1,
                "prompt": "",
            }
            fake.reward_owner["dash"] = "dashboard"
            async with twitch_source(tmp_path, fake=fake) as t:
                await t.finished.wait()
    lines = errors(caplog.records)
    assert len(lines) == 1
    assert "did not make" in lines[0]
    assert "TWITCH_REWARD_TITLE" in lines[0]


async def test_an_expired_token_is_refreshed_once_and_stored(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with twitch_source(tmp_path) as t:
            await t.connected()
            t.fake.expire_access_tokens()
            t.fake.drop()  # the next subscribe meets the 401
            await t.connected(2)
            assert t.fake.token_grants["refresh_token"] == 1
            path = tmp_path / "twitch_tokens.json"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert json.loads(path.read_text())["access_token"] in t.fake.access
            r = key(t.fake.redeem("after the refresh"))
            assert await t.wait_for(1) == [r]


async def test_a_revoked_sign_in_is_one_line_and_the_source_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drawstreamd.twitch")
    with trio.fail_after(20):
        async with twitch_source(tmp_path) as t:
            await t.connected()
            t.fake.revoke()
            await t.finished.wait()
            calls = sum(t.fake.requests.values())
            await trio.sleep(0.5)
            assert sum(t.fake.requests.values()) == calls
            assert t.events[-1][1]["state"] == "signed_out"
    lines = errors(caplog.records)
    assert len(lines) == 1
    assert "drawstreamd auth twitch" in lines[0]
    assert "authorization_revoked" in lines[0]


async def test_without_bits_read_cheers_are_off_and_the_sign_in_check_says_so(
    tmp_path: Path,
) -> None:
    with trio.fail_after(20):
        async with twitch_source(tmp_path, scopes="channel:manage:redemptions") as t:
            await t.connected()
            t.fake.cheer("Cheer500 nobody hears this", bits=500)
            r = key(t.fake.redeem("but this"))
            assert await t.wait_for(1) == [r]
            assert {s.type for s in t.fake.subs.values()} == {
                "channel.channel_points_custom_reward_redemption.add"
            }
            async with httpx.AsyncClient() as http:
                line = await check_sign_in(t.settings, http)
            assert (
                line
                == "Twitch signed in as cool_user (user id 1337); redemptions on, cheers off (no bits:read)"
            )


async def test_not_signed_in_means_the_source_is_off(tmp_path: Path) -> None:
    with trio.fail_after(10):
        journal = Journal.open(tmp_path / "journal.sqlite3")
        bus = EventBus()
        sink = QueueSink(DrawQueue(journal, bus), journal, bus)
        try:
            async with httpx.AsyncClient() as http, bus.subscribe() as sub:
                await run(
                    Settings(STATE_DIR=tmp_path, TWITCH_CLIENT_ID="x"), sink, http, tuning=FAST
                )
                [event] = sub.drain()
        finally:
            journal.close()
    assert (event.kind, event.data["state"]) == ("source_disconnected", "off")
    assert "drawstreamd auth twitch" in event.data["reason"]
