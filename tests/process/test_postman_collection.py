"""Every request of the official Prodigi v4 Postman collection, replayed with the collection's own bodies.

The collection (`tests/data/prodigi_v4_postman_collection.json`, the public copy in `inboundr/art-framer`)
keeps one saved response per request, recorded from the real service. Each request is sent as the
collection sends it (method, path with its trailing slashes and spaces, header spelling, body); only the
host, the key, the order ids it names and the picture URLs are ours, because the real ones are not
reachable here. Each answer must carry the saved answer's outcome and every key the saved answer has, with
values of the same JSON type, recursively: what a client written against those recordings reads is there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

COLLECTION = Path(__file__).parent.parent / "data" / "prodigi_v4_postman_collection.json"

# The order the collection names, the order we answer with, and why that one.
COMPLETE_ORDER_REQUESTS = {"GET Order by ID", "Get Order Actions", "Update Metadata on Order"}
FRESH_ORDER_REQUESTS = {"Update Recipient on Order", "Update Shipping Method on Order", "Cancel an Order"}


# What the merchant sent, echoed back: the recordings were taken of other orders' bodies.
ECHOED = {"metadata", "attributes"}


def lenient_json(text: str):
    """The saved answers are hand-trimmed: `// rest of the order` lines and the commas they leave."""
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


def requests_of(items):
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item


def collection_requests() -> dict[str, dict]:
    document = json.loads(COLLECTION.read_text())
    return {item["name"]: item for item in requests_of(document["item"])}


def json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array"}[type(value)]


def missing_from(recorded, ours, path: str = "$") -> list[str]:
    """Where `ours` lacks something `recorded` has: a key, or a value of the recorded type."""
    if recorded is None or ours is None:
        return []  # the real service and we both leave unset fields null
    if json_type(recorded) != json_type(ours):
        return [f"{path}: recorded {json_type(recorded)}, answered {json_type(ours)}"]
    problems: list[str] = []
    if isinstance(recorded, dict):
        for key, value in recorded.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            elif key not in ECHOED:
                problems.extend(missing_from(value, ours[key], f"{path}.{key}"))
    elif isinstance(recorded, list) and recorded and ours:
        for index, value in enumerate(recorded):
            problems.extend(missing_from(value, ours[min(index, len(ours) - 1)], f"{path}[{index}]"))
    return problems


class Replayer:
    def __init__(self, client, api_key: str, image_server) -> None:
        self.client = client
        self.api_key = api_key
        self.image_server = image_server
        self.order_ids: dict[str, str] = {}

    def body_of(self, item: dict):
        raw = (item["request"].get("body") or {}).get("raw")
        if not raw:
            return None
        body = lenient_json(raw)
        for order_item in body.get("items", []):
            for asset in order_item.get("assets", []):
                if "url" in asset:
                    asset["url"] = f"{self.image_server.url}/photo.jpg"
                    if "md5Hash" in asset:
                        asset["md5Hash"] = self.image_server.md5("photo.jpg")
        return body

    def send(self, item: dict, order_id: str | None = None):
        request = item["request"]
        raw_url = request["url"]["raw"].replace("{{WEB_API_ROOT_URL}}", "https://api.sandbox.prodigi.com")
        path = urlsplit(raw_url).path + (f"?{urlsplit(raw_url).query}" if urlsplit(raw_url).query else "")
        if order_id:
            path = re.sub(r"ord_\d+", order_id, path)
        headers = {}
        for header in request.get("header", []):
            value = header["value"]
            headers[header["key"]] = self.api_key if header["key"].lower() == "x-api-key" else value
        body = self.body_of(item)
        content = json.dumps(body).encode() if body is not None else b""
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.client.request(request["method"], path.replace(" ", "%20"), content=content,
                                   headers=headers, follow_redirects=False)


def assert_like_recording(item: dict, response) -> dict:
    [recorded_response] = item["response"]
    recorded = lenient_json(recorded_response["body"])
    assert response.status_code == (recorded_response.get("code") or 200), (item["name"], response.text)
    answered = response.json()
    assert answered["outcome"] == recorded["outcome"], item["name"]
    assert missing_from(recorded, answered) == [], item["name"]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]", answered["traceParent"])
    return answered


@pytest.fixture
def replay(client, api_key, image_server):
    return Replayer(client, api_key, image_server)


@pytest.fixture
def requests():
    return collection_requests()


def test_the_collection_is_the_one_these_tests_read(requests):
    assert set(requests) == {
        "Create Order - OMS", "GET Orders", "GET Order by ID", "Get Order Actions", "Update Metadata on Order",
        "Update Recipient on Order", "Update Shipping Method on Order", "Cancel an Order", "Create Quote",
        "Get Product Details", "Create Photobook Order"}
    assert all(len(item["response"]) == 1 for item in requests.values())


def test_every_order_request_of_the_collection_answers_like_its_recording(replay, requests, pipeline):
    created = {}
    for name in ("Create Order - OMS", "Create Photobook Order"):
        answered = assert_like_recording(requests[name], replay.send(requests[name]))
        assert answered["order"]["status"]["stage"] == "InProgress"
        created[name] = answered["order"]["id"]
    complete, fresh = created["Create Order - OMS"], created["Create Photobook Order"]

    # Run one order to the end (the sandbox lab answers at once here) so that its charges, shipments and
    # tracking can be held against the recordings, which were all taken of finished orders.
    pipeline.run(int(complete.removeprefix("ord_")))

    listed = assert_like_recording(requests["GET Orders"], replay.send(requests["GET Orders"]))
    assert [order["id"] for order in listed["orders"]] == [fresh, complete]
    assert listed["hasMore"] is False and listed["nextUrl"] is None

    for name in sorted(COMPLETE_ORDER_REQUESTS):
        answered = assert_like_recording(requests[name], replay.send(requests[name], complete))
        if "order" in answered:
            order = answered["order"]
            assert order["id"] == complete and order["status"]["stage"] == "Complete"
            # Non-empty, so that the recorded charges and shipments were compared key by key.
            assert order["charges"] and order["shipments"] and order["shipments"][0]["tracking"]["number"]
    actions = replay.send(requests["Get Order Actions"], complete).json()
    recorded_actions = lenient_json(requests["Get Order Actions"]["response"][0]["body"])
    assert {k: v for k, v in actions.items() if k != "traceParent"} == {
        k: v for k, v in recorded_actions.items() if k != "traceParent"}
    metadata = replay.send(requests["GET Order by ID"], complete).json()["order"]["metadata"]
    assert metadata == replay.body_of(requests["Update Metadata on Order"])["metadata"]

    for name in ("Update Recipient on Order", "Update Shipping Method on Order", "Cancel an Order"):
        answered = assert_like_recording(requests[name], replay.send(requests[name], fresh))
        assert answered["order"]["id"] == fresh
    order = replay.send(requests["GET Order by ID"], fresh).json()["order"]
    assert order["status"]["stage"] == "Cancelled"
    assert order["shippingMethod"] == "Budget" and order["recipient"]["name"] == "Mr. Jeff Testing"


def test_the_collections_quote_and_product_answer_like_their_recordings(replay, requests):
    quoted = assert_like_recording(requests["Create Quote"], replay.send(requests["Create Quote"]))
    assert [quote["shipmentMethod"] for quote in quoted["quotes"]] == ["Standard"]
    product = assert_like_recording(requests["Get Product Details"], replay.send(requests["Get Product Details"]))
    assert product["product"]["sku"] == "GLOBAL-CAN-10x10 "


def test_the_collections_requests_without_a_key_are_refused_in_the_v4_shape(replay, requests):
    for item in requests.values():
        replay.api_key = "not-a-key"
        response = replay.send(item, "ord_1")
        assert response.status_code == 401, item["name"]
        assert response.json()["outcome"] == "NotAuthenticated", item["name"]
