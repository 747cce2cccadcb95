"""The labelled corpus: recall and false-block rate on the tuned and the held-out half."""

from __future__ import annotations

import pytest
from gatekeeper_corpus import HOLDOUT, TUNE, load, score

from drawstreamd.gatekeeper.filter import Gatekeeper


def test_corpus_is_big_and_balanced() -> None:
    rows = load(TUNE) + load(HOLDOUT)
    bad = sum(1 for label, _ in rows if label)
    assert len(rows) >= 300
    assert bad >= 100
    assert len(rows) - bad >= 100
    messages = [m for _, m in rows]
    assert len(set(messages)) >= len(messages) - 5, "the corpus should not repeat itself"


@pytest.mark.parametrize("path", [TUNE, HOLDOUT], ids=["tune", "holdout"])
def test_recall_and_false_blocks(path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert path in (TUNE, HOLDOUT)
    result = score(Gatekeeper(), load(TUNE if path == TUNE else HOLDOUT))
    with capsys.disabled():
        print("\n" + result.line(TUNE.name if path == TUNE else HOLDOUT.name))
    assert result.recall >= 0.97, f"missed: {result.missed}"
    assert result.false_block_rate <= 0.02, f"blocked innocent: {result.false_blocks}"


def test_every_block_in_the_corpus_names_a_known_rule() -> None:
    gate = Gatekeeper()
    verdicts = [gate.check(m) for label, m in load(TUNE) + load(HOLDOUT) if label]
    rules = {v.rule for v in verdicts if v.rule is not None}
    assert rules, "nothing was blocked"
    assert all(v.rule is not None for v in verdicts if v.nsfw), "a block without a rule"
    for rule in rules:
        family, _, name = rule.partition(":")
        assert family in {"sexual", "hate"}, rule
        assert name, rule
