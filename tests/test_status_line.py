"""systemd's STATUS= line follows what an operator needs to know: the queue, and a Donation
Alerts connection that is down (a real daemon process, the fake Donation Alerts, a real
notify socket)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from test_systemd_daemon import Manager, kill, manager, start, stop  # noqa: F401

from drawstreamd.testing.fake_da import open_fake_da

if TYPE_CHECKING:
    from pathlib import Path


async def test_status_says_when_donation_alerts_is_down_and_back(
    tmp_path: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    async with open_fake_da() as fake:
        daemon = await start(tmp_path, manager, env=fake.env())
        try:
            with trio.fail_after(60):
                await manager.wait_for("READY", "1")
                await daemon.wait_log("da socket connected")
                fake.socket_available = False
                fake.drop_connections()
                down = await manager.wait_for(
                    "STATUS", "idle: 0 queued; Donation Alerts disconnected, retrying"
                )
                fake.socket_available = True
                await manager.wait_for("STATUS", "idle: 0 queued", after=down + 1)
                back = [m["STATUS"] for _, m in manager.messages[down + 1 :] if "STATUS" in m]
                assert back[-1] == "idle: 0 queued"
                assert await stop(daemon) == 0
        finally:
            await kill(daemon)
