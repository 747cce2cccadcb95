"""Loading and scoring the labelled gatekeeper corpus (the tuning set and the regression sets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drawstreamd.gatekeeper.filter import Gatekeeper

HERE = Path(__file__).parent
TUNE = HERE / "corpus_tune.tsv"
# Held-out sets until their first score (docs/gatekeeper.md keeps it); regression sets since.
REGRESSION = tuple(HERE / f"corpus_regression{n}.tsv" for n in range(1, 8))
# Slurs, caricature, lynching, extremist imagery, minors, plain-word nudity (issue 12).
TUNE_HATE = HERE / "tune_hate_minors.tsv"
REGRESSION_HATE = HERE / "regression_hate_minors.tsv"
ALL_HALVES = (TUNE, *REGRESSION, TUNE_HATE, REGRESSION_HATE)


def load(path: Path) -> list[tuple[bool, str]]:
    """Rows of ``label<TAB>message``; ``#`` starts a comment line."""
    rows: list[tuple[bool, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, message = line.split("\t", 1)
        rows.append((label == "1", message))
    return rows


@dataclass
class Score:
    caught: int = 0
    blocked_innocent: int = 0
    bad: int = 0
    innocent: int = 0
    missed: list[str] = field(default_factory=list)
    false_blocks: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.bad

    @property
    def false_block_rate(self) -> float:
        return self.blocked_innocent / self.innocent

    def line(self, name: str) -> str:
        return (
            f"{name}: recall {self.recall:.3f} ({self.caught}/{self.bad}), false-block rate "
            f"{self.false_block_rate:.3f} ({self.blocked_innocent}/{self.innocent})"
        )


def score(gate: Gatekeeper, rows: list[tuple[bool, str]]) -> Score:
    result = Score()
    for bad, message in rows:
        verdict = gate.check(message)
        if bad:
            result.bad += 1
            if verdict.nsfw:
                result.caught += 1
            else:
                result.missed.append(message)
        else:
            result.innocent += 1
            if verdict.nsfw:
                result.blocked_innocent += 1
                result.false_blocks.append((message, verdict.rule))
    return result


if __name__ == "__main__":
    import sys

    gate = Gatekeeper()
    for path in ALL_HALVES if "--all" in sys.argv else (TUNE,):
        s = score(gate, load(path))
        print(s.line(path.name))
        for m in s.missed:
            print("  MISSED ", m)
        for m, rule in s.false_blocks:
            print("  BLOCKED", m, rule)
