"""v4 order actions through HTTP, in every state where each is and is not available."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from printwork.core.catalog.service import CatalogCache
from printwork.core.orders.allocation import allocate_order
from printwork.core.orders.repository import assets_t, orders_t, shipments_t
from printwork.core.orders.progress import refresh_status
from tests.process.conftest import image_server, pipeline, pipeline_factory  # noqa: F401 - fixtures
from tests.process.test_pipeline import order_body, prints_catalog

ALL_YES = {"cancel": {"isAvailable": "Yes"}, "changeRecipientDetails": {"isAvailable": "Yes"},
           "changeShippingMethod": {"isAvailable": "Yes"}, "changeMetaData": {"isAvailable": "Yes"}}
ONLY_METADATA = {"cancel": {"isAvailable": "No"}, "changeRecipientDetails": {"isAvailable": "No"},
                 "changeShippingMethod": {"isAvailable": "No"}, "changeMetaData": {"isAvailable": "Yes"}}


def priced_catalog() -> dict:
    """prints_catalog with shipping that costs more the faster it is; FR reachable only by Express from de1."""
    document = prints_catalog()
    cost = {"Budget": "1.00", "Standard": "2.00", "Express": "5.00", "Overnight": "9.00"}
    for lab in document["labs"]:
        for rate in lab["shipping"]:
            rate["cost"] = cost[rate["method"]]
    document["labs"][1]["shipping"].append(
        {"destination": "FR", "method": "Express", "cost": "7.00", "carrier": "DHL", "service": "Express",
         "tracked": True, "minDays": 1, "maxDays": 2})
    return document


@pytest.fixture
def catalog(use_catalog):
    use_catalog(priced_catalog())


def two_item_body(method: str = "Budget") -> dict:
    second = {"sku": "TEST-4X6", "copies": 1, "assets": [{"printArea": "default", "url": "https://example.com/b.jpg"}]}
    body = order_body("https://example.com/a.jpg", extra_items=[second])
    body["shippingMethod"] = method
    return body


def create(client, headers, body) -> str:
    response = client.post("/v4.0/orders", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["order"]["id"]


def allocate(test_db, order_id: str) -> None:
    """Bring the order to 'allocated, print files not yet made' as the pipeline would."""
    number = int(order_id[4:])
    with test_db.db.transaction() as session:
        session.execute(update(assets_t).where(assets_t.c.order_id == number).values(status="Complete", attempts=1))
        allocate_order(session, number, CatalogCache().get(session))
        refresh_status(session, number, None)


def set_lab_stages(test_db, order_id: str, *stages: str) -> None:
    with test_db.db.transaction() as session:
        ids = session.execute(select(shipments_t.c.id).where(shipments_t.c.order_id == int(order_id[4:]))
                              .order_by(shipments_t.c.position)).scalars().all()
        for shipment_id, stage in zip(ids, stages):
            session.execute(update(shipments_t).where(shipments_t.c.id == shipment_id).values(lab_stage=stage))


def actions(client, headers, order_id):
    response = client.get(f"/v4.0/orders/{order_id}/actions", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "Ok" and body["traceParent"]
    return {k: body[k] for k in ALL_YES}


def post(client, headers, order_id, action, body=None, **kwargs):
    return client.post(f"/v4.0/orders/{order_id}/actions/{action}", json=body, headers=headers, **kwargs)


def get(client, headers, order_id):
    return client.get(f"/v4.0/orders/{order_id}", headers=headers).json()["order"]


def charges(order) -> dict[str, str]:
    return {c["chargeType"]: c["totalCost"]["amount"] for c in order["charges"]}


def test_a_fresh_order_allows_everything_and_a_cancel_stops_it(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body())
    assert actions(client, headers, order_id) == ALL_YES
    before = get(client, headers, order_id)["lastUpdated"]
    # No body and no Content-Type, as the documents' curl example.
    response = client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers={"X-API-Key": headers["X-API-Key"]})
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "Cancelled"
    order = response.json()["order"]
    assert order["status"]["stage"] == "Cancelled" and order["lastUpdated"] > before
    assert order["charges"] == []  # nothing was charged, so nothing is refunded
    assert actions(client, headers, order_id) == ONLY_METADATA
    assert post(client, headers, order_id, "cancel").json()["outcome"] == "ActionNotAvailable"
    assert post(client, headers, order_id, "updateShippingMethod", {"shippingMethod": "Express"}).json()["outcome"] \
        == "ActionNotAvailable"
    with test_db.db.read() as session:
        assert session.execute(select(orders_t.c.due_at).where(orders_t.c.id == int(order_id[4:]))).scalar() is None


def test_cancel_before_the_lab_refunds_everything(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body())
    allocate(test_db, order_id)
    order = get(client, headers, order_id)
    assert charges(order) == {"Item": "2.87", "Shipping": "1.87"}
    # An empty body is accepted whatever its Content-Type says.
    response = client.post(f"/v4.0/orders/{order_id}/actions/cancel",
                           headers={**headers, "Content-Type": "text/plain"})
    assert response.json()["outcome"] == "Cancelled"
    order = response.json()["order"]
    assert order["status"]["stage"] == "Cancelled"
    assert {s["status"] for s in order["shipments"]} == {"Cancelled"}
    refund = next(c for c in order["charges"] if c["chargeType"] == "Refund")
    assert refund["totalCost"] == {"amount": "-4.74", "currency": "GBP"}
    assert sum(Decimal(i["cost"]["amount"]) for i in refund["items"]) == Decimal("-4.74")
    assert all(r["successful"] for r in response.json()["shipmentUpdateResults"])


def test_cancel_stops_only_what_the_labs_have_not_started(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body())
    allocate(test_db, order_id)
    set_lab_stages(test_db, order_id, "InProduction", "Submitted")
    assert actions(client, headers, order_id)["cancel"] == {"isAvailable": "Yes"}
    assert actions(client, headers, order_id)["changeShippingMethod"] == {"isAvailable": "No"}
    response = post(client, headers, order_id, "cancel").json()
    assert response["outcome"] == "Cancelled"
    order = response["order"]
    assert order["status"]["stage"] == "InProgress"
    assert [s["status"] for s in order["shipments"]] == ["Processing", "Cancelled"]
    assert [r["successful"] for r in response["shipmentUpdateResults"]] == [False, True]
    assert response["shipmentUpdateResults"][0]["errorCode"] == "order.shipments.notAvailable"
    refund = next(c for c in order["charges"] if c["chargeType"] == "Refund")
    # de1's 4x6 (1.00 EUR = 0.87 GBP) and its shipping (1.00 EUR = 0.87 GBP)
    assert refund["totalCost"]["amount"] == "-1.74"
    # What is left is in production: nothing more can be stopped.
    assert actions(client, headers, order_id)["cancel"] == {"isAvailable": "No"}
    failed = post(client, headers, order_id, "cancel").json()
    assert failed["outcome"] == "FailedToCancel" and failed["order"]["status"]["stage"] == "InProgress"


def test_a_new_shipping_method_re_prices_the_shipments(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body())
    allocate(test_db, order_id)
    response = post(client, headers, order_id, "updateShippingMethod", {"shippingMethod": "express"}).json()
    assert response["outcome"] == "Updated"
    assert [r["successful"] for r in response["shipmentUpdateResults"]] == [True, True]
    assert response["shippingUpdateResults"] == response["shipmentUpdateResults"]
    order = response["order"]
    assert order["shippingMethod"] == "Express"
    assert {s["carrier"]["service"] for s in order["shipments"]} == {"Express"}
    # 5.00 GBP from gb1 and 5.00 EUR (4.35 GBP) from de1
    assert charges(order) == {"Item": "2.87", "Shipping": "9.35"}
    # The alias path of the curl example, and the table's field spelling.
    alias = post(client, headers, order_id, "updateShipping", {"shipping_method": "Budget"}).json()
    assert alias["outcome"] == "Updated" and charges(alias["order"])["Shipping"] == "1.87"


def test_shipping_method_changes_stop_at_the_lab(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body())
    allocate(test_db, order_id)
    set_lab_stages(test_db, order_id, "Submitted", "Allocated")
    partial = post(client, headers, order_id, "updateShippingMethod", {"shippingMethod": "Standard"}).json()
    assert partial["outcome"] == "PartiallyUpdated"
    assert [r["successful"] for r in partial["shipmentUpdateResults"]] == [False, True]
    set_lab_stages(test_db, order_id, "Submitted", "Submitted")
    none = post(client, headers, order_id, "updateShippingMethod", {"shippingMethod": "Express"}).json()
    assert none["outcome"] == "ActionNotAvailable" and none["order"]["shippingMethod"] == "Standard"


@pytest.mark.parametrize("body", [{"shippingMethod": "Teleport"}, {}, {"shippingMethod": 3}])
def test_a_bad_shipping_method_is_a_validation_failure(client, headers, catalog, body):
    order_id = create(client, headers, two_item_body())
    response = post(client, headers, order_id, "updateShippingMethod", body)
    assert response.status_code == 400 and "shippingMethod" in response.json()["failures"]


NEW_RECIPIENT = {"name": "Bob", "email": "bob@example.com", "phoneNumber": "0123",
                 "address": {"line1": "2 Low St", "line2": None, "postalOrZipCode": "ZZ1", "countryCode": "GB",
                             "townOrCity": "City", "stateOrCounty": None}}


@pytest.mark.parametrize("shape", ["bare", "wrapped", "pascal"])
def test_update_recipient_takes_every_documented_shape(client, headers, catalog, shape):
    order_id = create(client, headers, two_item_body())
    body = {"bare": NEW_RECIPIENT, "wrapped": {"recipient": NEW_RECIPIENT},
            "pascal": {"Name": "Bob", "Email": "bob@example.com", "PhoneNumber": "0123",
                       "Address": NEW_RECIPIENT["address"]}}[shape]
    response = post(client, headers, order_id, "updateRecipient", body).json()
    assert response["outcome"] == "Updated" and response["result"] == "completed"
    assert response["order"]["recipient"]["name"] == "Bob"
    assert response["order"]["recipient"]["address"]["line1"] == "2 Low St"


def test_update_recipient_checks_like_create_and_re_allocates_abroad(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body("Express"))
    missing = {**NEW_RECIPIENT, "address": {k: v for k, v in NEW_RECIPIENT["address"].items() if k != "countryCode"}}
    response = post(client, headers, order_id, "updateRecipient", missing)
    assert response.status_code == 400 and "address.countryCode" in response.json()["failures"]
    bad = post(client, headers, order_id, "updateRecipient",
               {"recipient": {**NEW_RECIPIENT, "address": {**NEW_RECIPIENT["address"], "countryCode": "XX"}}})
    assert bad.status_code == 400 and "recipient.address.countryCode" in bad.json()["failures"]

    allocate(test_db, order_id)
    # By Express de1 is cheapest for both items (one shipment, 10.44 GBP against 12.22 split).
    assert [s["fulfillmentLocation"]["labCode"] for s in get(client, headers, order_id)["shipments"]] == ["de1"]
    # Only de1 ships to France: the shipment stays there, re-priced for the new destination.
    france = {**NEW_RECIPIENT, "address": {**NEW_RECIPIENT["address"], "countryCode": "FR"}}
    response = post(client, headers, order_id, "updateRecipient", france).json()
    assert response["outcome"] == "Updated" and response["result"] == "completed"
    order = response["order"]
    assert order["recipient"]["address"]["countryCode"] == "FR"
    assert [s["fulfillmentLocation"]["labCode"] for s in order["shipments"]] == ["de1"]
    # 6x4 at 3.00 EUR x2 and 4x6 at 1.00 EUR; shipping to France 7.00 EUR (1 GBP = 1.15 EUR)
    assert charges(order) == {"Item": "6.09", "Shipping": "6.09"}


def test_a_recipient_change_reaches_only_shipments_not_yet_at_the_lab(client, headers, catalog, test_db):
    order_id = create(client, headers, two_item_body())
    allocate(test_db, order_id)
    set_lab_stages(test_db, order_id, "Submitted", "Allocated")
    response = post(client, headers, order_id, "updateRecipient", NEW_RECIPIENT).json()
    assert response["outcome"] == "PartiallyUpdated" and response["result"] == "partiallyComplete"
    assert response["shipmentResult"] == response["shipmentUpdateResults"]
    first, second = response["shipmentUpdateResults"]
    assert first["successful"] is False and first["errorCode"] == "order.shipments.notAvailable"
    assert second == {"shipmentId": response["order"]["shipments"][1]["id"], "successful": True}


def test_a_destination_no_lab_serves_changes_nothing(client, headers, catalog):
    order_id = create(client, headers, two_item_body())
    before = get(client, headers, order_id)
    japan = {**NEW_RECIPIENT, "address": {**NEW_RECIPIENT["address"], "countryCode": "JP"}}
    response = post(client, headers, order_id, "updateRecipient", japan).json()
    assert response["outcome"] == "FailedToUpdate" and response["result"] == "failed"
    after = get(client, headers, order_id)
    assert after["recipient"] == before["recipient"] and after["lastUpdated"] == before["lastUpdated"]


def test_metadata_is_replaced_in_every_stage(client, headers, catalog):
    order_id = create(client, headers, {**two_item_body(), "metadata": {"a": 1, "b": 2}})
    response = post(client, headers, order_id, "updateMetadata", {"metadata": {"c": [1, 2]}}).json()
    assert response["outcome"] == "Updated" and response["order"]["metadata"] == {"c": [1, 2]}
    post(client, headers, order_id, "cancel")
    lower = client.post(f"/v4.0/orders/{order_id}/actions/updatemetadata", json={"metadata": {"d": True}},
                        headers=headers).json()
    assert lower["outcome"] == "Updated" and lower["order"]["metadata"] == {"d": True}
    too_long = post(client, headers, order_id, "updateMetadata", {"metadata": {"x": "y" * 2000}})
    assert too_long.status_code == 400 and too_long.json()["failures"]["metadata"][0]["code"] == "MaxLengthExceeded"
    assert post(client, headers, order_id, "updateMetadata", {}).status_code == 400


def test_actions_on_orders_that_are_not_yours_are_not_found(client, headers, catalog, make_key):
    order_id = create(client, headers, two_item_body())
    other = {"X-API-Key": make_key("Other Shop"), "Content-Type": "application/json"}
    live = {"X-API-Key": make_key("Test Shop", "live"), "Content-Type": "application/json"}
    for who in (other, live):
        assert client.get(f"/v4.0/orders/{order_id}/actions", headers=who).status_code == 404
        assert post(client, who, order_id, "cancel").status_code == 404
        assert post(client, who, order_id, "updateMetadata", {"metadata": {}}).status_code == 404
    assert post(client, headers, "ord_999999", "cancel").json()["outcome"] == "EntityNotFound"
    assert client.get(f"/V4.0/Orders/{order_id}/Actions", headers=headers).status_code == 200


def test_racing_actions_leave_a_consistent_order(client, headers, catalog, test_db):
    for _ in range(4):
        order_id = create(client, headers, two_item_body())
        allocate(test_db, order_id)
        outcomes = {}

        def run(name, action, body=None, order_id=order_id, outcomes=outcomes):
            outcomes[name] = post(client, headers, order_id, action, body).json()["outcome"]

        threads = [threading.Thread(target=run, args=("cancel", "cancel")),
                   threading.Thread(target=run, args=("method", "updateShippingMethod", {"shippingMethod": "Express"}))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        order = get(client, headers, order_id)
        assert outcomes["cancel"] == "Cancelled" and order["status"]["stage"] == "Cancelled"
        assert outcomes["method"] in ("Updated", "ActionNotAvailable")
        paid = sum(Decimal(c["totalCost"]["amount"]) for c in order["charges"] if c["chargeType"] != "Refund")
        refunded = sum(Decimal(c["totalCost"]["amount"]) for c in order["charges"] if c["chargeType"] == "Refund")
        assert paid + refunded == 0  # whichever ran first, the refund matches what was charged
        assert order["shippingMethod"] == ("Express" if outcomes["method"] == "Updated" else "Budget")


def test_a_complete_order_allows_only_metadata(client, headers, catalog, pipeline, image_server):
    body = two_item_body()
    for item in body["items"]:
        item["assets"][0]["url"] = f"{image_server.url}/photo.jpg"
    order_id = create(client, headers, body)
    pipeline.run(int(order_id[4:]))
    assert get(client, headers, order_id)["status"]["stage"] == "Complete"
    assert actions(client, headers, order_id) == ONLY_METADATA
    assert post(client, headers, order_id, "cancel").json()["outcome"] == "ActionNotAvailable"
    assert post(client, headers, order_id, "updateShippingMethod", {"shippingMethod": "Express"}).json()["outcome"] \
        == "ActionNotAvailable"
    assert post(client, headers, order_id, "updateRecipient", NEW_RECIPIENT).json()["outcome"] == "ActionNotAvailable"
    updated = post(client, headers, order_id, "updateMetadata", {"metadata": {"done": True}}).json()
    assert updated["outcome"] == "Updated" and updated["order"]["status"]["stage"] == "Complete"


def test_paused_and_unpaid_orders_stay_editable(client, headers, catalog, test_db):
    from printwork.core.merchants.service import update_settings
    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", pause_seconds=3600)
    paused = client.post("/v4.0/orders", json=two_item_body(), headers=headers).json()
    assert paused["outcome"] == "OnHold"
    assert actions(client, headers, paused["order"]["id"]) == ALL_YES
    moved = post(client, headers, paused["order"]["id"], "updateShippingMethod", {"shippingMethod": "Express"}).json()
    assert moved["outcome"] == "Updated" and moved["order"]["shippingMethod"] == "Express"
    assert moved["order"]["status"] is None  # still in its pause window

    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", no_pause=True, pays_per_order=True)
    unpaid = create(client, headers, two_item_body())
    assert actions(client, headers, unpaid) == ALL_YES
    [issue] = get(client, headers, unpaid)["status"]["issues"]
    assert issue["authorisationDetails"]["paymentDetails"] == {"amount": "4.74", "currency": "GBP"}
    post(client, headers, unpaid, "updateShippingMethod", {"shippingMethod": "Express"})
    [issue] = get(client, headers, unpaid)["status"]["issues"]
    # By Express both items are cheapest from de1 in one shipment (see the France test above)
    assert issue["authorisationDetails"]["paymentDetails"] == {"amount": "10.44", "currency": "GBP"}
    assert "(10.44GBP)" in issue["description"]
    cancelled = post(client, headers, unpaid, "cancel").json()
    assert cancelled["outcome"] == "Cancelled" and cancelled["order"]["status"]["issues"] == []
