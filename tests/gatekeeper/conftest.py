"""One gatekeeper with the built-in lists for every test that does not configure its own."""

from __future__ import annotations

import pytest

from drawstreamd.gatekeeper.filter import Gatekeeper


@pytest.fixture(scope="session")
def gate() -> Gatekeeper:
    return Gatekeeper()
