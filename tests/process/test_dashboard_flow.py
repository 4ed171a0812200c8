"""The dashboard on orders that move through the pipeline: the timeline, the images side by side,
payment authorisation at authorisationUrl, an operator shipping a lab's shipment, system health."""

from __future__ import annotations

import re

import pyvips

from printwork.core.merchants.service import update_settings
from tests.dashboard import csrf_of, sign_in
from tests.process.test_pipeline import catalog, create, get, order_body  # noqa: F401  (catalog: a fixture)


def test_the_order_page_shows_the_timeline_and_the_images_side_by_side(
        client, make_user, make_key, catalog, pipeline, image_server):
    make_user("ann@shop.test", merchant="Test Shop")
    key = {"X-API-Key": make_key("Test Shop", "sandbox")}
    pipeline.runtime.announcer = client.app.context.announcer
    order_id = create(client, key, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    assert get(client, key, order_id)["status"]["stage"] == "Complete"
    sign_in(client, "ann@shop.test")
    page = client.get(f"/dashboard/orders/ord_{order_id}").text
    timeline = page.split('class="timeline"')[1].split("</ol>")[0]
    for step in ("Order received", "Image downloads: Complete", "Shipment shp_", "Stage: Complete"):
        assert step in timeline, step
    assert timeline.index("Order received") < timeline.index("Image downloads: Complete") < timeline.index(
        "Stage: Complete")
    assert "3000 × 2400 px" in page  # the original as sent
    assert re.search(r"Print area “default”:\s+1800 × 1200 px,\s+sizing fillPrintArea", page)
    images = re.findall(r'<img src="(/dashboard/orders/ord_\d+/images/\d+/(\w+)\.jpg)"', page)
    assert [kind for _, kind in images] == ["original", "print", "thumbnail"]
    for url, kind in images:
        answer = client.get(url)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg", kind
        picture = pyvips.Image.new_from_buffer(answer.content, "")
        assert max(picture.width, picture.height) <= 800, kind  # scaled for the browser, never the full file
    assert 'hx-trigger' not in page.split('id="order-live"')[1].split(">")[0]


def test_a_payment_is_authorised_at_the_orders_authorisation_url(
        client, make_user, make_key, catalog, pipeline, image_server, test_db):
    make_user("ann@shop.test", merchant="Test Shop")
    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", pays_per_order=True)
    key = {"X-API-Key": make_key("Test Shop", "live")}
    order_id = create(client, key, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    [issue] = get(client, key, order_id)["status"]["issues"]
    path = issue["authorisationDetails"]["authorisationUrl"].removeprefix("https://printwork.test")
    assert path == f"/payments/ord_{order_id}"
    answer = client.get(path, follow_redirects=False)  # not signed in yet: sign in, then back here
    assert answer.status_code == 303
    signed = sign_in(client, "ann@shop.test", next_path=path)
    assert signed.headers["location"] == path
    page = client.get(path)  # a live order, while the header shows the sandbox
    assert page.status_code == 200
    assert re.search(r'id="payment-amount">3\.00 GBP<', page.text)
    authorised = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert "Payment authorised" in authorised.text
    order = get(client, key, order_id)
    assert order["status"]["issues"] == [] and order["status"]["stage"] == "InProgress"
    assert "not waiting for a payment" in client.post(path, data={"csrf_token": csrf_of(page.text)}).text


def test_an_operator_ships_a_labs_shipment_with_the_lab_apis_rules(
        client, make_user, make_key, catalog, pipeline, image_server):
    make_user("olga@printwork.test", operator=True)
    key = {"X-API-Key": make_key("Test Shop", "live")}
    pipeline.runtime.announcer = client.app.context.announcer
    order_id = create(client, key, order_body(f"{image_server.url}/photo.jpg"))
    pipeline.run(order_id)
    shipment_id = get(client, key, order_id)["shipments"][0]["id"]
    sign_in(client, "olga@printwork.test")
    queue = client.get("/dashboard/operator/labs").text
    assert f'id="shipment-{shipment_id}"' in queue
    print_file = re.search(r'href="(/dashboard/operator/labs/gb1/print-files/\d+)"', queue).group(1)
    download = client.get(print_file)
    assert download.status_code == 200 and pyvips.Image.new_from_buffer(download.content, "").width == 1800
    assert client.get(print_file.replace("/gb1/", "/de1/")).status_code == 404
    csrf = csrf_of(queue)
    base = f"/dashboard/operator/labs/gb1/{shipment_id}"
    refused = client.post(f"{base}/shipped", data={"csrf_token": csrf, "tracking_number": ""})
    assert refused.status_code == 400 and "tracking_number Required" in refused.text
    bad_url = client.post(f"{base}/shipped", data={"csrf_token": csrf, "tracking_number": "RM1", "tracking_url": "ftp:x"})
    assert "tracking_url MustBeAnHttpUrl" in bad_url.text
    assert client.post(f"/dashboard/operator/labs/de1/{shipment_id}/in-production",
                       data={"csrf_token": csrf}).status_code == 404
    client.post(f"{base}/in-production", data={"csrf_token": csrf})
    assert get(client, key, order_id)["status"]["details"]["inProduction"] == "InProgress"
    shipped = client.post(f"{base}/shipped", data={"csrf_token": csrf, "tracking_number": "RM123456789GB"})
    assert shipped.status_code == 200 and f"{shipment_id}: shipped." in shipped.text
    order = get(client, key, order_id)
    assert order["status"]["stage"] == "Complete"
    assert order["shipments"][0]["tracking"]["number"] == "RM123456789GB"
    assert f'id="shipment-{shipment_id}"' not in client.get("/dashboard/operator/labs").text
    again = client.post(f"{base}/shipped", data={"csrf_token": csrf, "tracking_number": "OTHER"})
    assert again.status_code == 400 and "already reported shipped" in again.text


def test_system_health_shows_failed_downloads_and_callback_failures(
        client, make_user, make_key, catalog, pipeline, image_server):
    make_user("olga@printwork.test", operator=True)
    key = {"X-API-Key": make_key("Test Shop", "sandbox")}
    order_id = create(client, key, order_body(f"{image_server.url}/missing.jpg"))
    pipeline.run(order_id)
    sign_in(client, "olga@printwork.test")
    page = client.get("/dashboard/operator").text
    assert "Failed downloads (1)" in page and f"ord_{order_id}" in page
    assert "Orders per day, by API" in page and "prodigi_v4" in page
