"""ISO 3166 countries and ISO 4217 currencies, from pycountry, looked up once."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import pycountry

COUNTRY_CODES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)
CURRENCY_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies)

# ISO 4217 minor units for the currencies that do not use two.
_MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3,
    "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}


def is_country(code: object) -> bool:
    return isinstance(code, str) and code.upper() in COUNTRY_CODES


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code.upper() in CURRENCY_CODES


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


@lru_cache(maxsize=512)
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))
