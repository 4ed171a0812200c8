"""Small catalogue documents for tests that need a catalogue other than the demo one."""

from __future__ import annotations


def tiny_catalog(*, available: bool = True, lab_destinations=("GB",), methods=("Budget", "Standard", "Express", "Overnight")) -> dict:
    """One 10x10 print made by one GB lab that ships only to `lab_destinations`."""
    return {
        "baseCurrency": "GBP",
        "exchangeRates": {"USD": "1.25"},
        "zones": {},
        "products": [
            {
                "sku": "TEST-PRINT-10X10",
                "description": "Test print",
                "category": "photo-print",
                "productDimensions": {"width": 10, "height": 10, "units": "in"},
                "attributes": {},
                "printAreas": {"default": {"required": True}},
                "available": available,
                "variants": [{"attributes": {}, "printAreaSizes": {"default": {"horizontalResolution": 3000, "verticalResolution": 3000}}}],
            }
        ],
        "labs": [
            {
                "code": "gb1",
                "name": "Test lab",
                "countryCode": "GB",
                "currency": "GBP",
                "products": {"TEST-PRINT-10X10": "2.00"},
                "shipping": [
                    {"destination": d, "method": m, "cost": "1.00", "carrier": "royalmail", "service": m,
                     "tracked": m != "Budget", "minDays": 1, "maxDays": 3}
                    for d in lab_destinations
                    for m in methods
                ],
            }
        ],
    }


def tiny_order(country: str = "GB", method: str = "Budget") -> dict:
    return {
        "shippingMethod": method,
        "recipient": {"name": "Ann", "address": {"line1": "1 High St", "postalOrZipCode": "AB1 2CD",
                                                  "countryCode": country, "townOrCity": "Town"}},
        "items": [{"sku": "TEST-PRINT-10X10", "copies": 1,
                   "assets": [{"printArea": "default", "url": "https://example.com/a.jpg"}]}],
    }
