"""``drawstreamctl`` against a real control socket over real Commands, Journal and DrawQueue."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
import trio.testing
from test_control_harness import Stack, open_stack
from test_control_unix import serve_stack

from drawstreamd import ctl
from drawstreamd.control.auth import Credentials

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import pytest


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    def json(self) -> dict[str, Any]:
        value = json.loads(self.out)
        assert isinstance(value, dict)
        return value


async def run_ctl(*argv: str) -> Run:
    """drawstreamctl's main() in a thread (it blocks), with its output captured."""

    def call() -> Run:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = ctl.main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        return Run(code, out.getvalue(), err.getvalue())

    return await trio.to_thread.run_sync(call)


@contextlib.asynccontextmanager
async def daemon(tmp_path: Path) -> AsyncIterator[tuple[Stack, str]]:
    async with open_stack(tmp_path) as st, serve_stack(st) as path:
        yield st, str(path)


async def test_status_is_the_default_and_json_is_typed(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (_, sock):
            plain = await run_ctl("--socket", sock)
            assert plain.code == 0
            assert "state: idle" in plain.out
            assert "paused: no" in plain.out
            as_json = await run_ctl("status", "--json", "--socket", sock)
            assert as_json.code == 0
            assert as_json.json() == {
                "state": "idle",
                "paused": False,
                "queue_length": 0,
                "progress": 0.0,
                "remaining_sec": 0.0,
                "planner": "builtin",
                "journal": "ok",
            }


async def test_donate_queue_remove_clear_history(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (st, sock):
            assert (await run_ctl("--socket", sock, "pause")).code == 0
            run = await run_ctl(
                "--socket", sock, "donate", "--name", "Маша", "--amount", "150",
                "--currency", "usd", "нарисуй", "кота\\с", "--json",
            )  # fmt: skip
            assert run.code == 0, run.err
            first = run.json()
            assert first["message"] == "нарисуй кота\\с"
            assert first["donor"] == "Маша"
            assert first["amount"] == 150.0
            assert first["currency"] == "USD"
            await run_ctl("--socket", sock, "donate", "дом")
            await run_ctl("--socket", sock, "donate", "лес")
            queue = (await run_ctl("--socket", sock, "--json", "queue")).json()
            assert queue["length"] == 3
            items = queue["items"]
            assert isinstance(items, list)
            assert [i["message"] for i in items] == ["нарисуй кота\\с", "дом", "лес"]
            human = await run_ctl("--socket", sock, "queue")
            assert "#1 [queued] Маша 150 USD: нарисуй кота\\с" in human.out
            assert (await run_ctl("--socket", sock, "remove", "2")).code == 0
            assert [i.donation.message for i in st.queue.pending.values()] == [
                "нарисуй кота\\с",
                "лес",
            ]
            cleared = await run_ctl("--socket", sock, "--json", "clear")
            assert cleared.json() == {"cleared": 2}
            history = (await run_ctl("--socket", sock, "history", "2", "--json")).json()
            assert [i["id"] for i in history["items"]] == [3, 2]
            assert {i["status"] for i in history["items"]} == {"skipped"}
            empty = (await run_ctl("--socket", sock, "queue", "--json")).json()
            assert empty == {"paused": True, "length": 0, "items": []}


async def test_skip_current_pause_resume_replay_ping_commands(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (st, sock):
            assert (await run_ctl("--socket", sock, "pause")).code == 0
            assert "paused: yes" in (await run_ctl("--socket", sock)).out
            item = (await run_ctl("--socket", sock, "donate", "кот", "--json")).json()
            assert st.worker.phase == "idle"
            assert (await run_ctl("--socket", sock, "resume")).code == 0
            await st.wait_for("finished", item["id"])
            current = (await run_ctl("--socket", sock, "current", "--json")).json()
            assert (current["id"], current["state"], current["status"]) == (
                item["id"],
                "holding",
                "shown",
            )
            skipped = (await run_ctl("--socket", sock, "skip", "--json")).json()
            assert skipped == {"skipped": True, "id": item["id"]}
            await trio.testing.wait_all_tasks_blocked()
            assert st.worker.phase == "idle"
            again = (await run_ctl("--socket", sock, "replay", str(item["id"]), "--json")).json()
            assert again["message"] == "кот"
            assert again["source"] == "replay"
            await st.wait_for("finished", again["id"])
            stats = (await run_ctl("--socket", sock, "stats", "1", "--json")).json()
            assert isinstance(stats["frames"], int)
            assert isinstance(stats["late_percent"], float)
            assert stats["frames"] > 0
            ping = (await run_ctl("--socket", sock, "ping", "--json")).json()
            assert ping["protocol"] == "1.0"
            listed = await run_ctl("--socket", sock, "commands")
            assert "command: donate" in listed.out


async def test_acks_exit_1_with_the_daemons_message(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (_, sock):
            run = await run_ctl("--socket", sock, "remove", "99")
            assert run.code == 1
            assert run.err == "drawstreamctl: no queued item 99\n"
            run = await run_ctl("--socket", sock, "replay", "99")
            assert run.code == 1
            run = await run_ctl("--socket", sock, "donate", "--currency", "рубли", "кот")
            assert run.code == 1
            assert "currency" in run.err
            run = await run_ctl("--socket", sock, "history", "0")
            assert run.code == 1
            assert "between 1 and 500" in run.err


async def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (st, sock):
            await st.commands.pause()
            assert (await run_ctl("--socket", sock, "frobnicate")).code == 2
            assert (await run_ctl("--socket", sock, "remove", "abc")).code == 2
            assert (await run_ctl("--socket", sock, "donate")).code == 2
            run = await run_ctl("--socket", sock, "donate", "x" * 5000)
            assert run.code == 2
            assert "longer than 4096" in run.err
            assert (await run_ctl("--socket", sock, "donate", "a\nb")).code == 2
            assert len(st.queue) == 0


async def test_daemon_not_running_exits_3_with_a_hint(tmp_path: Path) -> None:
    with trio.fail_after(20):
        run = await run_ctl("--socket", str(tmp_path / "nothing.sock"), "status")
        assert run.code == 3
        assert "drawstreamd is not running" in run.err
        assert "systemctl --user start drawstreamd" in run.err


async def test_events_follow_notifications_as_json_lines(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (st, sock):
            proc_env = {**os.environ, "PYTHONPATH": os.getcwd()}
            async with trio.open_nursery() as nursery:
                proc: trio.Process = await nursery.start(
                    functools.partial(
                        trio.run_process,
                        [sys.executable, "-m", "drawstreamd.ctl", "--socket", sock, "events"],
                        stdout=-1,
                        check=False,
                        env=proc_env,
                    )
                )
                assert proc.stdout is not None
                # the client is subscribed once its idle waits (the harness's spy is one already)
                while len(st.events._subs) < 2:
                    await trio.sleep(0.01)
                await st.commands.donate("кот", "Маша")
                buf = b""
                while b'"finished"' not in buf:
                    buf += await proc.stdout.receive_some(4096)
                proc.terminate()
            lines = [json.loads(line) for line in buf.decode().splitlines()]
            kinds = [line["kind"] for line in lines]
            assert kinds[:2] == ["queued", "started"]
            assert kinds[-1] == "finished"
            assert "step" in kinds
            assert set(kinds[2:-1]) <= {"step", "planned"}
            assert {line["item_id"] for line in lines} == {1}
            assert lines[0]["data"]["donor"] == "Маша"
            assert lines[0]["at"] > 0


async def test_token_prints_the_generated_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(20):
        monkeypatch.delenv("API_TOKEN", raising=False)
        run = await run_ctl("token", "--state-dir", str(tmp_path))
        assert run.code == 3
        assert "no API token" in run.err
        (tmp_path / "api_token").write_text("s3cret\n")
        run = await run_ctl("token", "--state-dir", str(tmp_path))
        assert (run.code, run.out) == (0, "s3cret\n")
        monkeypatch.setenv("STATE_DIR", str(tmp_path))
        assert (await run_ctl("token")).out == "s3cret\n"


async def test_token_rotate_replaces_the_token_the_daemon_holds(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (st, sock):
            run = await run_ctl("--socket", sock, "token", "--rotate")
            assert run.code == 1
            assert run.err == "drawstreamctl: the HTTP API is not running\n"
            path = tmp_path / "api_token"
            path.write_text("old-token\n")
            st.commands.credentials = Credentials("old-token", path=path)
            run = await run_ctl("--socket", sock, "token", "--rotate")
            assert run.code == 0, run.err
            new = run.out.strip()
            assert new != "old-token"
            assert path.read_text() == new + "\n"
            assert st.commands.credentials.matches(new)
            assert not st.commands.credentials.matches("old-token")
            as_json = (await run_ctl("--socket", sock, "token", "--rotate", "--json")).json()
            assert as_json["rotated"] is True
            assert as_json["token"] == path.read_text().strip() != new
            st.commands.credentials = Credentials("configured", path=None)
            run = await run_ctl("--socket", sock, "token", "--rotate")
            assert run.code == 1
            assert "API_TOKEN from the configuration: change it there" in run.err


async def test_mod_url_prints_an_address_with_a_one_time_code(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with daemon(tmp_path) as (st, sock):
            creds = Credentials("the-token", path=None)
            st.commands.credentials = creds
            run = await run_ctl("--socket", sock, "mod-url")
            assert run.code == 1
            assert "not listening yet" in run.err
            creds.port = 8765
            run = await run_ctl("--socket", sock, "mod-url")
            assert run.code == 0, run.err
            url, code = run.out.strip().split("#code=")
            assert url == "http://127.0.0.1:8765/mod"
            assert creds.redeem(code) == "the-token"
            assert creds.redeem(code) is None
            as_json = (
                await run_ctl("--socket", sock, "mod-url", "--host", "localhost", "--json")
            ).json()
            assert as_json["url"].startswith("http://localhost:8765/mod#code=")
            assert as_json["expires_in_sec"] == 600
            run = await run_ctl("--socket", sock, "mod-url", "--host", "phone.lan")
            assert run.code == 1
            assert "add it to API_ALLOWED_HOSTS" in run.err


def test_default_socket_follows_the_daemons_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from drawstreamd import config

    monkeypatch.delenv("CONTROL_SOCKET", raising=False)
    monkeypatch.delenv("STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert Path(ctl.default_socket()) == config.load(None).control_socket()
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", "/home/u/.state")
    assert Path(ctl.default_socket()) == config.load(None).control_socket()
    monkeypatch.setenv("CONTROL_SOCKET", "/tmp/x.sock")
    assert Path(ctl.default_socket()) == config.load(None).control_socket()


async def test_drawstreamctl_loads_nothing_heavy(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from drawstreamd import ctl\n"
        "code = ctl.main(['--socket', sys.argv[1], '--json', 'status'])\n"
        "heavy = sorted(m for m in ('trio', 'pygame', 'pydantic', 'msgspec', 'quart',"
        " 'hypercorn', 'httpx', 'sqlite3') if m in sys.modules)\n"
        "print('HEAVY', heavy, code)\n"
    )
    with trio.fail_after(20):
        async with daemon(tmp_path) as (_, sock):
            result = await trio.run_process(
                [sys.executable, "-c", script, sock],
                capture_stdout=True,
                env={**os.environ, "PYTHONPATH": os.getcwd()},
            )
    out = result.stdout.decode()
    assert '"state": "idle"' in out
    assert out.strip().endswith("HEAVY [] 0")


def test_every_subcommand_parses_alone_as_in_the_full_parser() -> None:
    """The fast path builds one subcommand's parser; it must read argv as the full one does."""
    cases = [
        ["status"],
        [],
        ["--json"],
        ["--socket", "/x", "queue", "--json"],
        ["history", "5", "--offset", "2"],
        ["remove", "3"],
        ["replay", "4"],
        ["donate", "--name", "N", "--amount", "1.5", "--currency", "EUR", "нарисуй", "кота"],
        ["events", "queued", "started"],
        ["stats", "2"],
        ["token", "--state-dir", "/s"],
        ["token", "--rotate", "--socket", "/x"],
        ["mod-url", "--host", "phone.lan"],
        ["mod-url", "--json"],
        ["--timeout", "3", "skip"],
    ]
    for argv in cases:
        fast = ctl.build_parser(ctl._pick(argv)).parse_args(argv)
        full = ctl.build_parser().parse_args(argv)
        assert vars(fast) == vars(full), argv
    assert {ctl._pick([c]) for c in ctl.COMMANDS} == set(ctl.COMMANDS)
    assert ctl._pick(["frobnicate"]) is None
    assert ctl._pick(["--help"]) is None  # the full list of subcommands
