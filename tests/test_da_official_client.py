"""The fake Donation Alerts against the official client: npm centrifuge@2.8.5 in Node.

The client connects with the socket token from /user/oauth, subscribes to the private channel
through its onPrivateSubscribe hook (the /centrifuge/subscribe POST), receives donations,
survives a server close with reconnect, re-subscribes with a new client id and recovers the
publication it missed.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

import trio
from source_support import NodeEvents

from drawstreamd.testing.fake_da import open_fake_da

JS = Path(__file__).parent / "js"


def ensure_client_installed() -> None:
    wanted = json.loads((JS / "package.json").read_text())["dependencies"]
    if all((JS / "node_modules" / name / "package.json").exists() for name in wanted):
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed for the official-client check"
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund"],
        cwd=JS,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )


async def test_official_centrifuge_client_receives_donations() -> None:
    await trio.to_thread.run_sync(ensure_client_installed)
    node = shutil.which("node")
    assert node is not None
    with trio.fail_after(30):
        async with open_fake_da() as fake, trio.open_nursery() as nursery:
            access, _ = fake.issue_tokens()
            proc = await nursery.start(
                functools.partial(
                    trio.run_process,
                    [node, str(JS / "official_client.js"), fake.ws_url, fake.api_url, access, "5"],
                    stdout=subprocess.PIPE,
                    check=False,
                )
            )
            assert proc.stdout is not None
            node = NodeEvents(proc.stdout)
            events = node.events
            until = node.until

            await until("subscribed")
            published = [fake.publish("нарисуй кота", username="Вася", amount=150)]
            published += [fake.publish(f"draw {i}", username=None) for i in range(2)]
            await until("publication", 3)
            fake.drop_connections(3001, "shutdown", reconnect=True)
            await until("disconnected")
            published.append(fake.publish("made while the client was away"))
            await until("subscribed", 2)
            published.append(fake.publish("after the reconnect"))
            await until("done")
            await proc.wait()

    assert proc.returncode == 0
    got = [e["data"] for e in events if e["event"] == "publication"]
    assert got == [{**d, "reason": "default"} for d in published]
    clients = [e["client"] for e in events if e["event"] == "connected"]
    posts = [e for e in events if e["event"] == "private_subscribe"]
    assert len(clients) == 2
    assert clients[0] != clients[1]
    assert [p["client"] for p in posts] == clients  # each connection's own client id
    assert posts[0]["channels"] == [fake.channel]
    assert any(e["event"] == "join" for e in events)
    second = [e for e in events if e["event"] == "subscribed"][1]
    assert second["recovered"] is True
    disconnect = next(e for e in events if e["event"] == "disconnected")
    assert (disconnect["reason"], disconnect["reconnect"]) == ("shutdown", True)
