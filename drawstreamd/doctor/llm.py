"""Doctor check of the planner: the LLM endpoint answers and serves the model it is asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drawstreamd.doctor.result import Result, fail, ok
from drawstreamd.plan.llm import PROBE_TIMEOUT_SEC, LLMError, OpenAIPlanner

if TYPE_CHECKING:
    from drawstreamd.doctor.result import Context

_BUILTIN = "or set LLM_BACKEND=builtin to draw only the builtin pictures"


def _failure(endpoint: str, exc: LLMError) -> Result:
    name = "LLM"
    if exc.cause == "connection_refused":
        return fail(
            name,
            f"nothing answers at {endpoint} (connection refused)",
            "start the model server (e.g. `ollama serve` or `llama-server`), or set "
            f"LLM_ENDPOINT to where it listens, {_BUILTIN}",
        )
    if exc.cause in ("timeout", "connect_timeout"):
        return fail(
            name,
            f"{endpoint} gives no answer within {PROBE_TIMEOUT_SEC:g} s",
            f"check that the model server runs and is not overloaded, and LLM_ENDPOINT, {_BUILTIN}",
        )
    if exc.cause == "http_status":
        status = exc.detail.split(" ", 1)[0]
        if status in ("401", "403"):
            fix = "set LLM_API_KEY to a key the server accepts"
        elif status == "404":
            fix = (
                "set LLM_ENDPOINT to the server's OpenAI-compatible base address, "
                "usually ending in /v1 (e.g. http://127.0.0.1:11434/v1 for Ollama)"
            )
        elif status == "503":
            fix = "wait until the server has loaded its model, then run `drawstreamd doctor` again"
        else:
            fix = f"see the model server's log, {_BUILTIN}"
        return fail(name, f"{endpoint}/models answered HTTP {exc.detail}", fix)
    return fail(
        name,
        f"cannot reach {endpoint}: {exc.detail}",
        f"check LLM_ENDPOINT and that the model server runs, {_BUILTIN}",
    )


async def llm(ctx: Context) -> list[Result]:
    s = ctx.config
    if s.LLM_BACKEND == "builtin":
        return [ok("LLM", "not used: LLM_BACKEND=builtin draws the builtin pictures only")]
    planner = OpenAIPlanner(s, ctx.http, examples=[])
    try:
        ids = await planner.list_models()
    except LLMError as exc:
        return [_failure(s.LLM_ENDPOINT, exc)]
    model = s.LLM_MODEL_ID
    if model in ids:
        return [ok("LLM", f"{s.LLM_ENDPOINT} answers and serves {model}")]
    if not ids:
        return [
            fail(
                "LLM",
                f"{s.LLM_ENDPOINT} answers but lists no models",
                f"load or pull {model} on the server (Ollama: `ollama pull {model}`)",
            )
        ]
    listed = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
    return [
        fail(
            "LLM",
            f"{s.LLM_ENDPOINT} does not serve LLM_MODEL_ID={model}",
            f"set LLM_MODEL_ID to one of the models it lists: {listed}; "
            f"or load {model} on the server (Ollama: `ollama pull {model}`)",
        )
    ]
