"""Doctor checks of the state dir: writable, the journal, the files that hold tokens.

The daemon's lock (``<state>/drawstreamd.lock``) says whether a daemon runs on this state
dir; what it holds is then "in use by the running daemon", not a problem.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import stat
import tempfile
from typing import TYPE_CHECKING

import trio

from drawstreamd.doctor.result import Result, fail, ok, warn
from drawstreamd.journal import Journal, JournalError

if TYPE_CHECKING:
    from pathlib import Path

    from drawstreamd.doctor.result import Context

LOCK_FILE = "drawstreamd.lock"
JOURNAL_FILE = "journal.sqlite3"
_ELSEWHERE = "or choose another directory with --state-dir or STATE_DIR"


def daemon_pid(state_dir: Path) -> int | None:
    """The pid of the daemon holding the state dir's lock, or None when none runs.

    Probes with a shared lock taken and dropped at once (a running daemon holds it
    exclusively); the pid is the one the daemon wrote into the lock file.
    """
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path  # not reached: the root (or ".") exists


def can_create_in(directory: Path) -> str | None:
    """None when a file can be created in ``directory`` (tried for real), else why not."""
    if not directory.is_dir():
        return f"{directory} is not a directory"
    try:
        fd, probe = tempfile.mkstemp(prefix=".doctor-", dir=directory)
    except OSError as exc:
        return f"{directory} is not writable ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def _state_dir(path: Path) -> Result:
    name = "state dir"
    if path.exists():
        why = can_create_in(path)
        if why is None:
            return ok(name, f"{path} is writable")
        q = shlex.quote(str(path))
        if not path.is_dir():
            return fail(name, why, f"remove or rename {q}, {_ELSEWHERE}")
        return fail(name, why, f"make it yours and writable (`chmod u+rwx {q}`), {_ELSEWHERE}")
    base = nearest_existing(path.parent)
    why = can_create_in(base)
    if why is not None:
        return fail(name, f"{path} cannot be created: {why}", f"create it yourself, {_ELSEWHERE}")
    return ok(name, f"{path} does not exist yet; the daemon creates it")


async def state_dir(ctx: Context) -> list[Result]:
    return [await trio.to_thread.run_sync(_state_dir, ctx.config.STATE_DIR)]


def _journal(path: Path) -> Result:
    name = "journal"
    if not path.exists():
        return ok(name, f"{path} does not exist yet; the daemon starts a fresh one")
    try:
        Journal.open(path).close()
    except JournalError as exc:
        q = shlex.quote(str(path))
        text = str(exc)
        if "locked" in text:
            fix = f"another program has it open: stop it (`fuser -v {q}` shows which)"
        elif "newer" in text:
            fix = "run the drawstreamd version that wrote it, or upgrade this one"
        else:
            fix = (
                f"move it aside (`mv {q} {q}.broken`): the daemon starts a fresh journal, "
                "and the old one can still be read with sqlite3"
            )
        return fail(name, text, fix)
    return ok(name, f"{path} opens and passes SQLite's quick check")


async def journal(ctx: Context) -> list[Result]:
    path = ctx.config.STATE_DIR / JOURNAL_FILE
    if ctx.daemon_pid is not None:
        return [ok("journal", f"{path} {ctx.held_by_daemon()}")]
    return [await trio.to_thread.run_sync(_journal, path)]


def _token_files(files: list[Path], api_token_set: bool) -> Result:
    name = "token files"
    exposed: list[str] = []
    foreign: list[str] = []
    present: list[str] = []
    for path in files:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            return fail(name, f"{path}: {exc.strerror}", "make it readable by you")
        present.append(path.name)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            exposed.append(f"{path} (mode {mode:04o})")
        if st.st_uid != os.getuid():
            foreign.append(str(path))
    if exposed:
        paths = " ".join(shlex.quote(e.split(" (")[0]) for e in exposed)
        return fail(
            name,
            "readable by other users: " + ", ".join(exposed),
            f"`chmod 600 {paths}` (they hold live credentials)",
        )
    if foreign:
        return warn(
            name,
            "owned by another user: " + ", ".join(foreign),
            "run the daemon as the user that owns them, or `chown` them to that user",
        )
    note = "; API_TOKEN is set, so no api_token file is used" if api_token_set else ""
    if not present:
        return ok(name, "none yet (the daemon and `drawstreamd auth` write them mode 0600)" + note)
    return ok(name, " and ".join(present) + " readable by you alone" + note)


async def token_files(ctx: Context) -> list[Result]:
    from drawstreamd.control.auth import TOKEN_FILE
    from drawstreamd.sources.donationalerts.oauth import TOKENS_FILE
    from drawstreamd.sources.twitch.auth import TOKENS_FILE as TWITCH_TOKENS_FILE

    s = ctx.config
    api_token_set = bool(s.API_TOKEN.get_secret_value())
    names = ([] if api_token_set else [TOKEN_FILE]) + [TOKENS_FILE, TWITCH_TOKENS_FILE]
    files = [s.STATE_DIR / n for n in names]
    return [await trio.to_thread.run_sync(_token_files, files, api_token_set)]
