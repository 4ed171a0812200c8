"""idempotencyKey: per merchant, per environment, remembered indefinitely, safe under races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.servers import running_servers


def post(client, headers, body):
    return client.post("/v4.0/orders", json=body, headers=headers)


def test_a_repeat_answers_already_exists_with_the_original_order(client, headers, order_payload):
    body = dict(order_payload(), idempotencyKey="6f1c-guid")
    first = post(client, headers, body)
    assert first.json()["outcome"] == "Created"
    changed = dict(body, merchantReference="something else", shippingMethod="Budget")
    second = post(client, headers, changed)
    assert second.status_code == 200
    assert second.json()["outcome"] == "AlreadyExists"
    assert second.json()["order"] == first.json()["order"]
    listed = client.get("/v4.0/orders", headers=headers).json()["orders"]
    assert [o["id"] for o in listed] == [first.json()["order"]["id"]]


def test_keys_are_exact_and_case_sensitive(client, headers, order_payload):
    a = post(client, headers, dict(order_payload(), idempotencyKey="Key")).json()["order"]["id"]
    b = post(client, headers, dict(order_payload(), idempotencyKey="key")).json()["order"]["id"]
    assert a != b


def test_keys_are_scoped_to_the_merchant(client, headers, make_key, order_payload):
    other = {"X-API-Key": make_key("Another Shop"), "Content-Type": "application/json"}
    body = dict(order_payload(), idempotencyKey="shared")
    mine = post(client, headers, body).json()
    theirs = post(client, other, body).json()
    assert mine["outcome"] == theirs["outcome"] == "Created"
    assert mine["order"]["id"] != theirs["order"]["id"]


def test_a_repeat_is_answered_even_when_it_would_no_longer_validate(client, headers, order_payload, use_catalog):
    from tests.factories import tiny_catalog

    body = dict(order_payload(), idempotencyKey="k1")
    first = post(client, headers, body).json()["order"]
    # A retry after the product left the catalogue, or with a changed method, is still the same order.
    use_catalog(tiny_catalog())
    for retry in (body, dict(body, shippingMethod="Teleport")):
        response = post(client, headers, retry)
        assert response.status_code == 200 and response.json()["outcome"] == "AlreadyExists"
        assert response.json()["order"] == first
    # A body that cannot be read at all is still refused: there is nothing to match.
    assert post(client, headers, {"idempotencyKey": "k1"}).status_code == 400


def test_concurrent_duplicates_make_exactly_one_order(test_db, tmp_path, api_key, order_payload):
    """Two server processes, many simultaneous requests with one key: one order, one id for all."""
    body = dict(order_payload(), idempotencyKey="race-key", merchantReference="race")
    headers = {"X-API-Key": api_key}
    attempts = 24
    barrier = threading.Barrier(attempts)
    with running_servers(test_db.url, tmp_path, count=2) as urls:

        def attempt(n: int) -> tuple[int, str, str]:
            with httpx.Client(base_url=urls[n % 2], timeout=60) as http:
                barrier.wait()
                response = http.post("/v4.0/orders", json=body, headers=headers)
                data = response.json()
                return response.status_code, data["outcome"], data["order"]["id"]

        with ThreadPoolExecutor(attempts) as pool:
            results = list(pool.map(attempt, range(attempts)))
        listed = httpx.get(f"{urls[0]}/v4.0/orders", params={"merchantReferences": "race"}, headers=headers).json()

    assert {status for status, _, _ in results} == {200}
    assert len({order_id for _, _, order_id in results}) == 1
    outcomes = sorted(outcome for _, outcome, _ in results)
    assert outcomes.count("Created") == 1 and outcomes.count("AlreadyExists") == attempts - 1
    assert [o["id"] for o in listed["orders"]] == [results[0][2]]
