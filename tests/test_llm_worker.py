"""The LLM planner inside the worker: drawing while the model writes, look-ahead, and a queue
that moves on whatever the model or its server does. Real parts: the OpenAI-compatible client
over loopback HTTP, the fake server (and llama.cpp's real one), the worker, scene and renderer."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

import pytest
import trio
from worker_rig import FRAME_RATE, Rig

if TYPE_CHECKING:
    import httpx
    from conftest_llama import LlamaServer

    from drawstreamd.plan.base import PlanBuffer

from drawstreamd.config import Settings
from drawstreamd.model import Status
from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.llm import OpenAIPlanner
from drawstreamd.render.scene import PixelWrite, Scene
from drawstreamd.retry import Backoff
from drawstreamd.testing.fake_llm import FakeLLM, Reply, unaccepting_listener

PLAN_JSON = json.dumps(
    {
        "v": 1,
        "seed": 4,
        "bg": "dark_blue",
        "steps": [
            {"op": "circle", "x": 48, "y": 48, "r": 20, "c": "yellow"},
            {"op": "rect", "x": 10, "y": 70, "w": 76, "h": 10, "c": "green"},
            {"op": "line", "p": [[10, 10], [86, 10]], "c": "red", "w": 3},
        ],
    }
)
FIRST_STEP_END = PLAN_JSON.index("}", PLAN_JSON.index('"circle"')) + 1


class RecordingScene(Scene):
    """The real scene, noting when drawings begin and when pixels reach the canvas."""

    def __init__(self) -> None:
        super().__init__(96, 96, 10)
        self.begins: list[float] = []
        self.holds: list[tuple[float, float]] = []
        self.painted: list[tuple[float, int]] = []

    def begin(self, buffer: PlanBuffer, **hud: Any) -> None:
        self.begins.append(trio.current_time())
        super().begin(buffer, **hud)

    def hold(self, now: float, seconds: float) -> None:
        self.holds.append((now, seconds))
        super().hold(now, seconds)

    def tick(self, now: float) -> list[PixelWrite]:
        writes = super().tick(now)
        if writes:
            self.painted.append((now, len(writes)))
        return writes

    def first_paint_after(self, t: float) -> float:
        return next(when for when, _ in self.painted if when >= t)


def llm_settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "LLM_BACKEND": "openai",
        "LLM_ENDPOINT": url,
        "LLM_MODEL_ID": "fake-model",
        "LLM_ATTEMPTS": 2,
        "LLM_TIMEOUT_SEC": 2.0,
        "LLM_IDLE_TIMEOUT_SEC": 1.0,
        "LLM_MAX_TOKENS": 512,
        **extra,
    }


def planner(http: httpx.AsyncClient, values: dict[str, Any]) -> OpenAIPlanner:
    settings = Settings(**{k: v for k, v in values.items() if k.startswith("LLM_")})
    return OpenAIPlanner(settings, http, backoff=lambda: Backoff(base=0.05, cap=0.1))


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_the_next_drawing_starts_within_a_frame_of_the_hold_ending(
    rig_factory, fake: FakeLLM, http: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    hold = 2.0
    scene = RecordingScene()
    values = llm_settings(fake.url, LLM_TIMEOUT_SEC=10.0)
    fake.push(Reply(content=PLAN_JSON), Reply(content=PLAN_JSON, delay=0.05))  # ~1.5 s of writing
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(
            nursery, llm=planner(http, values), scene=scene, SHOW_DURATION_SEC=hold, **values
        )
        first = await rig.donate(1, "нарисуй солнце")
        second = await rig.donate(2, "draw a sunset")
        await rig.wait_for("finished", first)
        await rig.wait_for("started", second, timeout=10)
        await rig.wait_for("finished", second, timeout=10)
        nursery.cancel_scope.cancel()
    ((hold_start, seconds),) = scene.holds[:1]
    hold_end = hold_start + seconds
    # the model was asked while the first picture held...
    assert len(fake.requests) == 2
    # ...and the second drawing's first stroke is on the canvas within one frame of the hold ending
    begin = scene.begins[1]
    assert hold_end <= begin < hold_end + 1.0 / FRAME_RATE
    assert scene.first_paint_after(begin) - hold_end <= 1.0 / FRAME_RATE + 0.005
    item = await rig.journal.get(second)
    assert item is not None
    assert item.status is Status.SHOWN


FAILURES = {
    "connection refused": {"endpoint": "closed"},
    "connect timeout": {"endpoint": "blackhole"},
    "total timeout": {"reply": Reply(content=PLAN_JSON, hang=30)},
    "idle timeout between chunks": {"reply": Reply(content=PLAN_JSON, stall_after=5)},
    "HTTP 500": {"reply": Reply(status=500)},
    "HTTP 400": {"reply": Reply(status=400)},
    "invalid JSON": {
        "reply": Reply(content='{"v":1,"seed":1,"bg":"white","steps":[{"op":"rect",x:1}]}')
    },
    "garbage chunk": {"reply": Reply(content=PLAN_JSON, garbage_after=10)},
    "error event in the stream": {"reply": Reply(content=PLAN_JSON, error_after=10)},
    "schema violations": {
        "reply": Reply(
            content=json.dumps(
                {"v": 1, "seed": 1, "bg": "white", "steps": [{"op": "blob"}, {"op": "rect"}]}
            )
        )
    },
    "no valid step": {
        "reply": Reply(content=json.dumps({"v": 1, "seed": 1, "bg": "white", "steps": []}))
    },
    "cut off mid-plan (eof)": {
        "reply": Reply(content=PLAN_JSON, cut_after=FIRST_STEP_END + 12),
        "kept": 1,
    },
    "cut off mid-plan (dropped connection)": {
        "reply": Reply(content=PLAN_JSON, cut_after=FIRST_STEP_END + 12, cut="abort"),
        "kept": 1,
    },
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_every_failure_moves_the_queue_on(
    case: str, rig_factory, fake: FakeLLM, http: httpx.AsyncClient, nursery: trio.Nursery
) -> None:  # type: ignore[no-untyped-def]
    spec = FAILURES[case]
    url = fake.url
    if spec.get("endpoint") == "closed":
        url = closed_port_url()
    elif spec.get("endpoint") == "blackhole":
        url = await nursery.start(unaccepting_listener)
    if "reply" in spec:
        fake.default = spec["reply"]
    values = llm_settings(url)
    with trio.fail_after(40):
        async with trio.open_nursery() as inner:
            rig: Rig = await rig_factory(inner, llm=planner(http, values), **values)
            rig.planning.llm_online = True  # as if the endpoint had answered at start-up
            first = await rig.donate(1, "нарисуй кота")
            second = await rig.donate(2, "draw a heart")
            await rig.wait_for("finished", first, timeout=20)
            await rig.wait_for("finished", second, timeout=20)
            inner.cancel_scope.cancel()
    for item_id, subject in ((first, "кота"), (second, "heart")):
        item = await rig.journal.get(item_id)
        assert item is not None
        assert item.status is Status.SHOWN  # drawn: the queue moved on
        raw = await rig.journal.get_plan(item_id)
        assert raw is not None
        plan = dsl.validate(raw)[0]
        assert plan is not None
        kept = spec.get("kept")
        if kept:
            assert len(plan.steps) == kept  # the steps already drawn stay, nothing replaces them
        else:
            fallback = builtin.match(subject)
            assert fallback is not None
            assert plan == fallback[1]  # the builtin library's picture instead


async def test_an_unreachable_endpoint_at_start_up_is_said_once_and_builtin_is_used(
    rig_factory, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    values = llm_settings(closed_port_url())
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, llm=planner(http, values), **values)
        await rig.wait_for("planner")
        assert rig.worker.scene.hud.note  # the HUD says so
        first = await rig.donate(1, "нарисуй кота")
        await rig.wait_for("finished", first)
        nursery.cancel_scope.cancel()
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert rig.worker.planner_state == "llm offline: builtin"


async def test_real_server_first_step_is_on_the_canvas_before_the_stream_ends(
    rig_factory,
    llama_server: LlamaServer,
    http: httpx.AsyncClient,
) -> None:  # type: ignore[no-untyped-def]
    scene = RecordingScene()
    values = {"LLM_BACKEND": "openai", **llama_server.settings()}
    closed_at: list[float] = []
    real = planner(http, values)

    class Watching:
        name = "llm"

        async def probe(self) -> bool:
            return await real.probe()

        async def plan(self, message: str, out: PlanBuffer) -> None:
            try:
                await real.plan(message, out)
            finally:
                closed_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(
            nursery, llm=Watching(), scene=scene, DEFAULT_STEP_DURATION_MS=0, **values
        )
        item_id = await rig.donate(1, "draw a red square on a blue sky")
        await rig.wait_for("finished", item_id, timeout=300)
        nursery.cancel_scope.cancel()
    raw = await rig.journal.get_plan(item_id)
    assert raw is not None
    plan = dsl.validate(raw)[0]
    assert plan is not None
    assert plan.steps
    assert scene.painted, "nothing was drawn"
    assert scene.painted[0][0] < closed_at[0]  # pixels on the canvas while the model still wrote
