"""The model's second opinion inside the real pipeline: queue, checker, planner, worker, HUD.

The model check is :class:`~drawstreamd.plan.model_check.ModelCheck` over loopback HTTP,
against the fake OpenAI-compatible server (which answers checks and plans apart) and against
llama.cpp's real server. A "yes" refuses like a word rule (``model:<category>``) and draws the
card; a "no" lets the planner draw; an offline, garbled or slow model leaves the decision to
the word filter alone, and the log says so. The HUD is recorded state by state
(:class:`test_public_surfaces.RecordingScene`), so "never shown" means never.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import trio
from conftest_llama import llama_server  # noqa: F401
from test_llm_worker import closed_port_url, llm_settings, planner
from test_public_surfaces import RecordingScene

from drawstreamd.config import Settings
from drawstreamd.model import Check, Verdict
from drawstreamd.plan import builtin, dsl, prompt
from drawstreamd.plan.model_check import CATEGORIES, ModelCheck
from drawstreamd.testing.fake_llm import FakeLLM, Reply, library_reply, verdict

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx
    from conftest_llama import LlamaServer
    from worker_rig import Rig

    from drawstreamd.model import QueueItem

SLY = "draw a lady relaxing on the beach after her clothes washed away"
"""A request the words pass and the policy refuses (nudity)."""
FINE = "нарисуй кота в шляпе"
RUDE = "нарисуй х у й на заборе"
"""A request the words refuse (spaced letters)."""
FALLBACK = "the word filter alone decided"


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "drawstreamd")


def fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if FALLBACK in r.getMessage()]


async def judged_rig(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    http: httpx.AsyncClient,
    url: str,
    scene: RecordingScene,
    **extra: Any,
) -> Rig:
    """A rig as the daemon runs with ``LLM_BACKEND=openai``: plans and checks from ``url``."""
    values = llm_settings(url, GATEKEEPER_MODEL_CHECK="on", **extra)
    judge = ModelCheck(Settings(**values), http)
    return await rig_factory(
        nursery,
        llm=planner(http, values),
        scene=scene,
        judge=judge,
        SHOW_DURATION_SEC=0.2,
        **values,
    )


async def stored(rig: Rig, item_id: int) -> QueueItem:
    item = await rig.journal.get(item_id)
    assert item is not None
    return item


def gallery_entry(rig: Rig, item_id: int) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((rig.gallery / f"{item_id}.json").read_text())
    return entry


def planned_for(fake: FakeLLM, message: str) -> bool:
    """Whether the fake was asked to plan ``message``."""
    quoted = prompt.quote_data(message)
    return any(quoted in body["messages"][-1]["content"] for body in fake.requests)


def as_json(plan: dsl.Plan) -> Any:
    return json.loads(dsl.encode(plan))


async def test_a_yes_refuses_like_a_word_rule_and_a_no_lets_the_planner_draw(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.default = library_reply
    fake.check_default = lambda body: verdict(
        refuse="clothes washed away" in body["messages"][-1]["content"], category="nudity"
    )
    scene = RecordingScene()
    rig = await judged_rig(nursery, rig_factory, http, fake.url, scene)
    sly = await rig.donate(1, SLY)
    fine = await rig.donate(2, FINE)
    await rig.wait_for("finished", fine)

    refused = await stored(rig, sly)
    assert (refused.verdict, refused.rule, refused.check) == (
        Verdict.REFUSED,
        "model:nudity",
        Check.DONE,
    )
    entry = gallery_entry(rig, sly)
    assert entry["origin"] == "gatekeeper"
    assert entry["plan"] == as_json(builtin.too_small_card())
    assert not planned_for(fake, SLY), "a refused request never reaches the planner"
    passed = await stored(rig, fine)
    assert (passed.verdict, passed.rule, passed.check) == (Verdict.ALLOWED, None, Check.DONE)
    assert gallery_entry(rig, fine)["origin"] == "llm"
    assert planned_for(fake, FINE)

    seen = scene.seen_text()
    assert "clothes" not in seen
    assert "сообщение скрыто" in seen  # the neutral line stood in for it
    assert FINE in seen
    event = await rig.wait_for("verdict", sly)  # moderators are told, with the rule
    assert (event.data["verdict"], event.data["rule"]) == ("refused", "model:nudity")
    assert any(f"item={sly} rule=model:nudity" in r.getMessage() for r in caplog.records)
    assert fallbacks(caplog) == []


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (Reply(content="Sure! It looks fine to me."), "garbage"),
        (Reply(content='{"refuse": "maybe", "category": "none"}'), "garbage"),
        (Reply(status=500), "http_status"),
        (verdict(refuse=True, category="nudity", hang=30.0), "timeout"),
    ],
    ids=["prose", "not-the-schema", "server-error", "slow"],
)
async def test_a_model_without_a_usable_answer_leaves_it_to_the_words_and_says_so(
    answer: Reply,
    cause: str,
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    fake: FakeLLM,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.default = library_reply
    fake.check_default = answer
    scene = RecordingScene()
    rig = await judged_rig(
        nursery, rig_factory, http, fake.url, scene, GATEKEEPER_MODEL_TIMEOUT_SEC=0.5
    )
    start = trio.current_time()
    fine = await rig.donate(1, FINE)
    rude = await rig.donate(2, RUDE)
    await rig.wait_for("step", fine)
    waited = trio.current_time() - start
    await rig.wait_for("finished", rude)

    passed = await stored(rig, fine)
    assert (passed.verdict, passed.check) == (Verdict.ALLOWED, Check.WORDS)
    assert gallery_entry(rig, fine)["origin"] == "llm"
    refused = await stored(rig, rude)
    assert (refused.verdict, refused.rule) == (Verdict.REFUSED, "sexual:genitals")
    assert gallery_entry(rig, rude)["origin"] == "gatekeeper"
    assert len(fake.check_requests) == 1, "what the words refused is not put to the model"
    seen = scene.seen_text()
    assert FINE in seen
    assert "х у й" not in seen
    (line,) = fallbacks(caplog)
    assert f"cause={cause}" in line
    assert waited < 0.5 + 2.0, "a slow model costs at most GATEKEEPER_MODEL_TIMEOUT_SEC"


async def test_an_offline_model_leaves_it_to_the_words_and_the_library_draws(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scene = RecordingScene()
    rig = await judged_rig(nursery, rig_factory, http, closed_port_url(), scene)
    fine = await rig.donate(1, FINE)
    rude = await rig.donate(2, RUDE)
    await rig.wait_for("finished", rude)

    passed = await stored(rig, fine)
    assert (passed.verdict, passed.check) == (Verdict.ALLOWED, Check.WORDS)
    assert gallery_entry(rig, fine)["origin"] == "builtin"
    refused = await stored(rig, rude)
    assert refused.verdict is Verdict.REFUSED
    assert gallery_entry(rig, rude)["origin"] == "gatekeeper"
    seen = scene.seen_text()
    assert FINE in seen
    assert "х у й" not in seen
    assert fallbacks(caplog), "the log says the words alone decided"


async def test_the_real_server_answers_the_check_in_its_schema_inside_the_pipeline(
    nursery: trio.Nursery,
    rig_factory: Callable[..., Awaitable[Rig]],
    llama_server: LlamaServer,  # noqa: F811
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The tiny model's judgement means nothing here: that llama-server accepts the check's
    # schema, answers within it and the checker turns the answer into a verdict is the point.
    # Plans come from the library (the planner against this server is tested elsewhere).
    values = {
        "LLM_BACKEND": "openai",
        **llama_server.settings(),
        "GATEKEEPER_MODEL_CHECK": "on",
        "GATEKEEPER_MODEL_TIMEOUT_SEC": 120.0,
    }
    scene = RecordingScene()
    judge = ModelCheck(Settings(**values), http)
    rig = await rig_factory(nursery, scene=scene, judge=judge, SHOW_DURATION_SEC=0.2, **values)
    rig.planning.llm_online = True  # as the daemon's probe would find it
    item_id = await rig.donate(1, FINE)
    await rig.wait_for("finished", item_id, timeout=240)
    item = await stored(rig, item_id)
    assert item.check is Check.DONE, "the model's answer was read as a verdict"
    assert fallbacks(caplog) == []
    if item.verdict is Verdict.REFUSED:
        assert item.rule in [f"model:{c}" for c in (*CATEGORIES, "other")]
        assert gallery_entry(rig, item_id)["origin"] == "gatekeeper"
    else:
        assert item.verdict is Verdict.ALLOWED
        assert FINE in scene.seen_text()
