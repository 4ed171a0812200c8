"""The catalogue document and the demo catalogue."""

from __future__ import annotations

import pytest

from printwork.core.catalog.demo import demo_catalog
from printwork.core.catalog.document import CatalogDocumentError, parse_catalog_document
from printwork.core.countries import COUNTRY_CODES
from tests.factories import tiny_catalog

NAMED_IN_THE_DOCUMENTS = [
    "GLOBAL-CFPM-16X20", "GLOBAL-CAN-10X10", "GLOBAL-FAP-10X10", "GLOBAL-FAP-16X24", "GLOBAL-TECH-IP11P-FC-CP",
    "GLOBAL-PHO-12X16-PRO-LUS-UK1", "BOOK-A4-L-HARD-M", "ART-PRI-HPG-20X28", "ART-FAP-CPP-6X6",
]


def test_the_demo_catalogue_is_realistic(test_db):
    from printwork.core.catalog.service import CatalogCache

    with test_db.db.read() as session:
        catalog = CatalogCache().get(session)
    assert len(catalog.products) >= 30
    assert {p.category for p in catalog.products.values()} >= {
        "photo-print", "fine-art-print", "canvas", "framed-print", "phone-case", "photobook", "apparel", "jigsaw", "mug"}
    assert len(catalog.labs) >= 5 and len({lab.country_code for lab in catalog.labs.values()}) >= 4
    assert {r.method for lab in catalog.labs.values() for r in lab.rates} == {"Budget", "Standard", "Express", "Overnight"}
    for sku in NAMED_IN_THE_DOCUMENTS:
        assert sku in catalog.products, sku
    assert "wrap" in catalog.products["GLOBAL-CAN-10X10"].attributes
    assert "color" in catalog.products["GLOBAL-CFPM-16X20"].attributes
    assert "spine" in catalog.products["BOOK-A4-L-HARD-M"].print_areas
    assert {"front", "back"} <= set(catalog.products["GLOBAL-TEE-GIL-64000"].print_areas)
    assert "lid" in catalog.products["GLOBAL-JIG-500"].print_areas
    destinations = set().union(*(v.ships_to for p in catalog.products.values() for v in p.variants))
    assert destinations == COUNTRY_CODES
    for product in catalog.products.values():
        for country in ("GB", "US", "AQ"):
            assert catalog.can_ship(product.sku, country, "Budget")


def test_problems_are_all_named_with_their_path():
    document = tiny_catalog()
    document["products"][0]["attributes"] = {"wrap": ["Black"]}
    document["labs"][0]["countryCode"] = "ZZ"
    document["labs"][0]["shipping"][1]["method"] = "Teleport"
    with pytest.raises(CatalogDocumentError) as caught:
        parse_catalog_document(document)
    problems = "\n".join(caught.value.problems)
    assert "variants[0].attributes: must name exactly the product's attributes ['wrap']" in problems
    assert "labs[0] (gb1).countryCode: 'ZZ' is not an ISO 3166 country code" in problems
    assert "shipping[1].method: 'Teleport' is not one of" in problems


def test_shape_errors_are_reported_with_paths():
    document = tiny_catalog()
    document["products"][0]["productDimensions"]["width"] = -1
    document["labs"][0]["unexpected"] = True
    with pytest.raises(CatalogDocumentError) as caught:
        parse_catalog_document(document)
    problems = "\n".join(caught.value.problems)
    assert "products[0].productDimensions.width" in problems
    assert "labs[0].unexpected: Extra inputs are not permitted" in problems


def test_a_product_no_lab_makes_is_refused():
    document = tiny_catalog()
    document["labs"][0]["products"] = {}
    with pytest.raises(CatalogDocumentError, match="no lab makes this product"):
        parse_catalog_document(document)


def test_the_demo_catalogue_document_is_valid():
    parse_catalog_document(demo_catalog())
