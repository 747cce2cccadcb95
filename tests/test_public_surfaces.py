"""Nothing refused reaches the screen: the verdict is taken at the door, the HUD shows only what
passed, text in the picture is judged too, and word-list reloads apply to waiting items.

Real parts: the journal on disk, the queue, the planner (builtin, or the OpenAI-compatible
client against the fake server on loopback), the scene and the renderer loop. Every state the
HUD takes is recorded, so "never shown" means never, not "not at the end"."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from test_llm_worker import llm_settings, planner

from drawstreamd.model import Check, Donation, Status, Verdict
from drawstreamd.plan import dsl
from drawstreamd.render.scene import Hud, Scene
from drawstreamd.testing.fake_llm import Reply

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx
    from worker_rig import Rig

    from drawstreamd.testing.fake_llm import FakeLLM

REFUSED = [
    ("нарисуй хуй огромный", "хуй"),
    ("draw a swastika flag please", "swastika"),
    ("draw big tits", "tits"),
]
REFUSED_NAME = ("Adolf_1488", "1488")


class RecordingScene(Scene):
    """The real scene; every HUD state it ever held is kept (what the window painted)."""

    def __init__(self) -> None:
        super().__init__(96, 96, 10)
        self.states: list[Hud] = []

    def update_hud(self, **changes: object) -> None:
        super().update_hud(**changes)
        self.states.append(dataclasses.replace(self.hud))

    def seen_text(self) -> str:
        out = []
        for hud in self.states:
            out += [hud.donor, hud.message, hud.note]
            for u in hud.upcoming:
                out += [u.donor, u.message]
        return "\n".join(out).casefold()


async def test_refused_words_never_reach_the_hud_and_allowed_ones_do(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    scene = RecordingScene()
    rig = await rig_factory(nursery, scene=scene, SHOW_DURATION_SEC=0.2)
    rig.queue.pause()  # everything waits in "Next up" first
    ids = []
    for n, (message, _) in enumerate(REFUSED):
        ids.append(await rig.donate(n, message))
    named = await rig.queue.submit(
        Donation(source="test", external_id="name", donor=REFUSED_NAME[0], message="draw a cat")
    )
    assert named
    ids.append(max(rig.queue.pending))
    allowed = await rig.donate(10, "нарисуй кота в шляпе")
    ids.append(allowed)
    await trio.sleep(0.1)
    rig.queue.resume()
    for item_id in ids:
        await rig.wait_for("finished", item_id)
    seen = scene.seen_text()
    for _, word in [*REFUSED, REFUSED_NAME]:
        assert word not in seen
    assert "нарисуй кота в шляпе" in seen  # the check can fail: allowed words do get through
    assert "donor10" in seen
    assert "сообщение скрыто" in seen  # the neutral line stood in for the refused messages
    assert "аноним" in seen  # and the refused name was shown as "Anonymous"
    # the refused ones drew the card, and the journal has the verdict and the rule
    for item_id in ids[:3]:
        item = await rig.journal.get(item_id)
        assert item is not None
        assert item.verdict is Verdict.REFUSED
        assert item.rule
    named_item = await rig.journal.get(ids[3])
    assert named_item is not None
    assert named_item.name_rule
    assert named_item.verdict is Verdict.ALLOWED


class Judge:
    """The model's second opinion, answered by the test (the real one is tested elsewhere)."""

    @dataclasses.dataclass
    class Answer:
        refuse: bool
        category: str | None

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.answers: dict[str, trio.Event] = {}
        self.refuse: set[str] = set()

    async def check(self, message: str, donor: str = "") -> Judge.Answer | None:
        self.asked.append(message)
        await self.answers.setdefault(message, trio.Event()).wait()
        return Judge.Answer(message in self.refuse, "sexual" if message in self.refuse else None)

    def answer(self, message: str, *, refuse: bool) -> None:
        if refuse:
            self.refuse.add(message)
        self.answers.setdefault(message, trio.Event()).set()


async def test_next_up_shows_a_message_only_once_the_model_passed_it(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    judge = Judge()
    scene = RecordingScene()
    rig = await rig_factory(nursery, scene=scene, judge=judge, SHOW_DURATION_SEC=0.2)
    rig.planning.llm_online = True  # the model answers checks (plans come from the library)
    rig.queue.pause()
    sly = await rig.donate(1, "draw a lady relaxing on the beach after her clothes washed away")
    fine = await rig.donate(2, "draw a rocket")
    with trio.fail_after(5):
        while not judge.asked:
            await trio.sleep(0.01)
    assert rig.queue.pending[sly].check is Check.PENDING
    await trio.sleep(0.1)
    upcoming = scene.hud.upcoming
    assert [u.message for u in upcoming] == ["", ""]  # unchecked: only donor and amount
    assert [u.donor for u in upcoming] == ["donor1", "donor2"]
    judge.answer("draw a lady relaxing on the beach after her clothes washed away", refuse=True)
    judge.answer("draw a rocket", refuse=False)
    with trio.fail_after(5):
        while rig.queue.pending[fine].check is not Check.DONE:
            await rig.queue.wait_changed()
    await trio.sleep(0.1)
    assert [u.message for u in scene.hud.upcoming] == ["Сообщение скрыто", "draw a rocket"]
    rig.queue.resume()
    await rig.wait_for("finished", fine)
    item = await rig.journal.get(sly)
    assert item is not None
    assert item.verdict is Verdict.REFUSED
    assert item.rule == "model:sexual"
    assert "clothes" not in scene.seen_text()
    gallery = json.loads((rig.gallery / f"{sly}.json").read_text())
    assert gallery["origin"] == "gatekeeper"  # the card, never the planner


async def test_no_item_is_planned_before_the_model_answered(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    judge = Judge()
    rig = await rig_factory(nursery, judge=judge, SHOW_DURATION_SEC=0.2)
    rig.planning.llm_online = True
    item = await rig.donate(1, "draw a cat")
    await rig.wait_for("started", item)
    await trio.sleep(0.3)
    assert not any(e.kind == "step" for e in rig.seen)  # waiting for the second opinion
    judge.answer("draw a cat", refuse=False)
    await rig.wait_for("finished", item)


async def test_a_refused_text_step_is_not_drawn_and_the_rest_is(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
) -> None:
    plan: dict[str, Any] = {
        "v": 1,
        "seed": 3,
        "bg": "dark_blue",
        "steps": [
            {"op": "circle", "x": 48, "y": 40, "r": 20, "c": "yellow"},
            {"op": "text", "x": 48, "y": 80, "t": "ХУЙ", "c": "white", "al": "center"},
            {"op": "text", "x": 48, "y": 70, "t": "МЯУ", "c": "white", "al": "center"},
            {"op": "group", "s": [{"op": "text", "x": 4, "y": 4, "t": "s w a s t i k a", "c": "red"},
                                  {"op": "rect", "x": 0, "y": 90, "w": 96, "h": 6, "c": "green"}]},
        ],
    }  # fmt: skip
    values = llm_settings(fake.url)
    fake.push(Reply(content=json.dumps(plan, ensure_ascii=False)))
    rig = await rig_factory(nursery, llm=planner(http, values), **values)
    rig.planning.llm_online = True
    item = await rig.donate(1, "draw a sun with a caption")
    await rig.wait_for("finished", item)
    entry = json.loads((rig.gallery / f"{item}.json").read_text())
    drawn = msgspec.convert(entry["plan"], dsl.Plan)
    texts = [s.t for s in drawn.steps if isinstance(s, dsl.Text)]
    assert texts == ["МЯУ"]
    group = drawn.steps[-1]
    assert isinstance(group, dsl.Group)
    assert [type(s) for s in group.s] == [dsl.Rect]
    assert isinstance(drawn.steps[0], dsl.Circle)
    refused = [e for e in entry["errors"] if "refused by the gatekeeper" in e]
    assert len(refused) == 2


async def test_a_word_spelled_across_text_steps_drawn_side_by_side_is_not_drawn(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
) -> None:
    def text(x: int, y: int, t: str) -> dict[str, Any]:
        return {"op": "text", "x": x, "y": y, "t": t, "c": "white"}

    # each half passes alone, and with a space between; drawn touching, they read as one word
    # (written left to right, or right to left); texts on other rows are not glued to them
    plan: dict[str, Any] = {
        "v": 1, "seed": 3, "bg": "dark_blue",
        "steps": [
            {"op": "circle", "x": 48, "y": 48, "r": 10, "c": "yellow"},
            text(20, 10, "SWAS"), text(44, 10, "TIKA"),
            text(20, 30, "ПОР"), text(38, 30, "НО"),
            text(40, 55, "ZI"), text(28, 55, "NA"),
            text(10, 80, "HAPPY"), text(40, 80, "BIRTHDAY"),
        ],
    }  # fmt: skip
    values = llm_settings(fake.url)
    fake.push(Reply(content=json.dumps(plan, ensure_ascii=False)))
    rig = await rig_factory(nursery, llm=planner(http, values), **values)
    item = await rig.donate(1, "draw a sun with two captions")
    await rig.wait_for("finished", item)
    entry = json.loads((rig.gallery / f"{item}.json").read_text())
    drawn = msgspec.convert(entry["plan"], dsl.Plan)
    texts = [s.t for s in drawn.steps if isinstance(s, dsl.Text)]
    assert texts == ["SWAS", "ПОР", "ZI", "HAPPY", "BIRTHDAY"]
    assert isinstance(drawn.steps[0], dsl.Circle)
    assert [e for e in entry["errors"] if "refused by the gatekeeper" in e] == [
        f"a text step was not drawn: refused by the gatekeeper ({rule})"
        for rule in ("hate:swastika", "sexual:porn", "hate:nazi")
    ]


async def test_the_text_card_writes_the_message_masked(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    rig = await rig_factory(nursery)
    item = await rig.donate(1, "привет всем, блять, с пятницей")
    await rig.wait_for("finished", item)
    entry = json.loads((rig.gallery / f"{item}.json").read_text())
    texts = [s["t"] for s in entry["plan"]["steps"] if s["op"] == "text"]
    assert texts
    assert "блять" not in " ".join(texts)
    assert "привет" in " ".join(texts)


async def test_reloaded_word_lists_apply_to_waiting_items(
    nursery: trio.Nursery, rig_factory: Callable[..., Awaitable[Rig]]
) -> None:
    scene = RecordingScene()
    rig = await rig_factory(nursery, scene=scene)
    rig.queue.pause()
    item = await rig.donate(1, "draw a spoiler for the finale")
    await trio.sleep(0.05)
    assert [u.message for u in scene.hud.upcoming] == ["draw a spoiler for the finale"]
    rig.worker.gate.words.reload(["spoiler"], [])  # type: ignore[attr-defined]
    assert await rig.queue.recheck() == 1
    assert rig.queue.pending[item].verdict is Verdict.REFUSED
    assert rig.queue.pending[item].rule == "config:block"
    stored = await rig.journal.get(item)
    assert stored is not None
    assert stored.verdict is Verdict.REFUSED
    await rig.wait_for("verdict", item)
    await trio.sleep(0.05)
    assert [u.message for u in scene.hud.upcoming] == ["Сообщение скрыто"]
    rig.queue.resume()
    await rig.wait_for("finished", item)
    assert (await rig.journal.get(item)).status is Status.SHOWN  # type: ignore[union-attr]
