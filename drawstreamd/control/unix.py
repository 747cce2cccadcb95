"""The control socket: the line protocol of :mod:`drawstreamd.control.protocol` over a Unix socket.

Only the owner may connect (the socket is 0600; a directory it creates is 0700), so the
socket needs no password. Each connection runs in its own task: it reads one line at a time,
asks :class:`~drawstreamd.control.commands.Commands`, and writes the reply. A client that
says nothing for ``idle_timeout`` seconds (outside ``idle``) is disconnected; past
``max_clients`` connections a newcomer gets one ACK line and is closed.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import math
import os
import socket as stdsocket
import stat
from typing import TYPE_CHECKING

import msgspec
import trio

from drawstreamd.control.protocol import (
    IDLE_TIMEOUT_SEC,
    MAX_LINE,
    PROTOCOL_VERSION,
    ErrorCode,
    ProtocolError,
    decode_line,
    format_ack,
    format_pairs,
    split_line,
)
from drawstreamd.model import EVENT_KINDS, Event

if TYPE_CHECKING:
    from pathlib import Path

    from drawstreamd.config import Settings
    from drawstreamd.control.commands import Commands, CommandSpec
    from drawstreamd.events import EventBus, Subscription

log = logging.getLogger("drawstreamd.control")

MAX_CLIENTS = 256
SEND_TIMEOUT_SEC = 10.0
BACKLOG = 1000
MAX_PATH = 107
_ACCEPT_PAUSE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_BUILTINS = (
    "close",
    "command_list_begin",
    "command_list_end",
    "command_list_ok_begin",
    "commands",
    "idle",
    "noidle",
)


class ControlSocketError(Exception):
    """The control socket cannot be set up; the message is one line for the operator."""


class ControlSocketInUse(ControlSocketError):
    """Another daemon answers on the control socket."""


class _Close(Exception):
    pass


def _prepare_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_PATH:
        raise ControlSocketError(
            f"control socket {path}: path longer than {MAX_PATH} bytes (a Unix socket limit);"
            " choose a shorter --socket"
        )
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise ControlSocketError(f"control socket {path}: cannot create {parent}: not a directory")
    if not parent.exists():
        try:
            parent.mkdir(mode=0o700, parents=True)
            os.chmod(parent, 0o700)
        except OSError as exc:
            raise ControlSocketError(
                f"control socket {path}: cannot create {parent}: {exc.strerror}"
            ) from None
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ControlSocketError(f"control socket {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(f"control socket {path}: exists and is not a socket; remove it")
    probe = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # stale: left by a daemon that died
        return
    except OSError:
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise ControlSocketInUse(
        f"control socket {path}: another drawstreamd is running there "
        "(stop it, or give this one another --socket)"
    )


def _inode(path: Path) -> int:
    return path.stat().st_ino


def _remove_if_ours(path: Path, inode: int) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_ino == inode:
            path.unlink()


async def serve_unix(
    settings: Settings,
    commands: Commands,
    events: EventBus,
    *,
    path: Path,
    max_clients: int = MAX_CLIENTS,
    idle_timeout: float = IDLE_TIMEOUT_SEC,
    send_timeout: float = SEND_TIMEOUT_SEC,
    task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control protocol on the Unix socket ``path`` until cancelled.

    Owns the socket file (replacing a stale one, removing it on exit) and one task per
    client. ``task_status.started(path)`` once listening. Raises :class:`ControlSocketInUse`
    when another daemon answers on ``path``, :class:`ControlSocketError` when the socket
    cannot be made (path too long, directory not writable…).
    """
    _prepare_path(path)
    sock = trio.socket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        await sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ControlSocketError(
            f"control socket {path}: cannot listen: {exc.strerror or exc}"
        ) from None
    finally:
        os.umask(old_umask)
    inode = _inode(path)
    listener = trio.SocketListener(sock)
    table = commands.table()
    active = 0
    try:
        async with listener, trio.open_nursery() as nursery:
            task_status.started(path)
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:
                    if exc.errno in _ACCEPT_PAUSE_ERRNOS:
                        await trio.sleep(0.1)
                        continue
                    raise
                if active >= max_clients:
                    nursery.start_soon(_refuse, stream, max_clients)
                    continue
                active += 1

                async def run(stream: trio.SocketStream = stream) -> None:
                    nonlocal active
                    try:
                        conn = _Connection(
                            stream, table, events, idle_timeout, commands.gate, send_timeout
                        )
                        await conn.serve()
                    finally:
                        active -= 1

                nursery.start_soon(run)
    finally:
        _remove_if_ours(path, inode)


async def _refuse(stream: trio.SocketStream, limit: int) -> None:
    with trio.move_on_after(1.0):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            line = format_ack(ErrorCode.BUSY, f"too many clients ({limit}); try again later")
            await stream.send_all((line + "\n").encode())
    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
        await stream.aclose()


class _Connection:
    def __init__(
        self,
        stream: trio.SocketStream,
        table: dict[str, CommandSpec],
        events: EventBus,
        idle_timeout: float,
        gate: trio.CapacityLimiter,
        send_timeout: float,
    ) -> None:
        self.stream = stream
        self.gate = gate
        self.send_timeout = send_timeout
        self.table = table
        self.events = events
        self.idle_timeout = idle_timeout
        self.buf = bytearray()
        self.sub: Subscription | None = None
        self.missed_reported = 0
        self.backlog: collections.deque[Event] = collections.deque(maxlen=BACKLOG)
        self.backlog_missed = 0

    async def serve(self) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                self.stack = stack
                await self._send(f"OK drawstreamd {PROTOCOL_VERSION}\n")
                while True:
                    try:
                        raw = await self._read_line(self.idle_timeout)
                    except ProtocolError as exc:
                        await self._send(exc.ack() + "\n")
                        continue
                    if raw is None:
                        return
                    await self._handle(raw)
        except (_Close, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except trio.TooSlowError:
            log.info("control client not reading its replies; disconnected")
        except Exception:
            # one client's trouble must never take the socket down for the others
            log.exception("control connection failed")
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await self.stream.aclose()

    async def _read_line(self, within: float = math.inf) -> bytes | None:
        """One line without its newline; None at end of input or after ``within`` s of silence."""
        too_long = False
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                if too_long:
                    raise ProtocolError(ErrorCode.ARG, f"line longer than {MAX_LINE} bytes")
                return line
            if len(self.buf) >= MAX_LINE:
                too_long = True
                self.buf.clear()
            data = b""
            with trio.move_on_after(within):
                data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.buf += data

    async def _send(self, text: str) -> None:
        with trio.fail_after(self.send_timeout):
            await self.stream.send_all(text.encode("utf-8"))

    # -- one request line ----------------------------------------------------------------
    async def _handle(self, raw: bytes) -> None:
        try:
            words = split_line(decode_line(raw))
        except ProtocolError as exc:
            await self._send(exc.ack() + "\n")
            return
        if not words:
            await self._send(format_ack(ErrorCode.UNKNOWN, "no command given") + "\n")
            return
        name = words[0]
        if name == "close":
            raise _Close
        if name in ("command_list_begin", "command_list_ok_begin"):
            await self._command_list(ok_each=name == "command_list_ok_begin")
            return
        if name == "idle":
            await self._idle(words[1:])
            return
        try:
            lines = await self._run(words)
        except ProtocolError as exc:
            exc.command = exc.command or name
            await self._send(exc.ack() + "\n")
            return
        await self._send("".join(line + "\n" for line in lines) + "OK\n")

    async def _run(self, words: list[str]) -> list[str]:
        name, args = words[0], words[1:]
        if name == "commands":
            return [f"command: {c}" for c in sorted([*self.table, *_BUILTINS])]
        if name == "noidle":
            return []  # MPD ignores a noidle that comes after idle has already answered
        if name == "command_list_end":
            raise ProtocolError(ErrorCode.NOT_LIST, "not in a command list", name)
        if name in ("idle", "close", "command_list_begin", "command_list_ok_begin"):
            raise ProtocolError(ErrorCode.STATE, "not allowed inside a command list", name)
        spec = self.table.get(name)
        if spec is None:
            raise ProtocolError(ErrorCode.UNKNOWN, f'unknown command "{name}"', name)
        if not spec.min_args <= len(args) <= spec.max_args:
            raise ProtocolError(ErrorCode.ARG, f"wrong number of arguments; usage: {spec.usage}")
        async with self.gate:
            try:
                reply = await spec.run(args)
            except ProtocolError:
                raise
            except Exception as exc:
                log.exception("control command %s failed", name)
                raise ProtocolError(
                    ErrorCode.SYSTEM, f"internal error: {type(exc).__name__}"
                ) from None
            return format_pairs(msgspec.to_builtins(reply))

    async def _command_list(self, *, ok_each: bool) -> None:
        batch: list[list[str]] = []
        error: ProtocolError | None = None
        while True:
            raw = await self._read_line(self.idle_timeout)
            if raw is None:
                raise _Close
            try:
                words = split_line(decode_line(raw))
            except ProtocolError as exc:
                error = error or exc
                continue
            if words and words[0] == "command_list_end":
                break
            if words:
                batch.append(words)
        if error is not None:
            await self._send(error.ack() + "\n")
            return
        out: list[str] = []
        for index, words in enumerate(batch):
            try:
                out.extend(await self._run(words))
            except ProtocolError as exc:
                exc.command = exc.command or words[0]
                exc.index = index
                await self._send("".join(line + "\n" for line in out) + exc.ack() + "\n")
                return
            if ok_each:
                out.append("list_OK")
        await self._send("".join(line + "\n" for line in out) + "OK\n")

    # -- idle ----------------------------------------------------------------------------
    async def _idle(self, args: list[str]) -> None:
        unknown = [a for a in args if a not in EVENT_KINDS]
        if unknown:
            known = " ".join(EVENT_KINDS)
            msg = f"unknown event kind {unknown[0]!r}; known: {known}"
            await self._send(format_ack(ErrorCode.ARG, msg, "idle") + "\n")
            return
        kinds = frozenset(args) or None
        if self.sub is None:
            self.sub = await self.stack.enter_async_context(self.events.subscribe())
        sub = self.sub
        found = self._take(sub, kinds)
        ack: str | None = None
        hung_up = False
        if not found:
            async with trio.open_nursery() as nursery:

                async def wait_events() -> None:
                    while True:
                        await sub.wait()
                        found.extend(self._take(sub, kinds))
                        if found:
                            nursery.cancel_scope.cancel()
                            return

                async def wait_client() -> None:
                    nonlocal ack, hung_up
                    try:
                        raw = await self._read_line()
                    except ProtocolError as exc:
                        raw = b""
                        ack = exc.ack()
                    if raw is None:  # not raised here: the nursery would wrap it in a group
                        hung_up = True
                        nursery.cancel_scope.cancel()
                        return
                    if raw.strip() != b"noidle" and ack is None:
                        ack = format_ack(
                            ErrorCode.STATE, "only noidle is allowed while idle", "idle"
                        )
                    found.extend(self._take(sub, kinds))
                    nursery.cancel_scope.cancel()

                nursery.start_soon(wait_events)
                nursery.start_soon(wait_client)
        if hung_up:
            raise _Close
        if ack is not None:
            await self._send(ack + "\n")
            return
        lines: list[str] = []
        missed = sub.missed + self.backlog_missed
        if missed > self.missed_reported:
            lines.append(f"missed: {missed - self.missed_reported}")
            self.missed_reported = missed
        for event in found:
            lines.extend(_event_lines(event))
        await self._send("".join(line + "\n" for line in lines) + "OK\n")

    def _take(self, sub: Subscription, kinds: frozenset[str] | None) -> list[Event]:
        """The waiting events of ``kinds``; the others stay for a later ``idle`` (as in MPD)."""
        if sub.pending():
            for event in sub.drain():
                if len(self.backlog) == self.backlog.maxlen:
                    self.backlog_missed += 1
                self.backlog.append(event)
        if kinds is None:
            everything = list(self.backlog)
            self.backlog.clear()
            return everything
        out: list[Event] = []
        keep: list[Event] = []
        for event in self.backlog:
            (out if event.kind in kinds else keep).append(event)
        self.backlog.clear()
        self.backlog.extend(keep)
        return out


def _event_lines(event: Event) -> list[str]:
    fields = {"changed": event.kind, "item_id": event.item_id, "at": event.at}
    if event.data:
        fields["data"] = msgspec.to_builtins(event.data)
    return format_pairs(fields)
