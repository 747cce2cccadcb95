"""Each new source in a real daemon process against its fake (a real notify socket, the real
journal): 200 donations or redemptions through socket drops and one reconnect request, each
journaled once and in order, the ones made during an outage caught up, and a revoked sign-in
that ends in one clear line instead of a crash loop."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import trio
from test_systemd_daemon import Daemon, Manager, kill, manager, start, stop  # noqa: F401

from drawstreamd.testing.fake_donatepay import FakeDP, open_fake_dp
from drawstreamd.testing.fake_streamelements import FakeSE, open_fake_se

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


async def subscribed(fake: FakeSE) -> None:
    while fake.hub.subscribed == 0:
        await trio.sleep(0.02)


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
                # the token is revoked: one clear line, no crash loop, the daemon runs on
                fake.revoke()
                await daemon.wait_log("StreamElements refused the configured token")
                await status_saying(manager, "StreamElements signed out")
                tries = (sum(fake.requests.values()), fake.hub.counters["accepted"])
                await trio.sleep(3)
                assert (sum(fake.requests.values()), fake.hub.counters["accepted"]) == tries
                errors = error_lines(daemon)
                assert len(errors) == 1
                assert "SE_JWT" in errors[0]
                assert fake.jwt not in daemon.log()
                assert daemon.process.returncode is None
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)


async def dp_subscribed(fake: FakeDP) -> None:
    while fake.hub.subscribed == 0:
        await trio.sleep(0.02)


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
                        await dp_subscribed(fake)
                        assert fake.drop() == 1
                    if i == 100:
                        await dp_subscribed(fake)
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
                fake.revoke()
                fake.publish("after the key changed")
                await daemon.wait_log("DonatePay refused the configured API key")
                await status_saying(manager, "DonatePay signed out")
                calls = (sum(fake.requests.values()), fake.hub.counters["accepted"])
                await trio.sleep(3)
                assert (sum(fake.requests.values()), fake.hub.counters["accepted"]) == calls
                errors = error_lines(daemon)
                assert len(errors) == 1
                assert "DP_API_KEY" in errors[0]
                assert fake.key not in daemon.log()
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)
