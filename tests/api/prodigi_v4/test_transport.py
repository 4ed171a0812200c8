"""Auth, content types, error shapes, traceParent, routing (INVENTORY §5.1)."""

from __future__ import annotations

import re

import pytest

TRACE = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-00$")


@pytest.mark.parametrize("key", [None, "", "wrong-key", "pw_sandbox_nottherightone"])
def test_missing_or_wrong_key_is_401_not_authenticated(client, key, order_payload):
    headers = {} if key is None else {"X-API-Key": key}
    for response in (
        client.get("/v4.0/orders", headers=headers),
        client.get("/v4.0/orders/ord_1", headers=headers),
        client.post("/v4.0/orders", json=order_payload(), headers=headers),
    ):
        assert response.status_code == 401
        body = response.json()
        assert body["outcome"] == "NotAuthenticated"
        assert body["statusCode"] == 401 and body["statusText"] and body["data"] == {}
        assert body["traceParent"] == response.headers["traceparent"]


def test_a_revoked_key_stops_working(client, test_db, order_payload):
    from printwork.core.merchants.service import create_merchant_key, revoke_key

    with test_db.db.transaction() as session:
        key = create_merchant_key(session, "Revoked Shop", "sandbox").key
    assert client.get("/v4.0/orders", headers={"X-API-Key": key}).status_code == 200
    with test_db.db.transaction() as session:
        revoke_key(session, key)
    assert client.get("/v4.0/orders", headers={"X-API-Key": key}).status_code == 401


def test_every_response_has_a_unique_trace_parent(client, headers):
    seen = set()
    for path in ("/v4.0/orders", "/v4.0/orders/ord_1", "/v4.0/nothing-here", "/elsewhere"):
        response = client.get(path, headers=headers)
        assert TRACE.match(response.headers["traceparent"])
        seen.add(response.headers["traceparent"])
    assert len(seen) == 4


def test_an_incoming_traceparent_keeps_its_trace_id(client, headers):
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.get("/v4.0/orders", headers={**headers, "traceparent": incoming})
    assert response.headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert response.headers["traceparent"] != incoming


def test_success_bodies_carry_outcome_and_trace_parent(client, headers, order_payload):
    created = client.post("/v4.0/orders", json=order_payload(), headers=headers)
    for response in (created, client.get("/v4.0/orders", headers=headers),
                     client.get(f"/v4.0/orders/{created.json()['order']['id']}", headers=headers)):
        body = response.json()
        assert body["outcome"] in ("Created", "Ok")
        assert body["traceParent"] == response.headers["traceparent"]
        assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("content_type", ["text/xml", "multipart/form-data; boundary=x", "text/plain"])
def test_a_non_json_content_type_is_415(client, api_key, order_payload, content_type):
    import json

    response = client.post("/v4.0/orders", content=json.dumps(order_payload()),
                           headers={"X-API-Key": api_key, "Content-Type": content_type})
    assert response.status_code == 415
    assert response.json()["outcome"] == "InvalidContentType"


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "application/json; charset=utf-8",
                                          "application/vnd.api+json"])
def test_json_bodies_are_accepted_as_curl_sends_them(client, api_key, order_payload, content_type):
    import json

    headers = {"X-API-Key": api_key}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post("/v4.0/orders", content=json.dumps(order_payload()).encode(), headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("body", [b"{not json", b'{"a":', b"\xff\xfe"])
def test_malformed_json_is_a_validation_failure(client, headers, body):
    response = client.post("/v4.0/orders", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["failures"] == {"body": [{"code": "MalformedJson", "providedValue": None}]}


@pytest.mark.parametrize("body", [b"", b"   ", b"[]", b'"text"', b"null"])
def test_an_empty_or_non_object_body_is_a_validation_failure(client, headers, body):
    response = client.post("/v4.0/orders", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["outcome"] == "ValidationFailed"
    assert "body" in response.json()["failures"]


def test_an_unknown_endpoint_is_404_endpoint_does_not_exist(client, headers):
    for path in ("/v4.0/widgets", "/v4.0/orders/ord_1/nothing", "/v4.0/products"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["outcome"] == "EndpointDoesNotExist"


def test_an_unsupported_method_is_405_method_not_allowed(client, headers):
    for method, path in (("DELETE", "/v4.0/orders/ord_1"), ("PUT", "/v4.0/orders"), ("PATCH", "/v4.0/Orders/ord_1")):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 405, (method, path)
        assert response.json()["outcome"] == "MethodNotAllowed"


def test_an_unexpected_error_is_500_internal_server_error_with_trace(client, headers, monkeypatch):
    from printwork.core.orders import service

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "get_order", explode)
    response = client.get("/v4.0/orders/ord_1", headers=headers)
    assert response.status_code == 500
    body = response.json()
    assert body["outcome"] == "InternalServerError" and "boom" not in response.text
    assert body["traceParent"] == response.headers["traceparent"]


def test_a_failed_write_changes_nothing(client, headers, order_payload, monkeypatch):
    """A failure after the order row is written rolls the whole order back."""
    from printwork.core.orders import repository

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(repository, "insert_asset", explode)
    assert client.post("/v4.0/orders", json=order_payload(), headers=headers).status_code == 500
    monkeypatch.undo()
    assert client.get("/v4.0/orders", headers=headers).json()["orders"] == []
    assert client.post("/v4.0/orders", json=order_payload(), headers=headers).status_code == 200


def test_an_oversized_body_is_refused_before_it_is_read_whole(client, headers, settings, order_payload):
    import json

    body = order_payload()
    body["items"] = body["items"] * 5000  # about 2.5 MB
    response = client.post("/v4.0/orders", content=json.dumps(body), headers=headers)
    assert response.status_code == 413
    data = response.json()
    assert data["outcome"] == "ValidationFailed" and data["failures"]["body"][0]["code"] == "TooLarge"
    assert client.get("/v4.0/orders", headers=headers).json()["orders"] == []


def test_a_large_but_reasonable_order_is_accepted(client, headers, order_payload):
    body = order_payload()
    body["items"] = body["items"] * 200
    response = client.post("/v4.0/orders", json=body, headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["order"]["items"]) == 200
