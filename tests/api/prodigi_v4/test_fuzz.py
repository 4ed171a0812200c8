"""Whatever a client sends, the answer is a documented outcome, never a 500.

Hypothesis mutates the documents' own examples (drops, retypes and replaces fields, anywhere
in the tree) and also sends arbitrary JSON, to the create, quote and spine endpoints and to
list's query string.
"""

from __future__ import annotations

import copy
import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLE_ORDER

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
QUOTE = {"shippingMethod": "Budget", "destinationCountryCode": "GB", "currencyCode": "GBP",
         "items": [{"sku": "GLOBAL-CAN-10x10", "copies": 5, "attributes": {"wrap": "ImageWrap"}, "assets": [{"printArea": "default"}]}]}
SPINE = {"sku": "BOOK-A4-L-HARD-M", "destinationCountryCode": "US", "state": "CA", "numberOfPages": 50}
OUTCOMES = {"Created", "CreatedWithIssues", "AlreadyExists", "Ok", "ValidationFailed", "InvalidContentType"}


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


@st.composite
def mutated(draw, example):
    document = copy.deepcopy(example)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = [p for p in paths(document) if p]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return document


def check(response):
    assert response.status_code in (200, 400, 413, 415), (response.status_code, response.text[:500])
    body = response.json()
    assert body["outcome"] in OUTCOMES, body
    assert body["traceParent"] == response.headers["traceparent"]
    if response.status_code == 400:
        assert isinstance(body["failures"], dict) and body["failures"]


FUZZ = settings(max_examples=int(__import__("os").environ.get("PRINTWORK_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=mutated(EXAMPLE_ORDER) | JSON_VALUES)
def test_create_order_never_fails_unexpectedly(client, headers, body):
    check(client.post("/v4.0/orders", content=json.dumps(body), headers=headers))


@FUZZ
@given(body=mutated(QUOTE) | JSON_VALUES)
def test_quote_never_fails_unexpectedly(client, headers, body):
    check(client.post("/v4.0/quotes", content=json.dumps(body), headers=headers))


@FUZZ
@given(body=mutated(SPINE) | JSON_VALUES)
def test_spine_never_fails_unexpectedly(client, headers, body):
    response = client.post("/v4.0/products/spine", content=json.dumps(body), headers=headers)
    check(response)
    assert response.json()["success"] is (response.status_code == 200)


@FUZZ
@given(params=st.lists(st.tuples(st.sampled_from(["top", "skip", "createdFrom", "createdTo", "status", "orderIds",
                                                   "merchantReferences", "TOP", "orderIds[]", "other"]),
                                 st.text(max_size=20)), max_size=5))
def test_list_never_fails_unexpectedly(client, headers, params):
    check(client.get("/v4.0/orders", params=params, headers=headers))


@FUZZ
@given(order_id=st.text(st.characters(min_codepoint=32, blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_get_never_fails_unexpectedly(client, headers, order_id):
    response = client.get(f"/v4.0/orders/{quote(order_id, safe='')}", headers=headers)
    assert response.status_code in (200, 400, 404, 405), (order_id, response.status_code, response.text[:300])
    assert response.json()["outcome"] in {"Ok", "ValidationFailed", "EntityNotFound", "EndpointDoesNotExist", "MethodNotAllowed"}
