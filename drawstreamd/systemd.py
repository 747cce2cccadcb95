"""Talking to systemd: readiness, status, stopping and the watchdog (the ``sd_notify`` protocol).

systemd hands a ``Type=notify`` service the address of a datagram socket in ``NOTIFY_SOCKET``:
a file system path (``/run/user/1000/systemd/notify``) or, when it starts with ``@``, a name in
Linux's abstract socket namespace. Each datagram holds newline-separated ``KEY=value`` lines.
Outside systemd the variable is unset and every call here does nothing, so the daemon never
has to ask whether it runs under a service manager.

The watchdog (``WatchdogSec=`` in the unit) arrives as ``WATCHDOG_USEC``; systemd restarts the
service when no ``WATCHDOG=1`` comes within that time. :func:`serve_watchdog` sends one every
half period, but only while each of the daemon's loops proves it is still turning (a
*heartbeat*), so a hung renderer or worker is restarted instead of being kept alive by a
healthy timer task.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import trio

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

log = logging.getLogger("drawstreamd.systemd")

_KEY = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def _address(raw: str) -> str | bytes | None:
    """The socket address ``NOTIFY_SOCKET`` names, or None for a form we cannot use."""
    if raw.startswith("/"):
        return raw
    if raw.startswith("@") and len(raw) > 1:
        return b"\0" + raw[1:].encode()
    return None


class Notifier:
    """Sends ``sd_notify`` messages; does nothing when there is no ``NOTIFY_SOCKET``.

    Sending never blocks and never raises: a lost notification is logged, not fatal (systemd
    tolerates a missing STATUS; a missing WATCHDOG is exactly what it is there to notice).
    """

    def __init__(
        self,
        notify_socket: str | None = None,
        *,
        watchdog_usec: str | None = None,
        watchdog_pid: str | None = None,
    ) -> None:
        self._raw = notify_socket or None
        self._address = _address(self._raw) if self._raw else None
        if self._raw and self._address is None:
            log.warning(
                "NOTIFY_SOCKET=%s is not a form drawstreamd speaks; not notifying", self._raw
            )
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None
        self._last_status: str | None = None
        self._failed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for through the environment (a no-op one outside it)."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET"),
            watchdog_usec=env.get("WATCHDOG_USEC"),
            watchdog_pid=env.get("WATCHDOG_PID"),
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    # -- the wire ----------------------------------------------------------------------------
    def notify(self, **fields: str | int) -> bool:
        """Send one datagram of ``KEY=value`` lines; True when it left this process.

        Keys are systemd's (``READY``, ``STATUS``…). A newline inside a value would start a
        new assignment, so it is folded into a space.
        """
        lines = []
        for key, value in fields.items():
            if not _KEY.match(key):
                raise ValueError(f"sd_notify key must be upper case: {key!r}")
            text = str(value).replace("\r", " ").replace("\n", " ")
            lines.append(f"{key}={text}")
        if self._address is None or not lines:
            return False
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd at %s: %s", self._raw, exc)
            self._failed = True
            return False
        if self._failed:
            log.info("notifying systemd at %s again", self._raw)
            self._failed = False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- the messages --------------------------------------------------------------------------
    def ready(self, status: str | None = None) -> bool:
        """READY=1: the journal, renderer and control socket are up (also after a reload)."""
        if status is None:
            return self.notify(READY=1)
        self._last_status = status
        return self.notify(READY=1, STATUS=status)

    def status(self, text: str) -> bool:
        """STATUS=: the one line ``systemctl --user status`` shows; repeats are not resent."""
        if text == self._last_status:
            return False
        self._last_status = text
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def stopping(self) -> bool:
        """STOPPING=1: shutdown has begun; systemd waits for the exit instead of guessing."""
        return self.notify(STOPPING=1)

    def reloading(self) -> bool:
        """RELOADING=1 (with the monotonic time systemd 253+ asks for); follow with ready()."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING=1, MONOTONIC_USEC=usec)

    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 messages (half of WATCHDOG_USEC), or None when off.

        Off when nobody listens, when the value is not a positive integer, or when
        WATCHDOG_PID names another process (the watchdog was meant for a parent or child).
        """
        if not self.enabled or not self._watchdog_usec:
            return None
        if self._watchdog_pid and self._watchdog_pid.strip() != str(os.getpid()):
            return None
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            log.warning("WATCHDOG_USEC=%r is not a number; watchdog off", self._watchdog_usec)
            return None
        if usec <= 0:
            return None
        return usec / 2 / 1_000_000


class Heartbeat:
    """A loop's proof of life: call :meth:`beat` once per iteration; calling it reads the time.

    A loop that legitimately waits (a worker with an empty queue) wraps the wait in
    :meth:`idle`: while inside, the heartbeat counts as fresh. Times are ``trio.current_time()``;
    the heartbeat may be made before Trio runs, and its first reading starts the clock.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._last: float | None = None
        self._idle = 0

    def beat(self) -> None:
        self._last = trio.current_time()

    @contextmanager
    def idle(self) -> Iterator[None]:
        self._idle += 1
        try:
            yield
        finally:
            self._idle -= 1
            self.beat()

    def __call__(self) -> float:
        if self._idle or self._last is None:
            self._last = trio.current_time()
        return self._last

    def __repr__(self) -> str:
        return f"Heartbeat({self.name!r})"


def _name(heartbeat: Callable[[], float]) -> str:
    return str(getattr(heartbeat, "name", None) or getattr(heartbeat, "__name__", repr(heartbeat)))


async def serve_watchdog(
    notifier: Notifier,
    heartbeats: Sequence[Callable[[], float]],
    *,
    task_status: trio.TaskStatus[float | None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Keep systemd's watchdog fed while every heartbeat is fresh; runs until cancelled.

    ``task_status.started(interval)`` hands back the period in seconds, or None when systemd
    asked for no watchdog (then this task only sleeps). Every period it sends WATCHDOG=1 if
    each heartbeat (a function returning the ``trio.current_time()`` of its loop's last
    iteration) is younger than one period; otherwise it withholds the message and logs which
    loop is stalled, and systemd restarts the service after ``WatchdogSec=``. Owns nothing but
    its timer; the notifier's socket belongs to the caller.
    """
    interval = notifier.watchdog_interval()
    task_status.started(interval)
    if interval is None:
        await trio.sleep_forever()
    stalled: set[str] = set()
    while True:
        now = trio.current_time()
        late = {_name(hb): now - hb() for hb in heartbeats}
        late = {name: age for name, age in late.items() if age >= interval}
        for name in sorted(late.keys() - stalled):
            log.error(
                "watchdog withheld: %s has not turned for %.1fs; systemd will restart us",
                name,
                late[name],
            )
        for name in sorted(stalled - late.keys()):
            log.warning("watchdog: %s is turning again", name)
        stalled = set(late)
        if not late:
            notifier.watchdog()
        await trio.sleep(interval)
