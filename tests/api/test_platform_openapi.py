"""Printwork's own endpoints (sandbox controls, callbacks, lab API, thumbnails) held to their
OpenAPI document by schemathesis, as tests/api/prodigi_v4/test_openapi.py does for v4."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from printwork.api.platform import routes as platform_routes
from printwork.core.catalog.models import Lab
from printwork.core.labs.service import create_lab_key
from tests.api.documented import assert_answers_match_document

PLATFORM_OPERATIONS = sorted({
    ("POST", "/sandbox/v1/orders/{orderId}/advance"), ("POST", "/sandbox/v1/orders/{orderId}/fail"),
    ("POST", "/sandbox/v1/orders/{orderId}/authorisePayment"), ("POST", "/sandbox/v1/orders/{orderId}/releaseHold"),
    ("GET", "/platform/v1/orders/{orderId}/callbacks"), ("GET", "/platform/v1/callbacks/settings"),
    ("PUT", "/platform/v1/callbacks/settings"), ("POST", "/platform/v1/callbacks/{eventId}/redeliver"),
    ("GET", "/lab/v1/shipments"), ("GET", "/lab/v1/shipments/{shipmentId}"),
    ("POST", "/lab/v1/shipments/{shipmentId}/inProduction"), ("POST", "/lab/v1/shipments/{shipmentId}/shipped"),
    ("GET", "/lab/v1/print-files/{assetId}"), ("GET", "/thumbnails/{token}.jpg"),
    ("GET", "/sandbox/v1/samples/{name}"),
})


def test_the_served_document_describes_every_platform_operation(client):
    document = client.get("/openapi.json").json()
    served = {(method.upper(), path) for path, item in document["paths"].items() for method in item
              if method in ("get", "post", "put")}
    assert set(PLATFORM_OPERATIONS) <= served
    assert document["components"]["securitySchemes"]["labKey"]["name"] == "X-API-Key"
    # Every route the platform serves is described.
    assert {(m, r.path.replace("{order_id}", "{orderId}").replace("{event_id}", "{eventId}")
             .replace("{shipment_id}", "{shipmentId}").replace("{asset_id}", "{assetId}"))
            for r in platform_routes.routes for m in r.methods if m != "HEAD"} == set(PLATFORM_OPERATIONS)


@pytest.mark.parametrize(("method", "path"), PLATFORM_OPERATIONS, ids=lambda value: value)
def test_every_platform_answer_matches_the_document(client, headers, order_payload, test_db, monkeypatch, method, path):
    monkeypatch.setattr(platform_routes, "ADVANCE_WAIT_SECONDS", 0.05)  # no workers here: nothing advances
    order_ids = [client.post("/v4.0/orders", json=order_payload(), headers=headers).json()["order"]["id"]
                 for _ in range(3)]
    with test_db.db.transaction() as session:
        known = set(session.execute(select(Lab.code)).scalars())
        lab_key = create_lab_key(session, min(known), known).key
    key = lab_key if path.startswith("/lab/") else headers["X-API-Key"]
    assert_answers_match_document(client, method, path, key, order_ids)
