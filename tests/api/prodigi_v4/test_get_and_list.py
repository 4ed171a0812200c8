"""GET /v4.0/orders/{id} and GET /v4.0/orders (INVENTORY §5.3)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest


def place(client, headers, body, **changes):
    body = dict(body, **changes)
    response = client.post("/v4.0/orders", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["order"]


def test_get_returns_the_same_order_as_create(client, headers, order_payload):
    created = place(client, headers, order_payload())
    response = client.get(f"/v4.0/orders/{created['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json()["outcome"] == "Ok"
    assert response.json()["order"] == created


@pytest.mark.parametrize("path", ["/v4.0/Orders/{id}", "/V4.0/ORDERS/{id}", "/v4.0/orders/{upper}"])
def test_paths_are_case_insensitive(client, headers, order_payload, path):
    created = place(client, headers, order_payload())
    url = path.format(id=created["id"], upper=created["id"].upper())
    assert client.get(url, headers=headers).json()["order"]["id"] == created["id"]


@pytest.mark.parametrize("bad_id", ["12345", "ord_abc", "ord_", "order_1", "ord_-1", "ord_99999999999999999999999"])
def test_a_malformed_order_id_is_a_validation_failure(client, headers, bad_id):
    response = client.get(f"/v4.0/orders/{bad_id}", headers=headers)
    assert response.status_code == 400
    assert response.json()["failures"]["orderId"][0]["code"] == "InvalidOrderId"


def test_an_unknown_order_is_not_found(client, headers):
    response = client.get("/v4.0/orders/ord_987654321", headers=headers)
    assert response.status_code == 404
    body = response.json()
    assert body["outcome"] == "EntityNotFound" and body["statusCode"] == 404


def test_another_merchants_order_is_not_found(client, headers, make_key, order_payload):
    created = place(client, headers, order_payload())
    other = {"X-API-Key": make_key("Other Shop")}
    assert client.get(f"/v4.0/orders/{created['id']}", headers=other).status_code == 404
    assert client.get("/v4.0/orders", headers=other).json()["orders"] == []


def test_sandbox_and_live_data_never_mix(client, make_key, order_payload):
    sandbox = {"X-API-Key": make_key("Shop", "sandbox")}
    live = {"X-API-Key": make_key("Shop", "live")}
    created = place(client, sandbox, order_payload(), idempotencyKey="same-key")
    assert client.get(f"/v4.0/orders/{created['id']}", headers=live).status_code == 404
    assert client.get("/v4.0/orders", headers=live).json()["orders"] == []
    live_order = place(client, live, order_payload(), idempotencyKey="same-key")
    assert live_order["id"] != created["id"]


def test_list_defaults_to_ten_newest_first(client, headers, order_payload):
    ids = [place(client, headers, order_payload())["id"] for _ in range(12)]
    body = client.get("/v4.0/orders", headers=headers).json()
    assert body["outcome"] == "Ok"
    assert [o["id"] for o in body["orders"]] == list(reversed(ids))[:10]
    assert body["hasMore"] is True


def test_list_pages_follow_next_url_to_the_end(client, headers, order_payload):
    ids = [place(client, headers, order_payload(), merchantReference=f"ref-{i}")["id"] for i in range(7)]
    seen = []
    url = "/v4.0/orders?top=3"
    while url:
        body = client.get(url, headers=headers).json()
        seen += [o["id"] for o in body["orders"]]
        if body["hasMore"]:
            assert body["nextUrl"].startswith("https://printwork.test/v4.0/orders?")
            parts = urlsplit(body["nextUrl"])
            url = f"{parts.path}?{parts.query}"
        else:
            assert body["nextUrl"] is None
            url = None
    assert seen == list(reversed(ids))


def test_ids_sort_numerically_not_as_text(client, headers, order_payload):
    ids = [int(place(client, headers, order_payload())["id"][4:]) for _ in range(11)]
    listed = [int(o["id"][4:]) for o in client.get("/v4.0/orders?top=100", headers=headers).json()["orders"]]
    assert listed == sorted(ids, reverse=True)


@pytest.mark.parametrize("query, field", [("top=0", "top"), ("top=101", "top"), ("top=ten", "top"), ("skip=-1", "skip"),
                                          ("createdFrom=yesterday", "createdFrom"), ("status=shipped", "status"),
                                          ("orderIds=12345", "orderIds"),
                                          ("createdTo=0001-01-01T00%3A00%3A00%2B00%3A21", "createdTo")])
def test_bad_list_parameters_are_validation_failures(client, headers, query, field):
    response = client.get(f"/v4.0/orders?{query}", headers=headers)
    assert response.status_code == 400
    assert field in response.json()["failures"]


def test_top_100_is_accepted(client, headers):
    assert client.get("/v4.0/orders?top=100", headers=headers).status_code == 200


def test_skip_skips(client, headers, order_payload):
    ids = [place(client, headers, order_payload())["id"] for _ in range(4)]
    body = client.get("/v4.0/orders?skip=1&top=2", headers=headers).json()
    assert [o["id"] for o in body["orders"]] == [ids[2], ids[1]]
    assert body["hasMore"] is True
    assert parse_qs(urlsplit(body["nextUrl"]).query) == {"top": ["2"], "skip": ["3"]}


def test_query_keys_are_case_insensitive(client, headers, order_payload):
    for _ in range(3):
        place(client, headers, order_payload())
    assert len(client.get("/v4.0/orders?TOP=2&Skip=0", headers=headers).json()["orders"]) == 2


def test_created_from_and_to_bound_the_list(client, headers, order_payload):
    before = place(client, headers, order_payload())
    time.sleep(0.05)
    middle_start = datetime.now(UTC)
    time.sleep(0.05)
    middle = place(client, headers, order_payload())
    time.sleep(0.05)
    middle_end = datetime.now(UTC)
    time.sleep(0.05)
    after = place(client, headers, order_payload())

    def listed(query):
        return [o["id"] for o in client.get("/v4.0/orders", params=query, headers=headers).json()["orders"]]

    start, end = middle_start.isoformat(), middle_end.isoformat().replace("+00:00", "Z")
    assert listed({"createdFrom": start}) == [after["id"], middle["id"]]
    assert listed({"createdTo": end}) == [middle["id"], before["id"]]
    assert listed({"createdFrom": start, "createdTo": end}) == [middle["id"]]
    # An offset is honoured: the same instant written in another zone selects the same orders.
    plus_two = middle_start.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert listed({"createdFrom": plus_two}) == [after["id"], middle["id"]]
    # A literal '+' left unencoded in the query string arrives as a space and is still understood.
    raw = client.get(f"/v4.0/orders?createdFrom={plus_two}", headers=headers).json()["orders"]
    assert [o["id"] for o in raw] == [after["id"], middle["id"]]


def test_the_filters_are_kept_in_next_url(client, headers, order_payload):
    for _ in range(3):
        place(client, headers, order_payload(), merchantReference="keep")
    body = client.get("/v4.0/orders?top=1&merchantReferences=keep&status=InProgress", headers=headers).json()
    query = parse_qs(urlsplit(body["nextUrl"]).query)
    assert query == {"top": ["1"], "skip": ["1"], "merchantReferences": ["keep"], "status": ["inProgress"]}


def test_status_filters_by_stage_in_any_case(client, headers, order_payload):
    created = place(client, headers, order_payload())
    for status in ("inProgress", "INPROGRESS", "inprogress"):
        assert [o["id"] for o in client.get(f"/v4.0/orders?status={status}", headers=headers).json()["orders"]] == [created["id"]]
    for status in ("complete", "cancelled", "draft", "awaitingPayment"):
        response = client.get(f"/v4.0/orders?status={status}", headers=headers)
        assert response.status_code == 200 and response.json()["orders"] == []


def test_order_ids_filter_in_every_encoding(client, headers, order_payload):
    a, b, c = (place(client, headers, order_payload())["id"] for _ in range(3))
    for query in (f"orderIds={a}&orderIds={c}", f"orderIds={a},{c}", f"orderIds[]={a}&orderIds[]={c}"):
        assert [o["id"] for o in client.get(f"/v4.0/orders?{query}", headers=headers).json()["orders"]] == [c, a]


def test_merchant_references_filter_exactly(client, headers, order_payload):
    a = place(client, headers, order_payload(), merchantReference="alpha")
    place(client, headers, order_payload(), merchantReference="alphabet")
    c = place(client, headers, order_payload(), merchantReference="gamma, with comma")
    response = client.get("/v4.0/orders", params=[("merchantReferences", "alpha"), ("merchantReferences", "gamma, with comma")], headers=headers)
    assert [o["id"] for o in response.json()["orders"]] == [c["id"], a["id"]]


def test_list_entries_equal_get_by_id(client, headers, order_payload):
    created = place(client, headers, order_payload())
    listed = client.get("/v4.0/orders", headers=headers).json()["orders"][0]
    assert listed == client.get(f"/v4.0/orders/{created['id']}", headers=headers).json()["order"]


def test_a_stale_rendition_is_never_served(client, headers, order_payload, test_db):
    """The stored rendition is a cache: once the order moves on, reads render the order afresh."""
    from sqlalchemy import text

    created = place(client, headers, order_payload())
    number = int(created["id"][4:])
    with test_db.db.transaction() as session:
        session.execute(text("UPDATE orders SET merchant_reference = 'changed', version = version + 1 WHERE id = :id"), {"id": number})
    assert client.get(f"/v4.0/orders/{created['id']}", headers=headers).json()["order"]["merchantReference"] == "changed"
    assert client.get("/v4.0/orders", headers=headers).json()["orders"][0]["merchantReference"] == "changed"


def test_a_skip_beyond_any_page_is_refused_not_an_error(client, headers):
    response = client.get("/v4.0/orders", params={"skip": str(10**20)}, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["failures"] == {"skip": [{"code": "MustBeAtMost2147483647", "providedValue": 10**20}]}
    assert client.get("/v4.0/orders", params={"skip": "2147483647"}, headers=headers).json()["orders"] == []


def test_a_nul_character_in_a_merchant_reference_filter_is_refused(client, headers):
    response = client.get("/v4.0/orders", params={"merchantReferences": "a\x00b"}, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["failures"]["merchantReferences"][0]["code"] == "MustNotContainNulCharacters"
