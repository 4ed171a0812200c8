"""POST /v4.0/quotes (INVENTORY E9, §5.5)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.factories import tiny_catalog

CANVAS = {"sku": "GLOBAL-CAN-10x10", "copies": 5, "attributes": {"wrap": "ImageWrap"}, "assets": [{"printArea": "default"}]}
CASE = {"sku": "GLOBAL-TECH-IP11P-FC-CP", "copies": 1, "attributes": {}, "assets": [{"printArea": "default"}]}
PRINT = {"sku": "GLOBAL-PHO-4X6", "copies": 20, "assets": [{"printArea": "default"}]}


def quote(client, headers, **body):
    return client.post("/v4.0/quotes", json=body, headers=headers)


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def failures_of(response) -> dict:
    assert response.status_code == 400, response.text
    assert response.json()["outcome"] == "ValidationFailed"
    return response.json()["failures"]


def dec(cost: dict) -> Decimal:
    assert isinstance(cost["amount"], str)
    return Decimal(cost["amount"])


def test_the_documented_example(client, headers):
    body = ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="GB", currencyCode="GBP",
                    items=[CANVAS, CASE]))
    assert body["outcome"] == "Created"
    assert body["traceParent"]
    [q] = body["quotes"]
    assert q["shipmentMethod"] == "Budget"
    assert [i["sku"] for i in q["items"]] == ["GLOBAL-CAN-10X10", "GLOBAL-TECH-IP11P-FC-CP"]
    assert q["items"][0]["attributes"] == {"wrap": "ImageWrap"} and q["items"][0]["assets"] == [{"printArea": "default"}]
    for item in q["items"]:
        assert re.match(r"^qit_[0-9a-f]{32}$", item["id"])


def test_totals_add_up_and_every_item_is_in_exactly_one_shipment(client, headers):
    body = ok(quote(client, headers, destinationCountryCode="FR", items=[CANVAS, CASE, PRINT]))
    assert [q["shipmentMethod"] for q in body["quotes"]] == ["Budget", "Standard", "Express", "Overnight"]
    for q in body["quotes"]:
        assert dec(q["costSummary"]["items"]) == sum(dec(i["unitCost"]) * i["copies"] for i in q["items"])
        assert dec(q["costSummary"]["shipping"]) == sum(dec(s["cost"]) for s in q["shipments"])
        shipped = [item_id for s in q["shipments"] for item_id in s["items"]]
        assert sorted(shipped) == sorted(i["id"] for i in q["items"])
        for s in q["shipments"]:
            assert set(s["carrier"]) == {"name", "service"}
            assert set(s["fulfillmentLocation"]) == {"countryCode", "labCode"}
    costs = [dec(q["costSummary"]["shipping"]) for q in body["quotes"]]
    assert costs == sorted(costs), "faster methods cost more"


def test_shipments_split_by_lab(client, headers):
    q = ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="GB", items=[CANVAS, CASE]))["quotes"][0]
    labs = [s["fulfillmentLocation"]["labCode"] for s in q["shipments"]]
    assert len(labs) == 2 and len(set(labs)) == 2


def test_the_currency_defaults_to_the_merchants_billing_currency(client, test_db):
    from printwork.core.merchants.service import create_merchant_key

    with test_db.db.transaction() as session:
        usd_key = create_merchant_key(session, "US Shop", "sandbox", billing_currency="USD").key
    body = ok(quote(client, {"X-API-Key": usd_key}, shippingMethod="Standard", destinationCountryCode="US", items=[PRINT]))
    q = body["quotes"][0]
    assert {q["costSummary"]["items"]["currency"], q["costSummary"]["shipping"]["currency"], q["items"][0]["unitCost"]["currency"]} == {"USD"}


def test_a_requested_currency_is_used_everywhere(client, headers):
    for currency, places in (("EUR", 2), ("JPY", 0)):
        q = ok(quote(client, headers, shippingMethod="Express", destinationCountryCode="DE", currencyCode=currency.lower(),
                     items=[CANVAS]))["quotes"][0]
        amounts = [q["costSummary"]["items"], q["costSummary"]["shipping"], q["items"][0]["unitCost"]] + [s["cost"] for s in q["shipments"]]
        for cost in amounts:
            assert cost["currency"] == currency
            assert (len(cost["amount"].split(".")[1]) if "." in cost["amount"] else 0) == places


def test_prices_convert_through_the_catalogues_rates(client, headers):
    # 4x6 prints to GB come from uk6 at GBP 0.45 and its domestic Budget rate of GBP 1.50;
    # the demo catalogue's USD rate is 1.27 per GBP, rounded half up to the cent.
    for currency, unit, shipping in (("GBP", "0.45", "1.50"), ("USD", "0.57", "1.91")):
        q = ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="GB", currencyCode=currency,
                     items=[PRINT]))["quotes"][0]
        assert q["shipments"][0]["fulfillmentLocation"] == {"countryCode": "GB", "labCode": "uk6"}
        assert q["items"][0]["unitCost"] == {"amount": unit, "currency": currency}
        assert q["shipments"][0]["cost"] == {"amount": shipping, "currency": currency}
        assert dec(q["costSummary"]["items"]) == Decimal(unit) * 20


def test_us_destinations_carry_the_sales_tax_warning(client, headers):
    body = ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="US", items=[PRINT]))
    assert body["outcome"] == "CreatedWithIssues"
    assert [i["errorCode"] for i in body["issues"]] == ["destinationCountryCode.UsSalesTaxWarning"]
    assert ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="GB", items=[PRINT]))["issues"] == []


@pytest.mark.parametrize("body, path, code", [
    ({"items": [PRINT]}, "destinationCountryCode", "Required"),
    ({"destinationCountryCode": "GB"}, "items", "Required"),
    ({"destinationCountryCode": "GB", "items": []}, "items", "MustNotBeEmptyArray"),
    ({"destinationCountryCode": "GBR", "items": [PRINT]}, "destinationCountryCode", "InvalidCountryCode"),
    ({"destinationCountryCode": "GB", "items": [{"copies": 1, "assets": []}]}, "items[0].sku", "Required"),
    ({"destinationCountryCode": "GB", "items": [{"sku": "GLOBAL-PHO-4X6", "assets": []}]}, "items[0].copies", "Required"),
    ({"destinationCountryCode": "GB", "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 1}]}, "items[0].assets", "Required"),
    ({"destinationCountryCode": "GB", "items": [dict(PRINT, copies=0)]}, "items[0].copies", "MustBeGreaterThanZero"),
    ({"destinationCountryCode": "GB", "items": [dict(PRINT, sku="NOPE")]}, "items[0].sku", "SkuNotFound"),
    ({"destinationCountryCode": "GB", "items": [dict(CANVAS, attributes={"wrap": "Tartan"})]}, "items[0].attributes.wrap", "InvalidValue"),
    ({"destinationCountryCode": "GB", "items": [dict(CANVAS, attributes={})]}, "items[0].attributes.wrap", "Required"),
    ({"destinationCountryCode": "GB", "items": [dict(PRINT, assets=[{"printArea": "lid"}])]}, "items[0].assets[0].printArea", "NotValidForProduct"),
    ({"destinationCountryCode": "GB", "items": [dict(PRINT, assets=[])]}, "items[0].assets", "RequiredPrintAreaMissing"),
    ({"destinationCountryCode": "GB", "shippingMethod": "Teleport", "items": [PRINT]}, "shippingMethod", "InvalidValue"),
    ({"destinationCountryCode": "GB", "currencyCode": "ZZZ", "items": [PRINT]}, "currencyCode", "InvalidCurrencyCode"),
    ({"destinationCountryCode": "GB", "currencyCode": "BRL", "items": [PRINT]}, "currencyCode", "UnsupportedCurrency"),
])
def test_every_invalid_request_names_its_field(client, headers, body, path, code):
    assert code in [f["code"] for f in failures_of(quote(client, headers, **body))[path]]


def test_a_destination_nothing_ships_to(client, headers, use_catalog):
    use_catalog(tiny_catalog(lab_destinations=("GB",)))
    item = {"sku": "TEST-PRINT-10X10", "copies": 1, "assets": [{"printArea": "default"}]}
    assert ok(quote(client, headers, destinationCountryCode="GB", items=[item]))["quotes"]
    assert failures_of(quote(client, headers, destinationCountryCode="FR", items=[item]))["items[0].sku"][0]["code"] == "NotAvailableForDestination"


def test_methods_nobody_offers_are_left_out_with_an_issue(client, headers, use_catalog):
    use_catalog(tiny_catalog(methods=("Budget", "Standard")))
    item = {"sku": "TEST-PRINT-10X10", "copies": 1, "assets": [{"printArea": "default"}]}
    body = ok(quote(client, headers, destinationCountryCode="GB", items=[item]))
    assert [q["shipmentMethod"] for q in body["quotes"]] == ["Budget", "Standard"]
    assert body["outcome"] == "CreatedWithIssues"
    assert {i["errorCode"] for i in body["issues"]} == {"shippingMethod.NotAvailableForDestination"}
    assert failures_of(quote(client, headers, destinationCountryCode="GB", shippingMethod="overnight", items=[item]))["shippingMethod"]


def test_a_price_change_is_quoted_at_once(client, headers, use_catalog):
    document = tiny_catalog()
    item = {"sku": "TEST-PRINT-10X10", "copies": 3, "assets": [{"printArea": "default"}]}
    use_catalog(document)
    before = ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="GB", currencyCode="GBP", items=[item]))
    assert before["quotes"][0]["costSummary"] == {"items": {"amount": "6.00", "currency": "GBP"}, "shipping": {"amount": "1.00", "currency": "GBP"}}
    document["labs"][0]["products"]["TEST-PRINT-10X10"] = "2.50"
    document["labs"][0]["shipping"][0]["cost"] = "1.75"
    use_catalog(document)
    after = ok(quote(client, headers, shippingMethod="Budget", destinationCountryCode="GB", currencyCode="GBP", items=[item]))
    assert after["quotes"][0]["costSummary"] == {"items": {"amount": "7.50", "currency": "GBP"}, "shipping": {"amount": "1.75", "currency": "GBP"}}


def test_quotes_need_a_key(client):
    assert client.post("/v4.0/quotes", json={}).status_code == 401
