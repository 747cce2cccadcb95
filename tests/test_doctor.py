"""`drawstreamd doctor` as a user runs it: healthy and broken set-ups, a running daemon.

Each test runs the installed command in a subprocess against real parts (the fake Donation
Alerts, the fake model server, a real daemon process, real sockets) and reads what the user
reads: the lines, their marks and fixes, and the exit status.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
import trio
from support import DaemonProcess, as_a_user, drawstreamd_bin, process_env

from drawstreamd.sources.donationalerts.oauth import Tokens, save_tokens
from drawstreamd.testing.fake_da import FakeDA, open_fake_da
from drawstreamd.testing.fake_da_http import ALL_SCOPES
from drawstreamd.testing.fake_llm import FakeLLM

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@dataclass
class Line:
    mark: str
    detail: str
    more: list[str] = field(default_factory=list)
    fix: str = ""


@dataclass
class Report:
    status: int
    text: str
    lines: dict[str, Line]

    def __getitem__(self, name: str) -> Line:
        assert name in self.lines, self.text
        return self.lines[name]

    def marks(self) -> dict[str, str]:
        return {name: line.mark for name, line in self.lines.items()}


def parse(text: str) -> dict[str, Line]:
    lines: dict[str, Line] = {}
    last: Line | None = None
    for raw in text.splitlines():
        if raw.startswith("    fix: "):
            assert last is not None
            last.fix = raw[len("    fix: ") :]
        elif raw.startswith("    "):
            assert last is not None
            last.more.append(raw.strip())
        elif raw[:2] in ("✓ ", "✗ ", "! "):
            name, _, detail = raw[2:].partition(": ")
            assert name not in lines, f"{name} twice:\n{text}"
            last = lines[name] = Line(raw[0], detail)
    return lines


def run_doctor(env: dict[str, str], *args: str) -> Report:
    proc = subprocess.run(
        [drawstreamd_bin(), "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=env["HOME"],
    )
    return Report(proc.returncode, proc.stdout, parse(proc.stdout))


async def run_doctor_async(env: dict[str, str], *args: str) -> Report:
    """The doctor in a subprocess while the fakes keep serving on this Trio loop."""
    proc = await trio.run_process(
        [drawstreamd_bin(), "doctor", *args],
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        cwd=env["HOME"],
    )
    text = proc.stdout.decode()
    return Report(proc.returncode, text, parse(text))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed_in(fake: FakeDA, state: Path, scopes: str = ALL_SCOPES) -> Tokens:
    """Tokens stored as `drawstreamd auth` stores them after a sign-in with ``scopes``."""
    access, refresh = fake.issue_tokens(scopes)
    tokens = Tokens(
        access_token=access,
        refresh_token=refresh,
        expires_at=None,
        scopes=scopes,
        client_id=fake.client_id,
    )
    save_tokens(state / "da_tokens.json", tokens)
    return tokens


@pytest.fixture
def daemons(clean_env: Path) -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        d.kill()


async def test_healthy_setup_passes_every_check(clean_env: Path) -> None:
    state = clean_env / "state"
    state.mkdir(mode=0o700)
    port = free_port()
    with trio.fail_after(60):
        async with open_fake_da() as fake, trio.open_nursery() as nursery:
            llm = FakeLLM(model="qwen2.5-coder:7b")
            url = await nursery.start(llm.serve)
            tokens = signed_in(fake, state)
            env = process_env(
                clean_env,
                **fake.env(signed_in=False),
                LLM_BACKEND="openai",
                LLM_ENDPOINT=url,
                LLM_MODEL_ID="qwen2.5-coder:7b",
                API_PORT=str(port),
            )
            report = await run_doctor_async(
                env, "--state-dir", str(state), "--socket", str(state / "ctl.sock")
            )
            nursery.cancel_scope.cancel()
    assert report.status == 0, report.text
    assert set(report.marks().values()) == {"✓"}, report.text
    assert "fix:" not in report.text
    assert report["LLM"].detail == f"{url} answers and serves qwen2.5-coder:7b"
    assert report["Donation Alerts"].detail == "signed in as FakeStreamer (user id 4242)"
    assert report["Donation Alerts scopes"].detail == ALL_SCOPES
    assert report["HTTP port"].detail == f"127.0.0.1:{port} is free"
    assert report["journal"].detail.endswith("does not exist yet; the daemon starts a fresh one")
    assert report["token files"].detail == "da_tokens.json readable by you alone"
    assert report["display"].detail.startswith("headless (neither DISPLAY nor WAYLAND_DISPLAY")
    assert f"http://127.0.0.1:{port}/overlay" in report["display"].detail
    assert report["fonts"].detail.startswith("Inter Regular and Inter Bold load and cover Latin")
    assert list(report.lines) == [
        "configuration",
        "state dir",
        "journal",
        "token files",
        "control socket",
        "HTTP port",
        "network exposure",
        "LLM",
        "Donation Alerts",
        "Donation Alerts scopes",
        "Twitch",
        "StreamElements",
        "DonatePay",
        "display",
        "fonts",
    ]
    assert report.text.rstrip().endswith("Nothing stands in the daemon's way.")
    assert not (state / "journal.sqlite3").exists()  # the doctor looks, it does not start things
    assert tokens.access_token not in report.text
    assert fake.client_secret not in report.text


async def test_broken_setup_names_each_problem_and_its_fix(clean_env: Path) -> None:
    state = clean_env / "state"
    state.mkdir(mode=0o700)
    (state / "api_token").write_text("x" * 43 + "\n")
    (state / "api_token").chmod(0o644)
    not_a_socket = clean_env / "run" / "ctl.sock"
    not_a_socket.write_text("left over\n")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"
    try:
        with trio.fail_after(60):
            async with open_fake_da() as fake:
                signed_in(fake, state)
                fake.revoke_refresh_tokens()  # the streamer revoked the app
                env = process_env(
                    clean_env,
                    **fake.env(signed_in=False),
                    LLM_BACKEND="openai",
                    LLM_ENDPOINT=dead_llm,
                    API_PORT=str(port),
                )
                report = await run_doctor_async(
                    env, "--state-dir", str(state), "--socket", str(not_a_socket)
                )
    finally:
        taken.close()
    assert report.status == 1, report.text
    failed = sorted(name for name, mark in report.marks().items() if mark == "✗")
    assert failed == ["Donation Alerts", "HTTP port", "LLM", "control socket", "token files"]
    assert report["LLM"].detail == f"nothing answers at {dead_llm} (connection refused)"
    assert "start the model server" in report["LLM"].fix
    assert "LLM_BACKEND=builtin" in report["LLM"].fix
    assert report["Donation Alerts"].detail.startswith("the sign-in is no longer valid")
    assert "invalid_grant" in report["Donation Alerts"].detail
    assert report["Donation Alerts"].fix == "run `drawstreamd auth` to sign in again"
    assert report["HTTP port"].detail == f"127.0.0.1:{port} is taken by another program"
    assert "API_PORT" in report["HTTP port"].fix
    assert report["control socket"].detail == f"{not_a_socket} exists and is not a socket"
    assert f"rm {not_a_socket}" in report["control socket"].fix
    assert report["token files"].detail == (
        f"readable by other users: {state / 'api_token'} (mode 0644)"
    )
    assert report["token files"].fix.startswith(f"`chmod 600 {state / 'api_token'}`")
    assert report.text.rstrip().endswith("5 problems to fix (✗ above).")
    assert not_a_socket.read_text() == "left over\n"


def test_running_daemon_holds_what_it_should(clean_env: Path, daemons: list[DaemonProcess]) -> None:
    state = clean_env / "state"
    port = free_port()
    d = DaemonProcess(clean_env, state, "--headless", port=port)
    daemons.append(d)
    d.wait_ready()
    mine = run_doctor(d.env, "--state-dir", str(state), "--socket", str(d.socket))
    assert mine.status == 0, mine.text
    held = f"in use by the running daemon (pid {d.proc.pid})"
    assert mine["journal"].detail == f"{state / 'journal.sqlite3'} {held}"
    assert mine["control socket"].detail == f"{d.socket} {held}"
    assert mine["HTTP port"].detail == f"127.0.0.1:{port} {held}"
    assert mine["LLM"].detail == "not used: LLM_BACKEND=builtin draws the builtin pictures only"
    assert mine["Donation Alerts"].detail == "off: no sign-in (`drawstreamd auth` signs in)"

    # a second set-up that would collide with it: another state dir, same socket and port
    other = clean_env / "other-state"
    theirs = run_doctor(d.env, "--state-dir", str(other), "--socket", str(d.socket))
    assert theirs.status == 1, theirs.text
    assert theirs["control socket"].mark == "✗"
    assert theirs["control socket"].detail == (
        f"another drawstreamd answers on {d.socket} (not the one with state dir {other})"
    )
    assert theirs["HTTP port"].mark == "✗"
    assert theirs["HTTP port"].detail.startswith(
        f"127.0.0.1:{port} is held by another drawstreamd (version "
    )
    assert "stop that daemon" in theirs["HTTP port"].fix
    assert d.ctl("ping").returncode == 0  # the doctor disturbed nothing
    assert d.stop() == 0


def test_bad_configuration_reports_every_bad_key(clean_env: Path) -> None:
    env = process_env(clean_env, API_PORT="99999", FRAME_RATE="fast")
    report = run_doctor(env)
    assert report.status == 1, report.text
    config = report["configuration"]
    assert (config.mark, config.detail) == ("✗", "2 problems:")
    # the very lines the daemon and check-config print, one per bad key
    check = subprocess.run(
        [drawstreamd_bin(), "check-config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 2
    assert sorted(config.more) == sorted(
        line.removeprefix("drawstreamd: ") for line in check.stderr.splitlines()
    )
    assert {m.split(":")[1].strip() for m in config.more} == {"API_PORT", "FRAME_RATE"}
    assert "check-config" in config.fix
    skipped = report["not checked"]
    assert skipped.mark == "!"
    assert "state dir" in skipped.detail
    assert "LLM" in skipped.detail
    assert report["display"].mark == "✓"  # what needs no configuration is still checked
    assert report["fonts"].mark == "✓"


def test_state_dir_without_write_permission(clean_env: Path) -> None:
    locked = clean_env / "read-only"
    locked.mkdir()
    os.chmod(locked, 0o555)
    proc = subprocess.run(
        as_a_user([drawstreamd_bin(), "doctor", "--state-dir", str(locked)]),
        env=process_env(clean_env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = Report(proc.returncode, proc.stdout, parse(proc.stdout))
    assert report.status == 1, report.text
    line = report["state dir"]
    assert (line.mark, line.detail) == ("✗", f"{locked} is not writable (Permission denied)")
    assert line.fix.startswith(f"make it yours and writable (`chmod u+rwx {locked}`)")
    assert list(locked.iterdir()) == []


def test_a_display_that_cannot_be_reached_fails(clean_env: Path) -> None:
    env = process_env(clean_env, DISPLAY=":87")
    del env["SDL_VIDEODRIVER"]
    report = run_doctor(env)
    line = report["display"]
    assert line.mark == "✗", report.text
    assert line.detail.startswith("no window: SDL cannot use DISPLAY=:87")
    assert "--headless" in line.fix
    assert report.status == 1
    assert run_doctor(env, "--headless")["display"].detail.startswith("headless (--headless)")
    assert run_doctor(env, "--no-window")["display"].detail.startswith("no window (--no-window)")
