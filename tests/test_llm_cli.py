"""``drawstreamd plan`` as a user runs it: a separate process, plan JSON on stdout."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import trio
from support import process_env

from drawstreamd.plan import builtin, dsl
from drawstreamd.testing.fake_llm import FakeLLM, Reply

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

RUN_PLAN = (
    "import sys; from drawstreamd.config import load; from drawstreamd.plan.cli import main; "
    "sys.exit(main(load(), sys.argv[1:]))"
)


async def run_plan(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-c", RUN_PLAN, *args],
        env=process_env(home, **{"LLM_BACKEND": "openai", **env}),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


def valid_plan(stdout: bytes) -> dsl.Plan:
    plan, errors = dsl.validate(stdout)
    assert plan is not None, errors
    assert errors == []
    return plan


async def test_builtin_backend_prints_the_library_plan(clean_env: Path) -> None:
    with trio.fail_after(60):
        done = await run_plan(clean_env, "нарисуй кота пожалуйста", "--backend", "builtin")
    assert done.returncode == 0, done.stderr.decode()
    found = builtin.match("нарисуй кота")
    assert found is not None
    assert dsl.encode(valid_plan(done.stdout)) == dsl.encode(found[1])
    assert b"builtin: " in done.stderr


async def test_builtin_backend_writes_unknown_subjects_on_a_card(clean_env: Path) -> None:
    with trio.fail_after(60):
        done = await run_plan(clean_env, "qwxz plorf", "--backend", "builtin", "--compact")
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout.strip().splitlines()) == 1
    assert dsl.encode(valid_plan(done.stdout)) == dsl.encode(builtin.text_card("qwxz plorf"))


async def test_openai_backend_prints_the_streamed_plan(
    clean_env: Path, nursery: trio.Nursery
) -> None:
    fake = FakeLLM(model="m")
    url = await nursery.start(fake.serve)
    plan_json = builtin.few_shot(2)[1][1]
    fake.push(Reply(content=plan_json, delay=0.01))
    with trio.fail_after(60):
        done = await run_plan(clean_env, "draw a heart", LLM_ENDPOINT=url, LLM_MODEL_ID="m")
    assert done.returncode == 0, done.stderr.decode()
    assert dsl.encode(valid_plan(done.stdout)) == dsl.encode(valid_plan(plan_json.encode()))
    assert b"first step after" in done.stderr
    assert '"draw a heart"' in fake.requests[0]["messages"][-1]["content"]


async def test_an_unreachable_endpoint_fails_with_the_cause(clean_env: Path) -> None:
    with trio.fail_after(60):
        done = await run_plan(
            clean_env,
            "cat",
            "--backend",
            "openai",
            LLM_ENDPOINT="http://127.0.0.1:9/v1",
            LLM_ATTEMPTS="1",
        )
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"connection_refused" in done.stderr


async def test_a_cut_off_stream_prints_the_partial_plan_and_fails(
    clean_env: Path, nursery: trio.Nursery
) -> None:
    fake = FakeLLM(model="m")
    url = await nursery.start(fake.serve)
    plan_json = builtin.few_shot(1)[0][1]
    fake.push(Reply(content=plan_json[: len(plan_json) // 2], finish_reason="length"))
    with trio.fail_after(60):
        done = await run_plan(clean_env, "cat", LLM_ENDPOINT=url, LLM_MODEL_ID="m")
    assert done.returncode == 1
    assert valid_plan(done.stdout).steps
    assert b"cut_off" in done.stderr


async def test_bad_arguments_exit_2(clean_env: Path) -> None:
    with trio.fail_after(60):
        done = await run_plan(clean_env, "cat", "--backend", "gpt")
    assert done.returncode == 2
    assert b"invalid choice" in done.stderr
