"""Pwinty v3.0 over HTTP: every endpoint, its envelope, its errors, as real v3 clients meet them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from tests.api.pwinty_v3.conftest import new_order

ORDER_KEYS = ["id", "address1", "address2", "postalOrZipCode", "countryCode", "addressTownOrCity", "recipientName",
              "stateOrCounty", "status", "payment", "paymentUrl", "price", "shippingInfo", "images",
              "invoiceAmountNet", "invoiceTax", "invoiceCurrency", "merchantOrderId", "preferredShippingMethod",
              "mobileTelephone", "created", "lastUpdated", "canCancel", "canHold", "canUpdateShipping",
              "canUpdateImages", "tag", "packingSlipUrl", "errorMessage"]
IMAGE_KEYS = ["id", "sku", "url", "status", "copies", "sizing", "priceToUser", "price", "md5Hash", "previewUrl",
              "thumbnailUrl", "attributes", "errorMessage"]
IMAGE = {"sku": "GLOBAL-PHO-4X6", "url": "https://example.com/photo.jpg", "copies": 2, "sizing": "Crop"}


def data_of(response, status: int = 200):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status
    if status == 200:
        assert body["statusTxt"] == "OK"
    return body["data"]


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None and body["statusCode"] == status
    assert body["errorMessage"] == body["statusTxt"]
    return body["statusTxt"]


def create(client, headers, **changes) -> dict:
    return data_of(client.post("/v3.0/orders", json=new_order(**changes), headers=headers))


# --- auth ---------------------------------------------------------------------------------------

def test_without_the_two_headers_the_answer_is_the_bare_401(client, v3):
    for headers in ({}, {"X-Pwinty-MerchantId": v3["X-Pwinty-MerchantId"]},
                    {"X-Pwinty-REST-API-Key": v3["X-Pwinty-REST-API-Key"]}):
        response = client.get("/v3.0/orders", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Authorization has been denied for this request."}


def test_a_wrong_key_or_another_merchants_id_is_refused(client, v3, v3_headers_for):
    other = v3_headers_for("Other Shop")
    assert client.get("/v3.0/orders", headers={**v3, "X-Pwinty-REST-API-Key": "nope"}).status_code == 401
    assert client.get("/v3.0/orders", headers={**v3, "X-Pwinty-MerchantId": other["X-Pwinty-MerchantId"]}).status_code == 401
    assert client.get("/v3.0/orders", headers=v3).status_code == 200


def test_the_migration_guides_spelling_of_the_merchant_header_works(client, v3):
    headers = {"X-Pwinty-Merchant-Id": v3["X-Pwinty-MerchantId"], "X-Pwinty-REST-API-Key": v3["X-Pwinty-REST-API-Key"]}
    assert client.get("/v3.0/countries", headers=headers).status_code == 200


# --- create, get, PUT ----------------------------------------------------------------------------

def test_a_new_order_has_every_key_in_order_and_is_not_yet_submitted(client, v3):
    order = create(client, v3, mobileTelephone="0123")
    assert list(order) == ORDER_KEYS
    assert order["status"] == "NotYetSubmitted" and order["payment"] == "InvoiceMe"
    assert order["recipientName"] == "Ann Smith" and order["countryCode"] == "GB" and order["address2"] is None
    assert order["mobileTelephone"] == "0123" and order["merchantOrderId"] == "shop-1"
    assert order["price"] == 0 and order["invoiceAmountNet"] == 0 and order["images"] == []
    assert order["canCancel"] is True and order["canUpdateImages"] is True and order["canHold"] is False
    assert data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3)) == order


def test_an_order_can_be_created_form_encoded_and_without_an_address(client, v3):
    headers = {**v3, "Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/v3.0/orders", content="recipientName=Bo&countryCode=gb&preferredShippingMethod=budget",
                           headers=headers)
    order = data_of(response)
    assert order["recipientName"] == "Bo" and order["countryCode"] == "GB" and order["address1"] is None
    assert order["preferredShippingMethod"] == "Budget"


@pytest.mark.parametrize(("missing", "named"), [("countryCode", "countryCode"),
                                                 ("preferredShippingMethod", "preferredShippingMethod"),
                                                 ("recipientName", "recipientName")])
def test_a_missing_required_field_is_a_400_naming_it(client, v3, missing, named):
    message = error_of(client.post("/v3.0/orders", json=new_order(**{missing: None}), headers=v3), 400)
    assert named in message


def test_bad_values_are_named_in_the_400(client, v3):
    message = error_of(client.post("/v3.0/orders", json=new_order(countryCode="XX", preferredShippingMethod="Fast",
                                                                 payment="Cash"), headers=v3), 400)
    assert "countryCode: InvalidCountryCode" in message
    assert "preferredShippingMethod: InvalidValue" in message and "payment: InvalidValue" in message
    assert error_of(client.post("/v3.0/orders", content=b"{nope", headers=v3), 400)
    assert client.post("/v3.0/orders", content=b"<a/>", headers={**v3, "Content-Type": "text/xml"}).status_code == 415


def test_put_replaces_the_order_from_what_the_client_read_back(client, v3):
    order = create(client, v3, address2="Flat 2")
    read_back = {**order, "address1": "2 Low St", "address2": None, "recipientName": "Ann Jones",
                 "status": "Complete", "price": 1, "id": 999}
    updated = data_of(client.put(f"/v3.0/orders/{order['id']}/", json=read_back, headers=v3))
    assert updated["id"] == order["id"] and updated["status"] == "NotYetSubmitted"
    assert updated["address1"] == "2 Low St" and updated["address2"] is None and updated["recipientName"] == "Ann Jones"
    message = error_of(client.put(f"/v3.0/orders/{order['id']}", json={**read_back, "countryCode": None},
                                  headers=v3), 400)
    assert "countryCode" in message


# --- images --------------------------------------------------------------------------------------

def test_an_image_is_added_with_every_key_and_the_batch_answers_items(client, v3):
    order = create(client, v3)
    image = data_of(client.post(f"/v3.0/orders/{order['id']}/images", json=IMAGE, headers=v3))
    assert list(image) == IMAGE_KEYS
    assert image["status"] == "NotYetDownloaded" and image["sizing"] == "Crop" and image["copies"] == 2
    assert image["price"] > 0  # what the draft's item costs as it stands
    batch = data_of(client.post(f"/v3.0/orders/{order['id']}/images/batch", headers=v3, json=[
        {**IMAGE, "copies": "4", "sizing": "ShrinkToFit"}, {**IMAGE, "sizing": None, "md5Hash": "A" * 32}]))
    assert [i["copies"] for i in batch["items"]] == [4, 2]
    assert [i["sizing"] for i in batch["items"]] == ["ShrinkToFit", "Crop"]
    assert batch["items"][1]["md5Hash"] == "a" * 32
    again = data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))
    assert [i["id"] for i in again["images"]] == [image["id"], *(i["id"] for i in batch["items"])]
    assert again["price"] == sum(i["price"] for i in again["images"]) + again["shippingInfo"]["price"]


def test_bad_images_are_refused_whole_and_named(client, v3):
    order = create(client, v3)
    message = error_of(client.post(f"/v3.0/orders/{order['id']}/images/batch", headers=v3, json=[
        IMAGE, {**IMAGE, "sku": "NOPE"}, {**IMAGE, "url": "ftp://x", "copies": "many", "md5Hash": "123"}]), 400)
    assert "images[1].sku: SkuNotFound" in message and "images[2].copies: MustBeAnInteger" in message
    assert error_of(client.post(f"/v3.0/orders/{order['id']}/images", json={**IMAGE, "url": "ftp://x"},
                                headers=v3), 400)
    assert data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))["images"] == []
    assert error_of(client.post(f"/v3.0/orders/{order['id']}/images/batch", json=[], headers=v3), 400)


# --- validate, submit, cancel ---------------------------------------------------------------------

def test_submission_status_lists_every_problem_and_submitting_refuses_them(client, v3):
    order = data_of(client.post("/v3.0/orders", json={"recipientName": "Bo", "countryCode": "GB",
                                                        "preferredShippingMethod": "Budget"}, headers=v3))
    status = data_of(client.get(f"/v3.0/orders/{order['id']}/SubmissionStatus", headers=v3))
    assert status == {"id": str(order["id"]), "isValid": False, "photos": [],
                      "generalErrors": ["NoItemsInOrder", "PostalAddressNotSet"]} or (
        status["generalErrors"] == ["NoItemsInOrder", "PostalAddressNotSet"] and status["isValid"] is False)
    data_of(client.post(f"/v3.0/orders/{order['id']}/images", json={**IMAGE, "copies": 0}, headers=v3))
    status = data_of(client.get(f"/v3.0/orders/{order['id']}/submissionstatus", headers=v3))
    assert status["generalErrors"] == ["PostalAddressNotSet", "ItemsContainingErrors"]
    assert status["photos"][0]["errors"] == ["ZeroCopies"]
    assert "CouldNotValidateImageSize" in status["photos"][0]["warnings"]
    message = error_of(client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "Submitted"}, headers=v3), 400)
    assert "PostalAddressNotSet" in message and "ZeroCopies" in message
    assert data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))["status"] == "NotYetSubmitted"


def test_a_submitted_order_shows_its_shipment_and_price_at_once(client, v3, headers):
    order = create(client, v3)
    data_of(client.post(f"/v3.0/orders/{order['id']}/images", json=IMAGE, headers=v3))
    draft_price = data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))["price"]
    assert data_of(client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "Submitted"}, headers=v3)) == {}
    submitted = data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))
    assert submitted["status"] == "Submitted" and submitted["canUpdateImages"] is False
    [shipment] = submitted["shippingInfo"]["shipments"]
    assert isinstance(shipment["shipmentId"], str) and shipment["photoIds"] == [submitted["images"][0]["id"]]
    assert submitted["price"] == draft_price == submitted["images"][0]["price"] + submitted["shippingInfo"]["price"]
    # The v4 quote of the same basket costs the same.
    [quote] = client.post("/v4.0/quotes", headers=headers, json={
        "shippingMethod": "Standard", "destinationCountryCode": "GB",
        "items": [{"sku": IMAGE["sku"], "copies": 2, "assets": [{"printArea": "default"}]}]}).json()["quotes"]
    total = Decimal(quote["costSummary"]["items"]["amount"]) + Decimal(quote["costSummary"]["shipping"]["amount"])
    assert submitted["price"] == int(total * 100)
    # Submitted: no more PUTs or images, and no second submission.
    assert client.put(f"/v3.0/orders/{order['id']}", json=new_order(), headers=v3).status_code == 403
    assert client.post(f"/v3.0/orders/{order['id']}/images", json=IMAGE, headers=v3).status_code == 403
    message = error_of(client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "Submitted"}, headers=v3), 400)
    assert message.startswith("Transition to state Submitted from status Submitted")


def test_cancelling_a_draft_and_a_just_submitted_order(client, v3):
    draft = create(client, v3)
    assert data_of(client.post(f"/v3.0/orders/{draft['id']}/status", json={"status": "cancelled"}, headers=v3)) == {}
    assert data_of(client.get(f"/v3.0/orders/{draft['id']}", headers=v3))["status"] == "Cancelled"
    assert error_of(client.post(f"/v3.0/orders/{draft['id']}/status", json={"status": "Cancelled"}, headers=v3),
                    400) == "Cannot cancel order"
    submitted = create(client, v3)
    data_of(client.post(f"/v3.0/orders/{submitted['id']}/images", json=IMAGE, headers=v3))
    data_of(client.post(f"/v3.0/orders/{submitted['id']}/status", json={"status": "Submitted"}, headers=v3))
    assert data_of(client.post(f"/v3.0/orders/{submitted['id']}/status", json={"status": "Cancelled"}, headers=v3)) == {}
    cancelled = data_of(client.get(f"/v3.0/orders/{submitted['id']}", headers=v3))
    assert cancelled["status"] == "Cancelled" and cancelled["shippingInfo"]["shipments"] == []
    assert cancelled["canCancel"] is False


def test_refused_transitions_are_400_with_the_real_services_words(client, v3):
    order = create(client, v3)
    message = error_of(client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "AwaitingPayment"},
                                   headers=v3), 400)
    assert message == ("Transition to state AwaitingPayment from status NotYetSubmitted with payment option "
                       "InvoiceMe is not valid")
    assert "status" in error_of(client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "Shipped"},
                                            headers=v3), 400)
    assert "status" in error_of(client.post(f"/v3.0/orders/{order['id']}/status", json={}, headers=v3), 400)


def test_another_merchants_order_is_not_found_anywhere(client, v3, v3_headers_for):
    order = create(client, v3)
    other = v3_headers_for("Other Shop")
    n = order["id"]
    for method, path, body in [("GET", f"/v3.0/orders/{n}", None), ("PUT", f"/v3.0/orders/{n}", new_order()),
                               ("GET", f"/v3.0/orders/{n}/SubmissionStatus", None),
                               ("POST", f"/v3.0/orders/{n}/status", {"status": "Cancelled"}),
                               ("POST", f"/v3.0/orders/{n}/images", IMAGE),
                               ("POST", f"/v3.0/orders/{n}/images/batch", [IMAGE])]:
        response = client.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["data"] is None
    assert data_of(client.get("/v3.0/orders", headers=other))["count"] == 0
    assert client.get("/v3.0/orders/abc", headers=v3).status_code == 404
    assert data_of(client.get(f"/v3.0/orders/{n}", headers=v3))["status"] == "NotYetSubmitted"


# --- list, countries, prices, XML ------------------------------------------------------------------

def test_the_list_is_newest_first_with_a_count_and_a_summary(client, v3):
    ids = [create(client, v3, merchantOrderId=f"o{i}")["id"] for i in range(3)]
    listed = data_of(client.get("/v3.0/orders", headers=v3))
    assert [o["id"] for o in listed["content"]] == ids[::-1]
    assert listed["count"] == 3 and listed["summary"] == [{"label": "Orders", "value": "3"}]
    page = data_of(client.get("/v3.0/orders?limit=1&start=1&count=50&offset=9", headers=v3))
    assert [o["id"] for o in page["content"]] == [ids[1]] and page["count"] == 3
    assert "limit" in error_of(client.get("/v3.0/orders?limit=251", headers=v3), 400)
    assert "start" in error_of(client.get("/v3.0/orders?start=-1", headers=v3), 400)


def test_countries_and_prices(client, v3, headers):
    countries = data_of(client.get("/v3.0/countries", headers=v3))
    assert {"name": "UNITED KINGDOM", "isoCode": "GB"} in countries
    prices = data_of(client.post("/v3.0/catalogue/prodigi%20direct/destination/gb/prices", json=["GLOBAL-PHO-4X6"],
                                 headers=v3))["prices"]
    [quote] = client.post("/v4.0/quotes", headers=headers, json={
        "shippingMethod": "Budget", "destinationCountryCode": "GB",
        "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 1, "assets": [{"printArea": "default"}]}]}).json()["quotes"]
    assert prices == [{"sku": "GLOBAL-PHO-4X6", "price": int(Decimal(quote["costSummary"]["items"]["amount"]) * 100),
                       "currency": "GBP"}]
    assert "NOPE" in error_of(client.post("/v3.0/catalogue/prodigi%20direct/destination/GB/prices", json=["NOPE"],
                                          headers=v3), 400)


def test_xml_is_answered_when_accept_asks_for_it(client, v3):
    order = create(client, v3)
    response = client.get(f"/v3.0/orders/{order['id']}", headers={**v3, "Accept": "application/xml"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.findtext("data/id") == str(order["id"]) and root.findtext("data/status") == "NotYetSubmitted"
    assert root.findtext("statusTxt") == "OK" and root.find("data/images") is not None
    # Errors too.
    missing = client.get("/v3.0/orders/424242", headers={**v3, "Accept": "text/xml"})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(missing.content)
    assert root.findtext("statusCode") == "404" and root.findtext("errorMessage") == root.findtext("statusTxt")
    # Anything else gets JSON.
    for accept in ("*/*", "text/html", "application/json, application/xml"):
        assert client.get(f"/v3.0/orders/{order['id']}", headers={**v3, "Accept": accept}).json()["data"]["id"] == order["id"]


# --- the same order through v4 -------------------------------------------------------------------

def test_a_v3_draft_is_a_v4_draft_and_a_v4_order_reads_through_v3(client, v3, order_payload):
    v4 = {"X-API-Key": v3["X-Pwinty-REST-API-Key"]}
    draft = create(client, v3)
    seen = client.get(f"/v4.0/orders/ord_{draft['id']}", headers=v4).json()["order"]
    assert seen["status"]["stage"] == "Draft"
    assert set(seen["status"]["details"].values()) == {"NotStarted"}
    listed = client.get("/v4.0/orders?status=draft", headers=v4).json()["orders"]
    assert [o["id"] for o in listed] == [f"ord_{draft['id']}"]
    assert client.get("/v4.0/orders?status=inProgress", headers=v4).json()["orders"] == []

    placed = client.post("/v4.0/orders", json=order_payload(), headers=v4).json()["order"]
    number = int(placed["id"][4:])
    through_v3 = data_of(client.get(f"/v3.0/orders/{number}", headers=v3))
    assert through_v3["status"] == "Submitted" and through_v3["recipientName"] == placed["recipient"]["name"]
    assert [i["id"] for i in through_v3["images"]] == [int(i["id"][4:]) for i in placed["items"]]
    # A cancel in either face shows in the other.
    assert client.post(f"/v4.0/orders/ord_{draft['id']}/actions/cancel", headers=v4).json()["outcome"] == "Cancelled"
    assert data_of(client.get(f"/v3.0/orders/{draft['id']}", headers=v3))["status"] == "Cancelled"
    data_of(client.post(f"/v3.0/orders/{number}/status", json={"status": "Cancelled"}, headers=v3))
    assert client.get(f"/v4.0/orders/{placed['id']}", headers=v4).json()["order"]["status"]["stage"] == "Cancelled"


def test_the_rendition_kept_at_creation_is_what_the_stored_order_renders_to(client, v3, test_db):
    from printwork.api.pwinty_v3 import translate
    from printwork.core.orders.repository import load_order_views

    for changes in ({}, {"address2": "Flat 2", "payment": "InvoiceRecipient", "email": "a@b.c"},
                    {"address1": None, "postalOrZipCode": None}):
        order = create(client, v3, **changes)
        with test_db.db.read() as session:
            view = load_order_views(session, [order["id"]])[order["id"]]
        assert json.loads(translate.render_order(view)) == order


def _settings(test_db, **changes):
    from printwork.core.merchants.service import update_settings

    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", **changes)


def test_a_merchant_who_pays_per_order_gets_the_402_with_the_payment_link(client, v3, test_db):
    _settings(test_db, pays_per_order=True)
    order = create(client, v3)
    data_of(client.post(f"/v3.0/orders/{order['id']}/images", json=IMAGE, headers=v3))
    response = client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "Submitted"}, headers=v3)
    assert response.status_code == 402, response.text
    body = response.json()
    assert body["statusTxt"] == "Payment Authorization Required" and body["statusCode"] == 402
    assert body["data"]["url"].startswith("https://printwork.test/") and body["data"]["paymentRequest"] > 0
    shown = data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))
    assert shown["status"] == "AwaitingPayment" and shown["paymentUrl"] == body["data"]["url"]
    assert body["data"]["paymentRequest"] == shown["price"]


def test_a_paused_merchants_submitted_order_is_submitted_to_v3_and_waits_in_v4(client, v3, test_db):
    _settings(test_db, pause_indefinite=True)
    order = create(client, v3)
    data_of(client.post(f"/v3.0/orders/{order['id']}/images", json=IMAGE, headers=v3))
    assert data_of(client.post(f"/v3.0/orders/{order['id']}/status", json={"status": "Submitted"}, headers=v3)) == {}
    assert data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))["status"] == "Submitted"
    v4 = client.get(f"/v4.0/orders/ord_{order['id']}", headers={"X-API-Key": v3["X-Pwinty-REST-API-Key"]})
    assert v4.json()["order"]["status"] is None  # paused: no stage shown


def test_a_draft_changed_through_v4_shows_its_new_price_in_v3(client, v3):
    order = create(client, v3, preferredShippingMethod="Budget")
    data_of(client.post(f"/v3.0/orders/{order['id']}/images", json=IMAGE, headers=v3))
    before = data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))
    changed = client.post(f"/v4.0/orders/ord_{order['id']}/actions/updateShippingMethod",
                          json={"shippingMethod": "Express"}, headers={"X-API-Key": v3["X-Pwinty-REST-API-Key"]})
    assert changed.json()["outcome"] == "Updated", changed.text
    after = data_of(client.get(f"/v3.0/orders/{order['id']}", headers=v3))
    assert after["preferredShippingMethod"] == "Express" and after["status"] == "NotYetSubmitted"
    assert after["shippingInfo"]["price"] > before["shippingInfo"]["price"]


def test_bodies_a_v3_client_can_get_wrong_are_refused_clearly(client, v3, settings):
    order = create(client, v3)
    n = order["id"]
    assert "image object" in error_of(client.post(f"/v3.0/orders/{n}/images", json=[IMAGE], headers=v3), 400)
    assert "array of image" in error_of(client.post(f"/v3.0/orders/{n}/images/batch", json=IMAGE, headers=v3), 400)
    form = {**v3, "Content-Type": "application/x-www-form-urlencoded"}
    assert "UTF-8" in error_of(client.post("/v3.0/orders", content=b"recipientName=\xff", headers=form), 400)
    assert "body" in error_of(client.post("/v3.0/orders", content=b"", headers=v3), 400)
    huge = b'{"recipientName": "' + b"x" * (settings.max_request_bytes + 1) + b'"}'
    assert error_of(client.post("/v3.0/orders", content=huge, headers=v3), 413)
    assert client.get("/v3.0/orders/" + "9" * 40, headers=v3).status_code == 404
    prices = "/v3.0/catalogue/prodigi%20direct/destination/{}/prices"
    assert "array of SKUs" in error_of(client.post(prices.format("GB"), json={"sku": "X"}, headers=v3), 400)
    assert "countryCode: InvalidCountryCode" in error_of(
        client.post(prices.format("XX"), json=["GLOBAL-PHO-4X6"], headers=v3), 400)
    assert data_of(client.post(prices.format("GB"), json={"skus": ["global-pho-4x6"]}, headers=v3))["prices"][0][
        "sku"] == "GLOBAL-PHO-4X6"
