"""One retry/reconnect policy: exponential backoff with full jitter and caps.

Shared by the Donation Alerts ingestor and the LLM client, so both back off the same way.
The policy is a pure object (no clock of its own); the caller sleeps.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays for successive failures: ``base·2^n`` capped at ``cap``, jittered.

    ``next_delay()`` returns how long to wait before the next attempt; ``reset()`` after a
    success. ``attempts`` (if set) bounds how many attempts a single operation gets.
    """

    base: float = 1.0
    cap: float = 30.0
    floor: float = 0.0
    """No delay is shorter than this (e.g. 1 s for reconnects)."""
    jitter: float = 0.5
    """Share of the delay that is randomised: 0 = none, 1 = full jitter."""
    attempts: int | None = None
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        raw = min(self.cap, self.base * (2.0**self.failures))
        self.failures += 1
        spread = raw * self.jitter
        delay = raw - spread + self.rng.random() * spread
        return max(self.floor, min(self.cap, delay))

    def reset(self) -> None:
        self.failures = 0

    @property
    def exhausted(self) -> bool:
        return self.attempts is not None and self.failures >= self.attempts
