"""The seam between planners (builtin library, LLM) and the worker/renderer.

A planner fills a :class:`PlanBuffer` step by step; the renderer animates whatever steps the
buffer holds while the planner is still writing. A plan is complete when the buffer is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import trio

if TYPE_CHECKING:
    from drawstreamd.plan.dsl import Plan, Step


MAX_ERRORS = 20
"""Reasons kept per plan; later ones are only counted (a model can write thousands of bad
steps)."""
MAX_REASON_CHARS = 300


class PlannerError(Exception):
    """A planner gave up; steps already in the buffer stay and are drawn."""


class PlanBuffer:
    """A plan that grows while it is being written (streamed by an LLM, or all at once)."""

    def __init__(self) -> None:
        self.seed: int = 0
        self.bg: str | None = None
        self.steps: list[Step] = []
        self.errors: list[str] = []
        """Validation reasons for dropped steps (operator-facing): the first
        :data:`MAX_ERRORS`, then one line counting the rest."""
        self.dropped = 0
        """How many reasons were given in all."""
        self.origin: str = ""
        """Which planner produced it: ``llm``, ``builtin``, ``card``…"""
        self.closed = False
        self._changed = trio.Event()

    def set_header(self, *, seed: int | None = None, bg: str | None = None) -> None:
        if seed is not None:
            self.seed = seed
        if bg is not None:
            self.bg = bg
        self._poke()

    def add(self, step: Step) -> None:
        if self.closed:
            raise RuntimeError("plan buffer is closed")
        self.steps.append(step)
        self._poke()

    def drop(self, reason: str) -> None:
        self.dropped += 1
        if self.dropped <= MAX_ERRORS:
            if len(reason) > MAX_REASON_CHARS:
                reason = reason[: MAX_REASON_CHARS - 1] + "…"
            self.errors.append(reason)
            return
        more = self.dropped - MAX_ERRORS
        summary = f"{more} more reason(s) not kept"
        if more == 1:
            self.errors.append(summary)
        else:
            self.errors[-1] = summary

    def close(self) -> None:
        self.closed = True
        self._poke()

    def fill(self, plan: Plan, origin: str) -> None:
        """Put a whole, already validated plan in and close the buffer."""
        self.origin = origin
        self.set_header(seed=plan.seed, bg=plan.bg)
        for step in plan.steps:
            self.add(step)
        self.close()

    async def wait_changed(self) -> None:
        """Return once a step was added or the buffer closed (after the last call)."""
        await self._changed.wait()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


class Planner(Protocol):
    name: str

    async def plan(self, message: str, out: PlanBuffer) -> None:
        """Write a plan for ``message`` into ``out`` and close it.

        Raises :class:`PlannerError` on failure; steps already added stay (they are drawn),
        and the worker falls back to the builtin library or the text card when none came.
        """
        ...
