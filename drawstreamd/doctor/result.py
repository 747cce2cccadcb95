"""What a doctor check is and what it reports: pure types, no I/O.

A check is an async callable taking the :class:`Context` and returning one or more
:class:`Result` lines. ``OK`` and ``WARN`` lines pass; a ``FAIL`` makes ``drawstreamd doctor``
exit non-zero. ``fix`` says, in words an operator understands, what to do about it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

    from drawstreamd.config import Settings


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Result:
    return Result(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str = "") -> Result:
    return Result(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Result:
    return Result(name, Status.FAIL, detail, fix)


@dataclass
class Context:
    """What every check may use. ``settings`` is None when the configuration does not load
    (only checks with ``needs_settings=False`` run then)."""

    settings: Settings | None
    http: httpx.AsyncClient
    daemon_pid: int | None = None
    """The daemon running on this state dir (it holds ``drawstreamd.lock``), if any."""
    headless: bool = False
    """``--headless``: the daemon would be started with it."""
    window: bool = True
    """False with ``--no-window``."""

    @property
    def config(self) -> Settings:
        """The settings, for checks that run only when the configuration loaded."""
        assert self.settings is not None
        return self.settings

    def held_by_daemon(self) -> str:
        return f"in use by the running daemon (pid {self.daemon_pid})"


@dataclass(frozen=True)
class Check:
    """One entry of the doctor's list: a name (for the line said when the check itself cannot
    finish) and the async callable that does the checking."""

    name: str
    run: Callable[[Context], Awaitable[list[Result]]]
    needs_settings: bool = True
