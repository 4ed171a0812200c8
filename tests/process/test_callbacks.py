"""Callbacks: what is announced, how it is signed and delivered, retried, listed and re-sent."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cloudevents.core.bindings import http as ce_http
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from printwork.api import faces
from printwork.core.callbacks.delivery import Deliverer, DeliveryRules
from printwork.core.callbacks.events import DOWNLOADS_CHANGED, Announcer, RenderedEvent, events_t
from printwork.core.merchants.service import utcnow
from printwork.core.orders.repository import orders_t
from tests.process.test_pipeline import order_body, prints_catalog


class Receiver:
    """A loopback callback receiver that records what it gets and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.status = 200
        self.delay = 0.0
        self.headers: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def catalog(use_catalog):
    use_catalog(prints_catalog())


def rules(**changes) -> DeliveryRules:
    values = dict(delays_live=(0,) * 14, delays_sandbox=(0,) * 14, timeout=2.0, allow_private_urls=True)
    values.update(changes)
    return DeliveryRules(**values)


@pytest.fixture
def deliverer(test_db):
    made = []

    def make(**changes) -> Deliverer:
        made.append(Deliverer(test_db.db, rules(**changes)))
        return made[-1]

    yield make
    for d in made:
        d.close()


@pytest.fixture
def announcing(pipeline):
    pipeline.runtime.announcer = faces.wire(pipeline.runtime.database, "https://printwork.test")
    return pipeline


def secret_of(client, headers) -> str:
    response = client.get("/platform/v1/callbacks/settings", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["signingSecret"]


class PlainFace:
    """A face of its own words: no CloudEvents, no download callbacks, stages as the core names them."""

    def __init__(self, rendition_format: str) -> None:
        self.rendition_format = rendition_format

    def shown_stage(self, stage: str) -> str | None:
        return stage

    def render_event(self, change, context):
        if change.kind == DOWNLOADS_CHANGED:
            return None
        return RenderedEvent(f"plain/{change.kind}/{change.value}", json.dumps({
            "type": f"plain/{change.kind}/{change.value}", "order": context.order_id,
            "environment": context.environment, "shipment": change.shipment_id}).encode())


def test_an_orders_callbacks_are_rendered_by_the_face_it_came_through(client, headers, catalog, announcing,
                                                                      image_server, receiver, deliverer, test_db):
    wired = announcing.runtime.announcer
    announcing.runtime.announcer = Announcer(wired.renditions, {
        **wired.faces, "plain": PlainFace(next(iter(wired.faces.values())).rendition_format)})
    placed = []
    for face in ("plain", None):
        body = {**order_body(f"{image_server.url}/photo.jpg"), "callbackUrl": receiver.url}
        order_id = int(client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"][4:])
        if face is not None:
            with test_db.db.transaction() as session:
                session.execute(update(orders_t).where(orders_t.c.id == order_id).values(face=face))
        placed.append(order_id)
    for order_id in placed:
        announcing.run(order_id)
    deliverer().deliver()
    plain, v4 = ([json.loads(b) for _, b in receiver.received if json.loads(b).get("order", json.loads(b).get("subject"))
                  in (n, f"ord_{n}")] for n in placed)
    shipment = plain[0]["shipment"]
    assert [e["type"] for e in plain] == ["plain/shipment/Processing", "plain/shipment/Shipped", "plain/stage/Complete"]
    assert shipment.startswith("shp_") and plain[0]["environment"] == "sandbox"
    assert [e["type"] for e in v4] == [
        "com.prodigi.order.status.details.downloadAssets.changed#Complete",
        "com.prodigi.order.shipments.changed#Processing",
        "com.prodigi.order.shipments.changed#Shipped",
        "com.prodigi.order.status.stage.changed#Complete",
    ]
    listed = client.get(f"/platform/v1/orders/ord_{placed[0]}/callbacks", headers=headers).json()["callbacks"]
    assert [c["type"] for c in listed] == [e["type"] for e in plain]


def test_every_step_is_called_back_as_a_signed_cloudevent(client, headers, catalog, announcing, image_server,
                                                          receiver, deliverer):
    body = {**order_body(f"{image_server.url}/photo.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    announcing.run(int(order_id[4:]))
    deliverer().deliver()
    assert receiver.types() == [
        "com.prodigi.order.status.details.downloadAssets.changed#Complete",
        "com.prodigi.order.shipments.changed#Processing",
        "com.prodigi.order.shipments.changed#Shipped",
        "com.prodigi.order.status.stage.changed#Complete",
    ]
    webhook = Webhook(secret_of(client, headers))
    seen_ids = set()
    for headers_received, raw in receiver.received:
        assert headers_received["content-type"].startswith("application/cloudevents+json")
        event = ce_http.from_http_event(ce_http.HTTPMessage(headers=headers_received, body=raw))
        assert event.get_specversion() == "1.0"
        assert event.get_id().startswith("evt_") and event.get_id() not in seen_ids
        seen_ids.add(event.get_id())
        assert event.get_source() == "https://printwork.test/v4.0/Orders/"
        assert event.get_subject() == order_id
        assert headers_received["webhook-id"] == event.get_id()
        assert webhook.verify(raw, headers_received)["id"] == event.get_id()
    # Each carries the order as it was when it happened.
    first, last = (json.loads(raw)["data"]["order"] for raw in (receiver.received[0][1], receiver.received[-1][1]))
    assert first["status"]["details"]["downloadAssets"] == "Complete" and first["shipments"] == []
    assert last["status"]["stage"] == "Complete" and last["shipments"][0]["tracking"] is not None
    # A tampered body does not verify.
    tampered_headers, tampered = receiver.received[0]
    with pytest.raises(Exception, match="signature"):
        webhook.verify(tampered.replace(b"Complete", b"Cancelled"), tampered_headers)

    listed = client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=headers).json()["callbacks"]
    assert [c["status"] for c in listed] == ["Delivered"] * 4
    assert all(len(c["history"]) == 1 and c["history"][0]["statusCode"] == 200 for c in listed)


def test_the_merchant_default_url_is_used_and_actions_are_called_back(client, headers, catalog, receiver, deliverer):
    response = client.put("/platform/v1/callbacks/settings", json={"defaultCallbackUrl": receiver.url}, headers=headers)
    assert response.status_code == 200 and response.json()["defaultCallbackUrl"] == receiver.url
    assert client.put("/platform/v1/callbacks/settings", json={"defaultCallbackUrl": "ftp://x"},
                      headers=headers).status_code == 400
    order_id = client.post("/v4.0/orders", json=order_body("https://example.com/a.jpg"), headers=headers).json()["order"]["id"]
    assert client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers).json()["outcome"] == "Cancelled"
    deliverer().deliver()
    assert receiver.types() == ["com.prodigi.order.status.stage.changed#Cancelled"]
    assert json.loads(receiver.received[0][1])["data"]["order"]["status"]["stage"] == "Cancelled"


def test_a_failing_receiver_gets_fifteen_attempts_then_a_redelivery(client, headers, catalog, receiver, deliverer,
                                                                    test_db):
    receiver.status = 500
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers)
    sender = deliverer()
    for _ in range(20):
        sender.deliver()
    assert len(receiver.received) == 15
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1  # the same event id every time
    [event] = client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=headers).json()["callbacks"]
    assert event["status"] == "Failed" and event["attempts"] == 15 and len(event["history"]) == 15
    assert {a["error"] for a in event["history"]} == {"HTTP 500"}

    receiver.status = 204
    again = client.post(f"/platform/v1/callbacks/{event['id']}/redeliver", headers=headers)
    assert again.status_code == 200
    sender.deliver()
    [event] = client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=headers).json()["callbacks"]
    assert event["status"] == "Delivered" and len(event["history"]) == 16
    assert client.post("/platform/v1/callbacks/evt_nope/redeliver", headers=headers).status_code == 404


def test_retries_follow_the_schedule(client, headers, catalog, receiver, deliverer, test_db):
    receiver.status = 503
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers)
    sender = deliverer(delays_sandbox=(60, 120), jitter=0.0)
    assert sender.deliver()[0][1] > utcnow() + timedelta(seconds=59)
    assert sender.deliver() == []  # not due yet: nothing is sent
    with test_db.db.transaction() as session:
        session.execute(update(events_t).values(next_attempt_at=utcnow()))
    retry_at = sender.deliver()[0][1]
    assert retry_at > utcnow() + timedelta(seconds=119)
    assert len(receiver.received) == 2


@pytest.mark.parametrize("status, retry_after, waited", [
    (429, "90", 90), (503, "120", 120), (429, "999999999", 6 * 3600), (429, "soon", 1), (500, "90", 1)])
def test_a_receiver_asking_to_wait_is_not_tried_sooner(client, headers, catalog, receiver, deliverer,
                                                       status, retry_after, waited):
    receiver.status, receiver.headers = status, {"Retry-After": retry_after}
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers)
    before = utcnow()
    [(_, retry_at)] = deliverer(delays_sandbox=(1,) * 14, jitter=0.0).deliver()
    assert timedelta(seconds=waited - 1) <= retry_at - before <= timedelta(seconds=waited + 5)


def test_retry_after_may_be_an_http_date():
    from printwork.core.callbacks.delivery import parse_retry_after

    now = utcnow().replace(microsecond=0)
    in_a_minute = (now + timedelta(seconds=60)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(in_a_minute, now) == timedelta(seconds=60)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now) == timedelta(0)
    assert parse_retry_after("", now) is None and parse_retry_after("-5", now) is None


@pytest.mark.parametrize("status, error", [(302, "redirects are not followed"), (404, "HTTP 404"),
                                           (410, "HTTP 410")])
def test_redirects_and_errors_are_failures(client, headers, catalog, receiver, deliverer, status, error):
    receiver.status = status
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers)
    deliverer().deliver()
    [event] = client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=headers).json()["callbacks"]
    assert event["status"] == "Pending" and error in event["history"][0]["error"]


def test_private_callback_urls_are_refused(client, headers, catalog, receiver, deliverer):
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers)
    deliverer(allow_private_urls=False).deliver()
    assert receiver.received == []
    [event] = client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=headers).json()["callbacks"]
    assert "refused" in event["history"][0]["error"]


def test_no_url_means_no_events(client, headers, catalog, test_db):
    order_id = client.post("/v4.0/orders", json=order_body("https://example.com/a.jpg"), headers=headers).json()["order"]["id"]
    client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers)
    with test_db.db.read() as session:
        assert session.execute(select(events_t.c.id)).all() == []
    assert client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=headers).json()["callbacks"] == []


def test_other_merchants_see_no_deliveries(client, headers, catalog, receiver, make_key):
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    other = {"X-API-Key": make_key("Other Shop")}
    assert client.get(f"/platform/v1/orders/{order_id}/callbacks", headers=other).status_code == 404
    assert client.get(f"/platform/v1/orders/{order_id}/callbacks").status_code == 401


def test_the_end_of_a_pause_is_called_back_but_a_payment_is_not_a_stage_change(
        client, headers, catalog, receiver, deliverer, test_db):
    from printwork.core.merchants.service import update_settings
    with test_db.db.transaction() as session:
        update_settings(session, "Test Shop", pause_indefinite=True, pays_per_order=True)
    body = {**order_body("https://example.com/a.jpg"), "callbackUrl": receiver.url}
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    assert client.post(f"/sandbox/v1/orders/{order_id}/releaseHold", headers=headers).status_code == 200
    deliverer().deliver()
    # Out of the pause and into payment authorisation: the order now shows InProgress.
    assert receiver.types() == ["com.prodigi.order.status.stage.changed#InProgress"]
    event = json.loads(receiver.received[0][1])["data"]["order"]
    assert event["status"]["issues"][0]["errorCode"] == "RequiresPaymentAuthorisation"
    assert client.post(f"/sandbox/v1/orders/{order_id}/authorisePayment", headers=headers).status_code == 200
    deliverer().deliver()
    assert len(receiver.received) == 1  # still InProgress to the merchant: nothing to announce
