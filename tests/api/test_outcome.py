"""The outcome-shaped faces name the core's snake_case fields in camelCase, merchants' own names kept."""

from __future__ import annotations

from printwork.api.outcome import camel_path, wire_failures
from printwork.core.errors import Failure


def test_core_paths_become_camel_case_wire_paths():
    assert camel_path("recipient.address.country_code") == "recipient.address.countryCode"
    assert camel_path("items[3].assets[12].print_area") == "items[3].assets[12].printArea"
    assert camel_path("items[0].recipient_cost.currency") == "items[0].recipientCost.currency"
    assert camel_path("destination_country_code") == "destinationCountryCode"
    assert camel_path("items[0].sku") == "items[0].sku"


def test_attribute_names_are_the_merchants_own():
    assert camel_path("items[1].attributes.paper_type") == "items[1].attributes.paper_type"
    assert camel_path("items[1].attributes.Frame_Colour") == "items[1].attributes.Frame_Colour"


def test_a_face_path_and_a_core_path_for_one_field_merge():
    failures = {"shippingMethod": [Failure("Required")], "shipping_method": [Failure("InvalidValue", "Fast")],
                "items[0].sku": [Failure("SkuNotFound", "X")]}
    assert wire_failures(failures, camel_path) == {
        "shippingMethod": [Failure("Required"), Failure("InvalidValue", "Fast")],
        "items[0].sku": [Failure("SkuNotFound", "X")],
    }
