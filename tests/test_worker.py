"""The worker with real parts: journal on disk, queue, scene ticked by the renderer loop,
the builtin planner, the gatekeeper, the gallery. Short durations, real time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from drawstreamd.model import Status
from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer, PlannerError
from drawstreamd.render import png

if TYPE_CHECKING:
    from worker_rig import Rig


@dataclass
class ScriptedPlanner:
    """Stands in for the LLM client (tested on its own against real servers): it writes a
    library plan step by step, after ``delay``, or fails after ``fail_after_steps``."""

    delay: float = 0.0
    step_gap: float = 0.0
    fail_after_steps: int | None = None
    online: bool = True
    name: str = "llm"
    calls: list[tuple[str, float]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def probe(self) -> bool:
        return self.online

    async def plan(self, message: str, out: PlanBuffer) -> None:
        self.calls.append((message, trio.current_time()))
        try:
            await trio.sleep(self.delay)
            plan = (
                builtin.LIBRARY["heart"].plan
                if "heart" in builtin.LIBRARY
                else builtin.text_card(message)
            )
            out.origin = "llm"
            out.set_header(seed=plan.seed, bg=plan.bg)
            for n, step in enumerate(plan.steps):
                if self.fail_after_steps is not None and n == self.fail_after_steps:
                    raise PlannerError("stream cut off mid-plan")
                out.add(step)
                await trio.sleep(self.step_gap)
            out.close()
        except trio.Cancelled:
            self.cancelled.append(message)
            raise


async def test_draws_in_fifo_order_and_saves_the_gallery(rig_factory) -> None:  # type: ignore[no-untyped-def]
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery)
        ids = [
            await rig.donate(n, msg)
            for n, msg in enumerate(["нарисуй кота", "draw a heart", "солнце"])
        ]
        for item_id in ids:
            await rig.wait_for("finished", item_id)
        started = [e.item_id for e in rig.seen if e.kind == "started"]
        assert started == ids
        for item_id in ids:
            item = await rig.journal.get(item_id)
            assert item is not None
            assert item.status is Status.SHOWN
            w, h, rgb = png.decode((rig.gallery / f"{item_id}.png").read_bytes())
            assert (w, h) == (96, 96)
            assert (
                len(set(rgb[i : i + 3] for i in range(0, len(rgb), 3))) > 2
            )  # a picture, not a blank
            assert b'"donation"' in (rig.gallery / f"{item_id}.json").read_bytes()
        # the cat drawn is the library's cat, pixel for pixel
        cat = builtin.match("кот")
        assert cat is not None
        expected = png.decode(
            png.encode(
                96,
                96,
                __import__("drawstreamd.render.timeline", fromlist=["x"]).render_at(
                    cat[1], None, default_ms=10
                ),
            )
        )
        assert png.decode((rig.gallery / f"{ids[0]}.png").read_bytes()) == expected
        nursery.cancel_scope.cancel()


async def test_blocked_request_draws_the_card_and_never_reaches_the_planner(rig_factory) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedPlanner()
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, llm=llm, LLM_BACKEND="openai")
        bad = await rig.donate(1, "нарисуй х*й")
        ok = await rig.donate(2, "draw a heart")
        await rig.wait_for("finished", ok)
        item = await rig.journal.get(bad)
        assert item is not None
        assert item.status is Status.SHOWN
        assert item.rule  # the operator sees which rule fired
        raw = await rig.journal.get_plan(bad)
        assert raw is not None
        assert dsl.validate(raw)[0] == builtin.too_small_card()
        assert [m for m, _ in llm.calls] == ["draw a heart"]
        nursery.cancel_scope.cancel()


async def test_skip_ends_drawing_and_hold_at_once(rig_factory) -> None:  # type: ignore[no-untyped-def]
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, DEFAULT_STEP_DURATION_MS=2000, SHOW_DURATION_SEC=60)
        first = await rig.donate(1, "кот")
        second = await rig.donate(2, "heart")
        await rig.wait_for("started", first)
        assert rig.worker.skip()
        skipped = await rig.wait_for("skipped", first, timeout=2)
        assert skipped.data["reason"] == "skipped by operator"
        await rig.wait_for("started", second, timeout=2)
        item = await rig.journal.get(first)
        assert item is not None
        assert item.status is Status.SKIPPED
        rig.worker.settings.DEFAULT_STEP_DURATION_MS = 10
        rig.worker.scene.default_ms = 10
        rig.worker.skip()  # the second drawing too; then nothing is on
        await rig.wait_for("skipped", second, timeout=2)
        third = await rig.donate(3, "солнце")
        await rig.wait_for("finished", third, timeout=30)
        assert rig.worker.phase == "holding"
        assert rig.worker.skip()  # the 60 s hold ends now
        with trio.fail_after(2):
            while rig.worker.phase != "idle":
                await trio.sleep(0.01)
        item = await rig.journal.get(third)
        assert item is not None
        assert item.status is Status.SHOWN  # skipping a hold keeps the drawing as shown
        nursery.cancel_scope.cancel()


async def test_planner_failures_fall_back_and_keep_drawn_steps(rig_factory) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedPlanner(fail_after_steps=0)
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, llm=llm, LLM_BACKEND="openai")
        nothing = await rig.donate(1, "нарисуй кота")
        await rig.wait_for("finished", nothing)
        raw = await rig.journal.get_plan(nothing)
        cat = builtin.match("нарисуй кота")
        assert cat is not None
        assert raw is not None
        assert dsl.validate(raw)[0] == cat[1]  # no step came: the library's cat instead
        llm.fail_after_steps = 2
        some = await rig.donate(2, "нарисуй кота")
        await rig.wait_for("finished", some)
        raw = await rig.journal.get_plan(some)
        assert raw is not None
        plan = dsl.validate(raw)[0]
        assert plan is not None
        assert len(plan.steps) == 2  # the two drawn steps stay, nothing is added
        nursery.cancel_scope.cancel()


async def test_look_ahead_plans_during_the_hold(rig_factory) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedPlanner(delay=1.0)
    hold = 2.0
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, llm=llm, LLM_BACKEND="openai", SHOW_DURATION_SEC=hold)
        a = await rig.donate(1, "first")
        b = await rig.donate(2, "second")
        fin = await rig.wait_for("finished", a)
        fin_at = trio.current_time()
        start = await rig.wait_for("started", b, timeout=10)
        started_at = trio.current_time()
        assert fin.item_id == a
        assert start.item_id == b
        # the second plan was asked for while the first picture held...
        assert llm.calls[1][1] < fin_at + hold
        # ...so the second drawing starts when the hold ends, not a model-wait later
        assert started_at - (fin_at + hold) < 0.5
        buf = rig.worker.scene._buffer
        assert buf is not None
        assert buf.steps  # already planned: its first step is drawn on the next frame
        nursery.cancel_scope.cancel()


async def test_a_finished_plan_is_announced_once_it_is_journaled(rig_factory) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedPlanner(delay=0.3)
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, llm=llm, LLM_BACKEND="openai", SHOW_DURATION_SEC=2)
        a = await rig.donate(1, "first")
        b = await rig.donate(2, "second")
        await rig.wait_for("planned", b)
        assert await rig.journal.get_plan(b) is not None  # the preview can be drawn now
        await rig.wait_for("started", b)
        order = [(e.kind, e.item_id) for e in rig.seen]
        assert order.count(("planned", a)) == order.count(("planned", b)) == 1
        # planned ahead, during the first picture's hold: announced before it is drawn
        assert order.index(("finished", a)) < order.index(("planned", b))
        assert order.index(("planned", b)) < order.index(("started", b))
        nursery.cancel_scope.cancel()


async def test_removing_the_look_ahead_item_cancels_its_plan(rig_factory) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedPlanner(delay=5.0)
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, llm=llm, LLM_BACKEND="openai", SHOW_DURATION_SEC=3)
        llm.delay = 0
        a = await rig.donate(1, "first")
        await rig.wait_for("finished", a)
        llm.delay = 5.0
        b = await rig.donate(2, "second")
        c = await rig.donate(3, "third")
        with trio.fail_after(2):
            while len(llm.calls) < 2:
                await trio.sleep(0.01)
        assert await rig.queue.remove(b)
        with trio.fail_after(2):
            while "second" not in llm.cancelled:
                await trio.sleep(0.01)
        llm.delay = 0
        await rig.wait_for("finished", c)
        assert all(e.item_id != b for e in rig.seen if e.kind == "started")
        nursery.cancel_scope.cancel()


async def test_cancellation_leaves_the_drawing_interrupted(rig_factory) -> None:  # type: ignore[no-untyped-def]
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(nursery, DEFAULT_STEP_DURATION_MS=5000)
        a = await rig.donate(1, "кот")
        await rig.wait_for("started", a)
        nursery.cancel_scope.cancel()
    item = await rig.journal.get(a)
    assert item is not None
    assert item.status is Status.INTERRUPTED


async def test_hud_masks_profanity_when_asked(rig_factory) -> None:  # type: ignore[no-untyped-def]
    async with trio.open_nursery() as nursery:
        rig: Rig = await rig_factory(
            nursery, DEFAULT_STEP_DURATION_MS=3000, HUD_MASK_PROFANITY=True
        )
        first = await rig.donate(1, "бля, нарисуй кота")
        await rig.donate(2, "fuck, draw a heart")
        await rig.wait_for("started", first)
        hud = rig.worker.scene.hud
        assert hud.message.startswith("б**")
        assert "кота" in hud.message
        with trio.fail_after(2):
            while not hud.upcoming:
                await trio.sleep(0.05)
        assert hud.upcoming[0].message.startswith("f***")
        rig.worker.settings.HUD_MASK_PROFANITY = (
            False  # SIGHUP turns it off: next texts are as sent
        )
        with trio.fail_after(2):
            while not hud.upcoming[0].message.startswith("fuck"):
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
