"""How much sooner the first stroke can start than the whole plan is written.

Against a real OpenAI-compatible server (by default llama.cpp's llama-server with
SmolLM2-135M, started here from the cache ``.ci/build-llama-server.sh`` fills), it plans a few
requests several times with :class:`drawstreamd.plan.llm.OpenAIPlanner` and measures, from the
moment the request is sent:

* ``first``: until the first validated step is in the plan buffer (what the viewer waits for
  before something moves);
* ``full``: until the plan is complete.

It prints the median of both and their ratio (first / full). Then it puts the same requests
to the gatekeeper's model check (:class:`drawstreamd.plan.model_check.ModelCheck`, after all
plans, so that its prompt does not evict the planner's cached one) and prints the median
time to a verdict, and how many came back usable. ``--endpoint URL`` measures an
already running server instead (e.g. Ollama: ``--endpoint http://127.0.0.1:11434/v1 --model
qwen2.5-coder:14b-instruct-q4_K_M``).

    .venv/bin/python bench/llm_latency.py [--runs 5] [--max-tokens 768]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest_llama import MODEL_ALIAS, start_llama_server, stop  # noqa: E402

from drawstreamd.config import Settings, load  # noqa: E402
from drawstreamd.plan.base import PlanBuffer, PlannerError  # noqa: E402
from drawstreamd.plan.llm import OpenAIPlanner  # noqa: E402
from drawstreamd.plan.model_check import ModelCheck  # noqa: E402

MESSAGES = ["draw a cat", "нарисуй дом с деревом", "a red rocket in space", "улыбающееся солнце"]


async def measure(
    settings: Settings, runs: int
) -> tuple[list[float], list[float], list[int], list[str], list[float], int]:
    firsts: list[float] = []
    fulls: list[float] = []
    steps: list[int] = []
    failures: list[str] = []
    checks: list[float] = []
    answered = 0
    async with httpx.AsyncClient() as http:
        planner = OpenAIPlanner(settings, http)
        # one untimed request so that model loading and prompt caching are not measured
        await _one(planner, MESSAGES[0])
        for i in range(runs):
            for message in MESSAGES:
                first, full, n, error = await _one(planner, message)
                if error:
                    failures.append(f"run {i} {message!r}: {error}")
                if first is not None:
                    firsts.append(first)
                if full is not None:
                    fulls.append(full)
                    steps.append(n)
        check = ModelCheck(settings, http)
        await check.check(MESSAGES[0], "viewer")  # untimed: caches the check's prompt
        for _ in range(runs):
            for message in MESSAGES:
                start = trio.current_time()
                verdict = await check.check(message, "viewer")
                checks.append(trio.current_time() - start)
                answered += verdict is not None
    return firsts, fulls, steps, failures, checks, answered


async def _one(planner: OpenAIPlanner, message: str) -> tuple[float | None, float | None, int, str]:
    out = PlanBuffer()
    start = trio.current_time()
    first: list[float] = []
    error = ""

    async def watch() -> None:
        while not out.steps and not out.closed:
            await out.wait_changed()
        if out.steps:
            first.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        try:
            await planner.plan(message, out)
        except PlannerError as exc:
            error = str(exc)
        nursery.cancel_scope.cancel()
    full = None if error else trio.current_time() - start
    return (first[0] if first else None), full, len(out.steps), error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="an already running OpenAI-compatible server")
    parser.add_argument("--model", default=MODEL_ALIAS)
    parser.add_argument("--runs", type=int, default=2, help="rounds over the 4 requests")
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument(
        "--max-steps", type=int, default=8, help="LLM_MAX_STEPS (the grammar ends the plan there)"
    )
    args = parser.parse_args()

    proc = None
    endpoint = args.endpoint
    if endpoint is None:
        log = Path(tempfile.mkdtemp(prefix="llm-bench-")) / "llama-server.log"
        proc, server = start_llama_server(log)
        endpoint = server.url
    try:
        settings = load(
            LLM_ENDPOINT=endpoint,
            LLM_MODEL_ID=args.model,
            LLM_MAX_TOKENS=args.max_tokens,
            LLM_MAX_STEPS=args.max_steps,
            LLM_TEMPERATURE=0.2,
            LLM_ATTEMPTS=1,
            LLM_TIMEOUT_SEC=300,
            GATEKEEPER_MODEL_TIMEOUT_SEC=120,
        )
        firsts, fulls, steps, failures, checks, answered = trio.run(measure, settings, args.runs)
    finally:
        if proc is not None:
            stop(proc)

    print(
        f"endpoint {endpoint} model {args.model} "
        f"max_tokens {args.max_tokens} max_steps {args.max_steps}"
    )
    print(f"requests {args.runs * len(MESSAGES)}, complete plans {len(fulls)}")
    for line in failures:
        print(f"  failed: {line}")
    if firsts:
        print(f"first step   median {statistics.median(firsts) * 1000:8.0f} ms (n={len(firsts)})")
    if fulls:
        print(f"whole plan   median {statistics.median(fulls) * 1000:8.0f} ms (n={len(fulls)})")
        print(f"steps/plan   median {statistics.median(steps):8.0f}")
    if firsts and fulls:
        ratio = statistics.median(firsts) / statistics.median(fulls)
        print(f"ratio first/whole   {ratio:8.2f}")
    if checks:
        print(
            f"model check  median {statistics.median(checks) * 1000:8.0f} ms "
            f"(n={len(checks)}, usable verdicts {answered})"
        )
    if checks and firsts:
        ratio = statistics.median(checks) / statistics.median(firsts)
        print(f"ratio check/first   {ratio:8.2f}")
    return 0 if firsts else 1


if __name__ == "__main__":
    sys.exit(main())
