"""StreamElements' Astro protocol and tip object, without I/O: the documented frames."""

from __future__ import annotations

import json

import pytest

from drawstreamd.model import ANONYMOUS
from drawstreamd.sources.streamelements import astro
from drawstreamd.sources.streamelements.tips import BadTip, parse_tip

# the example from StreamElements/docs channel-tips.md
DOC_TIP = {
    "donation": {
        "user": {
            "username": "Styler",
            "geo": "ZZ",
            "email": "styler@streamelements.com",
            "channel": "5ad23dcc18fff500d78c5348",
        },
        "message": "",
        "amount": 4.2,
        "currency": "USD",
        "paymentMethod": "scheme",
    },
    "_id": "67b5f39d07ecd4c594e60f73",
    "channel": "5ad23dcc18fff500d78c5348",
    "provider": "paypal",
    "approved": "allowed",
    "status": "success",
    "createdAt": "2025-02-19T15:07:09.302Z",
    "updatedAt": "2025-02-19T15:07:17.099Z",
    "transactionId": "2YH79902JR1691017",
}


def test_subscribe_matches_the_documented_request() -> None:
    session = astro.Session()
    frame = json.loads(session.subscribe("channel.tips", "5ad23dcc18fff500d78c5348", "eyJx", "jwt"))
    assert frame["type"] == "subscribe"
    assert frame["data"] == {
        "topic": "channel.tips",
        "room": "5ad23dcc18fff500d78c5348",
        "token": "eyJx",
        "token_type": "jwt",
    }
    assert session.waiting == 1
    reply = {
        "id": "01J5KXYZ",
        "ts": "2026-03-19T12:00:01Z",
        "type": "response",
        "nonce": frame["nonce"],
        "data": {
            "message": "successfully subscribed to topic",
            "topic": "channel.tips",
            "room": "5ad23dcc18fff500d78c5348",
        },
    }
    assert session.receive(json.dumps(reply)) == astro.Subscribed(
        "channel.tips", "5ad23dcc18fff500d78c5348"
    )
    assert session.waiting == 0


def test_welcome_message_reconnect_and_errors() -> None:
    session = astro.Session()
    welcome = {
        "id": "1",
        "ts": "t",
        "type": "welcome",
        "data": {"message": "hi", "client_id": "c1"},
    }
    assert session.receive(json.dumps(welcome)) == astro.Welcome("c1")
    assert session.welcomed
    message = {
        "id": "01JMFBZF7KSRDDXXV0EH7G8X6G",
        "ts": "2025-02-19T15:07:17Z",
        "type": "message",
        "topic": "channel.tips",
        "room": "5ad23dcc18fff500d78c5348",
        "data": DOC_TIP,
    }
    got = session.receive(json.dumps(message))
    assert isinstance(got, astro.Message)
    assert (got.topic, got.data) == ("channel.tips", DOC_TIP)
    shutdown = {"type": "reconnect", "data": {"message": "bye", "reconnect_token": "eyJhbG"}}
    assert session.receive(json.dumps(shutdown)) == astro.Reconnect("eyJhbG")
    frame = json.loads(session.subscribe("channel.tips", "r", "bad", "jwt"))
    refused = session.receive(
        json.dumps(
            {
                "type": "response",
                "nonce": frame["nonce"],
                "error": "err_unauthorized",
                "data": {"message": "invalid token"},
            }
        )
    )
    assert refused == astro.Refused("channel.tips", "err_unauthorized", "invalid token")
    assert isinstance(refused, astro.Refused)
    assert refused.fatal
    # a rate-limit response answers no request of ours (it has no nonce) and is not fatal
    limited = session.receive(
        json.dumps({"type": "response", "error": "rate_limit_exceeded", "data": {}})
    )
    assert isinstance(limited, astro.Refused)
    assert (limited.topic, limited.fatal) == (None, False)


@pytest.mark.parametrize(
    "message",
    ["not json", "[1,2]", '{"type":"message","data":{}}', '{"type":"reconnect","data":{}}'],
)
def test_malformed_frames_are_events_not_exceptions(message: str) -> None:
    assert isinstance(astro.Session().receive(message), astro.Malformed)


def test_binary_and_unknown_frames_are_ignored() -> None:
    session = astro.Session()
    assert isinstance(session.receive(b"\x00\x01"), astro.Ignored)
    assert isinstance(session.receive('{"type":"surprise"}'), astro.Ignored)


def test_reconnect_url_keeps_the_base() -> None:
    assert astro.reconnect_url("wss://astro.streamelements.com", "a.b+c") == (
        "wss://astro.streamelements.com/?reconnect_token=a.b%2Bc"
    )
    assert (
        astro.reconnect_url("ws://127.0.0.1:9/x?v=1", "t")
        == "ws://127.0.0.1:9/x?v=1&reconnect_token=t"
    )


def test_documented_tip_becomes_a_donation() -> None:
    tip = parse_tip(DOC_TIP)
    d = tip.donation
    assert (d.source, d.external_id) == ("streamelements", "67b5f39d07ecd4c594e60f73")
    assert (d.donor, d.message, d.amount, d.currency) == ("Styler", "", 4.2, "USD")
    assert tip.created_ms == 1739977629302
    assert d.created_at.isoformat() == "2025-02-19T15:07:09.302000+00:00"
    assert tip.why_not is None
    assert "styler@" not in repr(d)  # the donor's e-mail is never kept


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "pending"}, "payment status 'pending'"),
        ({"approved": "pending"}, "tip moderation: pending"),
        ({"approved": "rejected"}, "tip moderation: rejected"),
        ({"deleted": True}, "deleted"),
    ],
)
def test_tips_that_are_not_requests(change: dict[str, object], why: str) -> None:
    assert parse_tip({**DOC_TIP, **change}).why_not == why


def test_anonymous_and_lenient_tips() -> None:
    tip = parse_tip({**DOC_TIP, "donation": {"amount": "3", "currency": "eur", "user": {}}})
    assert (tip.donation.donor, tip.donation.amount, tip.donation.currency) == (ANONYMOUS, 3, "EUR")
    for broken in ({}, {"_id": "x"}, {**DOC_TIP, "donation": {"amount": "lots"}}, "tip"):
        with pytest.raises(BadTip):
            parse_tip(broken)
