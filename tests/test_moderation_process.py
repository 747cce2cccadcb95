"""Moderators against the real daemon: each MODERATION mode, the wait's timeout, bans, and the
preview of a picture before it airs. A real process on loopback, driven with drawstreamctl as
a moderator at a terminal would, and over HTTP as the moderator page does."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from support import DaemonProcess
from test_control_harness import free_port

from drawstreamd.render import png

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


class Daemon(DaemonProcess):
    def __init__(self, home: Path, state: Path, **env: str) -> None:
        self.port = free_port()
        super().__init__(home, state, "--no-window", port=self.port, **env)

    def json(self, *args: str) -> Any:
        return json.loads(self.ctl("--json", *args).stdout)

    def donate(self, message: str, name: str = "", amount: float = 0) -> int:
        args = ["donate", message, "--amount", str(amount)]
        if name:
            args += ["--name", name]
        return int(self.json(*args)["id"])

    def item(self, item_id: int) -> dict[str, Any]:
        for item in self.json("history", "100")["items"]:
            if item["id"] == item_id:
                return dict(item)
        raise AssertionError(f"no item {item_id}")

    def wait(self, check: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-3000:]}")

    def wait_status(self, item_id: int, status: str, timeout: float = 20) -> dict[str, Any]:
        self.wait(lambda: self.item(item_id)["status"] == status, timeout, f"{item_id} {status}")
        return self.item(item_id)

    def http(self) -> httpx.Client:
        token = (self.state / "api_token").read_text().strip()
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


@pytest.fixture
def start(clean_env: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def run(name: str = "state", **env: str) -> Daemon:
        d = Daemon(clean_env, clean_env / name, SHOW_DURATION_SEC="0.3",
                   DEFAULT_STEP_DURATION_MS="20", **env)  # fmt: skip
        started.append(d)
        d.wait_ready()
        return d

    yield run
    for d in started:
        d.kill()


def test_manual_mode_draws_only_what_a_moderator_approves(start: Callable[..., Daemon]) -> None:
    d = start(MODERATION="manual", MODERATION_AUTO_APPROVE_AMOUNT="500")
    waiting = d.donate("нарисуй кота", "Маша", 100)
    denied = d.donate("draw a house", "Kate", 50)
    big = d.donate("draw a rocket", "Rich", 1000)  # at or above the amount: no wait
    queue = {i["id"]: i for i in d.json("queue")["items"]}
    assert queue[waiting]["approval"] == "waiting"
    assert "approval" not in d.wait_status(big, "shown")  # the waiting do not hold it up
    time.sleep(0.5)
    assert d.item(waiting)["status"] == "queued"  # not drawn without a decision
    human = d.ctl("queue").stdout
    assert "waits for a moderator" in human
    after = d.donate("draw a sun", "Late", 10)
    d.ctl("deny", str(denied), "not", "today")
    skipped = d.wait_status(denied, "skipped")
    assert skipped["reason"] == "denied by moderator: not today"
    assert d.ctl("approve", str(waiting)).returncode == 0
    d.wait_status(waiting, "shown")
    d.ctl("approve", str(after))
    d.wait_status(after, "shown")
    # the approved one came before what arrived after it, and nothing else was drawn
    shown = [i for i in d.json("history", "10")["items"] if i["status"] == "shown"]
    assert [i["id"] for i in sorted(shown, key=lambda i: i["updated_at"])] == [big, waiting, after]
    assert not (d.state / "gallery" / f"{denied}.png").exists()
    refused = d.ctl("approve", "9999", check=False)
    assert refused.returncode == 1
    assert "no queued item 9999" in refused.stderr


def test_flagged_mode_holds_only_doubtful_requests(start: Callable[..., Daemon]) -> None:
    d = start(MODERATION="flagged")
    doubtful = d.donate("draw a girl in a bikini on the beach")
    plain = d.donate("draw a cat")
    d.wait_status(plain, "shown")
    item = d.item(doubtful)
    assert item["status"] == "queued"
    assert item["verdict"] == "doubtful"
    assert item["rule"].startswith("doubtful:")
    assert item["approval"] == "waiting"


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_nobody_deciding_in_time_applies_the_timeout_action(
    action: str, start: Callable[..., Daemon]
) -> None:
    d = start(MODERATION="manual", MODERATION_TIMEOUT_SEC="1", MODERATION_TIMEOUT_ACTION=action)
    item = d.donate("draw a tree")
    if action == "approve":
        d.wait_status(item, "shown", timeout=10)
    else:
        skipped = d.wait_status(item, "skipped", timeout=10)
        assert skipped["reason"] == "denied by moderator: no decision within the timeout"


def test_a_banned_donor_is_skipped_and_the_ban_outlives_a_restart(
    start: Callable[..., Daemon], clean_env: Path
) -> None:
    d = start()
    first = d.donate("draw a cat", "Spammer")
    d.wait_status(first, "shown")
    assert d.ctl("ban", "spammer", "--reason", "spam").returncode == 0
    again = d.donate("draw a cat again", "SPAMMER")
    skipped = d.wait_status(again, "skipped")
    assert skipped["reason"] == "donor banned"
    assert not (d.state / "gallery" / f"{again}.png").exists()
    bans = d.json("bans")["items"]
    assert [(b["donor"], b["reason"]) for b in bans] == [("spammer", "spam")]
    assert d.stop() == 0
    d = start()  # the same state dir
    later = d.donate("draw a dog", "Spammer")
    assert d.wait_status(later, "skipped")["reason"] == "donor banned"
    with d.http() as api:
        assert api.request("DELETE", "/bans", json={"donor": "Spammer"}).json()["done"]
        assert api.get("/bans").json() == {"items": []}
        reply = api.post("/bans", json={"donor": "Troll", "reason": "hate"})
        assert reply.json() == {"donor": "Troll", "banned": True, "done": True}
    fine = d.donate("draw a fox", "Spammer")
    d.wait_status(fine, "shown")
    trolled = d.donate("draw a fox", "troll")  # banned over HTTP: the same for the socket
    assert d.wait_status(trolled, "skipped")["reason"] == "donor banned"


def test_the_preview_is_the_picture_that_later_airs(start: Callable[..., Daemon]) -> None:
    d = start(MODERATION="manual")
    item = d.donate("нарисуй ёжика")
    with d.http() as api:
        d.wait(lambda: api.get(f"/queue/{item}/preview.png").status_code == 200, 10, "preview")
        reply = api.get(f"/queue/{item}/preview.png")
        assert reply.headers["content-type"] == "image/png"
        preview = png.decode(reply.content)
        assert api.post(f"/queue/{item}/approve").json()["approval"] == "approved"
        d.wait_status(item, "shown")
        drawn = png.decode((d.state / "gallery" / f"{item}.png").read_bytes())
        assert preview == drawn  # pixel for pixel
        missing = api.get("/queue/9999/preview.png")
        assert missing.status_code == 404
        assert missing.json()["message"] == "no item 9999"
        denied = d.donate("draw a cat")
        reply = api.post(f"/queue/{denied}/deny", json={"reason": "saw the preview"})
        assert reply.json() == {"denied": True, "id": denied,
                                "reason": "denied by moderator: saw the preview"}  # fmt: skip
        assert api.post(f"/queue/{denied}/deny").status_code == 404  # gone already
