"""A fake OpenAI-compatible chat server (Hypercorn on loopback) that misbehaves on request.

It speaks the same wire format as llama.cpp's ``llama-server`` and Ollama's ``/v1`` API:
``GET /v1/models``, ``POST /v1/chat/completions`` with ``stream: true`` answered as
``text/event-stream`` ``data: {chat.completion.chunk}`` lines ending in ``data: [DONE]``
(without it, one ``chat.completion`` body), and OpenAI-style ``{"error": {...}}`` bodies for
errors. Each request takes the next queued :class:`Reply` (or the default one), which says
what to send and how to fail: slowly (one character at a time), with a stall, cut off
mid-JSON (cleanly or by dropping the connection), with a garbage chunk, an in-stream error,
an endless line, more data after ``[DONE]``, an HTTP error status, or not at all before a
long wait.

Model-check requests (:mod:`drawstreamd.plan.model_check`, told apart by their schema name)
take their replies from a queue of their own, so a test scripts plans and verdicts apart;
:func:`verdict` makes one. The fake counts the chat responses it is still writing and those
the client closed before it finished (``GET /_fake/streams`` serves the counts to a test
in another process). ``python -m drawstreamd.testing.fake_llm`` runs it on its own and
prints the ``LLM_*`` settings that point the daemon at it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from drawstreamd.plan import builtin, dsl, model_check, prompt

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class Reply:
    """How the fake answers one chat request."""

    content: str = ""
    """The assistant text to stream (normally a plan's JSON)."""
    chunk_chars: int = 7
    """Characters of ``content`` per streamed chunk."""
    delay: float = 0.0
    """Seconds between chunks (a slow model)."""
    status: int = 200
    """Anything but 200 answers with an OpenAI-style error body instead of a stream."""
    hang: float = 0.0
    """Seconds to wait before sending the response headers."""
    stall_after: int | None = None
    """Stop sending (but keep the connection open) after this many characters of content."""
    cut_after: int | None = None
    """End the stream after this many characters of content."""
    cut: Literal["eof", "abort"] = "eof"
    """``eof``: a clean HTTP end without ``[DONE]``; ``abort``: drop the connection mid-body."""
    garbage_after: int | None = None
    """Send a data line that is not JSON after this many characters of content."""
    error_after: int | None = None
    """Send an in-stream ``{"error": …}`` event after this many characters of content."""
    finish_reason: str = "stop"
    split_bytes: int | None = None
    """Write the SSE bytes in pieces of this size (splitting lines and UTF-8 characters)."""
    per_char: float = 0.0
    """Slow mode: stream one character of content every ``per_char`` seconds (overrides
    ``chunk_chars`` and ``delay``), as a model generating on a busy machine."""
    linger: bool = False
    """After ``[DONE]``, keep the response open and send a keep-alive comment every 50 ms
    until the client closes it."""
    endless_line: int = 0
    """After the first chunk, send this many bytes of one ``data:`` line with no line end,
    then keep the connection open."""


@dataclass
class FakeLLM:
    """The fake's state: queued replies and every request it received (decoded JSON)."""

    model: str = "fake-model"
    default: Reply | Callable[[dict[str, Any]], Reply] = field(default_factory=Reply)
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    models_status: int = 200
    """Status of ``GET /v1/models`` (503: a server still loading its model)."""
    url: str = ""
    """``http://127.0.0.1:PORT/v1`` once serving."""
    checks: deque[Reply] = field(default_factory=deque)
    """Queued replies to model-check requests (then ``check_default``)."""
    check_default: Reply | Callable[[dict[str, Any]], Reply] = field(
        default_factory=lambda: verdict(refuse=False)
    )
    check_requests: list[dict[str, Any]] = field(default_factory=list)
    open_streams: int = 0
    """Chat responses the fake is still writing (plans and checks)."""
    closed_by_client: int = 0
    """Chat responses the client closed before the fake had written them whole."""
    completed: int = 0
    """Chat responses written whole."""
    _changed: trio.Event = field(default_factory=trio.Event, init=False, repr=False)

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def push_checks(self, *replies: Reply) -> None:
        self.checks.extend(replies)

    def stats(self) -> dict[str, int]:
        """The counters ``GET /_fake/streams`` serves."""
        return {
            "open": self.open_streams,
            "closed_by_client": self.closed_by_client,
            "completed": self.completed,
            "plan_requests": len(self.requests),
            "check_requests": len(self.check_requests),
        }

    async def wait_until(self, condition: Callable[[FakeLLM], bool]) -> None:
        """Return once ``condition(self)`` holds; it is tested whenever a request or a
        response starts or ends."""
        while not condition(self):
            await self._changed.wait()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def serve(self, *, port: int = 0, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on 127.0.0.1 until cancelled; ``task_status`` gets the base URL (``…/v1``).

        Owns its Hypercorn server (and every open response); ``port`` 0 picks a free port.
        """
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5

        async def run(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            await hypercorn_serve(self.app, config, task_status=task_status)  # type: ignore[arg-type]

        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(run)
            self.url = binds[0] + "/v1"
            task_status.started(self.url)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/v1/models" and method == "GET" and self.models_status != 200:
            await _json(send, self.models_status, _error("loading model", "unavailable_error"))
        elif path == "/v1/models" and method == "GET":
            await _json(send, 200, {"object": "list", "data": [self._model_entry()]})
        elif path == "/v1/chat/completions" and method == "POST":
            await self._chat(receive, send)
        elif path == "/_fake/streams" and method == "GET":
            await _json(send, 200, self.stats())
        else:
            await _json(send, 404, _error(f"no route {method} {path}", "not_found_error"))

    def _model_entry(self) -> dict[str, Any]:
        return {"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}

    async def _chat(self, receive: Receive, send: Send) -> None:
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        try:
            body = json.loads(raw)
        except ValueError:
            await _json(send, 400, _error("request body is not JSON", "invalid_request_error"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            await _json(send, 400, _error("'messages' is required", "invalid_request_error"))
            return
        if _is_check(body):
            self.check_requests.append(body)
            reply = self.checks.popleft() if self.checks else self.check_default
        else:
            self.requests.append(body)
            reply = self.replies.popleft() if self.replies else self.default
        if callable(reply):
            reply = reply(body)
        self.open_streams += 1
        self._poke()
        whole = gone = False

        async def tracked(message: Message) -> None:
            nonlocal whole
            if message["type"] == "http.response.body" and not message.get("more_body"):
                whole = True  # the last message is on its way: the client may close now
            await send(message)

        try:
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    nonlocal gone
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    gone = True
                    nursery.cancel_scope.cancel()

                nursery.start_soon(watch)
                await self._answer(reply, body, tracked)
                nursery.cancel_scope.cancel()
        finally:
            self.open_streams -= 1
            if whole:
                self.completed += 1
            elif gone:
                self.closed_by_client += 1
            self._poke()

    async def _answer(self, reply: Reply, body: dict[str, Any], send: Send) -> None:
        if reply.hang:
            await trio.sleep(reply.hang)
        if reply.status != 200:
            await _json(send, reply.status, _error(f"fake failure {reply.status}", "server_error"))
        elif not body.get("stream"):
            await _json(send, 200, self._completion(reply))
        else:
            await self._stream(reply, send)

    def _completion(self, reply: Reply) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": reply.finish_reason,
                }
            ],
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"

    async def _stream(self, reply: Reply, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )

        async def write(data: bytes) -> None:
            size = reply.split_bytes or len(data)
            for i in range(0, len(data), size):
                await send(
                    {"type": "http.response.body", "body": data[i : i + size], "more_body": True}
                )

        await write(self._chunk({"role": "assistant", "content": None}))
        if reply.endless_line:
            await write(b"data: ")
            for left in range(reply.endless_line, 0, -65536):
                await write(b"x" * min(left, 65536))
            await trio.sleep_forever()
        text, sent = reply.content, 0
        step, delay = reply.chunk_chars, reply.delay
        if reply.per_char:
            step, delay = 1, reply.per_char
        marks = [
            m
            for m in (reply.stall_after, reply.cut_after, reply.garbage_after, reply.error_after)
            if m is not None
        ]
        while sent < len(text):
            if sent > 0 and delay:
                await trio.sleep(delay)
            end = min(len(text), sent + step)
            end = min([end, *[m for m in marks if m > sent]])
            await write(self._chunk({"content": text[sent:end]}))
            sent = end
            if sent == reply.garbage_after:
                await write(b"data: {not json at all\n\n")
            if sent == reply.error_after:
                err = _error("fake in-stream failure", "server_error")
                await write(b"data: " + json.dumps(err).encode() + b"\n\n")
            if sent == reply.stall_after:
                await trio.sleep_forever()
            if sent == reply.cut_after:
                if reply.cut == "abort":
                    return  # response unfinished: Hypercorn drops the connection
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        await write(self._chunk({}, reply.finish_reason))
        await write(b"data: [DONE]\n\n")
        while reply.linger:
            await trio.sleep(0.05)
            await write(b": still here\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def verdict(refuse: bool, category: str = model_check.NONE, **knobs: Any) -> Reply:
    """A reply to a model-check request: the model's answer as the schema wants it."""
    if refuse and category == model_check.NONE:
        category = model_check.CATEGORIES[0]
    answer = json.dumps({"refuse": refuse, "category": category})
    return Reply(content=answer, **knobs)


def _is_check(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    schema = fmt.get("json_schema") if isinstance(fmt, dict) else None
    return isinstance(schema, dict) and schema.get("name") == model_check.SCHEMA_NAME


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": None}}


async def _json(send: Send, status: int, obj: Any) -> None:
    body = json.dumps(obj).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def unaccepting_listener(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """A loopback port whose accept queue is full, so new connections time out.

    ``task_status`` gets the URL (``http://127.0.0.1:PORT/v1``); the socket lives until
    cancelled. Connections that never complete are what an overloaded or firewalled host
    looks like to a client: a connect timeout, not a refusal.
    """
    listener = trio.socket.socket()
    fillers: list[trio.socket.SocketType] = []
    try:
        await listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # Fill the accept queue (backlog 0 still admits one) with connections never accepted.
        for _ in range(3):
            s = trio.socket.socket()
            fillers.append(s)
            with trio.move_on_after(0.2):
                await s.connect(("127.0.0.1", port))
        task_status.started(f"http://127.0.0.1:{port}/v1")
        await trio.sleep_forever()
    finally:
        for s in fillers:
            s.close()
        listener.close()


_QUOTED = re.compile(re.escape(prompt.BEGIN) + r"\n(.*)\n" + re.escape(prompt.END))


def library_reply(body: dict[str, Any], **knobs: Any) -> Reply:
    """A plan request answered with the builtin library's plan for the quoted message."""
    content = str(body["messages"][-1].get("content", ""))
    found = _QUOTED.search(content)
    message = json.loads(found.group(1)) if found else content
    plan, _ = builtin.plan_for(str(message))
    return Reply(content=dsl.encode(plan).decode(), **knobs)


_CHECK_ANSWERS = ["allow", "garbage", "silent"] + [f"refuse:{c}" for c in model_check.CATEGORIES]


def _check_reply(answer: str) -> Reply:
    if answer == "allow":
        return verdict(refuse=False)
    if answer == "garbage":
        return Reply(content="Sure! It looks fine to me.")
    if answer == "silent":
        return Reply(hang=3600.0)
    return verdict(refuse=True, category=answer.partition(":")[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drawstreamd.testing.fake_llm",
        description="A fake OpenAI-compatible model server on loopback that answers every "
        "plan request with the builtin library's picture, for trying drawstreamd offline.",
    )
    parser.add_argument("--port", type=int, default=8933)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument(
        "--per-char",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="slow mode: stream one character every SECONDS (e.g. 0.1)",
    )
    parser.add_argument(
        "--check",
        choices=_CHECK_ANSWERS,
        default="allow",
        help="how model-check requests are answered (silent: never)",
    )
    args = parser.parse_args(argv)
    fake = FakeLLM(
        model=args.model,
        default=lambda body: library_reply(body, per_char=args.per_char),
        check_default=_check_reply(args.check),
    )

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(functools.partial(fake.serve, port=args.port))
            base = url.removesuffix("/v1")
            pace = f", one character every {args.per_char:g} s" if args.per_char else ""
            print(
                f"""fake model server is up. Point drawstreamd at it:
LLM_BACKEND=openai
LLM_ENDPOINT={url}
LLM_MODEL_ID={fake.model}

Plans: the builtin library's picture for each request{pace}.
Model checks answer: {args.check}.
Responses open and closed by the client: curl -s {base}/_fake/streams
""",
                flush=True,
            )

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
        trio.run(run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
