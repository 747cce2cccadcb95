"""Does the API make the picture stutter? Frame pacing of the daemon under control-plane load.

    .venv/bin/python bench/control_load.py [--seconds 10] [--clients 200] [--conns 64]
                                           [--in-process [--no-shed] [--gc-freeze]]

By default it starts the daemon as a user does (``drawstreamd --demo --headless``: builtin
planner, headless pygame window at 60 fps, the control socket and the HTTP API), keeps it
drawing, and reads its frame pacing with the ``stats`` command. Then, from two other
processes:

* ``--clients`` control-socket clients, each asking ``status`` every 100 ms;
* an HTTP flood: ``--conns`` keep-alive connections sending ``GET /api/v1/status`` with the
  API token as fast as answers come back (a wrk-style saturating load).

It prints, for a quiet period and for the loaded period, the frame-interval median and p99,
the share of frames later than 33 ms (goal ≤ 0.1 %), what the clients got (answers per
second, 200 vs 429), and the daemon's memory before and after.

``--in-process`` runs ``daemon.Daemon`` inside this process instead (same code, no
subprocess): it lists when each late frame came and the garbage collections over 10 ms, and
allows ``--no-shed`` (HTTP load shedding off, to compare) and ``--gc-freeze`` (what
``gc.freeze()`` after start-up does to the long collections).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

LATE_SEC = 0.033


# -- load generators (run as child processes) --------------------------------------------------
async def socket_clients(path: str, clients: int, seconds: float) -> dict[str, int]:
    counts = {"answers": 0, "acks": 0, "refused": 0, "dropped": 0}
    deadline = trio.current_time() + seconds

    async def session(stream: trio.SocketStream) -> None:
        buf = b""
        while b"\n" not in buf:
            buf += await stream.receive_some(4096)
        if buf.startswith(b"ACK"):
            counts["refused"] += 1
            return
        buf = b""
        while trio.current_time() < deadline:
            await stream.send_all(b"status\n")
            while not (buf.endswith(b"OK\n") or b"ACK [" in buf):
                data = await stream.receive_some(65536)
                if not data:
                    counts["dropped"] += 1
                    return
                buf += data
            counts["acks" if b"ACK [" in buf else "answers"] += 1
            buf = b""
            await trio.sleep(0.1)

    async def one() -> None:
        try:
            stream = await trio.open_unix_socket(path)
        except OSError:
            counts["refused"] += 1
            return
        async with stream:
            try:
                await session(stream)
            except trio.BrokenResourceError:
                counts["dropped"] += 1

    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(one)
    return counts


async def http_flood(port: int, conns: int, seconds: float, token: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    deadline = trio.current_time() + seconds
    auth = f"Authorization: Bearer {token}\r\n".encode()
    request = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + b"\r\n"

    async def one() -> None:
        while trio.current_time() < deadline:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                counts["connect_failed"] = counts.get("connect_failed", 0) + 1
                await trio.sleep(0.01)
                continue
            async with stream:
                buf = b""
                try:
                    while trio.current_time() < deadline:
                        await stream.send_all(request)
                        while b"\r\n\r\n" not in buf:
                            data = await stream.receive_some(65536)
                            if not data:
                                raise EOFError
                            buf += data
                        head, _, buf = buf.partition(b"\r\n\r\n")
                        status = head.split(b" ", 2)[1].decode()
                        length = 0
                        close = False
                        for line in head.split(b"\r\n")[1:]:
                            name, _, value = line.partition(b":")
                            if name.strip().lower() == b"content-length":
                                length = int(value)
                            if name.strip().lower() == b"connection" and b"close" in value:
                                close = True
                        while len(buf) < length:
                            data = await stream.receive_some(65536)
                            if not data:
                                raise EOFError
                            buf += data
                        buf = buf[length:]
                        counts[status] = counts.get(status, 0) + 1
                        if close:
                            break
                except (EOFError, trio.BrokenResourceError):
                    counts["dropped"] = counts.get("dropped", 0) + 1

    with trio.move_on_after(seconds + 5):
        async with trio.open_nursery() as nursery:
            for _ in range(conns):
                nursery.start_soon(one)
    return counts


# -- the daemon side ---------------------------------------------------------------------------
def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def frame_stats(intervals: list[float]) -> str:
    if len(intervals) < 2:
        return "no frames"
    ordered = sorted(intervals)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    late = sum(1 for i in intervals if i > LATE_SEC)
    at, when = [], 0.0
    for i in intervals:
        when += i
        if i > LATE_SEC:
            at.append(f"{when:.1f}s:{i * 1000:.0f}ms")
    return (
        f"frames {len(intervals)}, interval median {statistics.median(intervals) * 1000:.1f} ms,"
        f" p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms,"
        f" late (>33 ms) {late} = {100 * late / len(intervals):.2f} %"
        + (f" [at {', '.join(at[:8])}]" if at else "")
    )


async def run_bench(args: argparse.Namespace, tmp: Path) -> None:
    from drawstreamd import config
    from drawstreamd.daemon import Daemon, Options, prepare_state_dir
    from drawstreamd.journal import Journal

    port = free_port()
    sock = tmp / "ctl.sock"
    settings = config.load(
        None,
        STATE_DIR=tmp / "state",
        CONTROL_SOCKET=sock,
        API_PORT=port,
        LLM_BACKEND="builtin",
        SHOW_DURATION_SEC=0.5,
        DEFAULT_STEP_DURATION_MS=300,
        FRAME_RATE=60,
        LOG_LEVEL="WARNING",
    )
    prepare_state_dir(settings.STATE_DIR)
    journal = Journal.open(settings.STATE_DIR / "journal.sqlite3")
    daemon = Daemon(settings, journal, Options(demo=True, headless=True, window=True))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(daemon.run)
            while daemon.renderer is None or not sock.exists():  # noqa: ASYNC110
                await trio.sleep(0.05)
            renderer = daemon.renderer
            from drawstreamd.model import Donation

            for n in range(200):  # enough to keep drawing all along
                await daemon.queue.submit(
                    Donation(source="bench", external_id=str(n), message="нарисуй кота")
                )

            async def window(seconds: float) -> list[float]:
                start = renderer.frames
                await trio.sleep(seconds)
                got = renderer.frames - start
                return list(renderer.intervals)[-got:]

            pauses: list[tuple[int, float]] = []
            gc_started = [0.0]

            def on_gc(phase: str, info: dict[str, int]) -> None:
                if phase == "start":
                    gc_started[0] = time.perf_counter()
                elif (took := time.perf_counter() - gc_started[0]) > 0.01:
                    pauses.append((info["generation"], took))

            gc.callbacks.append(on_gc)
            if args.gc_freeze:
                gc.freeze()
            await trio.sleep(1.0)
            quiet = await window(args.seconds)
            rss_before = rss_mib()
            me = [sys.executable, __file__]
            results: dict[str, str] = {}

            async def child(name: str, cmd: list[str]) -> None:
                done = await trio.run_process(cmd, capture_stdout=True, check=False)
                results[name] = done.stdout.decode().strip() or f"exit {done.returncode}"

            async with trio.open_nursery() as load:
                load.start_soon(
                    child,
                    "socket",
                    [*me, "--role", "socket", "--target", str(sock),
                     "--clients", str(args.clients), "--seconds", str(args.seconds)],
                )  # fmt: skip
                load.start_soon(
                    child,
                    "http",
                    [*me, "--role", "http", "--target", str(port),
                     "--conns", str(args.conns), "--seconds", str(args.seconds),
                     "--token-file", str(settings.STATE_DIR / "api_token")],
                )  # fmt: skip
                await trio.sleep(0.5)  # let the clients connect
                loaded = await window(args.seconds - 1.0)
            rss_after = rss_mib()
            print(f"load shedding: {'off' if args.no_shed else 'on'}")
            print(f"quiet : {frame_stats(quiet)}")
            print(f"loaded: {frame_stats(loaded)}")
            print(f"socket clients ({args.clients}): {results.get('socket')}")
            print(f"http flood ({args.conns} connections): {results.get('http')}")
            slow = ", ".join(f"gen{g} {t * 1000:.0f} ms" for g, t in pauses) or "none"
            print(f"garbage collections over 10 ms: {slow}")
            print(f"daemon RSS: {rss_before:.1f} MiB before load, {rss_after:.1f} MiB after")
            daemon.stop.set()
    finally:
        journal.close()


def daemon_env(tmp: Path, port: int) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_STATE_HOME": str(tmp / "xstate"),
        "XDG_RUNTIME_DIR": str(tmp / "run"),
        "SDL_VIDEODRIVER": "dummy",
        "LLM_BACKEND": "builtin",
        "API_PORT": str(port),
        "SHOW_DURATION_SEC": "0.5",
        "DEFAULT_STEP_DURATION_MS": "300",
        "LOG_LEVEL": "WARNING",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


def process_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def describe(stats: dict[str, float]) -> str:
    return (
        f"frames {stats['frames']}, interval median {stats['interval_p50_ms']:.1f} ms,"
        f" p99 {stats['interval_p99_ms']:.1f} ms, max {stats['interval_max_ms']:.1f} ms,"
        f" late (>33 ms) {stats['late']} = {stats['late_percent']:.2f} %"
    )


def run_against_process(args: argparse.Namespace, tmp: Path) -> None:
    import signal
    import subprocess

    from drawstreamd.control.protocol import Ack
    from drawstreamd.ctl import Client

    port = free_port()
    sock = tmp / "ctl.sock"
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("drawstreamd")), "--demo", "--headless",
         "--state-dir", str(tmp / "state"), "--socket", str(sock)],
        env=daemon_env(tmp, port),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                sys.exit("the daemon did not start")
            time.sleep(0.1)
        ctl = Client(str(sock), 30.0)
        for n in range(200):  # enough to keep drawing all along
            ctl.ask("donate", f"нарисуй кота {n}")
        time.sleep(1.0 + args.seconds)
        try:
            quiet = ctl.ask("stats", repr(args.seconds))
        except Ack as ack:
            sys.exit(
                f"the daemon gives no frame statistics ({ack.message}): daemon.py must pass"
                " frames=renderer to Commands; meanwhile run with --in-process"
            )
        rss_before = process_rss_mib(daemon.pid)
        me = [sys.executable, __file__, "--seconds", str(args.seconds)]
        flood = ["--role", "http", "--target", str(port), "--conns", str(args.conns)]
        token_file = ["--token-file", str(tmp / "state" / "api_token")]
        children = {
            "socket": subprocess.Popen(
                [*me, "--role", "socket", "--target", str(sock), "--clients", str(args.clients)],
                stdout=subprocess.PIPE,
            ),
            "http": subprocess.Popen([*me, *flood, *token_file], stdout=subprocess.PIPE),
        }
        time.sleep(args.seconds - 0.5)
        loaded = ctl.ask("stats", repr(args.seconds - 1.0))
        results = {name: p.communicate()[0].decode().strip() for name, p in children.items()}
        rss_after = process_rss_mib(daemon.pid)
        ctl.close()
        print("daemon: drawstreamd --demo --headless (a separate process)")
        print(f"quiet : {describe(quiet)}")
        print(f"loaded: {describe(loaded)}")
        print(f"socket clients ({args.clients}): {results['socket']}")
        print(f"http flood ({args.conns} connections): {results['http']}")
        print(f"daemon RSS: {rss_before:.1f} MiB before load, {rss_after:.1f} MiB after")
        if daemon.poll() is not None:
            print(f"the daemon DIED during the load (exit {daemon.returncode})")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--conns", type=int, default=64)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--no-shed", action="store_true")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() once started (fewer long pauses)"
    )
    parser.add_argument("--role", choices=("bench", "socket", "http"), default="bench")
    parser.add_argument("--target", default="")
    parser.add_argument("--token-file", default="", help="the API token (for --role http)")
    args = parser.parse_args()
    if args.role == "socket":
        counts = trio.run(socket_clients, args.target, args.clients, args.seconds)
        answers = counts.pop("answers")
        print(json.dumps({"answers_per_sec": round(answers / args.seconds), **counts}))
        return
    if args.role == "http":
        started = time.monotonic()
        token = Path(args.token_file).read_text().strip()
        counts = trio.run(http_flood, int(args.target), args.conns, args.seconds, token)
        took = time.monotonic() - started
        total = sum(v for k, v in counts.items() if k.isdigit())
        print(json.dumps({"per_sec": round(total / took), **counts}))
        return
    if not args.in_process:
        if args.no_shed or args.gc_freeze:
            parser.error("--no-shed and --gc-freeze need --in-process")
        with tempfile.TemporaryDirectory(prefix="dsload-", dir="/tmp") as tmp:
            run_against_process(args, Path(tmp))
        return
    if args.no_shed:
        from drawstreamd.control import http as http_mod

        class NoShed:
            def __init__(self, app: object, *_: object, **__: object) -> None:
                self.app = app

            async def __call__(self, scope: object, receive: object, send: object) -> None:
                await self.app(scope, receive, send)  # type: ignore[operator]

        setattr(http_mod, "ShedLoad", NoShed)  # noqa: B010 (a deliberate swap, for comparison)
    with tempfile.TemporaryDirectory(prefix="dsload-", dir="/tmp") as tmp:
        trio.run(run_bench, args, Path(tmp))


if __name__ == "__main__":
    main()
