"""Moderators see what viewers never do: the raw message and name, the verdict and the rule.

One real daemon (the model check on, against the fake model server on loopback) is sent a
request the words refuse, one refused only for the donor's name, a doubtful one, and one that
only the model refuses. Every private surface is read as an operator reads it: the control
socket through ``drawstreamctl queue/current/history/events --json``, and the HTTP API with
its token (``/api/v1/queue``, ``/current``, ``/history`` and the events WebSocket's
``queued`` and ``verdict`` events).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
import trio_websocket
from support import drawstreamctl_bin
from test_public_surfaces_process import Daemon, start

from drawstreamd.testing.fake_llm import FakeLLM, library_reply, verdict

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from support import DaemonProcess

FIELDS = ("verdict", "rule", "name_rule", "check")
KINDS = ("queued", "verdict", "paused")


@dataclass(frozen=True)
class Case:
    donor: str
    message: str
    at_door: tuple[str | None, ...]
    """(verdict, rule, name_rule, check) when queued, before the model answered."""
    final: tuple[str | None, ...]
    """The same once every check is done."""


CASES = {
    "refused message": Case(
        "Max", "draw a sw4st1ka",
        ("refused", "hate:swastika", None, "off"),
        ("refused", "hate:swastika", None, "off"),
    ),
    "refused name": Case(
        "Adolf_1488", "нарисуй кота в шляпе",
        ("allowed", None, "hate:nazi", "pending"),
        ("allowed", None, "hate:nazi", "done"),
    ),
    "doubtful": Case(
        "Лена", "нарисуй девушку в бикини",
        ("doubtful", "doubtful:swimwear", None, "pending"),
        ("doubtful", "doubtful:swimwear", None, "done"),
    ),
    "refused by the model": Case(
        "Bob", "draw a lady relaxing on the beach after her clothes washed away",
        ("allowed", None, None, "pending"),
        ("refused", "model:nudity", None, "done"),
    ),
}  # fmt: skip


def fields(data: dict[str, Any]) -> tuple[str | None, ...]:
    """The verdict's fields (the socket leaves out the empty ones)."""
    return tuple(data.get(f) for f in FIELDS)


async def ctl_json(d: DaemonProcess, *args: str) -> Any:
    done = await trio.to_thread.run_sync(lambda: d.ctl(*args, "--json"))
    return json.loads(done.stdout)


@contextlib.asynccontextmanager
async def api_events(d: Daemon, into: list[dict[str, Any]]) -> AsyncIterator[None]:
    """The events WebSocket (with the token), its events appended to ``into``."""
    url = f"ws://127.0.0.1:{d.port}/api/v1/events?kinds={','.join(KINDS)}"
    auth = [("Authorization", f"Bearer {d.token()}")]
    async with (
        trio_websocket.open_websocket_url(url, extra_headers=auth) as ws,
        trio.open_nursery() as nursery,
    ):

        async def read() -> None:
            while True:
                into.append(json.loads(await ws.get_message()))

        nursery.start_soon(read)
        yield
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def socket_events(d: DaemonProcess, into: list[dict[str, Any]]) -> AsyncIterator[None]:
    """``drawstreamctl events``, its JSON lines appended to ``into``."""
    command = [drawstreamctl_bin(), "--socket", str(d.socket), "events", *KINDS]
    async with trio.open_nursery() as nursery:
        run = partial(trio.run_process, command, env=d.env, stdout=subprocess.PIPE, check=False)
        proc: trio.Process = await nursery.start(run)
        assert proc.stdout is not None
        stdout = proc.stdout

        async def read() -> None:
            buffered = b""
            async for chunk in stdout:
                *lines, buffered = (buffered + chunk).split(b"\n")
                into.extend(json.loads(line) for line in lines if line)

        nursery.start_soon(read)
        yield
        nursery.cancel_scope.cancel()  # run_process ends the drawstreamctl it started


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await trio.sleep(0.05)


def check_item(where: str, item: dict[str, Any], case: Case) -> None:
    """An operator's view of one item: the raw words, the verdict and its rule."""
    assert (item["donor"], item["message"]) == (case.donor, case.message), where
    assert fields(item) == case.final, (where, item)


async def test_the_socket_and_the_api_show_the_raw_words_the_verdict_and_the_rule(
    clean_env: Path, daemons: list[DaemonProcess], fake: FakeLLM
) -> None:
    fake.default = library_reply
    fake.check_default = lambda body: verdict(
        refuse="clothes washed away" in body["messages"][-1]["content"],
        category="nudity",
        hang=0.2,
    )
    from_api: list[dict[str, Any]] = []
    from_socket: list[dict[str, Any]] = []
    with trio.fail_after(120):
        d = await start(
            daemons,
            clean_env,
            clean_env / "state",
            "--no-window",
            SHOW_DURATION_SEC="120",
            LLM_BACKEND="openai",
            LLM_ENDPOINT=fake.url,
            LLM_MODEL_ID=fake.model,
            GATEKEEPER_MODEL_TIMEOUT_SEC="5",
        )
        async with d.api() as api, api_events(d, from_api), socket_events(d, from_socket):
            while not all(any(e["kind"] == "paused" for e in s) for s in (from_api, from_socket)):
                # both event streams listen once both have told of a pause
                await ctl_json(d, "resume")
                await ctl_json(d, "pause")
                await trio.sleep(0.2)
            ids: dict[int, Case] = {}
            for case in CASES.values():
                item = await ctl_json(d, "donate", "--name", case.donor, case.message)
                ids[item["id"]] = case
            answered = sum(c.at_door != c.final for c in CASES.values())
            await until(lambda: all(sum(e["kind"] == "verdict" for e in s) == answered
                                    for s in (from_api, from_socket)))  # fmt: skip

            # What waits: the socket's queue and the API's, the same.
            socket_queue = (await ctl_json(d, "queue"))["items"]
            api_queue = (await api.get("/queue")).json()["items"]
            for where, listing in (("socket queue", socket_queue), ("api queue", api_queue)):
                assert [i["id"] for i in listing] == list(ids)
                for item in listing:
                    check_item(where, item, ids[item["id"]])

            # The events: the verdict at the door, then the model's.
            for where, events in (("socket events", from_socket), ("api events", from_api)):
                queued = {e["item_id"]: e["data"] for e in events if e["kind"] == "queued"}
                judged = {e["item_id"]: e["data"] for e in events if e["kind"] == "verdict"}
                for item_id, case in ids.items():
                    data = queued[item_id]
                    assert (data["donor"], data["message"]) == (case.donor, case.message), where
                    assert fields(data) == case.at_door, (where, data)
                    if case.at_door == case.final:
                        assert item_id not in judged, (where, judged)
                    else:
                        assert fields(judged[item_id]) == case.final, (where, judged[item_id])

            # What is on screen, item by item.
            await ctl_json(d, "resume")
            for item_id, case in ids.items():
                while (current := await ctl_json(d, "current")).get("id") != item_id:
                    await trio.sleep(0.05)
                check_item("socket current", current, case)
                check_item("api current", (await api.get("/current")).json(), case)
                await ctl_json(d, "skip")

            # And afterwards.
            socket_history = (await ctl_json(d, "history"))["items"]
            api_history = (await api.get("/history")).json()["items"]
            for where, listing in (
                ("socket history", socket_history),
                ("api history", api_history),
            ):
                assert sorted(i["id"] for i in listing) == sorted(ids)
                for item in listing:
                    check_item(where, item, ids[item["id"]])
