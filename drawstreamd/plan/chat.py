"""One request to an OpenAI-compatible chat endpoint: the HTTP edge of the planner and the
model check.

:func:`open_chat` posts a request and hands back a :class:`ChatResponse` whose body is read
chunk by chunk or up to a cap, never whole. However the caller leaves it — done, failed,
timed out or cancelled (an operator's skip) — the response is closed on the way out, at
once and shielded from the cancellation, so the server sees the connection go and stops
generating for it. :func:`http_failure` and :func:`status_error` turn httpx's exceptions
and HTTP error statuses into :class:`LLMError` with a short cause code.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import trio

from drawstreamd.plan.base import PlannerError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ERROR_BODY_BYTES = 2000
"""How much of an error response is read for its message."""
CLOSE_TIMEOUT_SEC = 1.0


class LLMError(PlannerError):
    """One failed request to the model: ``cause`` is a short code, ``detail`` says more."""

    def __init__(self, cause: str, detail: str, *, retryable: bool = True) -> None:
        super().__init__(f"LLM {cause}: {detail}")
        self.cause = cause
        self.detail = detail
        self.retryable = retryable


def kv(value: object) -> str:
    """``value`` as one ``key=value`` log field (quoted when it holds spaces or quotes)."""
    text = str(value)
    return repr(text) if (not text or any(c in text for c in " =\"'\n")) else text


class ChatResponse:
    """A response being read: ``http`` is httpx's, the body comes through this object."""

    def __init__(self, resp: httpx.Response) -> None:
        self.http = resp
        self._chunks = resp.aiter_raw()
        self._ended = False

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body as it arrives; None at its end."""
        if self._ended:
            return None
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return None

    async def read_at_most(self, limit: int) -> tuple[bytes, bool]:
        """Up to ``limit`` bytes of the body, and whether there was more (not read)."""
        data = b""
        while len(data) <= limit:
            chunk = await self.next_chunk()
            if chunk is None:
                return data, False
            data += chunk
        return data[:limit], True

    async def close(self) -> None:
        """Stop reading and close the connection now (a no-op once the body has ended).

        httpx's body iterator is a chain of async generators; one dropped mid-way is
        finalised later by the garbage collector (with a ResourceWarning under Trio).
        Iterating it once more under an expired deadline ends the whole chain at its next
        checkpoint; closing the response then closes a connection whose body was not read
        to the end rather than return it to the pool.
        """
        if not self._ended:
            with trio.move_on_after(0):
                try:
                    async for _ in self._chunks:
                        pass
                except httpx.HTTPError:
                    pass
            self._ended = True
        await self.http.aclose()


@asynccontextmanager
async def open_chat(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    timeouts: httpx.Timeout,
) -> AsyncIterator[ChatResponse]:
    """POST ``body`` to ``url``; yield the response once its headers arrived; close it after.

    Raises httpx's exceptions as they come (see :func:`http_failure`).
    """
    request = http.build_request("POST", url, json=body, headers=headers, timeout=timeouts)
    resp = await http.send(request, stream=True)
    response = ChatResponse(resp)
    try:
        yield response
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_SEC):
            await response.close()


def http_failure(exc: httpx.HTTPError, url: str, *, during: str = "") -> LLMError:
    """Name what went wrong talking to ``url``; ``during`` says where a broken reply broke."""
    if isinstance(exc, httpx.ConnectTimeout):
        return LLMError("connect_timeout", f"connecting to {url} took too long")
    if isinstance(exc, httpx.ConnectError):
        if _refused(exc):
            return LLMError(
                "connection_refused", f"{url}: connection refused (is the server running?)"
            )
        return LLMError("connect_error", f"{url}: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.TimeoutException):
        return LLMError("timeout", f"{type(exc).__name__} from {url}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        where = f" {during}" if during else ""
        return LLMError("cut_off", f"the connection broke{where}: {exc}")
    return LLMError("connect_error", f"{type(exc).__name__}: {exc}")


async def status_error(resp: ChatResponse) -> LLMError:
    """The error a non-2xx response stands for, with the server's own message."""
    body, _ = await resp.read_at_most(ERROR_BODY_BYTES)
    try:
        detail = error_text(msgspec.json.decode(body).get("error"))
    except (msgspec.DecodeError, AttributeError):
        detail = body.decode("utf-8", "replace")[:200]
    code = resp.http.status_code
    retryable = code >= 500 or code in (408, 409, 429)
    return LLMError("http_status", f"{code} {detail}".strip(), retryable=retryable)


def error_text(err: object) -> str:
    """The message of an OpenAI-style ``{"error": …}`` value."""
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err)


def _refused(exc: BaseException | None) -> bool:
    """Was a connection refused somewhere in this chain (Trio groups per-address errors)?"""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ConnectionRefusedError):
            return True
        if isinstance(exc, BaseExceptionGroup):
            return any(_refused(e) for e in exc.exceptions)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
