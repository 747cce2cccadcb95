"""DonatePay's transaction and notification objects, without I/O: lenient where clients differ."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drawstreamd.model import ANONYMOUS
from drawstreamd.sources.donatepay.transactions import (
    BadTransaction,
    amount,
    parse_transaction,
    rings,
)

# the shape in the published clients' models (sum as a string, PHP DateTime, escaped comment)
TX = {
    "id": 6666273,
    "what": "Вася",
    "sum": "60.00",
    "to_cash": "57.00",
    "to_pay": "60.00",
    "commission": "3.00",
    "status": "success",
    "type": "donation",
    "comment": "нарисуй &lt;кота&gt; &amp; пса",
    "vars": {"name": "Вася", "comment": "нарисуй <кота> & пса", "payment_system": "card"},
    "created_at": {
        "date": "2021-03-05 12:00:00.000000",
        "timezone_type": 3,
        "timezone": "Europe/Moscow",
    },
}


def test_transaction_becomes_a_donation() -> None:
    t = parse_transaction(TX)
    d = t.donation
    assert (t.id, d.source, d.external_id) == (6666273, "donatepay", "6666273")
    assert (d.donor, d.amount, d.currency) == ("Вася", 60.0, "RUB")
    assert d.message == "нарисуй <кота> & пса"  # vars.comment is the raw text
    assert d.created_at == datetime(2021, 3, 5, 9, 0, tzinfo=UTC)  # Moscow is UTC+3
    assert t.why_not is None


def test_lenient_where_clients_disagree() -> None:
    plain = {k: v for k, v in TX.items() if k != "vars"}
    t = parse_transaction(
        {**plain, "id": "77", "sum": 150, "created_at": "2021-03-05T09:00:00Z", "currency": "usd"}
    )
    assert (t.id, t.donation.amount, t.donation.currency) == (77, 150.0, "USD")
    assert t.donation.message == "нарисуй <кота> & пса"  # the escaped comment, unescaped
    assert t.donation.created_at == datetime(2021, 3, 5, 9, 0, tzinfo=UTC)
    anon = parse_transaction({"id": 5, "sum": "1 000,50", "what": "", "vars": {"name": ""}})
    assert (anon.donation.donor, anon.donation.amount) == (ANONYMOUS, 1000.5)


@pytest.mark.parametrize(
    ("change", "why"),
    [({"type": "cashout"}, "type 'cashout'"), ({"status": "wait"}, "status 'wait'")],
)
def test_transactions_that_are_not_requests(change: dict[str, str], why: str) -> None:
    assert parse_transaction({**TX, **change}).why_not == why


@pytest.mark.parametrize(
    "raw", [None, {}, {"id": 0, "sum": "1"}, {"id": 1, "sum": "lots"}, {"id": True, "sum": 1}]
)
def test_unusable_transactions_raise_a_loggable_error(raw: object) -> None:
    with pytest.raises(BadTransaction):
        parse_transaction(raw)


def test_amounts() -> None:
    assert [amount(v) for v in ("60.00", "0,5", 3, 2.25, "1\u00a0500")] == [
        60.0,
        0.5,
        3.0,
        2.25,
        1500.0,
    ]


def test_the_doorbell_rings_for_donations_only() -> None:
    note = {
        "notification": {"id": 4482177, "type": "donation", "vars": {"name": "Вася", "sum": 60}}
    }
    assert rings(note)
    assert rings({"notification": {"id": 1, "vars": {}}})  # no type: a donation, as clients read it
    assert not rings({"notification": {"id": 2, "type": "follower"}})
    assert not rings({"something": "else"})
