"""The order rules against a catalogue, with no database and no HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printwork.core.catalog.domain import Catalog, Lab, PrintAreaSize, Product, ShippingRate, Variant
from printwork.core.errors import FailureCollector
from printwork.core.orders.domain import Address, NewAsset, NewItem, NewOrder, Recipient, parse_order_id
from printwork.core.orders.rules import canonical_amount, check_new_order


def catalog() -> Catalog:
    canvas = Product(
        sku="CAN-1", description="Canvas", category="canvas", width=Decimal(10), height=Decimal(10), units="in",
        attributes={"wrap": ("Black", "ImageWrap")}, print_areas={"default": True, "back": False},
        variants=(
            Variant({"wrap": "Black"}, frozenset({"GB", "FR"}), {"default": PrintAreaSize(100, 100), "back": PrintAreaSize(10, 10)}),
            Variant({"wrap": "ImageWrap"}, frozenset({"GB"}), {"default": PrintAreaSize(120, 120), "back": PrintAreaSize(10, 10)}),
        ),
    )
    rates = tuple(
        ShippingRate("gb", dest, method, Decimal("1"), "royalmail", method, True, 1, 2)
        for dest in ("GB", "EU") for method in ("Budget", "Standard")
    )
    lab = Lab("gb", "GB lab", "GB", "GBP", {"CAN-1": Decimal("5")}, rates)
    return Catalog(1, "GBP", {"CAN-1": canvas}, {"gb": lab}, {"EU": frozenset({"FR", "DE"})}, {"GBP": Decimal(1)})


def order(country="GB", method="Budget", **item_changes) -> NewOrder:
    item = dict(merchant_reference=None, sku="can-1", copies=1, sizing="fillPrintArea", attributes={"WRAP": "black"},
                recipient_cost=None, assets=[NewAsset("DEFAULT", "https://e.com/a.jpg", None)])
    item.update(item_changes)
    return NewOrder(None, method, None, None, Recipient("Ann", None, None, Address("1", None, "P", country, "T", None)),
                    [NewItem(**item)], None, None)


def failures_for(new_order: NewOrder) -> dict:
    collector = FailureCollector()
    check_new_order(new_order, catalog(), collector)
    return {path: [f.code for f in fs] for path, fs in collector.failures.items()}


def test_a_valid_order_passes_and_is_canonicalised():
    new_order = order()
    assert failures_for(new_order) == {}
    assert new_order.items[0].sku == "CAN-1"
    assert new_order.items[0].assets[0].print_area == "default"


def test_a_variant_that_does_not_ship_there_is_refused():
    assert failures_for(order(country="FR", attributes={"wrap": "ImageWrap"})) == {"items[0].sku": ["NotAvailableForDestination"]}


def test_a_method_the_lab_does_not_offer_is_refused():
    assert failures_for(order(method="Express")) == {"shipping_method": ["NotAvailableForDestination"]}


def test_the_zone_rate_serves_a_zone_country():
    assert failures_for(order(country="FR")) == {}


@pytest.mark.parametrize("value, expected", [("15", "15.00"), ("15.5", "15.50"), (10, "10.00"), ("10.745", "10.745"),
                                             ("0", "0.00"), ("-1", None), ("NaN", None), ("1e400", None), (True, None),
                                             ("abc", None), (None, None), ("1.0000001", None)])
def test_canonical_amount(value, expected):
    assert canonical_amount(value) == expected


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_order_ids_round_trip(number):
    assert parse_order_id(f"ord_{number}") == number
    assert parse_order_id(f"ORD_{number}") == number


@given(st.text(max_size=30))
def test_parse_order_id_never_raises(value):
    result = parse_order_id(value)
    assert result is None or (value.lower().startswith("ord_") and result > 0)
