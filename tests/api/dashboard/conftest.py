"""A client signed in as a user of "Test Shop"."""

from __future__ import annotations

import pytest

from tests.dashboard import signed_in_merchant


@pytest.fixture
def merchant_client(client, make_user):
    """The test client, signed in as a user of "Test Shop"; its CSRF token as `client.csrf`."""
    return signed_in_merchant(client, make_user)
