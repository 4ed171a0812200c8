"""A merchant's Pwinty v3 credentials: its id and one of its API keys."""

from __future__ import annotations

import pytest

from printwork.core.merchants.service import owner_for_key


@pytest.fixture
def v3_headers_for(test_db, make_key):
    def make(name: str = "Test Shop", environment: str = "sandbox") -> dict[str, str]:
        key = make_key(name, environment)
        with test_db.db.read() as session:
            owner = owner_for_key(session, key)
        return {"X-Pwinty-MerchantId": str(owner.merchant_id), "X-Pwinty-REST-API-Key": key,
                "Content-Type": "application/json"}

    return make


@pytest.fixture
def v3(v3_headers_for) -> dict[str, str]:
    return v3_headers_for()


def new_order(**changes) -> dict:
    order = {"recipientName": "Ann Smith", "address1": "1 High St", "addressTownOrCity": "London",
             "postalOrZipCode": "W1A 1AA", "countryCode": "GB", "preferredShippingMethod": "Standard",
             "merchantOrderId": "shop-1"}
    order.update(changes)
    return {k: v for k, v in order.items() if v is not None}
