"""A Pwinty v3 order through the real pipeline: images fetched while it is a draft and checked from
the files themselves, then submitted and run to Complete, seen the same through v4, called back in
v3's own words."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from tests.api.pwinty_v3.conftest import new_order, v3, v3_headers_for  # noqa: F401 - fixtures
from tests.process.test_callbacks import announcing, deliverer, receiver, secret_of  # noqa: F401 - fixtures
from tests.process.test_pipeline import prints_catalog


@pytest.fixture
def catalog(use_catalog):
    use_catalog(prints_catalog())


def data_of(response):
    assert response.status_code == 200, response.text
    return response.json()["data"]


def image(url: str, **changes) -> dict:
    return {"sku": "TEST-6X4", "url": url, "copies": 1, "sizing": "Crop", **changes}


def test_a_draft_is_checked_against_the_files_it_was_given(client, v3, catalog, announcing, image_server):
    order = data_of(client.post("/v3.0/orders", json=new_order(preferredShippingMethod="Budget"), headers=v3))
    n = order["id"]
    data_of(client.post(f"/v3.0/orders/{n}/images/batch", headers=v3, json=[
        image(f"{image_server.url}/photo.jpg"),  # 3000x2400 on a 1800x1200 area: a 4:5 picture cut to 3:2
        image(f"{image_server.url}/square.png"),  # 1000x1000: too few pixels, and cut
        image(f"{image_server.url}/notes.txt"),  # arrives, and is no picture
        image(f"{image_server.url}/nowhere.jpg"),  # never arrives
        image(f"{image_server.url}/photo.jpg", sizing="ShrinkToExactFit"),  # stretched: nothing cut
    ]))
    before = data_of(client.get(f"/v3.0/orders/{n}/SubmissionStatus", headers=v3))
    assert all(p["warnings"] == ["CouldNotValidateImageSize", "CouldNotValidateAspectRatio"] for p in before["photos"])
    assert before["isValid"] is True  # nothing is known to be wrong yet

    announcing.run(n)  # the workers fetch a draft's images, and do nothing else with it
    after = data_of(client.get(f"/v3.0/orders/{n}/SubmissionStatus", headers=v3))
    assert [(p["errors"], p["warnings"]) for p in after["photos"]] == [
        ([], ["CroppingWillOccur"]),
        ([], ["PictureSizeTooSmall", "CroppingWillOccur"]),
        (["InvalidImageFile"], []),
        (["FileCouldNotBeDownloaded"], []),
        ([], []),
    ]
    assert after["isValid"] is False and after["generalErrors"] == ["ItemsContainingErrors"]
    shown = data_of(client.get(f"/v3.0/orders/{n}", headers=v3))
    assert [i["status"] for i in shown["images"]] == ["Ok", "Ok", "Invalid", "FileNotFoundAtUrl", "Ok"]
    assert shown["images"][3]["errorMessage"] and shown["status"] == "NotYetSubmitted"
    v4 = client.get(f"/v4.0/orders/ord_{n}", headers={"X-API-Key": v3["X-Pwinty-REST-API-Key"]}).json()["order"]
    assert v4["status"]["stage"] == "Draft" and v4["shipments"] == [] and v4["charges"] == []


def test_a_submitted_v3_order_runs_to_complete_and_is_called_back_in_v3_words(
        client, v3, catalog, announcing, image_server, receiver, deliverer):
    v4_headers = {"X-API-Key": v3["X-Pwinty-REST-API-Key"]}
    assert client.put("/platform/v1/callbacks/settings", json={"defaultCallbackUrl": receiver.url},
                      headers=v4_headers).status_code == 200
    n = data_of(client.post("/v3.0/orders", json=new_order(preferredShippingMethod="Budget"), headers=v3))["id"]
    data_of(client.post(f"/v3.0/orders/{n}/images", json=image(f"{image_server.url}/photo.jpg", copies=2), headers=v3))
    # Submitting does not wait for the download.
    assert data_of(client.post(f"/v3.0/orders/{n}/status", json={"status": "Submitted"}, headers=v3)) == {}
    assert client.get(f"/v4.0/orders/ord_{n}", headers=v4_headers).json()["order"]["status"]["stage"] == "InProgress"

    announcing.run(n)
    deliverer().deliver()
    v3_order = data_of(client.get(f"/v3.0/orders/{n}", headers=v3))
    v4_order = client.get(f"/v4.0/orders/ord_{n}", headers=v4_headers).json()["order"]
    assert v3_order["status"] == "Complete" and v4_order["status"]["stage"] == "Complete"
    [v3_shipment] = v3_order["shippingInfo"]["shipments"]
    [v4_shipment] = v4_order["shipments"]
    assert v4_shipment["id"] == f"shp_{v3_shipment['shipmentId']}"
    assert v3_shipment["trackingNumber"] == v4_shipment["tracking"]["number"]
    assert v3_shipment["trackingUrl"] == v4_shipment["tracking"]["url"] and v3_shipment["shippedOn"]
    assert v3_order["images"][0]["status"] == "Ok"

    bodies = [json.loads(body) for _, body in receiver.received]
    assert bodies, "no callbacks"
    assert all(set(b) == {"orderId", "environment", "timestamp", "status", "shipments"} for b in bodies)
    assert all(b["orderId"] == n and b["environment"] == "SANDBOX" for b in bodies)
    assert [b["status"] for b in bodies][0] == "Submitted" and bodies[-1]["status"] == "Complete"
    assert bodies[-1]["shipments"][0]["status"] == "Shipped"
    assert bodies[-1]["shipments"][0]["trackingNumber"] == v3_shipment["trackingNumber"]
    assert not any("specversion" in b for b in bodies)
    webhook = Webhook(secret_of(client, v4_headers))
    for headers_received, raw in receiver.received:
        webhook.verify(raw, headers_received)
    listed = client.get(f"/platform/v1/orders/ord_{n}/callbacks", headers=v4_headers).json()["callbacks"]
    assert {c["status"] for c in listed} == {"Delivered"} and len(listed) == len(bodies)
