"""The Centrifugo v2 frame state machine and the donation normaliser: pure, no Trio."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from drawstreamd.model import ANONYMOUS, MessageType
from drawstreamd.sources import centrifugo as frames
from drawstreamd.sources.donationalerts.donation import (
    AUDIO_SKIP_REASON,
    BadDonation,
    parse_donation,
    skip_reason,
)

CHANNEL = "$alerts:donation_3"
DONATION = {
    "id": 169718369,
    "name": "Donations",
    "username": "Test 8",
    "message": "draw a cat",
    "message_type": "text",
    "payin_system": None,
    "amount": 270,
    "currency": "RUB",
    "is_shown": 1,
    "amount_in_user_currency": 270,
    "recipient_name": "notafoks",
    "recipient": {"user_id": 14068224, "code": "notafoks", "name": "notafoks", "avatar": ""},
    "created_at": "2025-07-22 17:16:41",
    "shown_at": None,
    "reason": "default",
}


def subscribed() -> frames.Session:
    s = frames.Session()
    s.connect("T")
    s.receive('{"id":1,"result":{"client":"c-1","version":"2.2.1"}}\n')
    s.subscribe(CHANNEL, "CT")
    s.receive('{"id":2,"result":{"recoverable":true,"seq":4,"offset":4,"epoch":"e"}}\n')
    return s


def publication(data: object, seq: int = 5) -> str:
    return json.dumps({"result": {"channel": CHANNEL, "data": {"seq": seq, "data": data}}})


def test_commands_match_the_documented_frames() -> None:
    s = frames.Session()
    assert json.loads(s.connect("T")) == {"id": 1, "params": {"token": "T"}}
    assert s.phase is frames.Phase.CONNECTING
    events = s.receive('{"id":1,"result":{"client":"d558c046","version":"2.2.1"}}\n')
    assert events == [frames.Connected("d558c046", "2.2.1")]
    assert json.loads(s.subscribe(CHANNEL, "CT")) == {
        "id": 2,
        "method": 1,
        "params": {"channel": CHANNEL, "token": "CT"},
    }
    ping_id, ping = s.ping()
    assert json.loads(ping) == {"id": 3, "method": 7}
    assert ping_id == 3
    assert s.pending_pings == [3]


def test_subscribe_reply_join_and_publications_in_one_frame() -> None:
    s = frames.Session()
    s.connect("T")
    s.receive('{"id":1,"result":{"client":"c-1"}}')
    s.subscribe(CHANNEL, "CT")
    _, _ping = s.ping()
    frame = "\n".join(
        [
            '{"id":2,"result":{"recoverable":true,"seq":4,"offset":4,"epoch":"e"}}',
            json.dumps(
                {
                    "result": {
                        "type": 1,
                        "channel": CHANNEL,
                        "data": {"info": {"user": "3", "client": "c-1"}},
                    }
                }
            ),
            publication(DONATION),
            '{"id":3}',
            "",
        ]
    )
    events = s.receive(frame)
    assert [type(e) for e in events] == [
        frames.Subscribed,
        frames.Joined,
        frames.Publication,
        frames.Pong,
    ]
    pub = events[2]
    assert isinstance(pub, frames.Publication)
    assert pub.data == DONATION
    assert pub.seq == 5
    assert s.pending_pings == []
    assert s.phase is frames.Phase.SUBSCRIBED


def test_fresh_channel_subscribe_reply_may_be_empty() -> None:
    s = frames.Session()
    s.connect("T")
    s.receive('{"id":1,"result":{"client":"c-1"}}')
    s.subscribe(CHANNEL, "CT")
    assert s.receive('{"id":2,"result":{}}') == [frames.Subscribed(CHANNEL, {})]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json{", "invalid JSON"),
        (b"\xff\xfe", "invalid UTF-8"),
        ("[1,2]", "not a JSON object"),
        ('{"id":"x"}', "bad id"),
        ('{"id":-1}', "bad id"),
        ('{"id":99,"result":{}}', "unknown command id 99"),
        ('{"result":"nope"}', "push without a result object"),
        ('{"result":{"type":"join"}}', "bad type"),
        ('{"result":{"type":42}}', "unknown push type 42"),
        ('{"result":{"channel":7}}', "bad channel"),
        (json.dumps({"result": {"channel": CHANNEL, "data": "x"}}), "publication without data"),
        ("[" * 100_000, "invalid JSON"),
    ],
)
def test_malformed_frames_become_events_not_exceptions(message: str | bytes, reason: str) -> None:
    s = subscribed()
    events = s.receive(message)
    assert len(events) == 1
    assert isinstance(events[0], frames.Malformed)
    assert reason in events[0].reason
    assert len(events[0].reason) < 300
    assert s.phase is frames.Phase.SUBSCRIBED  # still usable
    assert s.receive(publication(DONATION))[0] == frames.Publication(CHANNEL, DONATION, 5)


def test_one_bad_line_does_not_hide_the_good_ones() -> None:
    s = subscribed()
    events = s.receive("garbage\n" + publication(DONATION) + "\n{}")
    assert isinstance(events[0], frames.Malformed)
    assert isinstance(events[1], frames.Publication)
    assert isinstance(events[2], frames.Malformed)  # {} has no result


def test_publications_elsewhere_and_known_pushes_are_ignored() -> None:
    s = subscribed()
    other = json.dumps({"result": {"channel": "$goals:goal_3", "data": {"data": {}}}})
    leave = json.dumps({"result": {"type": 2, "channel": CHANNEL, "data": {}}})
    assert all(isinstance(e, frames.Ignored) for e in s.receive(other + "\n" + leave))


def test_connect_error_and_unsubscribe_are_fatal() -> None:
    s = frames.Session()
    s.connect("T")
    [event] = s.receive('{"id":1,"error":{"code":109,"message":"token expired"}}')
    assert event == frames.ServerError(1, 109, "token expired", fatal=True)
    assert s.phase is frames.Phase.FAILED

    s = frames.Session()
    s.connect("T")
    [event] = s.receive('{"id":1,"result":{"version":"2"}}')
    assert isinstance(event, frames.Malformed)
    assert s.phase is frames.Phase.FAILED

    s = subscribed()
    [event] = s.receive(json.dumps({"result": {"type": 3, "channel": CHANNEL}}))
    assert event == frames.Unsubscribed(CHANNEL)


def test_subscribe_error_103_is_fatal_but_a_ping_error_is_not() -> None:
    s = frames.Session()
    s.connect("T")
    s.receive('{"id":1,"result":{"client":"c"}}')
    s.subscribe(CHANNEL, "stale")
    [event] = s.receive('{"id":2,"error":{"code":103,"message":"permission denied"}}')
    assert isinstance(event, frames.ServerError)
    assert event.fatal
    s = subscribed()
    ping_id, _ = s.ping()
    [event] = s.receive(json.dumps({"id": ping_id, "error": {"code": 100, "message": "x"}}))
    assert isinstance(event, frames.ServerError)
    assert not event.fatal


def test_commands_out_of_order_are_refused() -> None:
    s = frames.Session()
    with pytest.raises(frames.ProtocolMisuse):
        s.subscribe(CHANNEL, "CT")
    with pytest.raises(frames.ProtocolMisuse):
        s.ping()
    s.connect("T")
    with pytest.raises(frames.ProtocolMisuse):
        s.connect("T")


@pytest.mark.parametrize(
    ("code", "reason", "reconnect", "text"),
    [
        (3001, '{"reason":"shutdown","reconnect":true}', True, "shutdown"),
        (3002, '{"reason":"invalid token","reconnect":false}', False, "invalid token"),
        (3007, '{"reason":"stale","reconnect":false}', False, "stale"),
        (1006, None, True, ""),
        (1000, "plain words", True, "plain words"),
    ],
)
def test_close_reasons(code: int, reason: str | None, reconnect: bool, text: str) -> None:
    info = frames.parse_close(code, reason)
    assert (info.code, info.reconnect, info.reason) == (code, reconnect, text)


def test_donation_normalised() -> None:
    d = parse_donation(DONATION)
    assert d.source == "donationalerts"
    assert d.external_id == "169718369"
    assert d.donor == "Test 8"
    assert (d.amount, d.currency, d.amount_main) == (270, "RUB", 270)
    assert d.created_at == datetime(2025, 7, 22, 17, 16, 41, tzinfo=UTC)
    assert d.message_type is MessageType.TEXT


@pytest.mark.parametrize("name", [None, "", "   "])
def test_anonymous_donor(name: str | None) -> None:
    assert parse_donation({**DONATION, "username": name}).donor == ANONYMOUS


@pytest.mark.parametrize(
    "raw",
    [
        {**DONATION, "id": "abc"},
        {**DONATION, "id": 0},
        {**DONATION, "amount": "lots"},
        {k: v for k, v in DONATION.items() if k != "currency"},
        "not an object",
        None,
    ],
)
def test_unusable_donations_raise_a_loggable_error(raw: object) -> None:
    with pytest.raises(BadDonation):
        parse_donation(raw)


def test_lenient_where_clients_disagree() -> None:
    d = parse_donation(
        {
            **DONATION,
            "id": "42",
            "amount": "150.5",
            "created_at": "garbage",
            "payin_system": {"title": "card"},
            "message": None,
            "amount_in_user_currency": None,
        }
    )
    assert d.external_id == "42"
    assert d.amount == 150.5
    assert d.message == ""
    assert d.amount_main is None
    assert d.created_at.tzinfo is not None


def test_skip_reasons() -> None:
    audio = parse_donation({**DONATION, "message_type": "audio", "message": "https://x/a.wav"})
    assert skip_reason(audio, 0) == AUDIO_SKIP_REASON
    foreign = parse_donation(
        {**DONATION, "amount": 1, "currency": "USD", "amount_in_user_currency": 92.5}
    )
    assert skip_reason(foreign, 100) == "below DRAW_MIN_AMOUNT (92.5 < 100)"
    assert skip_reason(foreign, 90) is None
    assert skip_reason(parse_donation(DONATION), 0) is None
