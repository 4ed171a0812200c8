"""Money arithmetic: Decimal amounts converted through the catalogue's rates and rounded the
way each currency requires (ISO 4217 minor units, half up)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from printwork.core.catalog.domain import Catalog
from printwork.core.countries import quantum


class NoExchangeRate(ValueError):
    pass


def convert(amount: Decimal, from_currency: str, to_currency: str, catalog: Catalog) -> Decimal:
    """`amount` in `to_currency`, unrounded."""
    if from_currency == to_currency:
        return amount
    try:
        from_rate = catalog.exchange_rates[from_currency]
        to_rate = catalog.exchange_rates[to_currency]
    except KeyError as missing:
        raise NoExchangeRate(f"no exchange rate for {missing.args[0]}") from None
    return amount / from_rate * to_rate


def round_money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def money_string(amount: Decimal, currency: str) -> str:
    return format(round_money(amount, currency), "f")
