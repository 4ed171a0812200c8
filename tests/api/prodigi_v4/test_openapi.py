"""The v4 OpenAPI document, and the implementation held to it by schemathesis.

Schemathesis generates requests from the document (valid and invalid ones) and checks every
answer: never a server error, a status code the document lists, JSON, and a body of the
documented shape.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

V4_OPERATIONS = {
    ("POST", "/v4.0/orders"), ("GET", "/v4.0/orders"), ("GET", "/v4.0/orders/{orderId}"),
    ("GET", "/v4.0/orders/{orderId}/actions"), ("POST", "/v4.0/orders/{orderId}/actions/cancel"),
    ("POST", "/v4.0/orders/{orderId}/actions/updateShippingMethod"),
    ("POST", "/v4.0/orders/{orderId}/actions/updateRecipient"),
    ("POST", "/v4.0/orders/{orderId}/actions/updateMetadata"),
    ("POST", "/v4.0/quotes"), ("GET", "/v4.0/products/{sku}"), ("POST", "/v4.0/products/spine"),
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


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
    # Driven through Hypothesis directly: schemathesis's own pytest integration does not run
    # under pytest 9 (it renames test nodes through a private attribute pytest 9 removed).
    order_ids = [client.post("/v4.0/orders", json=order_payload(), headers=headers).json()["order"]["id"]
                 for _ in range(3)]
    operation = schemathesis.openapi.from_asgi("/openapi.json", client.app)[path][method]
    key = {"X-API-Key": headers["X-API-Key"]}
    generated = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        *operation.get_strategies_from_examples(),  # the documented examples: valid, real SKUs
    )

    def on_a_real_order(case, order_id):
        if case.path_parameters and "orderId" in case.path_parameters:
            case.path_parameters["orderId"] = order_id
        return case

    on_real_orders = st.tuples(generated, st.sampled_from(order_ids)).map(lambda pair: on_a_real_order(*pair))

    @given(case=st.one_of(generated, on_real_orders))
    @settings(max_examples=int(os.environ.get("PRINTWORK_OPENAPI_EXAMPLES", "60")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def answer_matches(case):
        case.call_and_validate(headers=key, checks=CHECKS)

    answer_matches()
