"""GET /v4.0/products/{sku} and POST /v4.0/products/spine (INVENTORY E10, E11)."""

from __future__ import annotations

import pytest

from printwork.core.catalog.demo import demo_catalog
from printwork.core.catalog.document import parse_catalog_document

DEMO = parse_catalog_document(demo_catalog())


@pytest.mark.parametrize("product", DEMO.products, ids=lambda p: p.sku)
def test_every_demo_product_is_described_as_documented(client, headers, product):
    response = client.get(f"/v4.0/products/{product.sku.lower()}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "Ok" and body["traceParent"]
    details = body["product"]
    assert list(details) == ["sku", "description", "productDimensions", "attributes", "printAreas", "variants"]
    assert details["sku"] == product.sku.lower()  # echoed as requested, as the real service does
    assert details["description"] == product.description
    assert details["productDimensions"] == {
        "width": float(product.productDimensions.width), "height": float(product.productDimensions.height),
        "units": product.productDimensions.units}
    assert details["attributes"] == product.attributes
    assert details["printAreas"] == {name: {"required": area.required} for name, area in product.printAreas.items()}
    assert len(details["variants"]) == len(product.variants)
    for variant, expected in zip(details["variants"], product.variants):
        assert variant["attributes"] == expected.attributes
        assert variant["printAreaSizes"] == {k: v.model_dump() for k, v in expected.printAreaSizes.items()}
        assert len(variant["shipsTo"]) > 200 and variant["shipsTo"] == sorted(variant["shipsTo"])


def test_dimensions_keep_their_decimal_places(client, headers):
    text = client.get("/v4.0/products/GLOBAL-CAN-10X10", headers=headers).text
    assert '"productDimensions":{"width":10.0000,"height":10.0000,"units":"in"}' in text


def test_an_unknown_sku_is_not_found(client, headers):
    response = client.get("/v4.0/products/NOT-A-SKU", headers=headers)
    assert response.status_code == 404 and response.json()["outcome"] == "EntityNotFound"


def test_products_without_a_sku_is_no_endpoint(client, headers):
    assert client.get("/v4.0/products", headers=headers).json()["outcome"] == "EndpointDoesNotExist"


def test_product_details_follow_a_catalogue_import(client, headers, use_catalog):
    from tests.factories import tiny_catalog

    assert client.get("/v4.0/products/TEST-PRINT-10X10", headers=headers).status_code == 404
    use_catalog(tiny_catalog())
    assert client.get("/v4.0/products/TEST-PRINT-10X10", headers=headers).json()["product"]["variants"][0]["shipsTo"] == ["GB"]


def spine(client, headers, **body):
    return client.post("/v4.0/products/spine", json=body, headers=headers)


def test_spine_width_from_pages_and_destination(client, headers):
    gb = spine(client, headers, sku="BOOK-A4-L-HARD-M", destinationCountryCode="GB", numberOfPages=50)
    assert gb.status_code == 200
    body = gb.json()
    assert body["success"] is True and body["message"] and body["outcome"] == "Ok"
    assert body["spineInfo"] == {"widthMm": 12.5}  # 4mm cover + 50 x 0.17mm
    us = spine(client, headers, sku="book-a4-l-hard-m", destinationCountryCode="US", state="CA", numberOfPages=50).json()
    assert us["spineInfo"]["widthMm"] == 11.5  # North American paper is thinner
    more = spine(client, headers, sku="BOOK-A4-L-HARD-M", destinationCountryCode="GB", numberOfPages=100).json()
    assert more["spineInfo"]["widthMm"] > body["spineInfo"]["widthMm"]


@pytest.mark.parametrize("body, path, code", [
    ({"sku": "GLOBAL-CAN-10X10", "destinationCountryCode": "GB", "numberOfPages": 50}, "sku", "NotABook"),
    ({"sku": "NOPE", "destinationCountryCode": "GB", "numberOfPages": 50}, "sku", "SkuNotFound"),
    ({"sku": "BOOK-A4-L-HARD-M", "destinationCountryCode": "GB", "numberOfPages": 10}, "numberOfPages", "MustBeBetween24And200"),
    ({"sku": "BOOK-A4-L-HARD-M", "destinationCountryCode": "GB", "numberOfPages": 201}, "numberOfPages", "MustBeBetween24And200"),
    ({"sku": "BOOK-A4-L-HARD-M", "destinationCountryCode": "GB", "numberOfPages": "fifty"}, "numberOfPages", "MustBeAnInteger"),
    ({"sku": "BOOK-A4-L-HARD-M", "destinationCountryCode": "GB"}, "numberOfPages", "Required"),
    ({"destinationCountryCode": "GB", "numberOfPages": 50}, "sku", "Required"),
    ({"sku": "BOOK-A4-L-HARD-M", "destinationCountryCode": "XX", "numberOfPages": 50}, "destinationCountryCode", "InvalidCountryCode"),
])
def test_spine_errors_are_clear(client, headers, body, path, code):
    response = spine(client, headers, **body)
    assert response.status_code == 400
    data = response.json()
    assert data["success"] is False and code in data["message"]
    assert data["failures"][path][0]["code"] == code


def test_products_need_a_key(client):
    assert client.get("/v4.0/products/GLOBAL-CAN-10X10").status_code == 401
    assert client.post("/v4.0/products/spine", json={}).status_code == 401
