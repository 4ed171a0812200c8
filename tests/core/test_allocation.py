"""Lab allocation and pricing, on hand-made catalogues."""

from __future__ import annotations

from decimal import Decimal

import pytest

from printwork.core.catalog.domain import Catalog, Lab, ShippingRate
from printwork.core.pricing.allocation import BasketLine, NotAllocatable, allocate


def lab(code, country, currency, costs, shipping, methods=("Budget",), destination="*"):
    rates = tuple(ShippingRate(code, destination, m, Decimal(shipping), "carrier", m, False, 1, 2) for m in methods)
    return Lab(code, code, country, currency, {k: Decimal(v) for k, v in costs.items()}, rates)


def catalog(*labs, rates=None):
    return Catalog(1, "GBP", {}, {lab.code: lab for lab in labs}, {}, rates or {"GBP": Decimal(1), "USD": Decimal("1.25")})


def test_the_cheapest_lab_wins_including_shipping():
    cat = catalog(lab("a", "GB", "GBP", {"X": "5.00"}, "4.00"), lab("b", "GB", "GBP", {"X": "6.00"}, "1.00"))
    result = allocate(cat, [BasketLine("X", 1)], "FR", "Budget", "GBP")
    assert [s.lab.code for s in result.shipments] == ["b"]
    assert (result.items_total, result.shipping_total) == (Decimal("6.00"), Decimal("1.00"))


def test_copies_can_tip_the_balance_to_the_cheaper_unit_cost():
    cat = catalog(lab("a", "GB", "GBP", {"X": "5.00"}, "4.00"), lab("b", "GB", "GBP", {"X": "6.00"}, "1.00"))
    result = allocate(cat, [BasketLine("X", 10)], "FR", "Budget", "GBP")
    assert [s.lab.code for s in result.shipments] == ["a"]


def test_one_shipment_beats_two_when_shipping_dominates():
    cat = catalog(
        lab("a", "GB", "GBP", {"X": "1.00", "Y": "1.20"}, "5.00"),
        lab("b", "GB", "GBP", {"Y": "1.00"}, "5.00"),
    )
    result = allocate(cat, [BasketLine("X", 1), BasketLine("Y", 1)], "FR", "Budget", "GBP")
    assert [s.lab.code for s in result.shipments] == ["a"]
    assert result.shipments[0].positions == (0, 1)


def test_items_split_when_no_lab_makes_everything():
    cat = catalog(lab("a", "GB", "GBP", {"X": "1.00"}, "2.00"), lab("b", "US", "USD", {"Y": "2.50"}, "2.50"))
    result = allocate(cat, [BasketLine("X", 2), BasketLine("Y", 1)], "FR", "Budget", "GBP")
    assert [(s.lab.code, s.positions) for s in result.shipments] == [("a", (0,)), ("b", (1,))]
    assert result.lines[1].unit_cost == Decimal("2.00")  # USD 2.50 at 1.25 per GBP
    assert result.shipping_total == Decimal("4.00")


def test_ties_are_broken_deterministically():
    cat = catalog(lab("b", "GB", "GBP", {"X": "1.00"}, "1.00"), lab("a", "GB", "GBP", {"X": "1.00"}, "1.00"))
    assert allocate(cat, [BasketLine("X", 1)], "FR", "Budget", "GBP").shipments[0].lab.code == "a"


def test_rounding_happens_per_unit_so_totals_are_sums_of_what_is_shown():
    cat = catalog(lab("a", "US", "USD", {"X": "1.00"}, "1.00"), rates={"GBP": Decimal(1), "USD": Decimal("3")})
    result = allocate(cat, [BasketLine("X", 3)], "GB", "Budget", "GBP")
    assert result.lines[0].unit_cost == Decimal("0.33")
    assert result.items_total == Decimal("0.99")


def test_nothing_to_allocate_names_the_items():
    cat = catalog(lab("a", "GB", "GBP", {"X": "1.00"}, "1.00", methods=("Budget",)))
    with pytest.raises(NotAllocatable) as caught:
        allocate(cat, [BasketLine("X", 1), BasketLine("Z", 1)], "FR", "Budget", "GBP")
    assert caught.value.positions == [1]
    with pytest.raises(NotAllocatable):
        allocate(cat, [BasketLine("X", 1)], "FR", "Express", "GBP")


def test_remembered_figures_are_bounded():
    cat = catalog(lab("a", "GB", "GBP", {"X": "1.00"}, "1.00"))
    for copies in range(1, 30):
        allocate(cat, [BasketLine("X", copies)], "FR", "Budget", "GBP")
    assert 0 < len(cat.memo["allocations"]) <= 29
    for n in range(10):
        cat.remembered("bucket", n, lambda n=n: n * 2, limit=4)
    assert len(cat.memo["bucket"]) <= 4
    assert cat.remembered("bucket", 9, lambda: "not computed again", limit=4) == 18


# --- the cheapest grouping, checked against every possible one ------------------------------

from itertools import product as every  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SKUS = ("X", "Y", "Z")


@st.composite
def baskets(draw):
    labs = []
    for code in draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=5, unique=True)):
        makes = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
        costs = {sku: f"{draw(st.integers(1, 999)) / 100:.2f}" for sku in makes}
        labs.append(lab(code, "GB", "GBP", costs, f"{draw(st.integers(0, 999)) / 100:.2f}"))
    made = sorted({sku for each in labs for sku in each.unit_costs})
    lines = draw(st.lists(st.tuples(st.sampled_from(made), st.integers(1, 20)), min_size=1, max_size=4))
    return catalog(*labs), [BasketLine(sku, copies) for sku, copies in lines]


@given(baskets())
@settings(max_examples=300, deadline=None)
def test_the_allocation_is_the_cheapest_of_every_possible_one_then_the_fewest_shipments(basket):
    cat, lines = basket
    result = allocate(cat, lines, "FR", "Budget", "GBP")
    makers = [[code for code, each in sorted(cat.labs.items()) if line.sku in each.unit_costs] for line in lines]
    best = min(
        (sum(cat.labs[code].unit_costs[line.sku] * line.copies for code, line in zip(choice, lines))
         + sum(cat.labs[code].rates[0].cost for code in set(choice)), len(set(choice)))
        for choice in every(*makers)
    )
    assert (result.items_total + result.shipping_total, len(result.shipments)) == best
    for allocated, line in zip(result.lines, lines):
        assert line.sku in cat.labs[allocated.lab_code].unit_costs  # every item at a lab that makes it
    assert sorted(p for shipment in result.shipments for p in shipment.positions) == list(range(len(lines)))
