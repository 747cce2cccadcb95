"""The line protocol's pure core: quoting, replies, ACKs. No Trio, no sockets."""

from __future__ import annotations

from typing import Literal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drawstreamd.control import commands as cmd
from drawstreamd.control import openapi
from drawstreamd.control.protocol import (
    FIELD_TYPES,
    MAX_LINE,
    ErrorCode,
    ProtocolError,
    decode_line,
    format_ack,
    format_pairs,
    format_request,
    parse_ack,
    parse_pairs,
    quote,
    split_line,
)

NO_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
one_line = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=NO_SURROGATES))


@given(st.lists(one_line, max_size=5))
def test_any_arguments_survive_quoting(args: list[str]) -> None:
    line = " ".join(["donate", *(quote(a) for a in args)])
    assert split_line(line) == ["donate", *args]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("status", ["status"]),
        ("  donate   кот  ", ["donate", "кот"]),
        ('donate "нарисуй кота" Маша', ["donate", "нарисуй кота", "Маша"]),
        (r'donate "say \"hi\"" "back\\slash"', ["donate", 'say "hi"', "back\\slash"]),
        ('donate ""', ["donate", ""]),
        ("", []),
    ],
)
def test_split_line(line: str, words: list[str]) -> None:
    assert split_line(line) == words


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('donate "open', "missing closing quote"),
        ('donate "open\\', "missing closing quote"),
        ('donate "a"b', "space expected after closing quote"),
        ('donate a"b', "quote inside an unquoted argument"),
    ],
)
def test_bad_quoting_is_an_arg_error(line: str, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        split_line(line)
    assert (err.value.code, err.value.message) == (ErrorCode.ARG, message)


def test_decode_line_refuses_long_and_non_utf8_lines() -> None:
    assert decode_line("кот\r".encode()) == "кот"
    with pytest.raises(ProtocolError, match="not valid UTF-8"):
        decode_line(b"\xc3")
    with pytest.raises(ProtocolError, match="longer than 4096"):
        decode_line(b"x" * MAX_LINE)
    assert decode_line(b"x" * (MAX_LINE - 1)) == "x" * (MAX_LINE - 1)


def test_format_request_refuses_what_the_daemon_would() -> None:
    assert format_request("donate", "a b", "") == 'donate "a b" ""\n'
    with pytest.raises(ValueError, match="line break"):
        format_request("donate", "a\nb")
    with pytest.raises(ValueError, match="longer than 4096"):
        format_request("donate", "x" * MAX_LINE)


@given(
    st.text(),
    st.text(st.characters(blacklist_categories=NO_SURROGATES)),
    st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=1e9),
)
def test_reply_values_survive_the_wire(message: str, donor: str, amount: float) -> None:
    fields = {"id": 7, "message": message, "donor": donor, "amount": amount, "paused": True}
    lines = format_pairs(fields)
    assert all("\n" not in line and "\r" not in line for line in lines)
    back = parse_pairs(lines)
    assert back["message"] == message
    assert back["donor"] == donor
    assert back["id"] == 7
    assert back["paused"] is True
    assert back["amount"] == pytest.approx(round(amount, 3), abs=1e-3)


def test_listings_come_back_as_items() -> None:
    reply = {"paused": False, "length": 2, "items": [{"id": 1, "message": "a"}, {"id": 2}]}
    lines = format_pairs(reply)
    assert lines == ["paused: 0", "length: 2", "id: 1", "message: a", "id: 2"]
    assert parse_pairs(lines, listing=True) == reply
    assert parse_pairs(["paused: 1", "length: 0"], listing=True)["items"] == []
    events = ["changed: queued", "item_id: 3", 'data: {"donor":"Маша"}', "changed: paused"]
    assert parse_pairs(events, listing=True)["items"] == [
        {"changed": "queued", "item_id": 3, "data": {"donor": "Маша"}},
        {"changed": "paused"},
    ]


def test_acks_round_trip() -> None:
    line = format_ack(ErrorCode.NO_EXIST, "no queued item\n 7", "remove", 2)
    assert line == "ACK [50@2] {remove} no queued item 7"
    ack = parse_ack(line)
    assert (ack.code, ack.index, ack.command, ack.message) == (50, 2, "remove", "no queued item 7")
    assert parse_ack("ACK garbage").code == ErrorCode.SYSTEM


def _reply_types() -> set[type[msgspec.Struct]]:
    return {r.reply for r in openapi.ROUTES}


@pytest.mark.parametrize("reply", sorted(_reply_types(), key=repr))
def test_the_client_reads_every_reply_field_with_its_type(reply: type[msgspec.Struct]) -> None:
    """drawstreamctl --json must give the same types as the HTTP API for every field."""
    for field in msgspec.structs.fields(reply):
        if field.name == "items":
            continue
        kind = field.type
        if getattr(kind, "__origin__", None) is not None or " | " in str(kind):
            args = [a for a in getattr(kind, "__args__", ()) if a is not type(None)]
            kind = args[0] if args else kind
        if kind in (int, float, bool):
            assert FIELD_TYPES.get(field.name) is kind, f"{reply.__name__}.{field.name}"
        elif getattr(kind, "__origin__", kind) is dict:  # sent as JSON, read back as an object
            assert FIELD_TYPES.get(field.name) is dict, f"{reply.__name__}.{field.name}"
        else:
            assert field.name not in FIELD_TYPES, f"{reply.__name__}.{field.name}"
    fields_of_items = msgspec.structs.fields(cmd.ItemInfo)
    assert {f.name for f in fields_of_items} >= {"id", "amount", "queued_at"}
