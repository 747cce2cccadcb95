"""The daemon as a user runs it: a real process, real signals, a real state dir."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from support import DaemonProcess, as_a_user, drawstreamd_bin, process_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Daemon(DaemonProcess):
    """A headless daemon on any free API port."""

    def __init__(self, home: Path, state: Path, *args: str, **env: str) -> None:
        super().__init__(home, state, "--headless", *args, **env)

    def status(self) -> dict[str, object]:
        return dict(json.loads(self.ctl("--json", "status").stdout))


@pytest.fixture
def daemons(clean_env: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.kill()


def journal_rows(state: Path) -> list[tuple[int, str, str, str]]:
    conn = sqlite3.connect(state / "journal.sqlite3")
    try:
        rows = conn.execute(
            "SELECT id, external_id, status, donation FROM donations ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], json.loads(r[3])["message"]) for r in rows]


def test_demo_draws_pictures_headless(clean_env: Path, daemons: list[Daemon]) -> None:
    state = clean_env / "state-demo"
    d = Daemon(clean_env, state, "--demo", SHOW_DURATION_SEC="2")
    daemons.append(d)
    d.wait_ready()
    deadline = time.monotonic() + 60
    pngs: list[Path] = []
    while time.monotonic() < deadline and len(pngs) < 3:
        time.sleep(0.5)
        pngs = sorted((state / "gallery").glob("*.png")) if (state / "gallery").exists() else []
    assert len(pngs) >= 3, d.output()
    assert d.stop() == 0
    out = d.output()
    assert "Traceback" not in out
    blocked = [row for row in journal_rows(state) if row[3] == "нарисуй х*й"]
    assert blocked  # the scripted NSFW request went through the pipeline too


def test_sigkill_mid_drawing_loses_nothing_and_draws_nothing_twice(
    clean_env: Path, daemons: list[Daemon]
) -> None:
    state = clean_env / "state-kill"
    slow = {"SHOW_DURATION_SEC": "0.2", "DEFAULT_STEP_DURATION_MS": "150"}
    d = Daemon(clean_env, state, **slow)
    daemons.append(d)
    d.wait_ready()
    messages = [f"нарисуй кота номер {n}" if n % 2 else f"draw heart {n}" for n in range(24)]
    for n, message in enumerate(messages):
        d.ctl("donate", "--name", f"viewer{n}", "--amount", str(n + 1), message)
    # wait until the third donation is being drawn, then kill without warning
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = d.status()
        if st.get("current_id") == 3 and st.get("state") == "drawing":
            break
        time.sleep(0.05)
    else:
        raise AssertionError(d.output())
    os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait(10)
    killed_at = time.time()
    rows = journal_rows(state)
    assert [r[3] for r in rows] == messages  # every donation was durably recorded
    assert [r[2] for r in rows[:2]] == ["shown", "shown"]
    assert rows[2][2] == "drawing"

    again = Daemon(clean_env, state, **slow)
    daemons.append(again)
    again.wait_ready()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(r[2] == "shown" for r in journal_rows(state)):
            break
        time.sleep(0.25)
    rows = journal_rows(state)
    assert [r[2] for r in rows] == ["shown"] * len(messages), again.output()
    assert [r[3] for r in rows] == messages  # none twice, none lost
    finished = []
    for r in rows:
        meta = json.loads((state / "gallery" / f"{r[0]}.json").read_text())
        finished.append(meta["timings"]["finished_at"])
    assert finished == sorted(finished)  # drawn in the order they were queued
    assert (
        finished[1] < killed_at < finished[2]
    )  # the interrupted one was drawn first after the restart
    assert again.stop() == 0


def test_sigterm_mid_drawing_leaves_it_interrupted(clean_env: Path, daemons: list[Daemon]) -> None:
    state = clean_env / "state-term"
    d = Daemon(clean_env, state, DEFAULT_STEP_DURATION_MS="3000")
    daemons.append(d)
    d.wait_ready()
    d.ctl("donate", "нарисуй кота")
    deadline = time.monotonic() + 20
    while d.status().get("state") != "drawing" and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 10
    assert [r[2] for r in journal_rows(state)] == ["interrupted"]
    assert not d.socket.exists()


def test_second_daemon_on_the_same_state_dir_is_refused(
    clean_env: Path, daemons: list[Daemon]
) -> None:
    state = clean_env / "state-twice"
    first = Daemon(clean_env, state)
    daemons.append(first)
    first.wait_ready()
    first.ctl("donate", "draw a heart")
    before = (state / "journal.sqlite3").stat().st_size
    second = subprocess.run(
        [
            drawstreamd_bin(),
            "--headless",
            "--state-dir",
            str(state),
            "--socket",
            str(clean_env / "other.sock"),
        ],
        env=process_env(clean_env, API_PORT="0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert f"pid {first.proc.pid}" in errors[0]
    assert "already running" in errors[0]
    assert first.ctl("ping").returncode == 0  # the first one is untouched
    assert (state / "journal.sqlite3").stat().st_size >= before
    assert first.stop() == 0


def test_a_live_control_socket_is_not_stolen(clean_env: Path, daemons: list[Daemon]) -> None:
    first = Daemon(clean_env, clean_env / "state-a")
    daemons.append(first)
    first.wait_ready()
    second = subprocess.run(
        [
            drawstreamd_bin(),
            "--headless",
            "--state-dir",
            str(clean_env / "state-b"),
            "--socket",
            str(first.socket),
        ],
        env=process_env(clean_env, API_PORT="0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, second.stderr
    assert "control socket" in errors[0]
    assert first.ctl("ping").returncode == 0
    assert first.stop() == 0


def test_unwritable_state_dir_is_one_clear_line(clean_env: Path) -> None:
    blocker = clean_env / "a-file"
    blocker.write_text("not a directory")
    proc = subprocess.run(
        [drawstreamd_bin(), "--headless", "--state-dir", str(blocker / "state")],
        env=process_env(clean_env, API_PORT="0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert "not writable" in errors[0]
    assert blocker.read_text() == "not a directory"


def test_state_dir_without_write_permission(clean_env: Path, tmp_path: Path) -> None:
    locked = tmp_path / "read-only"
    locked.mkdir()
    os.chmod(locked, 0o555)
    proc = subprocess.run(
        as_a_user([drawstreamd_bin(), "--headless", "--state-dir", str(locked)]),
        env=process_env(clean_env, API_PORT="0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, proc.stderr
    assert "not writable" in errors[0]
    assert list(locked.iterdir()) == []
