"""Lab allocation and pricing of a basket: pure, no database.

Every item goes to a lab that makes its SKU and ships to the destination by the chosen method;
items sent by one lab travel together as one shipment, charged that lab's rate once. Among all
ways to do that, the one with the lowest total (items + shipping, in the billing currency)
wins; ties go to fewer shipments, then to lab codes in order, so the answer is deterministic.
Unit costs and shipment costs are rounded to the currency first and totals are sums of the
rounded figures, so a quote and the charges of the same order agree to the penny.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from printwork.core.catalog.domain import Catalog, Lab, ShippingRate
from printwork.core.countries import minor_units
from printwork.core.pricing.money import convert, round_money

# Beyond this many candidate labs for one basket, stop enumerating lab sets and allocate each
# item to its cheapest lab alone (still correct, possibly not the cheapest grouping).
MAX_EXHAUSTIVE_LABS = 12
MAX_REMEMBERED_ALLOCATIONS = 4096


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
    result = allocate_each(catalog, lines, country, (method,), currency)[0]
    if isinstance(result, NotAllocatable):
        raise result
    return result


def allocate_each(
    catalog: Catalog, lines: list[BasketLine], country: str, methods: tuple[str, ...], currency: str
) -> list[Allocation | NotAllocatable]:
    """`allocate` for several methods at once, sharing what does not depend on the method.

    Results are remembered by the catalogue (they are immutable and depend only on these
    arguments), since shops ask for the same baskets again and again.
    """
    return list(catalog.remembered(
        "allocations", (tuple(lines), country, methods, currency),
        lambda: _allocate_each(catalog, lines, country, methods, currency), MAX_REMEMBERED_ALLOCATIONS,
    ))


def _allocate_each(
    catalog: Catalog, lines: list[BasketLine], country: str, methods: tuple[str, ...], currency: str
) -> tuple[Allocation | NotAllocatable, ...]:
    scale = minor_units(currency)
    # position -> [(lab, unit price, line total in minor units)]
    offers = [
        [(lab, price, int(price.scaleb(scale)) * line.copies)
         for lab in catalog.labs_making(line.sku)
         for price in (_unit_price(catalog, lab, line.sku, currency),)]
        for line in lines
    ]
    results: list[Allocation | NotAllocatable] = []
    for method in methods:
        deliveries: dict[str, tuple[ShippingRate, Decimal, int]] = {}
        line_cost: list[dict[str, int]] = []
        unplaceable = []
        for position, line_offers in enumerate(offers):
            costs = {}
            for lab, _, total in line_offers:
                if lab.code not in deliveries:
                    delivery = _delivery(catalog, lab, country, method, currency)
                    if delivery is None:
                        continue
                    deliveries[lab.code] = (*delivery, int(delivery[1].scaleb(scale)))
                costs[lab.code] = total
            if not costs:
                unplaceable.append(position)
            line_cost.append(costs)
        if unplaceable:
            results.append(NotAllocatable(unplaceable))
            continue
        ship = {code: d[2] for code, d in deliveries.items()}
        # Which labs can be dropped does not depend on the copies (they scale both sides).
        kept = catalog.remembered(
            "labs worth considering", (tuple(line.sku for line in lines), country, method, currency),
            lambda line_cost=line_cost, ship=ship: _labs_worth_considering(line_cost, ship),
        )
        choice = _cheapest_grouping(line_cost, ship, kept)
        prices = [{lab.code: price for lab, price, _ in line_offers} for line_offers in offers]
        allocated = tuple(
            AllocatedLine(p, lines[p].sku, lines[p].copies, prices[p][choice[p]], choice[p]) for p in range(len(lines))
        )
        first_position: dict[str, int] = {}
        for p in range(len(lines)):
            first_position.setdefault(choice[p], p)
        shipments = tuple(
            AllocatedShipment(
                lab=catalog.labs[code],
                rate=deliveries[code][0],
                cost=deliveries[code][1],
                positions=tuple(p for p in range(len(lines)) if choice[p] == code),
            )
            for code in first_position
        )
        results.append(Allocation(method, currency, allocated, shipments))
    return tuple(results)


def _delivery(catalog: Catalog, lab: Lab, country: str, method: str, currency: str) -> tuple[ShippingRate, Decimal] | None:
    """The lab's rate to `country` by `method` and its cost in `currency`, rounded; remembered."""
    key = ("delivery", lab.code, country, method, currency)
    if key not in catalog.memo:
        rate = catalog.rate_for(lab, country, method)
        catalog.memo[key] = None if rate is None else (
            rate, round_money(convert(rate.cost, lab.currency, currency, catalog), currency)
        )
    return catalog.memo[key]


def _unit_price(catalog: Catalog, lab: Lab, sku: str, currency: str) -> Decimal:
    """A lab's unit cost in `currency`, rounded; remembered by the (immutable) catalogue."""
    key = (lab.code, sku, currency)
    price = catalog.memo.get(key)
    if price is None:
        price = catalog.memo[key] = round_money(convert(lab.unit_costs[sku], lab.currency, currency, catalog), currency)
    return price


def _labs_worth_considering(line_cost: list[dict[str, int]], ship: dict[str, int]) -> list[str]:
    lab_codes = sorted(ship)
    return [code for code in lab_codes if not any(_beats(other, code, ship, line_cost) for other in lab_codes if other != code)]


def _cheapest_grouping(line_cost: list[dict[str, int]], ship: dict[str, int], kept: list[str]) -> dict[int, str]:
    """Position -> lab code of the cheapest way to send every item (see the module docstring).

    Labs another lab beats on shipping and on every item they make have been dropped (moving
    their items to the better lab never costs more). Every set of the remaining labs is a
    bit mask, priced as each item's cheapest lab in the set plus the shipping of every lab in
    it; both sums are built from the mask without its lowest lab, in whole minor units. A set
    with a lab no item uses costs at least as much as the set without it, which also wins the
    tie on size, so the best set is exactly the labs its items use. Costs are whole minor units;
    `kept` are the labs left after dropping the beaten ones.
    """
    if len(kept) > MAX_EXHAUSTIVE_LABS:
        return {p: min(costs, key=lambda code: (costs[code], code)) for p, costs in enumerate(line_cost)}
    count = len(kept)
    unreachable = 1 << 62
    size = 1 << count
    totals = [0] * size
    for mask in range(1, size):
        lowest = (mask & -mask).bit_length() - 1
        totals[mask] = totals[mask & (mask - 1)] + ship[kept[lowest]]
    for costs in line_cost:
        cost_at = [costs.get(code, unreachable) for code in kept]
        cheapest = [unreachable] * size
        for mask in range(1, size):
            lowest = (mask & -mask).bit_length() - 1
            rest = cheapest[mask & (mask - 1)]
            cheapest[mask] = rest if rest <= cost_at[lowest] else cost_at[lowest]
            totals[mask] += cheapest[mask]
    best = min(range(1, size), key=lambda mask: (totals[mask], bin(mask).count("1"), mask))
    chosen = [code for i, code in enumerate(kept) if best >> i & 1]
    return {
        p: min((code for code in chosen if code in costs), key=lambda code: (costs[code], code))
        for p, costs in enumerate(line_cost)
    }


def _beats(better: str, worse: str, ship: dict[str, int], line_cost: list[dict[str, int]]) -> bool:
    """`better` ships for no more and makes everything `worse` makes for no more; on a full
    tie the earlier code is the one kept."""
    if ship[better] > ship[worse]:
        return False
    tie = ship[better] == ship[worse]
    for costs in line_cost:
        if worse in costs:
            if better not in costs or costs[better] > costs[worse]:
                return False
            tie = tie and costs[better] == costs[worse]
    return not tie or better < worse
