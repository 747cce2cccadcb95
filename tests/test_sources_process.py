"""Each new source in a real daemon process against its fake (a real notify socket, the real
journal): 200 donations or redemptions through socket drops and one reconnect request, each
journaled once and in order, the ones made during an outage caught up, and a revoked sign-in
that ends in one clear line instead of a crash loop."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from typing import TYPE_CHECKING

import trio
from support import drawstreamctl_bin
from test_systemd_daemon import Daemon, Manager, kill, manager, start, stop  # noqa: F401

from drawstreamd.testing.fake_da import open_fake_da
from drawstreamd.testing.fake_donatepay import FakeDP, open_fake_dp
from drawstreamd.testing.fake_streamelements import FakeSE, open_fake_se
from drawstreamd.testing.fake_twitch import FakeTwitch, open_fake_twitch

if TYPE_CHECKING:
    from pathlib import Path


def journaled(state: Path, source: str) -> list[str]:
    """External ids of ``source`` in the daemon's journal, in the order they were recorded."""
    path = state / "journal.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT external_id FROM donations WHERE source = ? ORDER BY id", (source,)
        ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()
    return [r[0] for r in rows]


def meta(state: Path, key: str) -> str | None:
    path = state / "journal.sqlite3"
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


async def wait_journaled(state: Path, source: str, count: int) -> list[str]:
    while len(ids := journaled(state, source)) < count:
        await trio.sleep(0.1)
    return ids


async def status_saying(manager: Manager, text: str) -> str:  # noqa: F811
    """The first STATUS= that contains ``text`` (waits for it)."""
    seen = 0
    while True:
        for _, m in manager.messages[seen:]:
            if text in m.get("STATUS", ""):
                return m["STATUS"]
        seen = len(manager.messages)
        await manager.wait_for("STATUS", "", after=seen)


def error_lines(daemon: Daemon) -> list[str]:
    return [line for line in daemon.log().splitlines() if " ERROR " in line]


async def subscribed(fake: FakeSE | FakeDP | FakeTwitch) -> None:
    """Until the fake has a subscribed socket (a drop then has something to drop)."""
    while fake.hub.subscribed == 0:
        await trio.sleep(0.02)


async def revoked_is_one_line(
    daemon: Daemon,
    manager: Manager,  # noqa: F811
    fake: FakeSE | FakeDP | FakeTwitch,
    *,
    says: str,
    title: str,
    mentions: str,
    secret: str,
) -> None:
    """The sign-in is revoked: one clear line, no crash loop, the daemon runs on."""
    fake.revoke()
    await daemon.wait_log(says)
    await status_saying(manager, f"{title} signed out")
    tries = (sum(fake.requests.values()), fake.hub.counters["accepted"])
    await trio.sleep(3)
    assert (sum(fake.requests.values()), fake.hub.counters["accepted"]) == tries
    errors = error_lines(daemon)
    assert len(errors) == 1
    assert mentions in errors[0]
    assert secret not in daemon.log()
    assert daemon.process.returncode is None


async def test_streamelements_in_a_daemon_process(
    tmp_path: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    async with open_fake_se() as fake:
        env = {
            "SE_API_URL": fake.api_url,
            "SE_WS_URL": fake.ws_url,
            "SE_JWT": fake.jwt,
            "SE_POLL_INTERVAL_SEC": "1",
        }
        daemon = await start(tmp_path, manager, env=env)
        try:
            with trio.fail_after(120):
                await manager.wait_for("READY", "1")
                await daemon.wait_log("streamelements socket connected")
                while meta(daemon.state, "streamelements.since") is None:
                    await trio.sleep(0.05)  # the first catch-up has set where history starts
                published = []
                for i in range(200):
                    published.append(fake.publish(f"draw number {i}", username=f"v{i}")["_id"])
                    if i % 45 == 30:
                        await subscribed(fake)
                        assert fake.drop() == 1
                    if i == 100:
                        await subscribed(fake)
                        assert fake.ask_reconnect(grace=0.1) == 1
                    if i == 150:
                        fake.hub.duplicate = 3
                    await trio.sleep(0.01)
                # an outage: the socket is refused while tips come in
                fake.hub.refuse = 502
                fake.drop()
                published += [fake.publish(f"during the outage {i}")["_id"] for i in range(10)]
                await status_saying(manager, "StreamElements disconnected, retrying")
                ids = await wait_journaled(daemon.state, "streamelements", 210)
                fake.hub.refuse = None
                await trio.sleep(1.0)  # anything late and duplicated would show up now
                assert journaled(daemon.state, "streamelements") == published == ids
                assert fake.hub.counters["resumed"] == 1
                assert daemon.log().count("via=rest") >= 10  # the outage, from the tips list
                await revoked_is_one_line(
                    daemon,
                    manager,
                    fake,
                    says="StreamElements refused the configured token",
                    title="StreamElements",
                    mentions="SE_JWT",
                    secret=fake.jwt,
                )
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)


async def test_donatepay_in_a_daemon_process(
    tmp_path: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    async with open_fake_dp(min_interval=0.2) as fake:
        env = {
            "DP_API_URL": fake.api_url,
            "DP_WS_URL": fake.ws_url,
            "DP_API_KEY": fake.key,
            "DP_POLL_INTERVAL_SEC": "1",
            "DP_REQUEST_INTERVAL_SEC": "0.25",
        }
        daemon = await start(tmp_path, manager, env=env)
        try:
            with trio.fail_after(120):
                await manager.wait_for("READY", "1")
                await daemon.wait_log("donatepay socket connected")
                while meta(daemon.state, "donatepay.since") is None:
                    await trio.sleep(0.05)
                published = []
                for i in range(200):
                    published.append(str(fake.publish(f"нарисуй {i}", username=f"v{i}")["id"]))
                    if i % 45 == 30:
                        await subscribed(fake)
                        assert fake.drop() == 1
                    if i == 100:
                        await subscribed(fake)
                        assert fake.ask_reconnect() == 1
                    if i == 150:
                        fake.duplicate = 3
                    await trio.sleep(0.01)
                fake.socket_available = False  # an outage: the socket is refused
                await status_saying(manager, "DonatePay disconnected, retrying")
                published += [str(fake.publish(f"during the outage {i}")["id"]) for i in range(10)]
                ids = await wait_journaled(daemon.state, "donatepay", 210)
                fake.socket_available = True
                await trio.sleep(1.0)
                assert journaled(daemon.state, "donatepay") == published == ids
                assert fake.rate_limited == 0
                await revoked_is_one_line(
                    daemon,
                    manager,
                    fake,
                    says="DonatePay refused the configured API key",
                    title="DonatePay",
                    mentions="DP_API_KEY",
                    secret=fake.key,
                )
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)


def ctl(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    socket = daemon.state.parent / "run" / "drawstreamd" / "control.sock"
    return subprocess.run(
        [drawstreamctl_bin(), "--socket", str(socket), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )


async def test_twitch_in_a_daemon_process(
    tmp_path: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    async with open_fake_twitch() as fake:
        access, refresh = fake.issue_tokens()
        env = {
            "TWITCH_CLIENT_ID": fake.client_id,
            "TWITCH_AUTH_URL": fake.auth_url,
            "TWITCH_API_URL": fake.api_url,
            "TWITCH_EVENTSUB_URL": fake.ws_url,
            "TWITCH_ACCESS_TOKEN": access,
            "TWITCH_REFRESH_TOKEN": refresh,
            "SHOW_DURATION_SEC": "0.2",
            "DEFAULT_STEP_DURATION_MS": "5",
        }
        daemon = await start(tmp_path, manager, env=env)
        try:
            with trio.fail_after(150):
                await manager.wait_for("READY", "1")
                await daemon.wait_log("twitch eventsub connected")
                # the first is one the gatekeeper refuses; the rest are fine
                published = [f"redemption:{fake.redeem('нарисуй х*й', username='troll')['id']}"]
                for i in range(199):
                    r = fake.redeem(f"draw number {i}", username=f"v{i}")
                    published.append(f"redemption:{r['id']}")
                    if i in (40, 120):
                        await subscribed(fake)
                        assert fake.drop() == 1
                    if i == 80:
                        await subscribed(fake)
                        assert fake.ask_reconnect() == 1
                    if i == 160:
                        fake.hub.duplicate = 3
                    await trio.sleep(0.01)
                fake.hub.refuse = 503  # an outage: redemptions pile up on Twitch meanwhile
                fake.drop()
                await status_saying(manager, "Twitch disconnected, retrying")
                published += [
                    f"redemption:{fake.redeem(f'during the outage {i}')['id']}" for i in range(10)
                ]
                fake.hub.refuse = None
                ids = await wait_journaled(daemon.state, "twitch", 210)
                await trio.sleep(1.0)  # anything late and duplicated would show up now
                assert journaled(daemon.state, "twitch") == published == ids
                assert fake.hub.counters["reconnected"] == 1
                # some are drawn meanwhile; a moderator clears the rest
                while daemon.pngs() < 3:
                    await trio.sleep(0.1)
                ctl(daemon, "clear")
                while any(r["status"] == "UNFULFILLED" for r in fake.redemptions.values()):
                    await trio.sleep(0.1)
                outcome = journal_outcomes(daemon.state, "twitch")
                for key, (status, rule) in outcome.items():
                    want = "FULFILLED" if status == "shown" and rule is None else "CANCELED"
                    assert fake.redemptions[key.removeprefix("redemption:")]["status"] == want, key
                statuses = [r["status"] for r in fake.redemptions.values()]
                assert statuses.count("FULFILLED") >= 1
                assert (
                    fake.redemptions[published[0].removeprefix("redemption:")]["status"]
                    == "CANCELED"
                )
                assert fake.points["troll"] == 500  # the refused viewer got the points back
                # the streamer disconnects the app
                await revoked_is_one_line(
                    daemon,
                    manager,
                    fake,
                    says="Twitch sign-in is no longer valid",
                    title="Twitch",
                    mentions="drawstreamd auth twitch",
                    secret=access,
                )
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)


def journal_outcomes(state: Path, source: str) -> dict[str, tuple[str, str | None]]:
    conn = sqlite3.connect(f"file:{state / 'journal.sqlite3'}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT external_id, status, rule FROM donations WHERE source = ?", (source,)
        ).fetchall()
    finally:
        conn.close()
    return {r[0]: (r[1], r[2]) for r in rows}


async def test_all_four_sources_in_one_daemon_interleave_in_arrival_order(
    tmp_path: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    async with (
        open_fake_da() as da,
        open_fake_se() as se,
        open_fake_dp(min_interval=0.2) as dp,
        open_fake_twitch() as tw,
    ):
        da_access, da_refresh = da.issue_tokens()
        tw_access, tw_refresh = tw.issue_tokens()
        env = {
            "DA_OAUTH_URL": da.oauth_url,
            "DA_API_URL": da.api_url,
            "DA_WS_URL": da.ws_url,
            "DA_CLIENT_ID": da.client_id,
            "DA_CLIENT_SECRET": da.client_secret,
            "DA_ACCESS_TOKEN": da_access,
            "DA_REFRESH_TOKEN": da_refresh,
            "SE_API_URL": se.api_url,
            "SE_WS_URL": se.ws_url,
            "SE_JWT": se.jwt,
            "DP_API_URL": dp.api_url,
            "DP_WS_URL": dp.ws_url,
            "DP_API_KEY": dp.key,
            "DP_REQUEST_INTERVAL_SEC": "0.25",
            "TWITCH_CLIENT_ID": tw.client_id,
            "TWITCH_AUTH_URL": tw.auth_url,
            "TWITCH_API_URL": tw.api_url,
            "TWITCH_EVENTSUB_URL": tw.ws_url,
            "TWITCH_ACCESS_TOKEN": tw_access,
            "TWITCH_REFRESH_TOKEN": tw_refresh,
            "DRAW_MIN_AMOUNT": "RUB=50,USD=1,BITS=100,POINTS=0",
        }
        daemon = await start(tmp_path, manager, env=env)
        try:
            with trio.fail_after(120):
                await manager.wait_for("READY", "1")
                for line in (
                    "da socket connected",
                    "streamelements socket connected",
                    "donatepay socket connected",
                    "twitch eventsub connected",
                ):
                    await daemon.wait_log(line)
                while (
                    meta(daemon.state, "streamelements.since") is None
                    or meta(daemon.state, "donatepay.since") is None
                ):
                    await trio.sleep(0.05)
                ctl(daemon, "pause")  # so the queue keeps them all to look at
                makers = [
                    (
                        "donationalerts",
                        lambda i: str(
                            da.publish(f"нарисуй {i}", username=f"da{i}", amount=100)["id"]
                        ),
                    ),
                    (
                        "twitch",
                        lambda i: f"redemption:{tw.redeem(f'draw {i}', username=f'tw{i}')['id']}",
                    ),
                    (
                        "streamelements",
                        lambda i: se.publish(f"draw {i}", username=f"se{i}", amount=5)["_id"],
                    ),
                    (
                        "donatepay",
                        lambda i: str(
                            dp.publish(f"нарисуй {i}", username=f"dp{i}", amount=150)["id"]
                        ),
                    ),
                ]
                arrived: list[tuple[str, str]] = []
                for i in range(5):
                    for source, make in makers:
                        arrived.append((source, make(i)))
                        while journaled(daemon.state, source).count(arrived[-1][1]) == 0:
                            await trio.sleep(0.02)  # this one is in before the next is made
                queue = json.loads(ctl(daemon, "--json", "queue").stdout)
                assert [(item["source"], item["donor"]) for item in queue["items"]] == [
                    (s, f"{p}{i}")
                    for i in range(5)
                    for s, p in (
                        ("donationalerts", "da"),
                        ("twitch", "tw"),
                        ("streamelements", "se"),
                        ("donatepay", "dp"),
                    )
                ]
                assert {item["currency"] for item in queue["items"]} == {"RUB", "POINTS", "USD"}
                status = json.loads(ctl(daemon, "--json", "status").stdout)
                assert status["sources"] == {
                    "donationalerts": "Donation Alerts connected (user id 4242)",
                    "donatepay": "DonatePay connected (user id 1304427)",
                    "streamelements": f"StreamElements connected (channel {se.channel_id})",
                    "twitch": "Twitch connected (as cool_user)",
                }
                human = ctl(daemon, "status").stdout
                assert "source: Twitch connected (as cool_user)" in human.splitlines()
                # one source going down is its own line in STATUS=, the others stay quiet
                dp.socket_available = False
                text = await status_saying(manager, "DonatePay disconnected, retrying")
                assert "Twitch" not in text
                assert "StreamElements" not in text
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)
