"""The control socket, spoken to byte for byte like a person with socat would."""

from __future__ import annotations

import contextlib
import socket
import stat
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing
from test_control_harness import Stack, open_stack

from drawstreamd.control.unix import ControlSocketError, ControlSocketInUse, serve_unix

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


class Raw:
    """A line-at-a-time client over a real Unix socket."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = bytearray()

    async def line(self) -> str:
        while b"\n" not in self.buf:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError(bytes(self.buf))
            self.buf += data
        nl = self.buf.index(b"\n")
        out = bytes(self.buf[:nl]).decode()
        del self.buf[: nl + 1]
        return out

    async def send(self, data: bytes | str) -> None:
        await self.stream.send_all(data.encode() if isinstance(data, str) else data)

    async def reply(self) -> list[str]:
        """Lines up to and including OK or ACK."""
        lines = []
        while True:
            line = await self.line()
            lines.append(line)
            if line == "OK" or line.startswith("ACK "):
                return lines

    async def ask(self, request: str) -> list[str]:
        await self.send(request + "\n")
        return await self.reply()

    async def closed(self) -> bool:
        data = await self.stream.receive_some(100)
        return data == b""


@contextlib.asynccontextmanager
async def served(tmp_path: Path, **kw: object) -> AsyncIterator[tuple[Stack, Path]]:
    async with open_stack(tmp_path) as st, serve_stack(st, **kw) as path:
        yield st, path


@contextlib.asynccontextmanager
async def serve_stack(st: Stack, **kw: object) -> AsyncIterator[Path]:
    async with trio.open_nursery() as nursery:
        path = await nursery.start(
            lambda task_status: serve_unix(
                st.settings,
                st.commands,
                st.events,
                path=st.socket_path(),
                task_status=task_status,
                **kw,  # type: ignore[arg-type]
            )
        )
        yield path
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def connect(path: Path) -> AsyncIterator[Raw]:
    stream = await trio.open_unix_socket(str(path))
    async with stream:
        raw = Raw(stream)
        assert await raw.line() == "OK drawstreamd 1.0"
        yield raw


async def test_socket_is_owner_only_in_an_owner_only_directory(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with served(tmp_path) as (_, path):
            assert stat.S_ISSOCK(path.stat().st_mode)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert not path.exists()  # removed on shutdown


async def test_status_queue_and_donate_transcript(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with served(tmp_path) as (st, path), connect(path) as c:
            assert await c.ask("status") == [
                "state: idle",
                "paused: 0",
                "queue_length: 0",
                "progress: 0.0",
                "remaining_sec: 0.0",
                "planner: builtin",
                "journal: ok",
                "OK",
            ]
            assert await c.ask("pause") == ["paused: 1", "OK"]
            reply = await c.ask('donate "нарисуй \\"кота\\"" Маша 100 usd')
            assert reply[0] == "id: 1"
            assert "donor: Маша" in reply
            assert 'message: нарисуй "кота"' in reply
            assert "currency: USD" in reply
            await c.ask("donate дом")
            reply = await c.ask("queue")
            assert reply[:2] == ["paused: 1", "length: 2"]
            assert [line for line in reply if line.startswith("id: ")] == ["id: 1", "id: 2"]
            assert "donor: Anonymous" in reply
            assert "verdict: allowed" in reply
            assert len(st.queue) == 2
            # operators see what the gatekeeper refused, and why (viewers never do)
            reply = await c.ask('donate "draw a swastika flag" troll')
            assert "message: draw a swastika flag" in reply
            assert "verdict: refused" in reply
            assert "rule: hate:swastika" in reply
            history = await c.ask("history 1")
            assert "verdict: refused" in history
            assert "rule: hate:swastika" in history


async def test_errors_are_acks_and_the_connection_lives_on(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with served(tmp_path) as (st, path), connect(path) as c:
            assert await c.ask("frobnicate") == [
                'ACK [5@0] {frobnicate} unknown command "frobnicate"'
            ]
            assert await c.ask("remove") == [
                "ACK [2@0] {remove} wrong number of arguments; usage: remove ID"
            ]
            assert await c.ask("remove abc") == [
                "ACK [2@0] {remove} id must be a whole number, got 'abc'"
            ]
            assert await c.ask("remove 7") == ["ACK [50@0] {remove} no queued item 7"]
            assert await c.ask('donate "unterminated') == ["ACK [2@0] {} missing closing quote"]
            assert await c.ask("") == ["ACK [5@0] {} no command given"]
            assert await c.ask("donate кот x -5") == [
                "ACK [2@0] {donate} donate: Expected `float` >= 0.0 - at `$.amount`"
            ]
            await c.send(b"status \xff\xfe\n")
            assert await c.reply() == ["ACK [2@0] {} line is not valid UTF-8"]
            await c.send(b"donate " + b"a" * 5000 + b"\n")
            assert await c.reply() == ["ACK [2@0] {} line longer than 4096 bytes"]
            assert (await c.ask("ping"))[-1] == "OK"
            assert len(st.queue) == 0


async def test_long_line_split_over_many_packets_is_refused_once(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with served(tmp_path) as (_, path), connect(path) as c:
            for _ in range(10):
                await c.send(b"x" * 1000)
            await c.send(b"\nping\n")
            assert await c.reply() == ["ACK [2@0] {} line longer than 4096 bytes"]
            assert (await c.reply())[-1] == "OK"


async def test_skip_clear_pause_resume_remove(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as (st, path), connect(path) as c:
            assert await c.ask("skip") == ["skipped: 0", "OK"]
            assert await c.ask("pause") == ["paused: 1", "OK"]
            for word in ("кот", "дом", "лес"):
                await c.ask(f"donate {word}")
            assert st.worker.phase == "idle"  # paused: nothing starts
            assert await c.ask("resume") == ["paused: 0", "OK"]
            await st.wait_for("started", 1)
            assert await c.ask("pause") == ["paused: 1", "OK"]
            await st.wait_for("finished", 1)
            current = await c.ask("current")
            assert current[:8] == [
                "state: holding",
                "id: 1",
                "status: shown",
                "donor: Anonymous",
                "message: кот",
                "amount: 0.0",
                "currency: RUB",
                "source: test",
            ]
            assert 0.0 <= float(current[8].removeprefix("progress: ")) <= 1.0
            assert 0 < float(current[9].removeprefix("remaining_sec: ")) <= 60
            assert await c.ask("skip") == ["skipped: 1", "id: 1", "OK"]
            await trio.testing.wait_all_tasks_blocked()  # the hold ends; paused: nothing next
            assert (await c.ask("status"))[:3] == ["state: idle", "paused: 1", "queue_length: 2"]
            assert await c.ask("remove 2") == ["removed: 1", "id: 2", "OK"]
            assert await c.ask("clear") == ["cleared: 1", "OK"]
            assert len(st.queue) == 0
            history = await c.ask("history 3")
            assert [line for line in history if line.startswith("id: ")] == [
                "id: 3",
                "id: 2",
                "id: 1",
            ]
            assert [line for line in history if line.startswith("status: ")] == [
                "status: skipped",
                "status: skipped",
                "status: shown",
            ]
            assert "reason: removed by operator" in history
            assert "reason: cleared by operator" in history


async def test_idle_reports_events_and_noidle_ends_it(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as (st, path), connect(path) as c, connect(path) as other:
            await other.ask("pause")  # before c's first idle: c never hears of it
            await c.send("idle queued\n")
            await trio.testing.wait_all_tasks_blocked()
            await other.ask("resume")  # not asked for: no wake-up
            await other.ask("pause")
            await other.ask("donate кот")
            reply = await c.reply()
            assert reply[0] == "changed: queued"
            assert reply[1] == "item_id: 1"
            assert reply[-2].startswith('data: {"amount":0.0,"approval":null,"check":"off"')
            assert '"message":"кот"' in reply[-2]
            assert '"verdict":"allowed"' in reply[-2]
            assert reply[-1] == "OK"
            # events that happen between two idles are kept for the next one
            await other.ask("resume")
            await st.wait_for("finished", 1)
            # idle with kinds answers those; the others wait for a later idle, in order
            reply = await c.ask("idle resumed")
            assert [line for line in reply if line.startswith("changed: ")] == [
                "changed: resumed",
                "changed: resumed",
            ]
            reply = await c.ask("idle")
            kinds = [line for line in reply if line.startswith("changed: ")]
            assert kinds[:2] == ["changed: paused", "changed: started"]
            assert kinds[-1] == "changed: finished"
            assert "changed: step" in kinds
            assert set(kinds[2:-1]) <= {"changed: step", "changed: planned"}
            await c.send("idle\n")
            await trio.testing.wait_all_tasks_blocked()
            assert await c.ask("noidle") == ["OK"]
            await c.send("idle\n")
            await trio.testing.wait_all_tasks_blocked()
            assert await c.ask("status") == ["ACK [55@0] {idle} only noidle is allowed while idle"]
            reply = await c.ask("idle nonsense")
            assert reply[0].startswith(
                "ACK [2@0] {idle} unknown event kind 'nonsense'; known: queued started step"
            )


async def test_commands_close_and_command_lists(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with served(tmp_path) as (st, path), connect(path) as c:
            listed = await c.ask("commands")
            assert "command: donate" in listed
            assert "command: idle" in listed
            await c.send("command_list_ok_begin\ndonate a\ndonate b\ncommand_list_end\n")
            reply = await c.reply()
            assert reply.count("list_OK") == 2
            assert reply[-1] == "OK"
            await c.send("command_list_begin\npause\nremove 99\nresume\ncommand_list_end\n")
            assert (await c.reply())[-1] == "ACK [50@1] {remove} no queued item 99"
            assert st.queue.paused  # the first command ran, the third did not
            assert await c.ask("command_list_end") == [
                "ACK [1@0] {command_list_end} not in a command list"
            ]
            await c.send("close\n")
            assert await c.closed()


async def test_idle_timeout_closes_a_silent_client_but_not_a_talking_one(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with (
            served(tmp_path, idle_timeout=0.5) as (_, path),
            connect(path) as silent,
            connect(path) as talking,
        ):
            start = trio.current_time()
            for _ in range(8):
                await trio.sleep(0.1)
                assert (await talking.ask("ping"))[-1] == "OK"
            assert await silent.closed()
            assert trio.current_time() - start >= 0.5
            assert (await talking.ask("ping"))[-1] == "OK"
            # a client waiting in idle is never timed out
            await talking.send("idle\n")
            await trio.sleep(0.8)
            assert await talking.ask("noidle") == ["OK"]


async def test_too_many_clients_get_an_ack_and_the_rest_still_work(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with served(tmp_path, max_clients=3) as (_, path):
            async with contextlib.AsyncExitStack() as stack:
                clients = [await stack.enter_async_context(connect(path)) for _ in range(3)]
                stream = await trio.open_unix_socket(str(path))
                async with stream:
                    extra = Raw(stream)
                    assert await extra.line() == (
                        "ACK [57@0] {} too many clients (3); try again later"
                    )
                    assert await extra.closed()
                for c in clients:
                    assert (await c.ask("ping"))[-1] == "OK"
            async with connect(path) as again:  # slots are given back
                assert (await again.ask("ping"))[-1] == "OK"


async def test_stale_socket_is_replaced_and_live_one_refused(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_stack(tmp_path) as st:
            path = st.socket_path()
            path.parent.mkdir(mode=0o700)
            dead = socket.socket(socket.AF_UNIX)
            dead.bind(str(path))
            dead.close()  # a socket file nobody listens on: what a crash leaves
            async with serve_stack(st) as live_path:
                assert live_path == path
                async with connect(path) as c:
                    assert (await c.ask("ping"))[-1] == "OK"
                with pytest.raises(ControlSocketInUse, match="another drawstreamd is running"):
                    await serve_unix(st.settings, st.commands, st.events, path=path)
                async with connect(path) as c:  # the first daemon still answers
                    assert (await c.ask("ping"))[-1] == "OK"


async def test_a_regular_file_in_the_way_is_not_deleted(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_stack(tmp_path) as st:
            path = st.socket_path()
            path.parent.mkdir(mode=0o700)
            path.write_text("precious")
            with pytest.raises(ControlSocketError, match="not a socket"):
                await serve_unix(st.settings, st.commands, st.events, path=path)
            assert path.read_text() == "precious"


async def test_many_clients_at_once(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with served(tmp_path) as (st, path):
            await st.commands.pause()
            results: list[str] = []

            async def one(n: int) -> None:
                async with connect(path) as c:
                    reply = await c.ask(f"donate n{n}")
                    results.append(reply[-1])

            async with trio.open_nursery() as nursery:
                for n in range(100):
                    nursery.start_soon(one, n)
            assert results == ["OK"] * 100
            assert len(st.queue) == 100


async def test_a_client_that_never_reads_is_dropped_and_others_carry_on(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path, send_timeout=0.5) as (st, path):
            await st.commands.pause()
            for n in range(20):
                await st.commands.donate(f"{n} " + "очень длинное сообщение " * 20)
            async with connect(path) as greedy, connect(path) as polite:
                hung_up = False
                with trio.move_on_after(5):
                    try:
                        while True:  # requests, never reading a reply
                            await greedy.send(b"history 500\n" * 100)
                    except trio.BrokenResourceError:
                        hung_up = True  # the daemon gave up on it
                assert hung_up
                assert (await polite.ask("ping"))[-1] == "OK"
                assert await drained_to_the_end(greedy)


async def drained_to_the_end(client: Raw) -> bool:
    """Read what the daemon sent before it hung up; True once the connection has ended."""
    try:
        while True:
            await client.line()
    except (EOFError, trio.BrokenResourceError):
        return True


async def test_hanging_up_in_any_state_is_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as (_, path):
            for request in (b"idle\n", b"command_list_begin\nping\n", b"stat", b""):
                async with connect(path) as c:
                    await c.send(request)
                    await trio.testing.wait_all_tasks_blocked()
            async with connect(path) as c:  # the socket still serves
                assert (await c.ask("ping"))[-1] == "OK"
            await trio.testing.wait_all_tasks_blocked()
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


async def test_an_impossible_socket_path_is_a_one_line_error(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_stack(tmp_path) as st:
            blocker = st.run_dir / "file"
            blocker.write_text("")
            for path, why in (
                (st.run_dir / ("x" * 120) / "control.sock", "longer than 107 bytes"),
                (blocker / "control.sock", "cannot create"),
            ):
                with pytest.raises(ControlSocketError, match=why) as err:
                    await serve_unix(st.settings, st.commands, st.events, path=path)
                assert "\n" not in str(err.value)
