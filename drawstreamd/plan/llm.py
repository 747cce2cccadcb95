"""The LLM planner: an OpenAI-compatible chat endpoint (Ollama, llama.cpp, vLLM…) over httpx.

:class:`OpenAIPlanner` asks for a streamed, schema-constrained completion, parses the JSON as
it arrives (:mod:`drawstreamd.plan.stream`), validates each completed step
(:func:`drawstreamd.plan.dsl.parse_steps`: a ``use`` step becomes its library subject's
steps) and adds it to the :class:`PlanBuffer` at once, so
the renderer starts drawing while the model is still writing.

Every failure raises :class:`LLMError` (a :class:`PlannerError`) naming its cause, and is
logged on ``drawstreamd.llm`` as ``key=value`` text: ``connection_refused``, ``connect_error``,
``connect_timeout``, ``timeout`` (the whole attempt), ``idle_timeout`` (no chunk for
``LLM_IDLE_TIMEOUT_SEC``), ``http_status``, ``invalid_json``, ``invalid_chunk``,
``server_error``, ``cut_off``, ``wrong_shape``, ``no_valid_step``, ``internal``. Failed
attempts are retried with the shared :class:`Backoff` only while no step has been drawn, and
never beyond ``LLM_TIMEOUT_SEC × LLM_ATTEMPTS`` in all. Steps already in the buffer stay and
the buffer is closed; otherwise it is left open and empty for the worker's fallback.

The grammar sent to the model caps every list (``LLM_MAX_STEPS``, ``LLM_MAX_POINTS``,
``LLM_MAX_GROUP_SHAPES``) and text, so a model that starts repeating itself still closes its
plan before ``LLM_MAX_TOKENS``.

Reading stops as soon as the plan is complete (its JSON object closed, ``[DONE]``, or the
step limit reached) and the response is closed at once, as it is when planning is cancelled
(:func:`drawstreamd.plan.chat.open_chat`): the server sees the connection go and stops
writing. Every buffer on the way is capped (:mod:`drawstreamd.plan.stream`,
:meth:`PlanBuffer.drop`).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import trio

from drawstreamd.plan import builtin, dsl, prompt
from drawstreamd.plan.chat import (
    ChatResponse,
    LLMError,
    error_text,
    http_failure,
    kv,
    open_chat,
    status_error,
)
from drawstreamd.plan.stream import (
    Field,
    InvalidJSON,
    PlanStreamParser,
    SSEDecoder,
    SSETooLong,
    StreamError,
    Truncated,
    WrongShape,
)
from drawstreamd.retry import Backoff

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.config import Settings
    from drawstreamd.plan.base import PlanBuffer

__all__ = ["LLMError", "OpenAIPlanner"]

log = logging.getLogger("drawstreamd.llm")

FEW_SHOT = 3
"""How many library plans go into the prompt as examples (chosen for each request)."""
PROBE_TIMEOUT_SEC = 3.0
TEXT_CAP = 60
"""Longest text the model may write in one step (a caption, not a letter)."""


def system_for(settings: Settings, subjects: list[str]) -> tuple[dict[str, Any], str, prompt.Caps]:
    """The schema the model's grammar follows, its system prompt and the caps they hold it
    to; ``subjects``: the library names a ``use`` step may draw (none: no ``use`` step)."""
    caps = prompt.Caps(
        steps=min(settings.LLM_MAX_STEPS, dsl.LIMITS.STEPS),
        points=min(settings.LLM_MAX_POINTS, dsl.LIMITS.POINTS),
        shapes=min(settings.LLM_MAX_GROUP_SHAPES, dsl.LIMITS.GROUP_CHILDREN),
        text=min(TEXT_CAP, dsl.LIMITS.TEXT_CHARS),
    )
    schema = prompt.llm_schema(dsl.json_schema(subjects), caps)
    system = prompt.system_prompt(
        schema,
        canvas_w=settings.CANVAS_W,
        canvas_h=settings.CANVAS_H,
        palette=list(dsl.PALETTE),
        animations=list(dsl.ANIMATIONS),
        caps=caps,
        total_ms=dsl.LIMITS.TOTAL_MS,
        default_ms=settings.DEFAULT_STEP_DURATION_MS,
        subjects=subjects,
    )
    return schema, system, caps


class OpenAIPlanner:
    """Plans drawings with a model behind ``POST {LLM_ENDPOINT}/chat/completions``."""

    name = "llm"

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        examples: list[tuple[str, str]] | None = None,
        backoff: Callable[[], Backoff] | None = None,
    ) -> None:
        self._s = settings
        self._http = http
        self._endpoint = settings.LLM_ENDPOINT.rstrip("/")
        self._max_steps = min(settings.LLM_MAX_STEPS, dsl.LIMITS.STEPS)
        self._schema, self._system, self._caps = system_for(settings, list(builtin.LIBRARY))
        self._examples = examples
        self._backoff = backoff or (
            lambda: Backoff(base=0.5, cap=5.0, attempts=settings.LLM_ATTEMPTS)
        )
        idle = min(settings.LLM_IDLE_TIMEOUT_SEC, settings.LLM_TIMEOUT_SEC)
        self._idle = idle
        self._timeout = httpx.Timeout(
            connect=idle, read=settings.LLM_TIMEOUT_SEC, write=idle, pool=idle
        )
        key = settings.LLM_API_KEY.get_secret_value()
        self._auth = {"Authorization": f"Bearer {key}"} if key else {}
        self._headers = {"Accept": "text/event-stream", **self._auth}

    def request_body(self, message: str) -> dict[str, Any]:
        """The exact JSON body sent for ``message`` (also used by tests and the CLI)."""
        examples = self._examples
        if examples is None:
            caps = self._caps
            examples = builtin.examples_for(
                message, FEW_SHOT, points=caps.points, shapes=caps.shapes
            )
        return prompt.request_body(
            model=self._s.LLM_MODEL_ID,
            messages=prompt.build_messages(self._system, message, examples),
            schema=self._schema,
            temperature=self._s.LLM_TEMPERATURE,
            max_tokens=self._s.LLM_MAX_TOKENS,
        )

    async def list_models(self) -> list[str]:
        """The model names ``GET {endpoint}/models`` lists (empty when the reply has none).

        Raises :class:`LLMError` (``connection_refused``, ``connect_error``,
        ``connect_timeout``, ``timeout``, ``http_status``) when the endpoint does not answer
        with a success within :data:`PROBE_TIMEOUT_SEC`.
        """
        url = f"{self._endpoint}/models"
        timeout = PROBE_TIMEOUT_SEC
        try:
            with trio.fail_after(timeout):
                resp = await self._http.get(url, headers=self._auth, timeout=timeout)
        except trio.TooSlowError:
            raise LLMError("timeout", f"no answer from {url} within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise http_failure(exc, url) from None
        if not resp.is_success:
            try:
                detail = error_text(resp.json().get("error"))
            except (ValueError, AttributeError):
                detail = resp.text[:200]
            code = resp.status_code
            raise LLMError("http_status", f"{code} {detail}".strip(), retryable=code >= 500)
        try:
            data = resp.json().get("data", [])
            return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
        except (ValueError, AttributeError, TypeError):
            return []

    async def probe(self) -> bool:
        """Is the endpoint answering? ``GET {endpoint}/models`` with a short timeout."""
        try:
            ids = await self.list_models()
        except LLMError as exc:
            log.debug("llm probe failed cause=%s detail=%s", exc.cause, kv(exc.detail))
            return False
        if ids and self._s.LLM_MODEL_ID not in ids:
            log.warning(
                "llm model not listed by the endpoint model=%s listed=%s",
                kv(self._s.LLM_MODEL_ID),
                kv(",".join(ids[:10])),
            )
        return True

    async def plan(self, message: str, out: PlanBuffer) -> None:
        """Stream a plan for ``message`` into ``out`` and close it; see the module docstring.

        Returns within ``LLM_TIMEOUT_SEC × LLM_ATTEMPTS`` (retry pauses included). When
        cancelled, ``out`` is left as it is (open).
        """
        body = self.request_body(message)
        backoff = self._backoff()
        deadline = trio.current_time() + self._s.LLM_TIMEOUT_SEC * self._s.LLM_ATTEMPTS
        attempt = 0
        while True:
            attempt += 1
            budget = min(self._s.LLM_TIMEOUT_SEC, deadline - trio.current_time())
            try:
                await self._attempt(body, out, attempt, budget)
                return
            except LLMError as exc:
                log.warning(
                    "llm attempt failed cause=%s attempt=%d/%d steps=%d detail=%s",
                    exc.cause,
                    attempt,
                    self._s.LLM_ATTEMPTS,
                    len(out.steps),
                    kv(exc.detail),
                )
                if out.steps:
                    out.close()  # what was drawn is the plan
                    raise
                if not exc.retryable or attempt >= self._s.LLM_ATTEMPTS:
                    raise
                delay = backoff.next_delay()
                left = deadline - trio.current_time() - delay
                if left < min(1.0, self._s.LLM_TIMEOUT_SEC / 4):
                    raise  # no time left for a useful attempt
                log.info("llm retry attempt=%d delay_sec=%.2f", attempt + 1, delay)
                await trio.sleep(delay)

    async def _attempt(
        self, body: dict[str, Any], out: PlanBuffer, attempt: int, budget: float
    ) -> None:
        url = f"{self._endpoint}/chat/completions"
        started = trio.current_time()
        try:
            with trio.fail_after(budget):
                async with open_chat(
                    self._http, url, body, headers=self._headers, timeouts=self._timeout
                ) as resp:
                    if not resp.http.is_success:
                        raise await status_error(resp)
                    await self._read(resp, out)
        except trio.TooSlowError:
            raise LLMError("timeout", f"no complete plan within {budget:.3g} s") from None
        except httpx.HTTPError as exc:
            during = f"mid-plan after {len(out.steps)} step(s)"
            raise http_failure(exc, url, during=during) from None
        except LLMError:
            raise
        except Exception as exc:  # a bug must not take the worker down with it
            log.exception("llm internal error")
            raise LLMError("internal", f"{type(exc).__name__}: {exc}", retryable=False) from exc
        log.info(
            "llm plan done attempt=%d steps=%d dropped=%d seconds=%.2f",
            attempt,
            len(out.steps),
            out.dropped,
            trio.current_time() - started,
        )

    async def _read(self, resp: ChatResponse, out: PlanBuffer) -> None:
        """Read the stream until the plan is complete, then stop: the rest is not read.

        The plan is complete at ``[DONE]``, when its JSON object closes, or at the step
        limit; the caller closes the response right away, so a server that writes on (or
        never ends its line) costs nothing more.
        """
        sse = SSEDecoder()
        parser = PlanStreamParser()
        reader = _Reader(self, out, parser)
        while not (reader.done_marker or parser.done or reader.limit_hit):
            # Before the first chunk only the total timeout applies (a cold model loads).
            idle = self._idle if reader.seen_chunk else math.inf
            with trio.move_on_after(idle) as scope:
                raw = await resp.next_chunk()
            if scope.cancelled_caught:
                raise LLMError(
                    "idle_timeout",
                    f"no data for {idle:g} s after {len(out.steps)} step(s)",
                )
            if raw is None:
                break
            try:
                events = sse.feed(raw)
            except SSETooLong as exc:
                raise LLMError("invalid_chunk", str(exc)) from None
            for data in events:
                if reader.chunk(data):
                    break
        reader.finish()
        out.close()


class _Reader:
    """Turns SSE payloads into header fields and validated steps in the buffer."""

    def __init__(self, owner: OpenAIPlanner, out: PlanBuffer, parser: PlanStreamParser) -> None:
        self._owner = owner
        self._out = out
        self._parser = parser
        self.seen_chunk = False
        self.done_marker = False
        self.finish_reason: str | None = None
        self.limit_hit = False
        self._items = 0
        self._kept = 0  # steps written and kept; a use step is one, however many it draws

    def chunk(self, data: str) -> bool:
        """Handle one SSE payload; True when reading should stop."""
        self.seen_chunk = True
        if data.strip() == "[DONE]":
            self.done_marker = True
            return True
        try:
            obj = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise LLMError("invalid_chunk", f"not JSON: {data[:80]!r}") from None
        if not isinstance(obj, dict):
            raise LLMError("invalid_chunk", f"not a JSON object: {data[:80]!r}")
        if "error" in obj:
            raise LLMError("server_error", error_text(obj["error"]))
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices:
            return False  # e.g. a usage-only chunk
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content and not self._parser.done:
            self._feed(content)
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            self.finish_reason = reason
        return self.limit_hit

    def _feed(self, content: str) -> None:
        try:
            events = self._parser.feed(content)
        except InvalidJSON as exc:
            raise LLMError("invalid_json", str(exc)) from None
        except WrongShape as exc:
            raise LLMError("wrong_shape", str(exc)) from None
        except StreamError as exc:
            raise LLMError("invalid_json", str(exc)) from None
        for event in events:
            if isinstance(event, Field):
                self._header(event.key, event.value)
                continue
            self._items += 1
            limit = self._owner._max_steps
            if self._kept >= limit:
                self.limit_hit = True
                self._out.drop(f"steps beyond the {limit}-step limit ignored")
                log.warning("llm step limit reached limit=%d", limit)
                return
            try:
                steps = dsl.parse_steps(event.value, builtin.LIBRARY)
                if len(self._out.steps) + len(steps) > dsl.LIMITS.STEPS:
                    raise dsl.StepError(
                        f"its {len(steps)} steps would pass the {dsl.LIMITS.STEPS}-step limit"
                    )
            except dsl.StepError as exc:
                reason = f"step {event.index}: {exc}"
                self._out.drop(reason)
                log.info("llm step dropped cause=schema_violation detail=%s", kv(reason))
                continue
            if not self._out.steps:
                self._out.origin = self._owner.name
            self._kept += 1
            for step in steps:
                self._out.add(step)

    def _header(self, key: str, value: Any) -> None:
        if key == "v":
            if value != dsl.VERSION:
                raise LLMError("wrong_shape", f"unsupported plan version {value!r}")
        elif key == "seed":
            if isinstance(value, float) and math.isfinite(value):
                value = round(value)
            if isinstance(value, int) and not isinstance(value, bool):
                self._out.set_header(seed=value % (dsl.LIMITS.SEED + 1))
            else:
                self._drop(f"seed must be an integer, got {value!r}")
        elif key == "bg":
            if value is None:
                return
            try:
                if not isinstance(value, str):
                    raise dsl.StepError(f"bg must be a colour string, got {value!r}")
                self._out.set_header(bg=dsl.normalize_color(value))
            except dsl.StepError as exc:
                self._drop(f"bg: {exc}")
        else:
            self._drop(f"unknown plan field {key!r} ignored")

    def _drop(self, reason: str) -> None:
        self._out.drop(reason)
        log.info("llm header dropped cause=schema_violation detail=%s", kv(reason))

    def finish(self) -> None:
        """The stream ended (or was stopped on purpose): is the plan complete and usable?"""
        if not self.limit_hit:
            try:
                self._parser.finish()
            except Truncated as exc:
                if self.finish_reason == "length":
                    detail = f"max_tokens ({self._owner._s.LLM_MAX_TOKENS}) reached: {exc}"
                else:
                    detail = str(exc)
                raise LLMError("cut_off", detail) from None
            except WrongShape as exc:
                raise LLMError("wrong_shape", str(exc)) from None
        if not self._out.steps:
            raise LLMError(
                "no_valid_step",
                f"{self._items} step(s) written, none valid: " + "; ".join(self._out.errors[:3]),
            )
