"""The fake Twitch against a real client: twurple 8.1.4's EventSubWsListener (the Node library
most Twitch integrations use; Twitch publishes no client of its own).

twurple validates the token, subscribes over Helix with the welcome's session id, hears
redemptions and cheers once even when the fake delivers one twice, follows a
``session_reconnect`` without subscribing again, and after a plain drop comes back with a new
session and new subscriptions.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import httpx
import trio
from source_support import NodeEvents
from test_da_official_client import JS, ensure_client_installed

from drawstreamd.testing.fake_twitch import open_fake_twitch


async def test_twurple_hears_redemptions_and_cheers_through_a_reconnect_and_a_drop() -> None:
    await trio.to_thread.run_sync(ensure_client_installed)
    node = shutil.which("node")
    assert node is not None
    with trio.fail_after(60):
        async with (
            open_fake_twitch() as fake,
            httpx.AsyncClient() as http,
            trio.open_nursery() as nursery,
        ):
            access, _ = fake.issue_tokens()
            made = await http.post(
                f"{fake.api_url}/channel_points/custom_rewards",
                params={"broadcaster_id": fake.broadcaster_id},
                headers={"Authorization": f"Bearer {access}", "Client-Id": fake.client_id},
                json={"title": "Draw something", "cost": 300, "is_user_input_required": True},
            )
            assert made.status_code == 200
            argv = [
                node,
                str(JS / "twitch_client.js"),
                fake.ws_url,
                fake.api_url,
                fake.auth_url,
                fake.client_id,
                access,
                fake.broadcaster_id,
                "5",
            ]
            proc = await nursery.start(
                functools.partial(trio.run_process, argv, stdout=subprocess.PIPE, check=False)
            )
            assert proc.stdout is not None
            events = NodeEvents(proc.stdout)
            await events.until("subscribed", 2)
            sent = [fake.redeem("draw a cat", username="Viewer1")["id"]]
            sent.append(fake.redeem("draw a dog", username="Viewer2")["id"])
            fake.hub.duplicate = 1
            fake.cheer("Cheer100 draw a fox", username="Bitsy", bits=100)  # delivered twice
            await events.until("cheer")
            assert fake.ask_reconnect(grace=10) == 1
            while fake.hub.counters["reconnected"] < 1:
                await trio.sleep(0.02)
            sent.append(fake.redeem("after the move", username="Viewer3")["id"])
            await events.until("redemption", 3)
            assert fake.hub.counters["subscriptions"] == 2  # the session kept them
            assert fake.drop() == 1
            await events.until("subscribed", 4)  # a plain drop: new session, new subscriptions
            sent.append(fake.redeem("after the drop", username="Viewer4")["id"])
            await events.until("done")
            await proc.wait()
    assert proc.returncode == 0
    redemptions = events.of("redemption")
    assert [r["id"] for r in redemptions] == sent
    assert [r["input"] for r in redemptions] == [
        "draw a cat",
        "draw a dog",
        "after the move",
        "after the drop",
    ]
    assert {r["cost"] for r in redemptions} == {300}
    [cheer] = events.of("cheer")
    assert (cheer["user"], cheer["bits"], cheer["anonymous"]) == ("Bitsy", 100, False)
    assert len(events.of("disconnected")) >= 1
