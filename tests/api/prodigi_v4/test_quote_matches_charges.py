"""A quote and the charges of the same order, once allocated, agree to the penny.

The allocation step is run here the way the order process runs it (core service, one
transaction); everything else goes through HTTP.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from printwork.core.catalog.service import CatalogCache
from printwork.core.merchants.service import create_merchant_key
from printwork.core.orders.allocation import allocate_order
from printwork.core.pricing.allocation import NotAllocatable
from tests.factories import tiny_catalog

URL = "https://example.com/art.jpg"


def item(sku, copies, attributes=None, areas=("default",)):
    return {"sku": sku, "copies": copies, "attributes": attributes or {},
            "assets": [{"printArea": area, "url": f"{URL}?{area}"} for area in areas]}


CASES = [
    ("GBP", "GB", "Budget", [item("GLOBAL-CAN-10X10", 5, {"wrap": "ImageWrap"}), item("GLOBAL-TECH-IP11P-FC-CP", 1)]),
    ("USD", "US", "Standard", [item("GLOBAL-PHO-4X6", 24), item("GLOBAL-MUG-11OZ", 2)]),
    ("EUR", "FR", "Express", [item("GLOBAL-CFPM-16X20", 1, {"color": "Black"}), item("GLOBAL-FAP-A3", 2),
                              item("GLOBAL-TEE-GIL-64000", 3, {"color": "Navy", "size": "l"}, ("front", "back"))]),
    ("JPY", "JP", "Overnight", [item("GLOBAL-JIG-1000", 1, areas=("default", "lid")),
                                item("BOOK-A4-L-HARD-M", 1, areas=("default", "spine"))]),
    ("AUD", "NZ", "Standard", [item("GLOBAL-CAN-20X30", 1, {"wrap": "Black"}), item("GLOBAL-TECH-IP13-FC-CP", 2)]),
    ("GBP", "DE", "Budget", [item("GLOBAL-PHO-12X16-PRO-LUS-UK1", 3), item("GLOBAL-FAP-16X24", 1), item("ART-FAP-CPP-6X6", 7)]),
]


def allocate(test_db, order_id: str) -> bool:
    with test_db.db.transaction() as session:
        return allocate_order(session, int(order_id[4:]), CatalogCache().get(session))


def order_body(country, method, items):
    return {"shippingMethod": method, "items": items,
            "recipient": {"name": "Ann", "address": {"line1": "1 Road", "postalOrZipCode": "1000",
                                                      "countryCode": country, "townOrCity": "Town"}}}


@pytest.mark.parametrize("currency, country, method, items", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_the_quote_equals_the_charges(client, test_db, currency, country, method, items):
    with test_db.db.transaction() as session:
        key = create_merchant_key(session, f"Shop {currency}", "sandbox", billing_currency=currency).key
    headers = {"X-API-Key": key}
    quote_items = [{k: v for k, v in i.items()} | {"assets": [{"printArea": a["printArea"]} for a in i["assets"]]} for i in items]
    [quote] = client.post("/v4.0/quotes", json={"shippingMethod": method, "destinationCountryCode": country,
                                                 "items": quote_items}, headers=headers).json()["quotes"]
    created = client.post("/v4.0/orders", json=order_body(country, method, items), headers=headers).json()["order"]
    assert created["charges"] == [] and created["shipments"] == []

    assert allocate(test_db, created["id"]) is True
    order = client.get(f"/v4.0/orders/{created['id']}", headers=headers).json()["order"]

    charges = {c["chargeType"]: c for c in order["charges"]}
    assert set(charges) == {"Item", "Shipping"}
    assert charges["Item"]["totalCost"] == quote["costSummary"]["items"]
    assert charges["Shipping"]["totalCost"] == quote["costSummary"]["shipping"]
    for charge in order["charges"]:
        assert charge["id"].startswith("chg_") and charge["prodigiInvoiceNumber"] is None
        assert sum(Decimal(i["cost"]["amount"]) for i in charge["items"]) == Decimal(charge["totalCost"]["amount"])
        assert {i["cost"]["currency"] for i in charge["items"]} == {currency}
    # Per item: the charge is the quoted unit cost times the copies.
    for order_item, quote_item, charge_item in zip(order["items"], quote["items"], charges["Item"]["items"]):
        assert charge_item["itemId"] == order_item["id"] and charge_item["shipmentId"] is None
        assert Decimal(charge_item["cost"]["amount"]) == Decimal(quote_item["unitCost"]["amount"]) * quote_item["copies"]
    # Same labs, same grouping, same shipping per shipment.
    assert [s["fulfillmentLocation"] for s in order["shipments"]] == [s["fulfillmentLocation"] for s in quote["shipments"]]
    assert [s["carrier"] for s in order["shipments"]] == [s["carrier"] for s in quote["shipments"]]
    quote_position = {qi["id"]: n for n, qi in enumerate(quote["items"])}
    for shipment, quoted, charge_item in zip(order["shipments"], quote["shipments"], charges["Shipping"]["items"]):
        assert shipment["id"].startswith("shp_") and shipment["status"] == "Processing"
        assert shipment["tracking"] is None and shipment["dispatchDate"] is None
        assert [i["itemId"] for i in shipment["items"]] == [order["items"][quote_position[q]]["id"] for q in quoted["items"]]
        assert charge_item["shipmentId"] == shipment["id"] and charge_item["itemId"] is None
        assert charge_item["cost"] == quoted["cost"]
    assert order["status"]["details"]["allocateProductionLocation"] == "Complete"
    assert order["lastUpdated"] > created["lastUpdated"]
    listed = client.get("/v4.0/orders", headers=headers).json()["orders"][0]
    assert listed == order


def test_allocating_twice_changes_nothing(client, headers, order_payload, test_db):
    created = client.post("/v4.0/orders", json=order_payload(), headers=headers).json()["order"]
    assert allocate(test_db, created["id"]) is True
    first = client.get(f"/v4.0/orders/{created['id']}", headers=headers).json()["order"]
    assert allocate(test_db, created["id"]) is False
    assert client.get(f"/v4.0/orders/{created['id']}", headers=headers).json()["order"] == first
    assert len(first["shipments"]) == 1 and len(first["charges"]) == 2


def test_an_order_that_can_no_longer_be_allocated_is_left_as_it_was(client, headers, test_db, use_catalog):
    use_catalog(tiny_catalog(lab_destinations=("GB", "FR")))
    body = order_body("FR", "Budget", [item("TEST-PRINT-10X10", 1)])
    created = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]
    use_catalog(tiny_catalog(lab_destinations=("GB",)))
    with pytest.raises(NotAllocatable):
        allocate(test_db, created["id"])
    order = client.get(f"/v4.0/orders/{created['id']}", headers=headers).json()["order"]
    assert order == created
