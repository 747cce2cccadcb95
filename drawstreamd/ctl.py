"""``drawstreamctl``: drive a running drawstreamd from a shell, a script or a Stream Deck.

Standard library only (plus :mod:`drawstreamd.control.protocol`, itself stdlib-only), so it
starts about as fast as Python does. It speaks the control socket's line protocol; every
subcommand is one protocol command.

Exit status: 0 done, 1 the daemon refused (an ACK), 2 bad usage, 3 the daemon is not running
(or not answering).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys

from drawstreamd.control.protocol import (
    GREETING_PREFIX,
    Ack,
    format_request,
    parse_ack,
    parse_pairs,
)

# typing and pathlib are not imported at run time: together they cost about 20 ms
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

EXIT_OK, EXIT_ACK, EXIT_USAGE, EXIT_DOWN = 0, 1, 2, 3
LISTINGS = frozenset({"queue", "history", "commands", "idle", "bans"})
START_HINT = "start it with `systemctl --user start drawstreamd` (or run `drawstreamd run`)"


def _state_dir() -> str:
    """The daemon's default state directory (config.py's rule, without importing it)."""
    if os.environ.get("STATE_DIR"):
        return os.environ["STATE_DIR"]
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(xdg, "drawstreamd")


def default_socket() -> str:
    """``$CONTROL_SOCKET``, else ``$XDG_RUNTIME_DIR/drawstreamd/control.sock``, else state dir."""
    if os.environ.get("CONTROL_SOCKET"):
        return os.environ["CONTROL_SOCKET"]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = os.path.join(runtime, "drawstreamd") if runtime else _state_dir()
    return os.path.join(base, "control.sock")


class Down(Exception):
    """The daemon cannot be reached; the message says what to do."""


class Client:
    """One connection to the control socket (blocking, one request at a time)."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            self.sock.close()
            raise Down(
                f"drawstreamd is not running (no control socket at {path}); {START_HINT}"
            ) from None
        except OSError as exc:
            self.sock.close()
            raise Down(f"cannot connect to {path}: {exc.strerror or exc}") from None
        self.reader = self.sock.makefile("rb")
        greeting = self._line()
        if greeting.startswith("ACK "):
            raise parse_ack(greeting)
        if not greeting.startswith(GREETING_PREFIX):
            raise Down(f"{path} is not a drawstreamd control socket (it said {greeting!r})")

    def _line(self) -> str:
        try:
            raw = self.reader.readline()
        except TimeoutError:
            raise Down(f"drawstreamd at {self.path} is not answering") from None
        except OSError as exc:
            raise Down(f"connection to {self.path} failed: {exc}") from None
        if not raw.endswith(b"\n"):
            raise Down(f"drawstreamd at {self.path} closed the connection")
        return raw[:-1].decode("utf-8", "replace")

    def send(self, command: str, *args: str) -> None:
        try:
            self.sock.sendall(format_request(command, *args).encode("utf-8"))
        except OSError as exc:
            raise Down(f"connection to {self.path} failed: {exc}") from None

    def reply(self) -> list[str]:
        """The lines of one reply, without the final OK; raises :class:`Ack`."""
        lines: list[str] = []
        while True:
            line = self._line()
            if line == "OK":
                return lines
            if line.startswith("ACK "):
                raise parse_ack(line)
            lines.append(line)

    def ask(self, command: str, *args: str) -> dict[str, Any]:
        self.send(command, *args)
        return parse_pairs(self.reply(), listing=command in LISTINGS)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


# -- output ------------------------------------------------------------------------------------
def _human_item(item: dict[str, Any]) -> str:
    if "id" not in item and "donor" in item:  # a ban
        why = f" ({item['reason']})" if item.get("reason") else ""
        return f"banned: {item['donor']}{why}"
    amount = item.get("amount")
    money = f" {amount:g} {item.get('currency', '')}" if amount else ""
    why = f" ({item['reason']})" if item.get("reason") else ""
    marks = []
    if item.get("verdict") in ("refused", "doubtful"):
        marks.append(f"{item['verdict']}: {item.get('rule') or '?'}")
    if item.get("name_rule"):
        marks.append(f"name refused: {item['name_rule']}")
    if item.get("approval") == "waiting":
        marks.append("waits for a moderator")
    judged = f" <{'; '.join(marks)}>" if marks else ""
    return (
        f"#{item.get('id')} [{item.get('status', '?')}] {item.get('donor', '')}{money}: "
        f"{item.get('message', '')}{why}{judged}"
    )


def show(reply: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply, ensure_ascii=False))
        return
    for key, value in reply.items():
        if key == "items":
            continue
        if key == "sources" and isinstance(value, dict):
            for line in value.values():
                print(f"source: {line}")
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        print(f"{key}: {value}")
    for item in reply.get("items", []):
        print(f"command: {item['command']}" if "command" in item else _human_item(item))


def _events(client: Client, kinds: list[str]) -> int:
    while True:
        client.sock.settimeout(None)
        client.send("idle", *kinds)
        reply = parse_pairs(client.reply(), listing=True)
        if reply.get("missed"):
            print(f"drawstreamctl: missed {reply['missed']} events", file=sys.stderr)
        for block in reply["items"]:
            event = {
                "kind": block.get("changed"),
                "item_id": block.get("item_id"),
                "data": block.get("data", {}),
                "at": block.get("at"),
            }
            print(json.dumps(event, ensure_ascii=False), flush=True)


def _token(state_dir: str | None) -> int:
    if os.environ.get("API_TOKEN"):
        print(os.environ["API_TOKEN"])
        return EXIT_OK
    path = os.path.join(state_dir or _state_dir(), "api_token")
    try:
        with open(path, encoding="utf-8") as f:
            print(f.read().strip())
    except FileNotFoundError:
        print(
            f"drawstreamctl: no API token at {path}: drawstreamd writes one when it first "
            f"starts its HTTP API (unless API_TOKEN is configured); {START_HINT}",
            file=sys.stderr,
        )
        return EXIT_DOWN
    except OSError as exc:
        print(f"drawstreamctl: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_ACK
    return EXIT_OK


# -- command line ------------------------------------------------------------------------------
class _Skip:
    """Stands for a subcommand parser that this run does not need."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        pass


COMMANDS = frozenset(
    [
        "status",
        "current",
        "queue",
        "history",
        "skip",
        "clear",
        "pause",
        "resume",
        "remove",
        "replay",
        "donate",
        "ping",
        "stats",
        "commands",
        "events",
        "token",
        "mod-url",
        "approve",
        "deny",
        "ban",
        "unban",
        "bans",
    ]
)
_VALUED = ("--socket", "--timeout")
PRINTS_ONE = {"token": "token", "mod-url": "url"}
"""Replies printed as their one useful value, for `$(drawstreamctl mod-url)`."""


def _pick(argv: list[str]) -> str | None:
    """The subcommand argv names (status when none), or None when the full parser is needed."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in ("-h", "--help"):
            return None
        elif word in _VALUED:
            skip = True
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return "status"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only``, just that subcommand's parser (a faster start)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument(
        "--socket",
        default=argparse.SUPPRESS,
        help="the control socket (default: $XDG_RUNTIME_DIR/drawstreamd/control.sock)",
    )
    parser = argparse.ArgumentParser(
        prog="drawstreamctl",
        parents=[common],
        description="Control a running drawstreamd over its Unix socket.",
        epilog="Exit status: 0 ok, 1 refused by the daemon, 2 usage, 3 daemon not running.",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for a reply (default 10)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, text: str, description: str | None = None) -> Any:
        if only is not None and name != only:
            return _Skip()
        return sub.add_parser(name, parents=[common], help=text, description=description or text)

    simple = {
        "status": "what is on screen and how long the queue is (the default)",
        "current": "the drawing on screen",
        "queue": "the waiting donations, oldest first",
        "skip": "end the current drawing (or the finished picture's hold) now",
        "clear": "drop every waiting donation",
        "pause": "finish the current drawing, then start no new one",
        "resume": "start drawing again after pause",
        "ping": "check that the daemon answers",
        "commands": "list the protocol's commands",
        "bans": "the banned donors",
    }
    for name, text in simple.items():
        add(name, text)
    p = add("stats", "frame pacing: is the picture smooth?")
    p.add_argument("seconds", nargs="?", type=float, default=10.0, help="the window (default 10)")
    p = add("history", "past donations, newest first")
    p.add_argument("count", nargs="?", type=int, default=None, help="how many (default 20)")
    p.add_argument("--offset", type=int, default=0, help="skip this many of the newest")
    for name, text in (
        ("remove", "drop one waiting donation"),
        ("replay", "draw a past one again"),
        ("approve", "let a donation that waits for a moderator be drawn"),
    ):
        p = add(name, text)
        p.add_argument("id", type=int, help="the donation id (see queue / history)")
    p = add("deny", "skip a waiting donation with a reason; it is never shown")
    p.add_argument("id", type=int, help="the donation id (see queue)")
    p.add_argument("reason", nargs="*", help="why (kept in the history, never shown)")
    p = add("ban", "ban a donor: their later donations are skipped and never shown")
    p.add_argument("donor", help="the donor's name as the queue shows it")
    p.add_argument("--reason", default="", help="why (kept with the ban)")
    p = add("unban", "lift a donor's ban")
    p.add_argument("donor", help="the donor's name")
    p = add("donate", "queue a test donation")
    p.add_argument("message", nargs="+", help="what to draw")
    p.add_argument("--name", default="", help="the donor's name (default: anonymous)")
    p.add_argument("--amount", type=float, default=0.0, help="the amount (default 0)")
    p.add_argument("--currency", default="RUB", help="three letters (default RUB)")
    p = add("events", "follow notifications as JSON lines")
    p.add_argument("kinds", nargs="*", help="only these kinds (queued, started, finished…)")
    p = add(
        "token",
        "print the HTTP API token",
        "Print the HTTP API bearer token: $API_TOKEN if set, else the one "
        "drawstreamd generated into <state dir>/api_token on first start.",
    )
    p.add_argument("--state-dir", default=None, help="the daemon's state directory")
    p.add_argument(
        "--rotate",
        action="store_true",
        help="replace the generated token (the running daemon stops accepting the old one "
        "at once, and closes event sockets opened with it) and print the new one",
    )
    p = add(
        "mod-url",
        "print the moderator page's address with a one-time sign-in code",
        "Print the address of the moderator page (/mod) with a sign-in code that works once, "
        "for at most 10 minutes. Open it on the phone or in the OBS dock: the page trades the "
        "code for the API token and remembers it on that device.",
    )
    p.add_argument(
        "--host",
        default=None,
        help="the name or address the other device uses (one the API answers for; default: "
        "the first of API_ALLOWED_HOSTS, else API_HOST)",
    )
    return parser


def _request(args: argparse.Namespace) -> tuple[str, list[str]]:
    cmd: str = args.command
    if cmd == "history":
        count = 20 if args.count is None else args.count
        return cmd, [str(count), str(args.offset)]
    if cmd in ("remove", "replay", "approve"):
        return cmd, [str(args.id)]
    if cmd == "deny":
        reason = " ".join(args.reason)
        return cmd, [str(args.id), reason] if reason else [str(args.id)]
    if cmd == "ban":
        return cmd, [args.donor, args.reason] if args.reason else [args.donor]
    if cmd == "unban":
        return cmd, [args.donor]
    if cmd == "stats":
        return cmd, [repr(args.seconds)]
    if cmd == "donate":
        message = " ".join(args.message)
        return cmd, [message, args.name, repr(args.amount), args.currency]
    if cmd == "token":  # only --rotate gets here
        return cmd, ["rotate"]
    if cmd == "mod-url":
        return cmd, [args.host] if args.host else []
    return cmd, []


def _fail(message: str, code: int) -> NoReturn:
    print(f"drawstreamctl: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(_pick(words)).parse_args(words)
    args.command = args.command or "status"
    if args.command == "token" and not args.rotate:
        return _token(args.state_dir)
    path: str = getattr(args, "socket", None) or default_socket()
    as_json: bool = getattr(args, "json", False)
    try:
        command, words = _request(args)
        for word in words:
            if "\n" in word or "\r" in word:
                _fail("an argument cannot hold a line break", EXIT_USAGE)
        client = Client(path, args.timeout if args.timeout > 0 else None)
        try:
            if command == "events":
                return _events(client, args.kinds)
            reply = client.ask(command, *words)
            if command in PRINTS_ONE and not as_json:
                print(reply[PRINTS_ONE[command]])
            else:
                show(reply, as_json)
        finally:
            client.close()
    except ValueError as exc:  # a request the protocol cannot carry (too long)
        _fail(str(exc), EXIT_USAGE)
    except Ack as ack:
        _fail(ack.message, EXIT_ACK)
    except Down as exc:
        _fail(str(exc), EXIT_DOWN)
    except KeyboardInterrupt:
        return EXIT_OK if args.command == "events" else 130
    except BrokenPipeError:  # stdout closed (| head)
        return EXIT_OK
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
