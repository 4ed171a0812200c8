"""printwork-client against a real `printwork serve`, sync and async alike."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from printwork_client import (
    Address,
    AsyncPrintwork,
    AuthenticationFailed,
    DetailStatus,
    NewAsset,
    NewItem,
    NewOrder,
    NotFound,
    Outcome,
    Printwork,
    RateLimited,
    Recipient,
    RetryPolicy,
    ServerError,
    ShippingMethod,
    Stage,
    ValidationFailed,
    callbacks,
    models,
)

FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)


def test_an_order_from_create_to_complete(served, new_order):
    with Printwork(api_key=served.key, base_url=served.base_url) as client:
        created = client.orders.create(new_order())
        assert created.outcome == Outcome.CREATED
        order = created.order
        assert order.id.startswith("ord_") and order.idempotency_key  # the client made one
        assert order.created.tzinfo is not None and isinstance(order.created, datetime)
        assert order.shipping_method == ShippingMethod.BUDGET
        assert order.status.stage == Stage.IN_PROGRESS

        done = client.sandbox.advance(order.id, to="shipped")
        assert done.status.stage == Stage.COMPLETE
        assert done.status.details.shipping == DetailStatus.COMPLETE
        [shipment] = done.shipments
        assert shipment.tracking.number.startswith("SBX") and shipment.dispatch_date.tzinfo is not None
        assert [i.item_id for i in shipment.items] == [done.items[0].id]
        assert all(isinstance(c.total_cost.amount, Decimal) for c in done.charges)
        assert done.items[0].assets[0].thumbnail_url
        assert client.orders.get(order.id) == done
        assert client.orders.actions(order.id).cancel.is_available is False


def test_a_typed_order_and_its_actions(served):
    with Printwork(api_key=served.key, base_url=served.base_url) as client:
        order = NewOrder(
            shipping_method=ShippingMethod.STANDARD,
            recipient=Recipient(name="Bob", address=Address(line1="2 Low Rd", postal_or_zip_code="10115",
                                                            country_code="DE", town_or_city="Berlin")),
            items=[NewItem(sku="GLOBAL-PHO-4X6", copies=1,
                           assets=[NewAsset("default", f"{served.base_url}/sandbox/v1/samples/portrait.jpg")])],
            merchant_reference="typed", metadata={"source": "tests"},
        )
        created = client.orders.create(order, idempotency_key="typed-order-1")
        again = client.orders.create(order, idempotency_key="typed-order-1")
        assert again.outcome == Outcome.ALREADY_EXISTS and again.order.id == created.order.id
        updated = client.orders.update_metadata(created.order.id, {"gift": True})
        assert updated.outcome == Outcome.UPDATED and updated.order.metadata == {"gift": True}
        cancelled = client.orders.cancel(created.order.id)
        assert cancelled.outcome == Outcome.CANCELLED
        assert client.orders.get(created.order.id).status.stage == Stage.CANCELLED
        assert client.orders.cancel(created.order.id).outcome == Outcome.ACTION_NOT_AVAILABLE


def test_listing_is_lazy_across_pages(served, new_order):
    pages: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: pages.append(str(request.url))]})
    with Printwork(api_key=served.key, base_url=served.base_url, http=http) as client:
        made = [client.orders.create(new_order(reference="paged")).order.id for _ in range(7)]
        pages.clear()
        listed = client.orders.list(top=3, merchant_references=["paged"])
        assert pages == []  # nothing is fetched until the loop asks
        first = next(iter(listed))
        assert first.id == made[-1] and len(pages) == 1
        everything = [o.id for o in client.orders.list(top=3, merchant_references=["paged"])]
    assert everything == made[::-1]
    assert len(pages) == 1 + 3  # the first page above, then three pages of 3, 3 and 1


def test_every_error_type(served):
    with Printwork(api_key=served.key, base_url=served.base_url) as client:
        with pytest.raises(ValidationFailed) as invalid:
            client.orders.create({"shippingMethod": "Budget", "recipient": {"address": {}}, "items": []})
        assert invalid.value.status_code == 400 and invalid.value.outcome == "ValidationFailed"
        assert invalid.value.failures["recipient.name"][0].code == "Required"
        assert invalid.value.failures["items"][0].code == "MustNotBeEmptyArray"
        assert invalid.value.trace_parent.startswith("00-")
        with pytest.raises(NotFound) as missing:
            client.orders.get("ord_999999999")
        assert missing.value.outcome == "EntityNotFound"
    with Printwork(api_key="pw_sandbox_wrong", base_url=served.base_url) as client:
        with pytest.raises(AuthenticationFailed) as refused:
            client.orders.get("ord_1")
        assert refused.value.status_code == 401 and refused.value.outcome == "NotAuthenticated"


class Flaky:
    """A loopback server that misbehaves as scripted, then answers like the real one."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict]] = []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                flaky.requests.append((self.path, body))
                step = flaky.script.pop(0) if flaky.script else ("json", 200, {"outcome": "Ok", "order": ORDER})
                if step == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)  # the connection dies without an answer
                    return
                _, status, payload, *headers = step
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


ORDER = {
    "id": "ord_1", "created": "2021-04-30T13:51:56.383Z", "lastUpdated": "2021-04-30T13:51:58.6752414Z",
    "shippingMethod": "Budget", "status": {"stage": "SomethingNew", "issues": [], "details": {
        "downloadAssets": "NotStarted", "printReadyAssetsPrepared": "NotStarted",
        "allocateProductionLocation": "NotStarted", "inProduction": "NotStarted", "shipping": "NotStarted"}},
    "recipient": {"name": "A", "address": {"line1": "1", "postalOrZipCode": "2", "countryCode": "GB",
                                           "townOrCity": "T"}},
    "items": [], "charges": [], "shipments": [], "brandNewField": 1,
}


@pytest.mark.parametrize("asynchronous", [False, True])
def test_retries_a_dropped_connection_and_a_429_with_its_retry_after(asynchronous):
    flaky = Flaky(["drop", ("json", 429, {"outcome": "TooManyRequests"}, ("Retry-After", "0.2"))])
    try:
        started = time.monotonic()
        order = _get_order(asynchronous, flaky.url, "ord_1")
        assert time.monotonic() - started >= 0.2  # waited as Retry-After asked
        assert len(flaky.requests) == 3
        # An unknown stage is kept, not refused; unknown fields are ignored (and kept in raw).
        assert order.status.stage.value == "SomethingNew" and order.raw["brandNewField"] == 1
        assert order.last_updated.microsecond == 675241
    finally:
        flaky.close()


@pytest.mark.parametrize("asynchronous", [False, True])
def test_gives_up_with_the_right_error(asynchronous):
    flaky = Flaky([("json", 503, {"outcome": "InternalServerError"})] * 4)
    try:
        with pytest.raises(ServerError) as failed:
            _get_order(asynchronous, flaky.url, "ord_1")
        assert failed.value.status_code == 503 and len(flaky.requests) == 4  # one try and three retries
    finally:
        flaky.close()
    flaky = Flaky([("json", 429, {"outcome": "TooManyRequests"}, ("Retry-After", "0"))] * 4)
    try:
        with pytest.raises(RateLimited) as limited:
            _get_order(asynchronous, flaky.url, "ord_1")
        assert limited.value.retry_after == 0
    finally:
        flaky.close()


def test_an_action_is_not_sent_twice_when_its_answer_was_lost():
    flaky = Flaky([("json", 500, {"outcome": "InternalServerError"})])
    try:
        with Printwork(api_key="k", base_url=flaky.url, retry=FAST) as client:
            with pytest.raises(ServerError):
                client.orders.cancel("ord_1")
        assert len(flaky.requests) == 1
    finally:
        flaky.close()


def test_a_create_is_retried_with_the_same_idempotency_key():
    flaky = Flaky(["drop", ("json", 200, {"outcome": "Created", "order": ORDER})])
    try:
        with Printwork(api_key="k", base_url=flaky.url, retry=FAST) as client:
            client.orders.create({"shippingMethod": "Budget", "recipient": {}, "items": []})
        keys = {body["idempotencyKey"] for _, body in flaky.requests}
        assert len(flaky.requests) == 2 and len(keys) == 1
    finally:
        flaky.close()


def _get_order(asynchronous: bool, url: str, order_id: str) -> models.Order:
    if not asynchronous:
        with Printwork(api_key="k", base_url=url, retry=FAST) as client:
            return client.orders.get(order_id)

    async def run():
        async with AsyncPrintwork(api_key="k", base_url=url, retry=FAST) as client:
            return await client.orders.get(order_id)

    return asyncio.run(run())


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_a_callback_is_verified_and_a_tampered_or_stale_one_refused(served, new_order):
    receiver = Receiver()
    headers = {"X-API-Key": served.key}
    order = dict(new_order(reference="called-back"), callbackUrl=receiver.url)
    secret = httpx.get(f"{served.base_url}/platform/v1/callbacks/settings", headers=headers).json()["signingSecret"]
    with Printwork(api_key=served.key, base_url=served.base_url) as client:
        created = client.orders.create(order)
        client.sandbox.advance(created.order.id, to="shipped")
    deadline = time.monotonic() + 60
    while not any(b'"com.prodigi.order.status.stage.changed#Complete"' in body for body, _ in receiver.received):
        assert time.monotonic() < deadline, "no Complete callback arrived"
        time.sleep(0.2)
    body, sent_headers = next((b, h) for b, h in receiver.received if b"stage.changed#Complete" in b)
    event = callbacks.verify(body, sent_headers, secret)
    assert event.subject == created.order.id and event.type.endswith("#Complete")
    assert event.order.status.stage == Stage.COMPLETE and event.time.tzinfo is not None
    tampered = body.replace(b'"Complete"', b'"Cancelled"', 1)
    with pytest.raises(callbacks.InvalidCallback):
        callbacks.verify(tampered, sent_headers, secret)
    with pytest.raises(callbacks.InvalidCallback):
        callbacks.verify(body, sent_headers, "whsec_" + base64.b64encode(b"another secret, 24 bytes").decode())
    with pytest.raises(callbacks.InvalidCallback):
        callbacks.verify(body, sent_headers, secret, now=int(sent_headers["webhook-timestamp"]) + 3600)
    # What a sender signs by the Standard Webhooks rules is accepted: the rules, not a copy of Printwork.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    stamp = str(int(time.time()))
    signature = base64.b64encode(hmac.new(key, f"msg_1.{stamp}.".encode() + body, hashlib.sha256).digest()).decode()
    assert callbacks.verify(body, {"webhook-id": "msg_1", "webhook-timestamp": stamp,
                                   "webhook-signature": f"v1,bogus v1,{signature}"}, secret).id == event.id


def test_async_alike(served, new_order):
    async def run():
        async with AsyncPrintwork(api_key=served.key, base_url=served.base_url) as client:
            created = await client.orders.create(new_order(reference="async"))
            done = await client.sandbox.advance(created.order.id, to="shipped")
            listed = [o.id async for o in client.orders.list(top=1, merchant_references=["async"])]
            quotes = await client.quotes.create({"destinationCountryCode": "GB", "items": [
                {"sku": "GLOBAL-PHO-4X6", "copies": 2, "assets": [{"printArea": "default"}]}]})
            product = await client.products.get("GLOBAL-PHO-4X6")
            with pytest.raises(NotFound):
                await client.orders.get("ord_999999999")
            return created, done, listed, quotes, product

    created, done, listed, quotes, product = asyncio.run(run())
    assert done.status.stage == Stage.COMPLETE and listed == [created.order.id]
    assert {q.shipment_method for q in quotes.quotes} == set(ShippingMethod)
    assert product.sku == "GLOBAL-PHO-4X6" and product.variants[0].print_area_sizes["default"].horizontal_resolution


README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("block", range(len(re.findall(r"```python\n", README.read_text()))))
def test_the_readme_examples_run_as_written(served, monkeypatch, block, capsys):
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[block]
    monkeypatch.setenv("PRINTWORK_API_KEY", served.key)
    monkeypatch.setenv("PRINTWORK_BASE_URL", served.base_url)
    exec(compile(code, f"README.md block {block}", "exec"), {"__name__": "readme"})
