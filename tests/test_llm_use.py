"""The model and the library: the prompt lists the subjects and shows the examples closest to
the request, and a streamed ``use`` step is drawn as its subject's steps (fake server)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import trio
from test_llm_fake import make_planner

from drawstreamd.plan import builtin, dsl
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.testing.fake_llm import Reply

if TYPE_CHECKING:
    import httpx

    from drawstreamd.plan.llm import OpenAIPlanner
    from drawstreamd.testing.fake_llm import FakeLLM


def planner(
    client: httpx.AsyncClient, url: str = "http://127.0.0.1:9/v1", **kw: int
) -> OpenAIPlanner:
    return make_planner(client, url, **kw)


def _steps(plan: dsl.Plan | None) -> list[bytes]:
    assert plan is not None
    return [dsl.encode(dsl.Plan(steps=[s])) for s in plan.steps]


async def test_streamed_use_steps_become_the_subjects_steps(
    fake: FakeLLM,  # noqa: F811 - the fixtures imported above
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    rect = {"op": "rect", "x": 0, "y": 80, "w": 96, "h": 16, "c": "green"}
    written = [
        rect,
        {"op": "use", "n": "cat", "x": -4, "y": 36, "sz": 56},
        {"op": "use", "n": "jabberwock", "x": 44, "y": 36, "sz": 56},
        {"op": "use", "n": "dog", "x": 44, "y": 36, "sz": 56, "mx": True},
    ]
    plan_json = json.dumps({"v": 1, "seed": 4, "bg": "blue", "steps": written})
    fake.push(Reply(content=plan_json, split_bytes=7))
    out = PlanBuffer()
    with trio.fail_after(20):
        await planner(http, fake.url).plan("кот и собака", out)
    assert out.closed
    expected, _ = dsl.validate(plan_json)
    assert [dsl.encode(dsl.Plan(steps=[s])) for s in out.steps] == _steps(expected)
    sizes = [len(builtin.LIBRARY[n].plan.steps) for n in ("cat", "dog")]
    assert len(out.steps) == 1 + sum(sizes)
    assert out.errors == ["step 2: use: unknown subject 'jabberwock'"]


async def test_a_use_step_is_one_written_step_but_draws_all_of_its_subjects(
    fake: FakeLLM,  # noqa: F811 - the fixtures imported above
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """LLM_MAX_STEPS bounds what the model writes (its grammar); the 200-step limit bounds
    what is drawn, and a used subject counts all its steps against that."""
    rect = {"op": "rect", "x": 1, "y": 1, "w": 2, "h": 2, "c": "red"}
    written = [{"op": "use", "n": "cat"}, {"op": "use", "n": "dog"}, rect]
    fake.push(Reply(content=json.dumps({"v": 1, "seed": 1, "bg": None, "steps": written})))
    out = PlanBuffer()
    with trio.fail_after(20):
        await planner(http, fake.url, LLM_MAX_STEPS=2).plan("кот и собака", out)
    cat, dog = (len(builtin.LIBRARY[n].plan.steps) for n in ("cat", "dog"))
    assert len(out.steps) == cat + dog
    assert out.errors == ["steps beyond the 2-step limit ignored"]
    cats = [{"op": "use", "n": "cat", "x": i} for i in range(30)]
    fake.push(Reply(content=json.dumps({"v": 1, "seed": 1, "bg": None, "steps": cats})))
    many = PlanBuffer()
    with trio.fail_after(20):
        await planner(http, fake.url).plan("много котов", many)
    fit = 200 // cat
    assert len(many.steps) == fit * cat
    assert many.errors[0] == f"step {fit}: its {cat} steps would pass the 200-step limit"
    assert len(many.errors) == 30 - fit


async def test_the_prompt_lists_the_library_and_shows_examples_for_the_request(
    http: httpx.AsyncClient,  # noqa: F811 - the fixture imported above
) -> None:
    body = planner(http).request_body("нарисуй котёночка в шляпе")
    messages = body["messages"]
    system = messages[0]["content"]
    assert " ".join(builtin.LIBRARY) in system
    assert '"use": n [x y sz mx rc]' in system
    assert messages[2]["content"] == builtin.LIBRARY["cat"].example
    assert "нарисуй кота" in messages[1]["content"]
    assert '"op":"use"' in messages[6]["content"]
    other = planner(http).request_body("draw a rocket")["messages"]
    assert other[2]["content"] == builtin.LIBRARY["rocket"].example
    schema = body["response_format"]["json_schema"]["schema"]
    names = [
        v["properties"]["n"]["enum"]
        for v in schema["properties"]["steps"]["items"]["anyOf"]
        if "n" in v["properties"]
    ]
    assert names == [sorted(builtin.LIBRARY)]
