"""Doubtful verdicts: requests that pass in automatic mode but that a moderator should see
(moderation mode 'flagged'); a refusal always wins over a doubt."""

from __future__ import annotations

import pytest

from drawstreamd.gatekeeper.filter import Gatekeeper, Verdict


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("нарисуй девушку в купальнике на пляже", "doubtful:swimwear"),
        ("draw a woman in a bikini", "doubtful:swimwear"),
        ("draw a shirtless guy", "doubtful:swimwear"),
        ("нарисуй девушку в полотенце", "doubtful:swimwear"),
        ("нарисуй мою дочку в купальнике", "doubtful:minors"),
        ("draw a man in his underwear", "doubtful:underwear"),
        ("draw a seductive elf", "doubtful:suggestive"),
        ("нарисуй горячую девушку", "doubtful:suggestive"),
        ("нарисуй поцелуй двух котов", "doubtful:kiss"),
        ("draw two people kissing", "doubtful:kiss"),
        ("draw a zombie covered in blood", "doubtful:gore"),
        ("нарисуй отрубленную голову", "doubtful:gore"),
        ("draw a cowboy pointing a gun at a sheriff", "doubtful:weapon"),
        ("нарисуй Путина на коне", "doubtful:politics"),
        ("draw Trump eating a burger", "doubtful:politics"),
        ("draw my ex as a troll", "doubtful:person"),
        ("нарисуй мою бывшую", "doubtful:person"),
        ("draw the confederate flag", "doubtful:flag"),
        ("draw a black sun", "doubtful:symbol"),
    ],
)
def test_borderline_requests_pass_but_are_flagged(
    gate: Gatekeeper, message: str, rule: str
) -> None:
    assert gate.check(message) == Verdict(nsfw=False, rule=rule, doubtful=True)


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("draw a naked woman in a bikini", "sexual:nudity"),  # nudity, not swimwear
        ("draw a little girl in a bikini posing", "minors:sexual"),  # a child, not swimwear
        ("draw a black sun made of sig runes", "hate:extremist"),  # the symbol itself
        ("нарисуй Путина со свастикой", "hate:swastika"),
        ("draw two men kissing, both nude", "sexual:nudity"),
    ],
)
def test_a_refusal_wins_over_a_doubt(gate: Gatekeeper, message: str, rule: str) -> None:
    assert gate.check(message) == Verdict(nsfw=True, rule=rule, doubtful=False)


@pytest.mark.parametrize(
    "message",
    [
        "нарисуй кота",
        "draw a cat in a hat",
        "нарисуй анализ крови",  # a blood test is not gore
        "нарисуй кота в трусах",  # a cat in pants is a joke, not underwear on a person
        "draw Lara Croft with two pistols",  # a weapon held, not pointed at someone
        "draw a solar eclipse, a black sun with a corona",
        "draw a swimming pool",
        "нарисуй мою кошку",
    ],
)
def test_ordinary_requests_are_not_doubtful(gate: Gatekeeper, message: str) -> None:
    assert gate.check(message) == Verdict(nsfw=False, rule=None, doubtful=False)


def test_old_two_field_verdicts_still_compare_equal() -> None:
    # Callers that build or compare Verdict(nsfw, rule) keep working.
    assert Verdict(True, "sexual:genitals") == Verdict(True, "sexual:genitals", doubtful=False)
    assert Verdict(False, None).doubtful is False
