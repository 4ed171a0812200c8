"""Holding an endpoint to the served OpenAPI document with schemathesis.

Driven through Hypothesis directly: schemathesis's own pytest integration does not run under
pytest 9 (it renames test nodes through a private attribute pytest 9 removed).
"""

from __future__ import annotations

import os

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

# Never a server error, a documented status, the documented media type, the documented shape.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def assert_answers_match_document(client, method: str, path: str, key: str, order_ids: list[str]) -> None:
    """Send the operation valid, invalid and documented-example requests, some of them aimed at
    the real orders `order_ids`, and check every answer (PRINTWORK_OPENAPI_EXAMPLES per run)."""
    operation = schemathesis.openapi.from_asgi("/openapi.json", client.app)[path][method]
    generated = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        *operation.get_strategies_from_examples(),  # the documents' examples: valid, real SKUs
    )

    def on_a_real_order(case, order_id):
        if case.path_parameters and "orderId" in case.path_parameters:
            case.path_parameters["orderId"] = order_id
        return case

    on_real_orders = st.tuples(generated, st.sampled_from(order_ids)).map(lambda pair: on_a_real_order(*pair))

    @given(case=st.one_of(generated, on_real_orders))
    @settings(max_examples=int(os.environ.get("PRINTWORK_OPENAPI_EXAMPLES", "50")), deadline=None,
              suppress_health_check=list(HealthCheck), database=None)
    def answer_matches(case):
        case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)

    answer_matches()
