"""The labelled corpus: recall and false-block rate on the tuning sets and the regression sets.

corpus_tune.tsv and tune_hate_minors.tsv are what the rules were tuned against; each
corpus_regression*.tsv and regression_hate_minors.tsv was written as a held-out set before the
rule changes that followed it, scored once (docs/gatekeeper.md keeps that first score as the
estimate on unseen messages) and kept as a regression set afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from gatekeeper_corpus import ALL_HALVES, REGRESSION_HATE, load, score

from drawstreamd.gatekeeper.filter import Gatekeeper

if TYPE_CHECKING:
    from pathlib import Path

ALL = ALL_HALVES


def test_corpus_is_big_balanced_and_without_repeats() -> None:
    rows = [row for path in ALL for row in load(path)]
    bad = sum(1 for label, _ in rows if label)
    assert len(rows) >= 300
    assert bad >= 100
    assert len(rows) - bad >= 100
    messages = [m for _, m in rows]
    assert len(set(messages)) == len(messages), "a message appears twice (or in two halves)"


@pytest.mark.parametrize("path", ALL, ids=[path.stem.removeprefix("corpus_") for path in ALL])
def test_recall_and_false_blocks(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = score(Gatekeeper(), load(path))
    with capsys.disabled():
        print("\n" + result.line(path.name))
    # Issue 12 set its bar for the hate and minors set at recall 0.95; issue 7 set 0.97.
    assert result.recall >= (0.95 if path == REGRESSION_HATE else 0.97), f"missed: {result.missed}"
    assert result.false_block_rate <= 0.02, f"blocked innocent: {result.false_blocks}"


def test_every_block_in_the_corpus_names_a_known_rule() -> None:
    gate = Gatekeeper()
    verdicts = [gate.check(m) for path in ALL for label, m in load(path) if label]
    rules = {v.rule for v in verdicts if v.nsfw and v.rule is not None}
    assert rules, "nothing was blocked"
    assert all(v.rule is not None for v in verdicts if v.nsfw), "a block without a rule"
    for rule in rules:
        family, _, name = rule.partition(":")
        assert family in {"sexual", "hate", "minors"}, rule
        assert name, rule
