"""Live for weeks, as the streamer meets it: a real ``drawstreamd`` process driven with
``drawstreamctl``, the fake model server and the fake Donation Alerts hosted by the test, the
journal on a real filesystem (a small tmpfs, mounted by the test: CI runs as root).

Each test says in a comment why it fails on the code before the planning jobs, the early
plan journal and the journal-failure handling (commit 737747d and before).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import trio
from support import DaemonProcess, drawstreamctl_bin, fill_filesystem, small_filesystem
from test_llm_worker import PLAN_JSON
from test_systemd_daemon import manager  # noqa: F401 - the fixture

from drawstreamd.testing.fake_da import open_fake_da
from drawstreamd.testing.fake_llm import Reply

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from test_systemd_daemon import Manager

    from drawstreamd.testing.fake_llm import FakeLLM

SLOW = Reply(content=PLAN_JSON, per_char=0.1)
"""One character every 100 ms: the plan takes the model over 20 s to write."""
FAST = Reply(content=PLAN_JSON)


class Daemon(DaemonProcess):
    """A headless daemon; everything a test does with it is async, so the fakes the test
    hosts keep answering meanwhile."""

    def __init__(self, home: Path, state: Path, **env: str) -> None:
        super().__init__(home, state, "--headless", port=0, **env)

    async def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """``drawstreamctl ARGS`` as a user types it."""
        return await trio.run_process(
            [drawstreamctl_bin(), "--socket", str(self.socket), *args],
            env=self.env,
            capture_stdout=True,
            capture_stderr=True,
            check=check,
        )

    async def json(self, *args: str) -> Any:
        return json.loads((await self.run("--json", *args)).stdout)

    async def ready(self) -> None:
        await trio.to_thread.run_sync(self.wait_ready)

    async def donate(self, message: str) -> int:
        return int((await self.json("donate", message))["id"])

    async def history(self) -> dict[int, dict[str, Any]]:
        return {i["id"]: i for i in (await self.json("history", "100"))["items"]}

    async def wait_status(self, item_id: int, status: str) -> dict[str, Any]:
        while (item := (await self.history()).get(item_id)) is None or item["status"] != status:
            await trio.sleep(0.1)
        return item

    async def wait_drawing(self, item_id: int) -> None:
        while True:
            st = await self.json("status")
            if st["current_id"] == item_id and st["state"] == "drawing":
                return
            await trio.sleep(0.1)

    async def wait_log(self, text: str) -> None:
        while text not in self.output():
            await trio.sleep(0.1)

    async def sigkill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await trio.to_thread.run_sync(self.proc.wait)


class Events:
    """``drawstreamctl events`` as a user follows it: each notification with when it came."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self._changed = trio.Event()

    async def follow(
        self, d: Daemon, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Follow ``d``'s events until cancelled; hands back once they are heard for sure
        (a pause and a resume came through)."""
        command = [drawstreamctl_bin(), "--socket", str(d.socket), "events"]
        proc = await trio.lowlevel.open_process(command, env=d.env, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read, proc.stdout)
                while not any(event["kind"] == "resumed" for _, event in self.seen):
                    await d.run("pause")
                    await d.run("resume")
                    with trio.move_on_after(1.0):
                        await self._changed.wait()
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                proc.kill()
                await proc.wait()

    async def _read(self, out: trio.abc.ReceiveStream) -> None:
        rest = b""
        async for chunk in out:
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                self.seen.append((trio.current_time(), json.loads(line)))
            self._changed.set()
            self._changed = trio.Event()

    async def first(self, kind: str, item_id: int) -> float:
        """When the first ``kind`` event of ``item_id`` came (waits for it)."""
        while True:
            for at, event in self.seen:
                if event["kind"] == kind and event["item_id"] == item_id:
                    return at
            await self._changed.wait()


@pytest.fixture
async def start(clean_env: Path) -> AsyncIterator[Callable[..., Daemon]]:
    """Start daemons on ``state`` (default ``<home>/state``); all are killed at the end."""
    started: list[Daemon] = []

    def run(state: Path | None = None, **env: str) -> Daemon:
        d = Daemon(clean_env, state or clean_env / "state", **env)
        started.append(d)
        return d

    yield run
    for d in started:
        d.kill()


def llm_env(fake: FakeLLM, **extra: str) -> dict[str, str]:
    return {
        "LLM_BACKEND": "openai",
        "LLM_ENDPOINT": fake.url,
        "LLM_MODEL_ID": fake.model,
        "LLM_TIMEOUT_SEC": "60",
        "LLM_IDLE_TIMEOUT_SEC": "30",
        **extra,
    }


# -- skip, remove and clear while the model writes slowly -------------------------------------
async def test_skip_during_a_slow_plan_draws_the_next_within_a_second(
    start: Callable[..., Daemon], fake: FakeLLM, nursery: trio.Nursery
) -> None:
    # Before: the planning job ran under a cancel scope made and dropped in _start_plan, so a
    # skip ended the worker's phase but not the request. The job kept the LLM lock while the
    # model wrote on (20 s here), and the next plan waited for it: no step of the next item
    # for 20 s, and the slow response was read to its end (closed_by_client stayed 0).
    fake.default = FAST
    fake.push(SLOW)
    d = start(**llm_env(fake), SHOW_DURATION_SEC="60", DEFAULT_STEP_DURATION_MS="200")
    with trio.fail_after(60):
        await d.ready()
        events = Events()
        await nursery.start(events.follow, d)
        first = await d.donate("draw a sun")
        second = await d.donate("draw a house")
        await fake.wait_until(lambda f: f.open_streams == 1 and len(f.requests) == 1)
        await trio.sleep(1.0)  # the model is writing the first plan, one character at a time
        status = await d.json("status")
        assert (status["current_id"], status["state"]) == (first, "planning")
        asked = trio.current_time()
        assert (await d.json("skip"))["skipped"]
        drawn = await events.first("step", second)
        assert drawn - asked < 1.0
        with trio.fail_after(1.0):
            await fake.wait_until(lambda f: f.closed_by_client == 1)
        assert len(fake.requests) == 2
        assert (await d.wait_status(first, "skipped"))["reason"] == "skipped by operator"


@pytest.mark.parametrize("how", ["remove", "clear"])
async def test_removing_or_clearing_a_slow_look_ahead_draws_the_next_within_a_second(
    how: str, start: Callable[..., Daemon], fake: FakeLLM, nursery: trio.Nursery
) -> None:
    # The slow plan here is the look-ahead, made while the first picture holds. Before, its
    # cancel scope was kept (_Ahead.scope) and a discard cancelled it too, so this case held
    # on the old code as far as the model goes; it is here so that removing or clearing
    # the look-ahead keeps freeing the model now that jobs live in planning.py.
    fake.default = FAST
    fake.push(FAST, SLOW)
    d = start(**llm_env(fake), SHOW_DURATION_SEC="600", DEFAULT_STEP_DURATION_MS="100")
    with trio.fail_after(60):
        await d.ready()
        events = Events()
        await nursery.start(events.follow, d)
        first = await d.donate("draw a sun")
        second = await d.donate("draw a cat")
        await events.first("finished", first)  # the first picture holds for 10 minutes
        await fake.wait_until(lambda f: f.open_streams == 1 and len(f.requests) == 2)
        await trio.sleep(1.0)  # the look-ahead is writing the second plan, slowly
        asked = trio.current_time()
        if how == "remove":
            assert (await d.json("remove", str(second)))["removed"]
        else:
            assert (await d.json("clear"))["cleared"] == 1
        third = await d.donate("draw a house")
        assert (await d.json("skip"))["skipped"]  # end the hold
        drawn = await events.first("step", third)
        assert drawn - asked < 1.0
        with trio.fail_after(1.0):
            await fake.wait_until(lambda f: f.closed_by_client == 1)
        assert len(fake.requests) == 3
        item = await d.wait_status(second, "skipped")
        assert item["reason"] == (
            "removed by operator" if how == "remove" else "cleared by operator"
        )


# -- restarts mid-drawing ----------------------------------------------------------------------
def journal_plan(state: Path, item_id: int) -> Any:
    conn = sqlite3.connect(f"file:{state / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT plan FROM donations WHERE id = ?", (item_id,)).fetchone()
    finally:
        conn.close()
    return json.loads(row[0]) if row and row[0] is not None else None


async def test_sigkill_mid_drawing_then_restart_redraws_the_same_plan_without_the_model(
    start: Callable[..., Daemon], fake: FakeLLM, clean_env: Path
) -> None:
    # Before: the plan was journaled only with "shown", after the drawing; a drawing cut by
    # SIGKILL had no plan in the journal and the restart asked the model again (a second
    # request, and with a real model a different picture).
    fake.default = FAST
    state = clean_env / "state"
    with trio.fail_after(90):
        d = start(state, **llm_env(fake), DEFAULT_STEP_DURATION_MS="60000")  # a step a minute
        await d.ready()
        item = await d.donate("draw a sun")
        await d.wait_drawing(item)
        while (kept := journal_plan(state, item)) is None:  # complete, still drawing
            await trio.sleep(0.1)
        await d.sigkill()
        assert len(fake.requests) == 1
        again = start(state, **llm_env(fake), DEFAULT_STEP_DURATION_MS="50")
        await again.ready()
        shown = await again.wait_status(item, "shown")
        assert shown["interruptions"] == 1
        assert len(fake.requests) == 1  # no second request to the model
        gallery = json.loads((state / "gallery" / f"{item}.json").read_text())
        assert gallery["plan"] == kept
        assert gallery["origin"] == "journal"
        assert len(kept["steps"]) == 3


async def test_three_unclean_stops_mid_drawing_fail_the_item_and_the_next_draws(
    start: Callable[..., Daemon], clean_env: Path
) -> None:
    # Before: nothing counted unclean stops; the cut drawing was drawn first on every start,
    # so a donation whose drawing kills the process would do so forever, and the one behind
    # it never drew.
    state = clean_env / "state"
    slow = {"DEFAULT_STEP_DURATION_MS": "60000"}
    with trio.fail_after(120):
        d = start(state, **slow)
        await d.ready()
        cursed = await d.donate("draw a sun")
        after = await d.donate("draw a house")
        for _ in range(3):
            await d.wait_drawing(cursed)
            await d.sigkill()
            d = start(state, **slow)
            await d.ready()
        await d.wait_drawing(after)  # the fourth start moves on
        listing = (await d.run("history")).stdout.decode()
        assert f"#{cursed} [failed]" in listing
        assert "(interrupted 3 times)" in listing
        assert (await d.history())[after]["status"] == "drawing"


# -- a journal that cannot write -------------------------------------------------------------
async def donate_refused(d: Daemon, why: str) -> None:
    """``drawstreamctl donate`` fails with one clear line, and nothing is queued."""
    refused = await d.run("donate", "draw a cat", check=False)
    assert refused.returncode == 1
    error = refused.stderr.decode().strip()
    assert error == f"drawstreamctl: donation not queued, nothing was recorded: {why}"


async def wait_status_line(notify: Manager, text: str, after: int = 0) -> int:
    """Index of the first STATUS= (from ``after`` on) that holds ``text``."""
    while True:
        for i, (_, message) in enumerate(notify.messages[after:], after):
            if text in message.get("STATUS", ""):
                return i
        await trio.sleep(0.05)


async def test_a_full_disk_refuses_donations_clearly_and_loses_none(
    start: Callable[..., Daemon],
    clean_env: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    # Before: the worker's status write raised out of Worker.serve and the daemon died. And a
    # write that failed was put back in the journal's pending list and committed with the
    # next donation that did get through, with no queue item: `donate` answered
    # "internal error: OperationalError", yet after space returned the refused donation sat
    # in the history (queued, never drawn), and so did the Donation Alerts one, which the
    # REST catch-up then found "already journaled" and never queued. Status had no
    # `journal` field and STATUS said nothing.
    full = "journal write failed: database or disk is full"
    with small_filesystem(clean_env / "state", size_kb=4096) as state, trio.fail_after(120):
        async with open_fake_da() as da:
            d = start(
                state,
                **da.env(),
                NOTIFY_SOCKET=manager.env_value,
                SHOW_DURATION_SEC="0",
                DEFAULT_STEP_DURATION_MS="20",
            )
            await d.ready()
            await d.wait_log("da socket connected")
            await d.wait_log("da first run")  # the watermark is kept: catch-up starts there
            before = await d.donate("draw a sun")
            await d.wait_status(before, "shown")
            await d.run("pause")
            waiting = await d.donate("draw a tree")

            filler = fill_filesystem(state)
            await d.run("resume")  # the worker cannot journal that it starts the tree
            await donate_refused(d, full)
            assert (await d.json("status"))["journal"] == full
            down = await wait_status_line(manager, full)
            assert "journal cannot write" in d.output()
            da.publish("нарисуй кота", username="Зритель", amount=150.0)
            await d.wait_log("da socket donation not journaled")
            await d.wait_log("da catch-up could not journal")
            assert (await d.json("ping"))["version"]  # still up, still answering
            while [i["id"] for i in (await d.json("queue"))["items"]] != [waiting]:
                await trio.sleep(0.05)  # kept, and next (between two of the worker's tries)

            os.unlink(filler)
            after = await d.donate("draw a house")
            await d.wait_status(waiting, "shown")
            await d.wait_status(after, "shown")
            await wait_status_line(manager, "idle: 0 queued", after=down + 1)
            assert (await d.json("status"))["journal"] == "ok"
            while not [i for i in (await d.history()).values() if i["source"] == "donationalerts"]:
                await trio.sleep(0.2)  # the catch-up retries with backoff
            history = await d.history()
            caught = next(i for i in history.values() if i["source"] == "donationalerts")
            await d.wait_status(caught["id"], "shown")
            assert await trio.to_thread.run_sync(d.stop) == 0  # up all along, and a clean stop
    # exactly what was acknowledged: nothing of the refused donate, the caught-up one once
    assert sorted(i["message"] for i in history.values()) == sorted(
        ["draw a sun", "draw a tree", "нарисуй кота", "draw a house"]
    )
    said = [line.split()[1] for line in d.output().splitlines() if "journal cannot write" in line]
    assert said
    assert set(said) == {"ERROR"}  # priority err


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file) read-only through a bind mount of its own, as systemd's
    ReadOnlyPaths= makes it; ``mount -o remount,rw,bind`` makes it writable again."""
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True, capture_output=True)
    try:
        remount(path, "ro")
        yield
    finally:
        subprocess.run(["umount", str(path)], check=False, capture_output=True)


def remount(path: Path, mode: str) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,{mode},bind", str(path)], check=True, capture_output=True
    )


async def test_a_read_only_journal_keeps_the_daemon_up_until_it_can_write_again(
    start: Callable[..., Daemon],
    clean_env: Path,
    manager: Manager,  # noqa: F811 - the fixture imported above
) -> None:
    # Linux refuses `mount -o remount,ro` (EBUSY) while a process holds a file on the
    # filesystem open for writing, as SQLite holds its journal: a journal cannot turn
    # read-only under a running daemon that opened it writable. It can be read-only when the
    # daemon starts (a read-only mount over it, a restored file), and it is made writable
    # again while the daemon runs. Before: the worker's status write raised out of
    # Worker.serve and the daemon died at once; and a connection SQLite opened read-only stays
    # read-only, so nothing was journaled again until a restart.
    read_only_text = "journal write failed: the journal is read-only"
    fast = {"SHOW_DURATION_SEC": "0", "DEFAULT_STEP_DURATION_MS": "20"}
    with small_filesystem(clean_env / "state", size_kb=4096) as state, trio.fail_after(90):
        d = start(state, **fast)
        await d.ready()
        await d.run("pause")
        waiting = await d.donate("draw a tree")
        assert await trio.to_thread.run_sync(d.stop) == 0
        journal = state / "journal.sqlite3"
        with read_only(journal):
            d = start(state, NOTIFY_SOCKET=manager.env_value, **fast)
            await d.ready()
            assert (await d.json("status"))["journal"] == read_only_text
            await donate_refused(d, read_only_text)
            await d.wait_log("cannot start the next drawing")
            down = await wait_status_line(manager, read_only_text)
            assert (await d.json("ping"))["version"]

            remount(journal, "rw")
            await d.wait_status(waiting, "shown")
            after = await d.donate("draw a house")
            await d.wait_status(after, "shown")
            await wait_status_line(manager, "idle: 0 queued", after=down + 1)
            assert (await d.json("status"))["journal"] == "ok"
            history = await d.history()
            assert await trio.to_thread.run_sync(d.stop) == 0  # up all along, and a clean stop
    assert sorted(i["message"] for i in history.values()) == ["draw a house", "draw a tree"]
