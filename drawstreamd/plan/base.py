"""The seam between planners (builtin library, LLM) and the worker/renderer.

A planner fills a :class:`PlanBuffer` step by step; the renderer animates whatever steps the
buffer holds while the planner is still writing. A plan is complete when the buffer is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import msgspec
import trio

from drawstreamd.plan import dsl

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.plan.dsl import Plan, Step


MAX_ERRORS = 20
"""Reasons kept per plan; later ones are only counted (a model can write thousands of bad
steps)."""
MAX_REASON_CHARS = 300
GLUED_TEXTS = 12
"""A new text step is also read glued to up to this many texts before it on the same row (a
word spelled a letter a step fits)."""



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
        self.text_rule: Callable[[str], str | None] | None = None
        """Judges every text written into the picture (the gatekeeper's): the rule that
        refuses it, or None. A refused text is dropped with a reason; the rest is drawn."""
        self._texts: list[dsl.Text] = []

    def set_header(self, *, seed: int | None = None, bg: str | None = None) -> None:
        if seed is not None:
            self.seed = seed
        if bg is not None:
            self.bg = bg
        self._poke()

    def add(self, step: Step) -> None:
        if self.closed:
            raise RuntimeError("plan buffer is closed")
        checked = self._checked(step)
        if checked is None:
            return
        self.steps.append(checked)
        self._poke()

    def _checked(self, step: Step) -> Step | None:
        """``step`` without the texts the gatekeeper refuses (None: nothing of it is left)."""
        if self.text_rule is None:
            return step
        if isinstance(step, dsl.Text):
            return step if self._text_passes(step) else None
        if isinstance(step, dsl.Group) and any(isinstance(s, dsl.Text) for s in step.s):
            kept = [s for s in step.s if not isinstance(s, dsl.Text) or self._text_passes(s)]
            if len(kept) == len(step.s):
                return step
            return msgspec.structs.replace(step, s=kept) if kept else None
        return step

    def _text_passes(self, step: dsl.Text) -> bool:
        assert self.text_rule is not None
        # Alone, and with the texts before it: a word spelled across steps is still a word,
        # whether they read apart, or as one where they stand side by side on a row ("SWAS"
        # then "TIKA"; in the order they are written, and from left to right).
        text = step.t
        row = [t for t in self._texts if _same_row(t, step)][-GLUED_TEXTS:]
        glued = ["".join(t.t for t in row[i:]) + text for i in range(len(row))]
        if row:
            glued.append("".join(t.t for t in sorted([*row, step], key=lambda t: t.x)))
        apart = " ".join([*(t.t for t in self._texts), text])
        for candidate in (text, apart, *glued):
            rule = self.text_rule(candidate)
            if rule is not None:
                self.drop(f"a text step was not drawn: refused by the gatekeeper ({rule})")
                return False
        self._texts.append(step)
        return True

    def snapshot(self) -> Plan:
        """The plan as written so far (the whole plan once closed)."""
        return dsl.Plan(seed=self.seed, bg=self.bg, steps=list(self.steps))

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


def _same_row(a: dsl.Text, b: dsl.Text) -> bool:
    """Whether two texts share a row of the picture (their 7-px-high glyphs overlap)."""
    return abs(a.y - b.y) < 7 * max(a.s, b.s)


class Planner(Protocol):
    name: str

    async def plan(self, message: str, out: PlanBuffer) -> None:
        """Write a plan for ``message`` into ``out`` and close it.

        Raises :class:`PlannerError` on failure; steps already added stay (they are drawn),
        and the worker falls back to the builtin library or the text card when none came.
        """
        ...
