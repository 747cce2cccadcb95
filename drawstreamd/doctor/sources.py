"""The donation sources' doctor checks: one :class:`Check` per source, in this list.

A new source adds its own check here: an async callable taking the doctor's
:class:`~drawstreamd.doctor.result.Context` and returning its lines, for example "signed in
as …" and the scopes, or "off" when it has no credentials (that is not a failure).
"""

from __future__ import annotations

from drawstreamd.doctor.donationalerts import donationalerts
from drawstreamd.doctor.platforms import check_donatepay, check_streamelements, check_twitch
from drawstreamd.doctor.result import Check

SOURCE_CHECKS: list[Check] = [
    Check("Donation Alerts", donationalerts),
    Check("Twitch", check_twitch),
    Check("StreamElements", check_streamelements),
    Check("DonatePay", check_donatepay),
]
