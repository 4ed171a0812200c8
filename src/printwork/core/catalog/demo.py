"""The bundled demo catalogue: a realistic small print network, built as a catalogue document.

Six labs in five countries make 36 products across photo prints, fine art, canvas, framed
prints, phone cases, photobooks, apparel, jigsaws and mugs, and together ship every one of them
to every ISO country by all four shipping methods. Costs are in each lab's own currency.
"""

from __future__ import annotations

from decimal import Decimal

from printwork.core.catalog.document import combinations

EU = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
]
EUROPE_NON_EU = ["GB", "IM", "JE", "GG", "NO", "CH", "IS", "LI", "MC", "AD", "SM", "VA", "AL", "BA", "ME", "MK", "RS"]
NORTH_AMERICA = ["US", "CA", "MX", "PR"]
OCEANIA = ["AU", "NZ"]


def _px(inches: float, dpi: int) -> int:
    return int(round(inches * dpi))


def _flat(sku, description, category, w, h, *, dpi=300, units="in", attributes=None, areas=None, spine=None):
    """A product whose every variant prints the same area sizes."""
    attributes = attributes or {}
    areas = areas or {"default": (True, _px(w, dpi), _px(h, dpi))}
    return {
        "sku": sku,
        "description": description,
        "category": category,
        "productDimensions": {"width": str(w), "height": str(h), "units": units},
        "attributes": attributes,
        "printAreas": {name: {"required": req} for name, (req, _, _) in areas.items()},
        **({"spine": spine} if spine else {}),
        "variants": [
            {
                "attributes": combo,
                "printAreaSizes": {
                    name: {"horizontalResolution": hx, "verticalResolution": vx} for name, (_, hx, vx) in areas.items()
                },
            }
            for combo in (combinations(attributes) or [{}])
        ],
    }


def _canvas(sku, w, h):
    # The wrap decides how much image folds round the 38mm bars, so sizes differ per variant.
    product = _flat(sku, f"Standard canvas on quality stretcher bar, {w}x{h}in", "canvas", w, h, dpi=150,
                    attributes={"wrap": ["Black", "ImageWrap", "MirrorWrap", "White"]})
    for variant in product["variants"]:
        extra = 3.0 if variant["attributes"]["wrap"] == "ImageWrap" else 0.0
        variant["printAreaSizes"]["default"] = {
            "horizontalResolution": _px(w + extra, 150),
            "verticalResolution": _px(h + extra, 150),
        }
    return product


def _products() -> list[dict]:
    photo = [
        ("GLOBAL-PHO-4X6", 4, 6), ("GLOBAL-PHO-5X7", 5, 7), ("GLOBAL-PHO-6X8", 6, 8),
        ("GLOBAL-PHO-8X10", 8, 10), ("GLOBAL-PHO-8X12", 8, 12),
    ]
    products = [_flat(s, f"Standard photo print, lustre paper, {w}x{h}in", "photo-print", w, h) for s, w, h in photo]
    products.append(_flat("GLOBAL-PHO-12X16-PRO-LUS-UK1", "Professional photo print, lustre, 12x16in", "photo-print", 12, 16))
    fine_art = [
        ("GLOBAL-FAP-8X10", 8, 10), ("GLOBAL-FAP-10X10", 10, 10), ("GLOBAL-FAP-11X14", 11, 14),
        ("GLOBAL-FAP-16X24", 16, 24), ("GLOBAL-FAP-A4", 8.27, 11.69), ("GLOBAL-FAP-A3", 11.69, 16.54),
    ]
    products += [
        _flat(s, f"Enhanced matte fine art print, {w}x{h}in", "fine-art-print", w, h) for s, w, h in fine_art
    ]
    products.append(_flat("ART-PRI-HPG-20X28", "Hahnemühle Photo Rag giclée print, 20x28in", "fine-art-print", 20, 28, dpi=200))
    products.append(_flat("ART-FAP-CPP-6X6", "Fine art print on cotton photo paper, 6x6in", "fine-art-print", 6, 6))
    products += [_canvas(f"GLOBAL-CAN-{w}X{h}", w, h) for w, h in [(8, 10), (10, 10), (12, 16), (16, 20), (20, 30)]]
    # The framed canvas the official Postman collection quotes (`GLOBAL-FRA-CAN-30x40`, wrap `black`).
    framed_canvas = _canvas("GLOBAL-FRA-CAN-30X40", 11.81, 15.75)
    framed_canvas["description"] = "Framed canvas in a floating frame, 30x40cm / 12x16\""
    products.append(framed_canvas)
    frame_colours = {"color": ["Black", "White", "Natural", "Brown"]}
    products += [
        _flat(f"GLOBAL-CFPM-{w}X{h}", f"Classic frame with mount, {w}x{h}in", "framed-print", w, h, dpi=200,
              attributes=frame_colours)
        for w, h in [(8, 10), (12, 16), (16, 20), (20, 28)]
    ]
    cases = [
        ("GLOBAL-TECH-IP11P-FC-CP", "iPhone 11 Pro", 1200, 2300), ("GLOBAL-TECH-IP12-FC-CP", "iPhone 12", 1250, 2400),
        ("GLOBAL-TECH-IP13-FC-CP", "iPhone 13", 1250, 2400), ("GLOBAL-TECH-GS21-FC-CP", "Galaxy S21", 1240, 2500),
    ]
    products += [
        _flat(s, f"Clear flexi phone case, {model}", "phone-case", round(h_ / 300, 2), round(v_ / 300, 2),
              areas={"default": (True, h_, v_)})
        for s, model, h_, v_ in cases
    ]
    for sku, description, w, h, binding, pages in [
        ("BOOK-A4-L-HARD-M", "Hardcover photobook, A4 landscape, matte", 11.69, 8.27, "hard", (24, 200)),
        ("BOOK-A4-P-HARD-M", "Hardcover photobook, A4 portrait, matte", 8.27, 11.69, "hard", (24, 200)),
        ("BOOK-A5-L-SOFT-M", "Softcover photobook, A5 landscape, matte", 8.27, 5.83, "soft", (20, 120)),
    ]:
        products.append(
            _flat(sku, description, "photobook", w, h,
                  # The official collection orders a hardcover book with its "Default" asset alone (the
                  # cover and its spine come in that file), so a separate spine picture is optional.
                  areas={"default": (True, _px(w, 300), _px(h, 300)), "spine": (False, 150, _px(h, 300))},
                  spine={"minPages": pages[0], "maxPages": pages[1],
                         "coverAllowanceMm": "4" if binding == "hard" else "1",
                         "pageThicknessMm": "0.17",
                         # North American stock is a lighter, thinner paper.
                         "pageThicknessMmByCountry": {"US": "0.15", "CA": "0.15"}})
        )
    apparel_attrs = {"color": ["Black", "White", "Navy", "Heather Grey"], "size": ["s", "m", "l", "xl", "2xl"]}
    products.append(_flat("GLOBAL-TEE-GIL-64000", "Gildan 64000 softstyle t-shirt", "apparel", 12, 16, dpi=300,
                          attributes=apparel_attrs,
                          areas={"front": (True, 3600, 4800), "back": (False, 3600, 4800)}))
    products.append(_flat("GLOBAL-HOOD-AWD-JH001", "AWDis JH001 college hoodie", "apparel", 12, 14, dpi=300,
                          attributes=apparel_attrs,
                          areas={"front": (True, 3600, 4200), "back": (False, 3600, 4800)}))
    products.append(_flat("GLOBAL-JIG-500", "500 piece jigsaw with printed lid box", "jigsaw", 19.3, 13.8,
                          areas={"default": (True, 5790, 4140), "lid": (False, 2790, 2010)}))
    products.append(_flat("GLOBAL-JIG-1000", "1000 piece jigsaw with printed lid box", "jigsaw", 26.6, 18.9,
                          areas={"default": (True, 7980, 5670), "lid": (False, 2790, 2010)}))
    products.append(_flat("GLOBAL-MUG-11OZ", "White ceramic mug, 11oz", "mug", 8.5, 3.5,
                          areas={"default": (True, 2550, 1050)}))
    products.append(_flat("GLOBAL-MUG-15OZ", "White ceramic mug, 15oz", "mug", 8.5, 4.2,
                          areas={"default": (True, 2550, 1260)}))
    return products


# Base price in GBP for one unit at a UK lab; other labs scale it by their local cost factor.
_BASE_COST = {
    "photo-print": {"GLOBAL-PHO-4X6": "0.45", "GLOBAL-PHO-5X7": "0.70", "GLOBAL-PHO-6X8": "1.00",
                    "GLOBAL-PHO-8X10": "1.60", "GLOBAL-PHO-8X12": "1.90", "GLOBAL-PHO-12X16-PRO-LUS-UK1": "5.20"},
    "fine-art-print": {"GLOBAL-FAP-8X10": "4.10", "GLOBAL-FAP-10X10": "5.20", "GLOBAL-FAP-11X14": "7.50",
                       "GLOBAL-FAP-16X24": "14.80", "GLOBAL-FAP-A4": "4.60", "GLOBAL-FAP-A3": "8.20",
                       "ART-PRI-HPG-20X28": "32.00", "ART-FAP-CPP-6X6": "3.40"},
    "canvas": {"GLOBAL-CAN-8X10": "11.20", "GLOBAL-CAN-10X10": "14.37", "GLOBAL-CAN-12X16": "18.90",
               "GLOBAL-CAN-16X20": "24.50", "GLOBAL-CAN-20X30": "36.00", "GLOBAL-FRA-CAN-30X40": "48.00"},
    "framed-print": {"GLOBAL-CFPM-8X10": "18.00", "GLOBAL-CFPM-12X16": "27.50", "GLOBAL-CFPM-16X20": "36.40",
                     "GLOBAL-CFPM-20X28": "52.00"},
    "phone-case": {"GLOBAL-TECH-IP11P-FC-CP": "7.50", "GLOBAL-TECH-IP12-FC-CP": "7.50",
                   "GLOBAL-TECH-IP13-FC-CP": "7.80", "GLOBAL-TECH-GS21-FC-CP": "7.50"},
    "photobook": {"BOOK-A4-L-HARD-M": "21.00", "BOOK-A4-P-HARD-M": "21.00", "BOOK-A5-L-SOFT-M": "9.50"},
    "apparel": {"GLOBAL-TEE-GIL-64000": "8.90", "GLOBAL-HOOD-AWD-JH001": "19.50"},
    "jigsaw": {"GLOBAL-JIG-500": "14.00", "GLOBAL-JIG-1000": "18.50"},
    "mug": {"GLOBAL-MUG-11OZ": "5.20", "GLOBAL-MUG-15OZ": "6.10"},
}

# code, name, country, currency, local cost factor (in local currency per GBP of base cost), categories
_LABS = [
    ("uk6", "Prodigi UK (Manchester)", "GB", "GBP", "1.00",
     ["photo-print", "fine-art-print", "canvas", "framed-print", "photobook", "jigsaw", "mug"]),
    ("uk2", "Prodigi UK (Tech accessories)", "GB", "GBP", "0.95", ["phone-case", "mug"]),
    ("us11", "Prodigi US (Denver)", "US", "USD", "1.22",
     ["photo-print", "fine-art-print", "canvas", "framed-print", "phone-case", "apparel", "mug", "photobook"]),
    ("de2", "Prodigi EU (Leipzig)", "DE", "EUR", "1.12",
     ["photo-print", "fine-art-print", "canvas", "framed-print", "photobook", "apparel", "jigsaw"]),
    ("au3", "Prodigi AU (Sydney)", "AU", "AUD", "1.95", ["photo-print", "canvas", "phone-case", "mug", "fine-art-print"]),
    ("ca1", "Prodigi CA (Toronto)", "CA", "CAD", "1.70", ["photo-print", "canvas", "apparel", "mug"]),
]

# (destination, base costs per method in the lab currency, carrier per method, tracked, days)
_METHOD_SHAPE = {
    "Budget": ("Standard", False, 1.0),
    "Standard": ("Tracked", True, 1.6),
    "Express": ("Express", True, 3.2),
    "Overnight": ("Next day", True, 6.0),
}


def _rates(domestic: str, regional: str, local_carrier: str, factor: Decimal) -> list[dict]:
    out = []
    for destination, base, days, carrier in [
        (domestic, Decimal("1.50"), (1, 3), local_carrier),
        (regional, Decimal("4.50"), (3, 7), "DHL"),
        ("*", Decimal("9.95"), (6, 14), "DHL"),
    ]:
        for method, (service, tracked, mult) in _METHOD_SHAPE.items():
            scale = {"Budget": 1.0, "Standard": 0.7, "Express": 0.4, "Overnight": 0.25}[method]
            cost = (base * Decimal(str(mult)) * factor).quantize(Decimal("0.01"))
            low, high = days
            out.append({
                "destination": destination,
                "method": method,
                "cost": str(cost),
                "carrier": carrier if method != "Overnight" else ("FedEx" if destination != domestic else carrier),
                "service": service,
                "tracked": tracked,
                "minDays": max(1, int(low * scale)),
                "maxDays": max(1, int(high * scale)),
            })
    return out


def demo_catalog() -> dict:
    products = _products()
    skus_by_category: dict[str, list[str]] = {}
    for p in products:
        skus_by_category.setdefault(p["category"], []).append(p["sku"])
    regions = {"GB": ("EUROPE", "royalmail"), "DE": ("EUROPE", "DHL"), "US": ("NORTH_AMERICA", "USPS"),
               "CA": ("NORTH_AMERICA", "CanadaPost"), "AU": ("OCEANIA", "AusPost")}
    labs = []
    for code, name, country, currency, factor, categories in _LABS:
        factor_d = Decimal(factor)
        region, carrier = regions[country]
        labs.append({
            "code": code,
            "name": name,
            "countryCode": country,
            "currency": currency,
            "products": {
                sku: str((Decimal(_BASE_COST[cat][sku]) * factor_d).quantize(Decimal("0.01")))
                for cat in categories for sku in skus_by_category[cat]
            },
            "shipping": _rates(country, region, carrier, factor_d),
        })
    return {
        "baseCurrency": "GBP",
        "exchangeRates": {"USD": "1.27", "EUR": "1.17", "AUD": "1.93", "CAD": "1.73", "JPY": "190.5",
                          "CHF": "1.12", "SEK": "13.40", "NZD": "2.10"},
        "zones": {"EUROPE": EU + EUROPE_NON_EU, "NORTH_AMERICA": NORTH_AMERICA, "OCEANIA": OCEANIA},
        "products": products,
        "labs": labs,
    }
