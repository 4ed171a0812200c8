"""The order process driven in-process against both databases, observed through the v4 API."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import pyvips
from sqlalchemy import func, select, update

from printwork.core.assets.storage import original_key, print_file_key, thumbnail_key
from printwork.core.merchants.service import update_settings, utcnow
from printwork.core.orders.repository import charges_t, issues_t, orders_t, shipments_t
from printwork.core.process import controls
from printwork.core.process.pipeline import LeaseLost, drive_order, fence
from tests.factories import tiny_catalog


def prints_catalog() -> dict:
    """Two prints: one both labs make (gb1 cheaper), one only de1 makes; both ship to GB."""
    document = tiny_catalog()
    area = lambda w, h: {"default": {"horizontalResolution": w, "verticalResolution": h}}
    document["exchangeRates"] = {"USD": "1.25", "EUR": "1.15"}
    document["products"] = [
        {"sku": "TEST-6X4", "description": "6x4 landscape print", "category": "photo-print",
         "productDimensions": {"width": 6, "height": 4, "units": "in"}, "attributes": {},
         "printAreas": {"default": {"required": True}},
         "variants": [{"attributes": {}, "printAreaSizes": area(1800, 1200)}]},
        {"sku": "TEST-4X6", "description": "4x6 portrait print", "category": "photo-print",
         "productDimensions": {"width": 4, "height": 6, "units": "in"}, "attributes": {},
         "printAreas": {"default": {"required": True}},
         "variants": [{"attributes": {}, "printAreaSizes": area(1200, 1800)}]},
    ]
    shipping = [{"destination": "GB", "method": m, "cost": "1.00", "carrier": "royalmail", "service": m,
                 "tracked": m != "Budget", "minDays": 1, "maxDays": 3}
                for m in ("Budget", "Standard", "Express", "Overnight")]
    document["labs"] = [
        {"code": "gb1", "name": "GB lab", "countryCode": "GB", "currency": "GBP",
         "products": {"TEST-6X4": "1.00"}, "shipping": shipping},
        {"code": "de1", "name": "DE lab", "countryCode": "DE", "currency": "EUR",
         "products": {"TEST-6X4": "3.00", "TEST-4X6": "1.00"},
         "shipping": [dict(s, carrier="DHL") for s in shipping]},
    ]
    return document


def order_body(url: str, *, sku: str = "TEST-6X4", sizing: str = "fillPrintArea", md5: str | None = None,
               extra_items=()) -> dict:
    asset = {"printArea": "default", "url": url}
    if md5:
        asset["md5Hash"] = md5
    return {
        "shippingMethod": "Budget",
        "recipient": {"name": "Ann", "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD",
                                                  "countryCode": "GB", "townOrCity": "Town"}},
        "items": [{"sku": sku, "copies": 2, "sizing": sizing, "assets": [asset]}, *extra_items],
    }


@pytest.fixture
def catalog(use_catalog):
    use_catalog(prints_catalog())


def create(client, headers, body, **extra_headers) -> int:
    response = client.post("/v4.0/orders", json=body, headers={**headers, **extra_headers})
    assert response.status_code == 200, response.text
    return int(response.json()["order"]["id"][4:])


def get(client, headers, order_id: int) -> dict:
    response = client.get(f"/v4.0/orders/ord_{order_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["order"]


def print_file(settings, order_id: int, asset_id: int) -> pyvips.Image:
    return pyvips.Image.new_from_file(str(settings.files_dir / print_file_key(order_id, asset_id)))


def colour(image: pyvips.Image, x: int, y: int) -> str:
    r, g, b = image(x, y)[:3]
    if min(r, g, b) > 235:
        return "white"
    return "red" if r > b + 100 else "blue" if b > r + 100 else "other"


def test_a_sandbox_order_goes_from_created_to_complete(client, headers, catalog, pipeline, image_server, settings):
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg", md5=image_server.md5("photo.jpg")))
    assert get(client, headers, order_id)["status"]["details"]["downloadAssets"] == "NotStarted"

    pipeline.run(order_id)

    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "Complete"
    assert set(order["status"]["details"].values()) == {"Complete"}
    assert order["status"]["issues"] == []
    item = order["items"][0]
    assert item["status"] == "Ok" and item["assets"][0]["status"] == "Complete"
    [shipment] = order["shipments"]
    assert shipment["status"] == "Shipped"
    assert shipment["fulfillmentLocation"] == {"countryCode": "GB", "labCode": "gb1"}
    assert shipment["tracking"]["number"].startswith("SBX")
    assert shipment["tracking"]["url"].startswith("https://www.royalmail.com/")
    assert shipment["dispatchDate"] is not None
    assert [(c["chargeType"], c["totalCost"]) for c in order["charges"]] == [
        ("Item", {"amount": "2.00", "currency": "GBP"}), ("Shipping", {"amount": "1.00", "currency": "GBP"})]

    asset_id = int(item["assets"][0]["id"][4:])
    image = print_file(settings, order_id, asset_id)
    assert (image.width, image.height) == (1800, 1200)
    thumbnail_url = item["assets"][0]["thumbnailUrl"]
    assert thumbnail_url.startswith("https://printwork.test/thumbnails/")
    thumbnail = client.get(thumbnail_url.removeprefix("https://printwork.test"))
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert max(pyvips.Image.new_from_buffer(thumbnail.content, "").width, 1) <= 400
    assert client.get("/thumbnails/not-a-token.jpg").json()["outcome"] == "EntityNotFound"


def test_details_move_in_the_documented_order(client, headers, catalog, pipeline_factory, image_server):
    pipeline = pipeline_factory(sandbox_lab_delay=timedelta(hours=1))
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "InProgress"
    assert order["status"]["details"] == {
        "downloadAssets": "Complete", "printReadyAssetsPrepared": "Complete", "allocateProductionLocation": "Complete",
        "inProduction": "InProgress", "shipping": "NotStarted"}
    assert order["shipments"][0]["status"] == "Processing" and order["shipments"][0]["tracking"] is None
    # The job asked to be woken when the lab's next step is due.
    assert pipeline.scheduled and pipeline.scheduled[-1][1] > utcnow() + timedelta(minutes=59)


@pytest.mark.parametrize("name, md5, reason", [
    ("missing.jpg", None, "HTTP 404"),
    ("photo.jpg", "0" * 32, "does not match the md5Hash"),
])
def test_a_failing_asset_is_tried_ten_times_then_errors(client, headers, catalog, pipeline, image_server, name, md5,
                                                       reason):
    before = image_server.hits.get(name, 0)
    order_id = create(client, headers, order_body(f"{image_server.url}/{name}", md5=md5))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    issues = order["status"]["issues"]
    warnings = [i for i in issues if i["errorCode"] == "order.items.assets.NotDownloaded"]
    final = [i for i in issues if i["errorCode"] == "order.items.assets.FailedToDownloaded"]
    assert [w["description"].split(" failed")[0] for w in warnings] == [
        f"Warning: Download attempt {n} of 10" for n in range(1, 10)]
    assert len(final) == 1 and reason in final[0]["description"]
    assert all(i["objectId"] == order["items"][0]["id"] for i in issues)
    assert order["items"][0]["status"] == "Invalid"
    assert order["items"][0]["assets"][0]["status"] == "Error"
    assert order["status"]["details"]["downloadAssets"] == "Error"
    assert order["status"]["details"]["allocateProductionLocation"] == "NotStarted"
    assert order["status"]["stage"] == "InProgress" and order["shipments"] == []
    assert image_server.hits[name] - before == 10


def test_a_later_success_clears_the_warnings(client, headers, catalog, pipeline, image_server, test_db):
    image_server.files.pop("late.jpg", None)
    order_id = create(client, headers, order_body(f"{image_server.url}/late.jpg"))
    pipeline.runtime.rules = pipeline.runtime.rules.__class__(**{
        **pipeline.runtime.rules.__dict__, "retry_delays_sandbox": (3600,) * 9})
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert [i["errorCode"] for i in order["status"]["issues"]] == ["order.items.assets.NotDownloaded"]
    assert order["status"]["details"]["downloadAssets"] == "InProgress"
    image_server.files["late.jpg"] = image_server.files["photo.jpg"]
    with test_db.db.transaction() as session:
        controls.advance(session, owner_of(test_db, order_id), order_id, all_the_way=False)
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert order["status"]["issues"] == [] and order["status"]["stage"] == "Complete"


def owner_of(test_db, order_id):
    from printwork.core.merchants.service import Owner
    with test_db.db.read() as session:
        row = session.execute(select(orders_t.c.merchant_id, orders_t.c.environment)
                              .where(orders_t.c.id == order_id)).one()
    return Owner(row[0], row[1])


def test_private_addresses_are_refused_unless_allowed(client, headers, catalog, pipeline_factory, image_server):
    pipeline = pipeline_factory(allow_private_urls=False)
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    [final] = [i for i in order["status"]["issues"] if i["errorCode"].endswith("FailedToDownloaded")]
    assert "refused" in final["description"] and "127.0.0.1" in final["description"]
    assert image_server.hits.get("photo.jpg", 0) >= 0  # never reached: checked below by status
    assert order["items"][0]["assets"][0]["status"] == "Error"


@pytest.mark.parametrize("name, reason", [("bomb.png", "more than can be printed"), ("notes.txt", "not a JPEG")])
def test_unprintable_files_fail_at_once(client, headers, catalog, pipeline, image_server, name, reason):
    before = image_server.hits.get(name, 0)
    order_id = create(client, headers, order_body(f"{image_server.url}/{name}"))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    [issue] = order["status"]["issues"]
    assert issue["errorCode"] == "order.items.assets.FailedToDownloaded" and reason in issue["description"]
    assert order["items"][0]["assets"][0]["status"] == "Error"
    assert image_server.hits[name] - before == 1  # the same bytes would fail the same way


@pytest.mark.parametrize("sku, sizing, expect", [
    # 3000x2400 red|blue onto 1800x1200: fill crops top and bottom, keeps both halves
    ("TEST-6X4", "fillPrintArea", {(5, 600): "red", (1794, 600): "blue"}),
    # fit scales to 1500x1200 and pads 150 px of white each side
    ("TEST-6X4", "fitPrintArea", {(5, 600): "white", (160, 600): "red", (1640, 600): "blue", (1794, 600): "white"}),
    ("TEST-6X4", "stretchToPrintArea", {(5, 5): "red", (1794, 1194): "blue"}),
    # a portrait area: the landscape photo is turned (clockwise) rather than cropped to a strip
    ("TEST-4X6", "fillPrintArea", {(600, 5): "red", (600, 1794): "blue"}),
])
def test_sizing_and_rotation_make_the_exact_print(client, headers, catalog, pipeline, image_server, settings,
                                                 sku, sizing, expect):
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg", sku=sku, sizing=sizing))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    asset_id = int(order["items"][0]["assets"][0]["id"][4:])
    image = print_file(settings, order_id, asset_id)
    assert (image.width, image.height) == ((1800, 1200) if sku == "TEST-6X4" else (1200, 1800))
    assert {point: colour(image, *point) for point in expect} == expect


def test_items_go_to_the_cheapest_labs_in_separate_shipments(client, headers, catalog, pipeline, image_server):
    second = {"sku": "TEST-4X6", "copies": 1, "assets": [{"printArea": "default", "url": f"{image_server.url}/square.png"}]}
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg", extra_items=[second]))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "Complete"
    by_lab = {s["fulfillmentLocation"]["labCode"]: [i["itemId"] for i in s["items"]] for s in order["shipments"]}
    assert by_lab == {"gb1": [order["items"][0]["id"]], "de1": [order["items"][1]["id"]]}
    item_charge = next(c for c in order["charges"] if c["chargeType"] == "Item")
    # gb1 makes the 6x4 for 1.00 GBP (de1 would be 3.00 EUR); de1's 1.00 EUR is 0.87 GBP
    assert [i["cost"]["amount"] for i in item_charge["items"]] == ["2.00", "0.87"]


def test_running_the_same_order_twice_at_once_duplicates_nothing(client, headers, catalog, pipeline, image_server,
                                                               test_db, settings):
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    def drive_a_few_times():
        for _ in range(5):
            drive_order(pipeline.runtime, order_id)

    threads = [threading.Thread(target=drive_a_few_times) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline.run(order_id)
    assert get(client, headers, order_id)["status"]["stage"] == "Complete"
    with test_db.db.read() as session:
        assert session.execute(select(func.count()).select_from(shipments_t)
                               .where(shipments_t.c.order_id == order_id)).scalar() == 1
        assert session.execute(select(func.count()).select_from(charges_t)
                               .where(charges_t.c.order_id == order_id)).scalar() == 2
    files = sorted(p.name for p in (settings.files_dir / "orders" / str(order_id)).rglob("*") if p.is_file())
    assert len(files) == 3  # one original, one print file, one thumbnail


def test_a_stale_job_cannot_write_after_losing_its_lease(test_db, client, headers, catalog):
    order_id = create(client, headers, order_body("https://example.com/a.jpg"))
    with test_db.db.transaction() as session:
        session.execute(update(orders_t).where(orders_t.c.id == order_id).values(lease_token="new-owner"))
    with pytest.raises(LeaseLost), test_db.db.transaction() as session:
        fence(session, order_id, "old-owner", timedelta(seconds=60))


def test_a_pause_window_holds_the_order_then_lets_it_go(client, headers, catalog, pipeline, image_server, test_db):
    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", pause_seconds=3600)
    response = client.post("/v4.0/orders", json=order_body(f"{image_server.url}/photo.jpg"), headers=headers)
    assert response.json()["outcome"] == "OnHold"
    order_id = int(response.json()["order"]["id"][4:])
    assert response.json()["order"]["status"] is None
    pipeline.run(order_id)
    assert get(client, headers, order_id)["status"] is None
    listed = client.get("/v4.0/orders?status=draft", headers=headers).json()["orders"]
    assert [o["id"] for o in listed] == [f"ord_{order_id}"]
    with test_db.db.transaction() as session:  # the window ends
        session.execute(update(orders_t).where(orders_t.c.id == order_id).values(hold_until=utcnow()))
    pipeline.run(order_id)
    assert get(client, headers, order_id)["status"]["stage"] == "Complete"


def test_an_indefinite_pause_waits_for_release(client, headers, catalog, pipeline, image_server, test_db):
    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", pause_indefinite=True)
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    with test_db.db.read() as session:
        assert session.execute(select(orders_t.c.due_at).where(orders_t.c.id == order_id)).scalar() is None
    response = client.post(f"/sandbox/v1/orders/ord_{order_id}/releaseHold", headers=headers)
    assert response.status_code == 200, response.text
    pipeline.run(order_id)
    assert get(client, headers, order_id)["status"]["stage"] == "Complete"
    again = client.post(f"/sandbox/v1/orders/ord_{order_id}/releaseHold", headers=headers)
    assert again.status_code == 409 and again.json()["outcome"] == "Conflict"


def test_payment_authorisation_is_asked_for_and_waited_on(client, headers, catalog, pipeline, image_server, test_db):
    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", pays_per_order=True)
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    [issue] = order["status"]["issues"]
    assert issue["errorCode"] == "RequiresPaymentAuthorisation" and issue["objectId"] == f"ord_{order_id}"
    assert issue["authorisationDetails"] == {
        "authorisationUrl": f"https://printwork.test/payments/ord_{order_id}",
        "paymentDetails": {"amount": "3.00", "currency": "GBP"}}
    assert order["status"]["stage"] == "InProgress" and order["status"]["details"]["downloadAssets"] == "NotStarted"
    listed = client.get("/v4.0/orders?status=awaitingPayment", headers=headers).json()["orders"]
    assert [o["id"] for o in listed] == [f"ord_{order_id}"]
    assert client.post(f"/sandbox/v1/orders/ord_{order_id}/authorisePayment", headers=headers).status_code == 200
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "Complete" and order["status"]["issues"] == []


def test_files_are_deleted_after_the_retention_period(client, headers, catalog, pipeline, image_server, settings,
                                                      test_db):
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    asset_id = int(get(client, headers, order_id)["items"][0]["assets"][0]["id"][4:])
    assert (settings.files_dir / original_key(order_id, asset_id)).exists()
    with test_db.db.transaction() as session:
        session.execute(update(orders_t).where(orders_t.c.id == order_id)
                        .values(submitted_at=utcnow() - timedelta(days=30, seconds=1), due_at=utcnow()))
    pipeline.run(order_id)
    assert not (settings.files_dir / original_key(order_id, asset_id)).exists()
    assert not (settings.files_dir / print_file_key(order_id, asset_id)).exists()
    assert (settings.files_dir / thumbnail_key(order_id, asset_id)).exists()
    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "Complete" and order["items"][0]["assets"][0]["status"] == "Complete"
    with test_db.db.read() as session:
        assert session.execute(select(orders_t.c.due_at).where(orders_t.c.id == order_id)).scalar() is None


def test_sandbox_faults_requested_at_creation(client, headers, catalog, pipeline, image_server):
    download = create(client, headers, order_body(f"{image_server.url}/photo.jpg"),
                      **{"X-Printwork-Sandbox-Fail": "assetDownload"})
    lab = create(client, headers, order_body(f"{image_server.url}/photo.jpg"),
                 **{"X-Printwork-Sandbox-Fail": "labSubmission"})
    pipeline.run(download)
    pipeline.run(lab)
    failed = get(client, headers, download)
    assert failed["items"][0]["assets"][0]["status"] == "Error"
    assert "sandbox was asked" in failed["status"]["issues"][-1]["description"]
    rejected = get(client, headers, lab)
    assert rejected["status"]["details"]["inProduction"] == "Error"
    assert rejected["status"]["issues"][0]["errorCode"] == "order.shipments.RejectedByLab"
    assert rejected["status"]["issues"][0]["objectId"] == rejected["shipments"][0]["id"]
    bad = client.post("/v4.0/orders", json=order_body(f"{image_server.url}/photo.jpg"),
                      headers={**headers, "X-Printwork-Sandbox-Fail": "everything"})
    assert bad.status_code == 400 and "header.X-Printwork-Sandbox-Fail" in bad.json()["failures"]


def test_sandbox_controls_need_a_sandbox_key_and_the_owner(client, headers, catalog, make_key, image_server):
    order_id = create(client, headers, order_body(f"{image_server.url}/photo.jpg"))
    live = {"X-API-Key": make_key("Test Shop", "live")}
    other = {"X-API-Key": make_key("Other Shop")}
    assert client.post(f"/sandbox/v1/orders/ord_{order_id}/fail", json={"step": "labSubmission"},
                       headers=live).status_code == 403
    assert client.post(f"/sandbox/v1/orders/ord_{order_id}/fail", json={"step": "labSubmission"},
                       headers=other).status_code == 404
    assert client.post(f"/sandbox/v1/orders/ord_{order_id}/fail", json={"step": "nope"},
                       headers=headers).status_code == 400
    assert client.post(f"/sandbox/v1/orders/ord_{order_id}/fail", json={"step": "labSubmission"}).status_code == 401
    response = client.post(f"/sandbox/v1/orders/ord_{order_id}/fail", json={"step": "labSubmission"}, headers=headers)
    assert response.status_code == 200 and response.json()["order"]["id"] == f"ord_{order_id}"


def assert_documented(client, schema_name: str, value) -> None:
    """`value` has the shape the served OpenAPI document gives `schema_name`."""
    import jsonschema_rs  # comes with schemathesis

    document = client.get("/openapi.json").json()
    jsonschema_rs.Draft202012Validator({**document, "$ref": f"#/components/schemas/{schema_name}"}).validate(value)


def test_live_orders_wait_for_their_lab_which_reports_through_the_lab_api(
        client, catalog, make_key, pipeline, image_server, test_db, settings):
    from printwork.core.labs.service import create_lab_key
    live = {"X-API-Key": make_key("Test Shop", "live")}
    order_id = create(client, live, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    order = get(client, live, order_id)
    assert order["status"]["details"]["inProduction"] == "InProgress" and order["shipments"][0]["status"] == "Processing"
    with test_db.db.transaction() as session:
        gb1 = {"X-API-Key": create_lab_key(session, "gb1", {"gb1", "de1"}).key}
        de1 = {"X-API-Key": create_lab_key(session, "de1", {"gb1", "de1"}).key}

    assert client.get("/lab/v1/shipments", headers=live).status_code == 401  # a merchant key is not a lab key
    assert client.get("/lab/v1/shipments", headers=de1).json()["shipments"] == []
    [shipment] = client.get("/lab/v1/shipments", headers=gb1).json()["shipments"]
    assert shipment["orderId"] == f"ord_{order_id}" and shipment["stage"] == "Submitted"
    assert_documented(client, "LabShipment", shipment)
    assert shipment["recipient"]["address"]["countryCode"] == "GB"
    [item] = shipment["items"]
    assert item["sku"] == "TEST-6X4" and item["copies"] == 2
    file_url = item["assets"][0]["printFileUrl"].removeprefix("http://testserver")
    assert client.get(file_url, headers=de1).status_code == 404
    print_file_response = client.get(file_url, headers=gb1)
    assert print_file_response.status_code == 200
    assert pyvips.Image.new_from_buffer(print_file_response.content, "").width == 1800

    path = f"/lab/v1/shipments/{shipment['id']}"
    assert client.post(f"{path}/shipped", json={}, headers=gb1).status_code == 400
    assert client.post(f"{path}/inProduction", headers=de1).status_code == 404
    assert client.post(f"{path}/inProduction", headers=gb1).status_code == 200
    assert client.post(f"{path}/inProduction", headers=gb1).status_code == 200  # repeated: no change
    assert get(client, live, order_id)["status"]["stage"] == "InProgress"
    shipped = client.post(f"{path}/shipped", json={"trackingNumber": "RM123456789GB"}, headers=gb1)
    assert shipped.status_code == 200, shipped.text
    assert client.post(f"{path}/shipped", json={"trackingNumber": "RM123456789GB"}, headers=gb1).status_code == 200
    assert client.post(f"{path}/shipped", json={"trackingNumber": "OTHER"}, headers=gb1).status_code == 409
    order = get(client, live, order_id)
    assert order["status"]["stage"] == "Complete" and set(order["status"]["details"].values()) == {"Complete"}
    assert_documented(client, "Order", order)
    assert_documented(client, "LabShipment", client.get(path, headers=gb1).json()["shipment"])
    assert order["shipments"][0]["tracking"] == {
        "url": "https://www.royalmail.com/track-your-item#/tracking-results/RM123456789GB", "number": "RM123456789GB"}
    assert client.get("/lab/v1/shipments", headers=gb1).json()["shipments"] == []
    assert len(client.get("/lab/v1/shipments?stage=shipped", headers=gb1).json()["shipments"]) == 1


def test_the_reconciler_re_drives_lost_work_once(test_db, settings, client, headers, catalog):
    from printwork.jobs import JobQueue
    order_id = create(client, headers, order_body("https://example.com/a.jpg"))
    jobs = JobQueue(settings.model_copy(update={"reconcile_grace_seconds": 0}), test_db.db, None)
    jobs.huey.flush()
    with test_db.db.transaction() as session:
        session.execute(update(orders_t).where(orders_t.c.id == order_id)
                        .values(due_at=utcnow() - timedelta(minutes=5)))
    assert jobs.reconcile_once() == 1
    assert jobs.huey.pending_count() == 1
    with test_db.db.transaction() as session:  # a live lease means a job is on it
        session.execute(update(orders_t).where(orders_t.c.id == order_id).values(
            due_at=utcnow() - timedelta(minutes=5), lease_token="x", lease_expires_at=utcnow() + timedelta(minutes=1)))
    assert jobs.reconcile_once() == 0
    jobs.close()
    with test_db.db.read() as session:
        assert session.execute(select(func.count()).select_from(issues_t)).scalar() == 0


def test_platform_endpoints_refuse_bad_input(client, headers, catalog, test_db):
    from printwork.core.labs.service import create_lab_key
    order_id = create(client, headers, order_body("https://example.com/a.jpg"))
    advance = f"/sandbox/v1/orders/ord_{order_id}/advance"
    assert client.post(advance, json={"to": "moon"}, headers=headers).json()["failures"]["to"][0]["code"] == "InvalidValue"
    assert client.post(advance, json=[1], headers=headers).json()["failures"]["body"][0]["code"] == "MustBeAnObject"
    assert client.post("/sandbox/v1/orders/nonsense/advance", headers=headers).status_code == 400
    assert client.post("/sandbox/v1/orders/ord_999999/advance", headers=headers).status_code == 404
    assert client.post(f"/sandbox/v1/orders/ord_{order_id}/authorisePayment", headers=headers).status_code == 409

    with test_db.db.transaction() as session:
        lab = {"X-API-Key": create_lab_key(session, "gb1", {"gb1"}).key}
    assert client.get("/lab/v1/shipments?stage=lost", headers=lab).json()["failures"]["stage"][0]["code"] == "InvalidValue"
    assert client.get("/lab/v1/shipments/nonsense", headers=lab).status_code == 400
    assert client.get("/lab/v1/shipments/shp_999999", headers=lab).status_code == 404
    assert client.get("/lab/v1/print-files/ast_1", headers=lab).status_code == 404
    bad_url = client.post("/lab/v1/shipments/shp_1/shipped", json={"trackingNumber": "X", "trackingUrl": "ftp://x"},
                          headers=lab)
    assert bad_url.json()["failures"]["trackingUrl"][0]["code"] == "MustBeAnHttpUrl"
    assert client.post("/lab/v1/shipments/shp_1/shipped", json=[], headers=lab).status_code == 400
    assert client.post("/lab/v1/shipments/shp_999999/shipped", json={"trackingNumber": "X"}, headers=lab).status_code == 404
    nul = client.post("/lab/v1/shipments/shp_1/shipped", json={"trackingNumber": "RM\x001"}, headers=lab)
    assert nul.json()["failures"]["trackingNumber"][0]["code"] == "MustNotContainNulCharacters"  # no 500 on PostgreSQL

    settings_url = "/platform/v1/callbacks/settings"
    assert client.put(settings_url, json=["x"], headers=headers).status_code == 400
    assert client.put(settings_url, json={"defaultCallbackUrl": 5}, headers=headers).status_code == 400
    nul = client.put(settings_url, json={"defaultCallbackUrl": "https://shop.example/\x00"}, headers=headers)
    assert nul.json()["failures"]["defaultCallbackUrl"][0]["code"] == "MustNotContainNulCharacters"
    cleared = client.put(settings_url, json={"defaultCallbackUrl": None}, headers=headers).json()
    assert cleared["defaultCallbackUrl"] is None and cleared["signingSecret"].startswith("whsec_")
    assert client.get(settings_url).status_code == 401


def test_a_photobook_takes_pdfs_and_sends_them_as_they_are(client, headers, pipeline, image_server, settings):
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    image_server.files["book.pdf"] = pdf
    body = order_body(f"{image_server.url}/book.pdf", sku="BOOK-A4-L-HARD-M")
    body["items"][0]["assets"].append({"printArea": "spine", "url": f"{image_server.url}/book.pdf"})
    order_id = create(client, headers, body)
    pipeline.run(order_id)
    order = get(client, headers, order_id)
    assert order["status"]["stage"] == "Complete"
    for asset in order["items"][0]["assets"]:
        assert asset["status"] == "Complete" and asset.get("thumbnailUrl") is None  # no PDF renderer here
        asset_id = int(asset["id"][4:])
        assert (settings.files_dir / f"orders/{order_id}/print/{asset_id}.pdf").read_bytes() == pdf
    # A PDF where a product takes only pictures is refused at once.
    refused = create(client, headers, order_body(f"{image_server.url}/book.pdf", sku="GLOBAL-PHO-4X6"))
    pipeline.run(refused)
    [issue] = get(client, headers, refused)["status"]["issues"]
    assert issue["errorCode"] == "order.items.assets.FailedToDownloaded" and "PDF" in issue["description"]


def test_only_near_work_is_scheduled_on_the_queue(test_db, settings):
    from printwork.jobs import JobQueue
    jobs = JobQueue(settings, test_db.db, None)
    jobs.huey.flush()
    jobs.order_due(1)
    jobs.order_due(2, utcnow() + timedelta(minutes=10))
    jobs.order_due(3, utcnow() + timedelta(days=30))  # a retention purge: the reconciler's
    jobs.events_due([4], utcnow() + timedelta(hours=6))  # a live callback retry: the same
    # Huey keeps a task with an eta in the queue until a consumer moves it to its schedule.
    etas = sorted((task.eta is not None) for task in jobs.huey.pending())
    assert etas == [False, True] and jobs.huey.scheduled_count() == 0
    jobs.close()


def test_a_retry_is_scheduled_no_earlier_than_it_is_due_whatever_the_hosts_time_zone(
        test_db, settings, monkeypatch):
    import time as clock

    from printwork.jobs import JobQueue
    monkeypatch.setenv("TZ", "America/New_York")  # a host not on UTC: naive times must not shift
    clock.tzset()
    try:
        jobs = JobQueue(settings, test_db.db, None)
        jobs.huey.flush()
        due = utcnow() + timedelta(seconds=30, microseconds=400_000)
        jobs.deliverer.deliver = lambda ids: [(ids[0], due)]
        jobs._run_deliver([7])
        [task] = jobs.huey.pending()  # the consumer moves it to the schedule when it reads it
        # Never before the event is due (else the job claims nothing and the retry waits for the
        # reconciler), and not hours off either.
        assert due <= task.eta <= due + timedelta(seconds=1)
        jobs.order_due(9, due)
        etas = sorted(t.eta for t in jobs.huey.pending())
        assert etas[0] == due
        jobs.huey.flush()
        jobs.close()
    finally:
        monkeypatch.delenv("TZ")
        clock.tzset()
