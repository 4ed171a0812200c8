"""The v4 OpenAPI document, and the implementation held to it by schemathesis (tests/api/documented.py)."""

from __future__ import annotations

import pytest

from tests.api.documented import assert_answers_match_document

V4_OPERATIONS = {
    ("POST", "/v4.0/orders"), ("GET", "/v4.0/orders"), ("GET", "/v4.0/orders/{orderId}"),
    ("GET", "/v4.0/orders/{orderId}/actions"), ("POST", "/v4.0/orders/{orderId}/actions/cancel"),
    ("POST", "/v4.0/orders/{orderId}/actions/updateShippingMethod"),
    ("POST", "/v4.0/orders/{orderId}/actions/updateRecipient"),
    ("POST", "/v4.0/orders/{orderId}/actions/updateMetadata"),
    ("POST", "/v4.0/quotes"), ("GET", "/v4.0/products/{sku}"), ("POST", "/v4.0/products/spine"),
}


def test_the_served_document_describes_every_v4_operation(client):
    document = client.get("/openapi.json").json()
    served = {(method.upper(), path) for path, item in document["paths"].items() for method in item
              if method in ("get", "post")}
    assert V4_OPERATIONS <= served
    assert document["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text  # Swagger UI loads the document above


@pytest.mark.parametrize(("method", "path"), sorted(V4_OPERATIONS), ids=lambda value: value)
def test_every_answer_matches_the_document(client, headers, order_payload, method, path):
    # Orders of this merchant, so that reads and actions meet real orders as well as missing ones.
    order_ids = [client.post("/v4.0/orders", json=order_payload(), headers=headers).json()["order"]["id"]
                 for _ in range(3)]
    assert_answers_match_document(client, method, path, headers["X-API-Key"], order_ids)
