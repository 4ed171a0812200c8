"""Lab allocation and pricing of a basket: pure, no database.

Every item goes to a lab that makes its SKU and ships to the destination by the chosen method;
items sent by one lab travel together as one shipment, charged that lab's rate once. Among all
ways to do that, the one with the lowest total (items + shipping, in the billing currency)
wins; ties go to fewer shipments, then to lab codes in order, so the answer is deterministic.
Unit costs and shipment costs are rounded to the currency first and totals are sums of the
rounded figures, so a quote and the charges of the same order agree to the penny.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from printwork.core.catalog.domain import Catalog, Lab, ShippingRate
from printwork.core.pricing.money import convert, round_money

# Beyond this many candidate labs for one basket, stop enumerating lab sets and allocate each
# item to its cheapest lab alone (still correct, possibly not the cheapest grouping).
MAX_EXHAUSTIVE_LABS = 12


class NotAllocatable(Exception):
    """Some items cannot be made and shipped to the destination by the method."""

    def __init__(self, positions: list[int]) -> None:
        self.positions = positions
        super().__init__(f"items {positions} cannot be allocated")


@dataclass(frozen=True)
class BasketLine:
    sku: str  # canonical
    copies: int


@dataclass(frozen=True)
class AllocatedLine:
    position: int
    sku: str
    copies: int
    unit_cost: Decimal  # rounded, billing currency
    lab_code: str


@dataclass(frozen=True)
class AllocatedShipment:
    lab: Lab
    rate: ShippingRate
    cost: Decimal  # rounded, billing currency
    positions: tuple[int, ...]


@dataclass(frozen=True)
class Allocation:
    method: str
    currency: str
    lines: tuple[AllocatedLine, ...]
    shipments: tuple[AllocatedShipment, ...]

    @property
    def items_total(self) -> Decimal:
        return sum((line.unit_cost * line.copies for line in self.lines), Decimal(0))

    @property
    def shipping_total(self) -> Decimal:
        return sum((shipment.cost for shipment in self.shipments), Decimal(0))


def allocate(catalog: Catalog, lines: list[BasketLine], country: str, method: str, currency: str) -> Allocation:
    candidates: dict[int, dict[str, Decimal]] = {}  # position -> lab -> rounded unit cost
    rates: dict[str, ShippingRate] = {}
    shipping: dict[str, Decimal] = {}
    unplaceable = []
    for position, line in enumerate(lines):
        options = {}
        for lab in catalog.labs_making(line.sku):
            rate = rates.get(lab.code) or catalog.rate_for(lab, country, method)
            if rate is None:
                continue
            rates[lab.code] = rate
            options[lab.code] = round_money(convert(lab.unit_costs[line.sku], lab.currency, currency, catalog), currency)
        if not options:
            unplaceable.append(position)
        candidates[position] = options
    if unplaceable:
        raise NotAllocatable(unplaceable)
    for code, rate in rates.items():
        shipping[code] = round_money(convert(rate.cost, catalog.labs[code].currency, currency, catalog), currency)

    lab_codes = sorted(rates)
    best: tuple | None = None
    if len(lab_codes) <= MAX_EXHAUSTIVE_LABS:
        for size in range(1, len(lab_codes) + 1):
            for subset in itertools.combinations(lab_codes, size):
                choice = _cheapest_within(candidates, subset)
                if choice is None:
                    continue
                used = sorted(set(choice.values()))
                total = sum(candidates[p][lab] * lines[p].copies for p, lab in choice.items()) + sum(shipping[c] for c in used)
                key = (total, len(used), used)
                if best is None or key < best[0]:
                    best = (key, choice)
    if best is None:
        best = (None, _cheapest_within(candidates, lab_codes))
    choice = best[1]

    allocated = tuple(
        AllocatedLine(p, lines[p].sku, lines[p].copies, candidates[p][choice[p]], choice[p]) for p in range(len(lines))
    )
    shipments = tuple(
        AllocatedShipment(
            lab=catalog.labs[code],
            rate=rates[code],
            cost=shipping[code],
            positions=tuple(p for p in range(len(lines)) if choice[p] == code),
        )
        for code in sorted(set(choice.values()), key=lambda c: min(p for p in range(len(lines)) if choice[p] == c))
    )
    return Allocation(method, currency, allocated, shipments)


def _cheapest_within(candidates: dict[int, dict[str, Decimal]], labs) -> dict[int, str] | None:
    """Each item's cheapest lab among `labs` (ties to the first code), or None if one has none."""
    choice = {}
    for position, options in candidates.items():
        usable = [(cost, code) for code, cost in options.items() if code in labs]
        if not usable:
            return None
        choice[position] = min(usable)[1]
    return choice
