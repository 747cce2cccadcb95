"""Donor names: handles that carry a slur, a hate code or a sexual word are refused; ordinary
handles and surnames with such a stem inside by accident pass (tests/gatekeeper/names.tsv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drawstreamd.gatekeeper.filter import Gatekeeper, Verdict

NAMES = Path(__file__).parent / "names.tsv"


def _names(label: str) -> list[str]:
    rows = [line.split("\t") for line in NAMES.read_text(encoding="utf-8").splitlines()]
    return [row[1] for row in rows if row[0] == label]


REFUSED = _names("1")
ORDINARY = _names("0")


def test_the_name_corpus_has_both_kinds() -> None:
    assert len(REFUSED) >= 60
    assert len(ORDINARY) >= 60
    assert not set(REFUSED) & set(ORDINARY)


@pytest.mark.parametrize("name", REFUSED)
def test_bad_handles_are_refused_with_a_rule(gate: Gatekeeper, name: str) -> None:
    verdict = gate.check_name(name)
    assert verdict.nsfw, name
    assert verdict.rule is not None
    assert verdict.rule.partition(":")[0] in {"sexual", "hate", "minors"}


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_handles_and_surnames_pass(gate: Gatekeeper, name: str) -> None:
    assert gate.check_name(name) == Verdict(False, None)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("xXpussySlayerXx", "sexual:genitals"),  # frame off, camelCase split
        ("Adolf_1488", "hate:nazi"),
        ("Kostya_1488", "hate:code"),  # digits apart from letters
        ("HitlerDidNothingWrong", "hate:nazi"),
        ("негр_убийца", "hate:slur"),
        ("n1ggaPlease", "hate:slur"),  # leet kept inside the word
        ("ihatenIggers", "hate:slur"),  # glued in a lowercase run
        ("WhiteWolf_88", "hate:code"),  # 88 says what it means beside 'white'
        ("loliFan", "minors:sexual"),
    ],
)
def test_how_a_handle_is_read(gate: Gatekeeper, name: str, rule: str) -> None:
    assert gate.check_name(name) == Verdict(True, rule)


@pytest.mark.parametrize("name", ["Katya88", "Misha_1988", "BikiniBottom", "PutinFan", "Kiss_Me"])
def test_names_are_never_doubtful_and_years_are_years(gate: Gatekeeper, name: str) -> None:
    assert gate.check_name(name) == Verdict(False, None)


def test_config_words_apply_to_names() -> None:
    gate = Gatekeeper(extra_block=["жаба"], extra_allow=["Шлюхин"])
    assert gate.check_name("ЖабаКвакает").rule == "config:block"
    assert gate.check_name("Шлюхин") == Verdict(False, None)
