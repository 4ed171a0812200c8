"""POST /v4.0/orders through HTTP: every documented field and rule (INVENTORY §5.2)."""

from __future__ import annotations

import re

import pytest

from tests.factories import tiny_catalog, tiny_order

ORDER_ID = re.compile(r"^ord_\d+$")


def create(client, headers, body):
    return client.post("/v4.0/orders", json=body, headers=headers)


def failures_of(response) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["outcome"] == "ValidationFailed"
    return body["failures"]


def test_the_documented_example_is_created_and_echoed(client, headers, order_payload):
    body = order_payload()
    response = create(client, headers, body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["outcome"] == "Created"
    order = data["order"]
    assert ORDER_ID.match(order["id"])
    assert order["merchantReference"] == "MyMerchantReference1"
    assert order["shippingMethod"] == "Overnight"
    assert order["recipient"] == {
        "name": "Mr Testy McTestface",
        "email": None,
        "phoneNumber": None,
        "address": body["recipient"]["address"],
    }
    item = order["items"][0]
    assert re.match(r"^ori_\d+$", item["id"]) and item["status"] == "NotYetDownloaded"
    assert (item["sku"], item["copies"], item["sizing"]) == ("GLOBAL-CFPM-16X20", 1, "fillPrintArea")
    assert item["attributes"] == {"color": "black"}
    assert item["recipientCost"] == {"amount": "15.00", "currency": "USD"}
    asset = item["assets"][0]
    assert re.match(r"^ast_\d+$", asset["id"]) and asset["status"] == "InProgress"
    assert asset["url"] == body["items"][0]["assets"][0]["url"]
    assert asset["md5Hash"] == "daa1c811c6038e718a23f0d816914b7b"
    assert order["metadata"] == body["metadata"]
    assert order["status"] == {
        "stage": "InProgress",
        "issues": [],
        "details": {
            "downloadAssets": "NotStarted",
            "printReadyAssetsPrepared": "NotStarted",
            "allocateProductionLocation": "NotStarted",
            "inProduction": "NotStarted",
            "shipping": "NotStarted",
        },
    }
    assert order["charges"] == [] and order["shipments"] == []
    for absent in ("callbackUrl", "idempotencyKey", "packingSlip"):
        assert order[absent] is None
    assert order["created"].endswith("Z") and order["lastUpdated"].endswith("Z")
    assert data["traceParent"] == response.headers["traceparent"]


def test_keys_of_the_order_object_follow_the_documented_order(client, headers, order_payload):
    order = create(client, headers, order_payload()).json()["order"]
    assert list(order) == [
        "id", "created", "lastUpdated", "callbackUrl", "merchantReference", "shippingMethod",
        "idempotencyKey", "status", "charges", "shipments", "recipient", "items", "packingSlip", "metadata",
    ]


@pytest.mark.parametrize(
    "path, code",
    [
        (("shippingMethod",), "Required"),
        (("recipient",), "Required"),
        (("recipient", "name"), "Required"),
        (("recipient", "address"), "Required"),
        (("recipient", "address", "line1"), "Required"),
        (("recipient", "address", "postalOrZipCode"), "Required"),
        (("recipient", "address", "countryCode"), "Required"),
        (("recipient", "address", "townOrCity"), "Required"),
        (("items",), "Required"),
    ],
)
def test_a_missing_required_field_is_named(client, headers, order_payload, path, code):
    body = order_payload()
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    failures = failures_of(create(client, headers, body))
    assert failures[".".join(path)] == [{"code": code, "providedValue": None}]


def test_every_failure_is_reported_at_once_with_the_documented_shape(client, headers, order_payload):
    body = order_payload()
    body["recipient"]["name"] = None
    body["items"] = []
    response = create(client, headers, body)
    failures = failures_of(response)
    assert failures == {
        "recipient.name": [{"code": "Required", "providedValue": None}],
        "items": [{"code": "MustNotBeEmptyArray", "providedValue": []}],
    }
    data = response.json()
    assert data["statusCode"] == 400 and data["statusText"]
    assert data["traceParent"].startswith("00-")


@pytest.mark.parametrize("optional", ["line2", "stateOrCounty"])
def test_optional_address_fields_may_be_left_out(client, headers, order_payload, optional):
    body = order_payload()
    del body["recipient"]["address"][optional]
    order = create(client, headers, body).json()["order"]
    assert order["recipient"]["address"][optional] is None


def test_email_and_phone_are_echoed(client, headers, order_payload):
    body = order_payload()
    body["recipient"]["email"] = "test@example.com"
    body["recipient"]["phoneNumber"] = "+44 7700 900000"
    recipient = create(client, headers, body).json()["order"]["recipient"]
    assert recipient["email"] == "test@example.com" and recipient["phoneNumber"] == "+44 7700 900000"


@pytest.mark.parametrize("country", ["USA", "XX", "U", "12"])
def test_country_code_must_be_iso_3166_alpha_2(client, headers, order_payload, country):
    body = order_payload()
    body["recipient"]["address"]["countryCode"] = country
    failures = failures_of(create(client, headers, body))
    assert failures["recipient.address.countryCode"][0]["code"] == "InvalidCountryCode"


def test_country_code_is_accepted_in_lower_case_and_stored_upper(client, headers, order_payload):
    body = order_payload()
    body["recipient"]["address"]["countryCode"] = "us"
    assert create(client, headers, body).json()["order"]["recipient"]["address"]["countryCode"] == "US"


@pytest.mark.parametrize("method", ["Budget", "standard", "EXPRESS", "overnight"])
def test_shipping_method_is_case_insensitive_and_echoed_in_pascal_case(client, headers, order_payload, method):
    body = order_payload()
    body["shippingMethod"] = method
    assert create(client, headers, body).json()["order"]["shippingMethod"] == method.capitalize()


def test_unknown_shipping_method_is_refused(client, headers, order_payload):
    body = order_payload()
    body["shippingMethod"] = "Teleport"
    assert failures_of(create(client, headers, body))["shippingMethod"] == [
        {"code": "InvalidValue", "providedValue": "Teleport"}
    ]


def test_item_without_sku_is_refused(client, headers, order_payload):
    body = order_payload()
    del body["items"][0]["sku"]
    assert failures_of(create(client, headers, body))["items[0].sku"][0]["code"] == "Required"


def test_unknown_sku_is_refused(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["sku"] = "NOT-A-PRODUCT"
    assert failures_of(create(client, headers, body))["items[0].sku"] == [
        {"code": "SkuNotFound", "providedValue": "NOT-A-PRODUCT"}
    ]


def test_sku_is_matched_case_insensitively_and_echoed_canonically(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["sku"] = "global-cfpm-16x20"
    assert create(client, headers, body).json()["order"]["items"][0]["sku"] == "GLOBAL-CFPM-16X20"


@pytest.mark.parametrize("copies, code", [(0, "MustBeGreaterThanZero"), (-3, "MustBeGreaterThanZero"), ("2", "MustBeAnInteger"), (1.5, "MustBeAnInteger"), (None, "Required")])
def test_copies_must_be_a_positive_integer(client, headers, order_payload, copies, code):
    body = order_payload()
    body["items"][0]["copies"] = copies
    assert failures_of(create(client, headers, body))["items[0].copies"][0]["code"] == code


def test_sizing_defaults_to_fill_print_area(client, headers, order_payload):
    body = order_payload()
    del body["items"][0]["sizing"]
    assert create(client, headers, body).json()["order"]["items"][0]["sizing"] == "fillPrintArea"


@pytest.mark.parametrize("sizing", ["fitPrintArea", "STRETCHTOPRINTAREA", "fillprintarea"])
def test_sizing_values_are_accepted_in_any_case(client, headers, order_payload, sizing):
    body = order_payload()
    body["items"][0]["sizing"] = sizing
    echoed = create(client, headers, body).json()["order"]["items"][0]["sizing"]
    assert echoed.lower() == sizing.lower() and echoed[0].islower() and any(c.isupper() for c in echoed)


def test_unknown_sizing_is_refused(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["sizing"] = "squash"
    assert failures_of(create(client, headers, body))["items[0].sizing"][0]["code"] == "InvalidValue"


@pytest.mark.parametrize("field", ["url", "printArea"])
def test_asset_needs_url_and_print_area(client, headers, order_payload, field):
    body = order_payload()
    del body["items"][0]["assets"][0][field]
    assert failures_of(create(client, headers, body))[f"items[0].assets[0].{field}"][0]["code"] == "Required"


def test_asset_url_must_be_http(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["assets"][0]["url"] = "ftp://example.com/a.png"
    assert failures_of(create(client, headers, body))["items[0].assets[0].url"][0]["code"] == "MustBeAnHttpUrl"


def test_md5_hash_must_look_like_one(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["assets"][0]["md5Hash"] = "not-a-hash"
    assert failures_of(create(client, headers, body))["items[0].assets[0].md5Hash"][0]["code"] == "MustBeAnMd5Hash"


def test_every_required_print_area_must_be_given(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["assets"] = []
    assert failures_of(create(client, headers, body))["items[0].assets"] == [
        {"code": "RequiredPrintAreaMissing", "providedValue": "default"}
    ]


def test_items_may_have_no_assets_only_when_no_print_area_is_required(client, headers, order_payload):
    body = order_payload()
    body["items"][0] = {"sku": "GLOBAL-TEE-GIL-64000", "copies": 1, "attributes": {"color": "Black", "size": "m"},
                        "assets": [{"printArea": "back", "url": "https://example.com/back.png"}]}
    failures = failures_of(create(client, headers, body))
    assert failures["items[0].assets"] == [{"code": "RequiredPrintAreaMissing", "providedValue": "front"}]


def test_optional_print_areas_are_accepted(client, headers, order_payload):
    body = order_payload()
    body["items"][0] = {"sku": "GLOBAL-TEE-GIL-64000", "copies": 2, "attributes": {"COLOR": "navy", "size": "XL"},
                        "assets": [{"printArea": "front", "url": "https://example.com/f.png"},
                                   {"printArea": "Back", "url": "https://example.com/b.png"}]}
    item = create(client, headers, body).json()["order"]["items"][0]
    assert [a["printArea"] for a in item["assets"]] == ["front", "back"]
    assert item["attributes"] == {"COLOR": "navy", "size": "XL"}


def test_unknown_print_area_and_duplicates_are_refused(client, headers, order_payload):
    body = order_payload()
    asset = body["items"][0]["assets"][0]
    body["items"][0]["assets"] = [asset, dict(asset), dict(asset, printArea="lid")]
    failures = failures_of(create(client, headers, body))
    assert failures["items[0].assets[1].printArea"][0]["code"] == "Duplicate"
    assert failures["items[0].assets[2].printArea"][0]["code"] == "NotValidForProduct"


def test_attributes_are_checked_against_the_product(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["attributes"] = {"color": "tartan", "mount": "yes"}
    failures = failures_of(create(client, headers, body))
    assert failures["items[0].attributes.color"] == [{"code": "InvalidValue", "providedValue": "tartan"}]
    assert failures["items[0].attributes.mount"] == [{"code": "NotValidForProduct", "providedValue": "yes"}]


def test_a_product_attribute_left_out_is_required(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["attributes"] = {}
    assert failures_of(create(client, headers, body))["items[0].attributes.color"][0]["code"] == "Required"


def test_metadata_of_2000_characters_is_accepted_and_2001_refused(client, headers, order_payload):
    body = order_payload()
    # {"k":"…"} is 8 characters of JSON around the value.
    body["metadata"] = {"k": "x" * 1992}
    assert create(client, headers, body).status_code == 200
    body["metadata"] = {"k": "x" * 1993}
    assert failures_of(create(client, headers, body))["metadata"] == [
        {"code": "MaxLengthExceeded", "providedValue": 2001}
    ]


def test_metadata_keeps_nesting_numbers_and_key_order(client, headers, order_payload):
    body = order_payload()
    body["metadata"] = {"z": 1, "a": {"nested": [1, 2.5, True, None]}, "big": 12345678901234}
    response = create(client, headers, body)
    assert response.json()["order"]["metadata"] == body["metadata"]
    assert '"metadata":{"z":1,"a":{"nested":[1,2.5,true,null]},"big":12345678901234}' in response.text


def test_metadata_must_be_an_object(client, headers, order_payload):
    body = order_payload()
    body["metadata"] = ["not", "an", "object"]
    assert failures_of(create(client, headers, body))["metadata"][0]["code"] == "MustBeAnObject"


def test_recipient_cost_amount_and_currency_are_checked(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["recipientCost"] = {"amount": "ten", "currency": "ZZZ"}
    failures = failures_of(create(client, headers, body))
    assert failures["items[0].recipientCost.amount"][0]["code"] == "InvalidAmount"
    body["items"][0]["recipientCost"] = {"amount": "10", "currency": "ZZZ"}
    failures = failures_of(create(client, headers, body))
    assert failures["items[0].recipientCost.currency"][0]["code"] == "InvalidCurrencyCode"


def test_callback_url_packing_slip_and_idempotency_key_are_echoed(client, headers, order_payload):
    body = order_payload()
    body.update(callbackUrl="https://shop.example/callbacks", idempotencyKey="key-123",
                packingSlip={"url": "https://shop.example/slip.pdf"})
    order = create(client, headers, body).json()["order"]
    assert order["callbackUrl"] == "https://shop.example/callbacks"
    assert order["idempotencyKey"] == "key-123"
    assert order["packingSlip"] == {"url": "https://shop.example/slip.pdf", "status": "NotYetDownloaded"}


def test_property_names_are_bound_case_insensitively(client, headers, order_payload):
    body = {
        "ShippingMethod": "Budget",
        "Recipient": {"Name": "Ann", "Address": {"Line1": "1 Street", "PostalOrZipCode": "SW1A 1AA",
                                                  "CountryCode": "GB", "TownOrCity": "London"}},
        "Items": [{"SKU": "GLOBAL-PHO-4X6", "Copies": 3, "Assets": [{"PrintArea": "default", "URL": "https://e.com/a.jpg"}]}],
    }
    response = create(client, headers, body)
    assert response.status_code == 200, response.text
    order = response.json()["order"]
    assert order["recipient"]["name"] == "Ann" and order["items"][0]["copies"] == 3


def test_a_destination_no_lab_ships_to_is_refused(client, headers, use_catalog):
    use_catalog(tiny_catalog(lab_destinations=("GB",)))
    assert create(client, headers, tiny_order("GB")).status_code == 200
    assert failures_of(create(client, headers, tiny_order("FR")))["items[0].sku"] == [
        {"code": "NotAvailableForDestination", "providedValue": "TEST-PRINT-10X10"}
    ]


def test_a_shipping_method_no_lab_offers_there_is_refused(client, headers, use_catalog):
    use_catalog(tiny_catalog(methods=("Budget", "Standard")))
    assert failures_of(create(client, headers, tiny_order("GB", "Overnight")))["shippingMethod"] == [
        {"code": "NotAvailableForDestination", "providedValue": "Overnight"}
    ]


def test_an_unavailable_sku_is_created_with_an_issue(client, headers, use_catalog):
    use_catalog(tiny_catalog(available=False))
    response = create(client, headers, tiny_order())
    assert response.status_code == 200
    data = response.json()
    assert data["outcome"] == "CreatedWithIssues"
    item_id = data["order"]["items"][0]["id"]
    assert data["order"]["status"]["issues"] == [
        {"objectId": item_id, "errorCode": "order.items.ItemUnavailable",
         "description": f"SKU 'TEST-PRINT-10X10' on item '{item_id}' is currently unavailable.",
         "authorisationDetails": None}
    ]


def test_a_catalogue_import_is_followed_by_the_next_order(client, headers, use_catalog):
    assert create(client, headers, tiny_order()).status_code == 400
    use_catalog(tiny_catalog())
    assert create(client, headers, tiny_order()).status_code == 200


def test_two_identical_posts_without_a_key_make_two_orders(client, headers, order_payload):
    first = create(client, headers, order_payload()).json()["order"]["id"]
    second = create(client, headers, order_payload()).json()["order"]["id"]
    assert first != second


def test_the_same_merchant_reference_does_not_deduplicate(client, headers, order_payload):
    body = order_payload()
    ids = {create(client, headers, dict(body, idempotencyKey=k)).json()["order"]["id"] for k in ("a", "b")}
    ids.add(create(client, headers, body).json()["order"]["id"])
    assert len(ids) == 3


def test_ids_increase_with_each_order(client, headers, order_payload):
    numbers = [int(create(client, headers, order_payload()).json()["order"]["id"][4:]) for _ in range(3)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


@pytest.mark.parametrize("amount", ["1e400", "-5", "NaN", "Infinity", True, [], {"a": 1}, "1.0000001"])
def test_unusable_recipient_cost_amounts_are_validation_failures(client, headers, order_payload, amount):
    body = order_payload()
    body["items"][0]["recipientCost"] = {"amount": amount, "currency": "USD"}
    assert failures_of(create(client, headers, body))["items[0].recipientCost.amount"][0]["code"] == "InvalidAmount"


@pytest.mark.parametrize("field, value", [("merchantReference", 5), ("recipient", "Ann"), ("items", {"sku": "x"}),
                                          ("callbackUrl", "not a url"), ("idempotencyKey", ["a"])])
def test_wrongly_typed_fields_are_named(client, headers, order_payload, field, value):
    body = order_payload()
    body[field] = value
    assert field in failures_of(create(client, headers, body))


@pytest.mark.parametrize("field", ["merchantReference", "idempotencyKey", "recipient.name", "recipient.address.line1",
                                   "items[0].assets[0].url"])
def test_a_nul_character_in_a_text_field_is_refused_on_every_database(client, headers, order_payload, field):
    body = order_payload()
    parts = [part for part in re.split(r"\.|\[|\]", field) if part]
    holder = body
    for part in parts[:-1]:
        holder = holder[int(part)] if part.isdigit() else holder[part]
    holder[parts[-1]] = "A\x00B"
    response = client.post("/v4.0/orders", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["failures"][field] == [{"code": "MustNotContainNulCharacters", "providedValue": "A\x00B"}]
    assert client.get("/v4.0/orders", headers=headers).json()["orders"] == []


def test_a_number_beyond_64_bits_is_a_validation_failure(client, headers, order_payload):
    body = order_payload()
    body["items"][0]["copies"] = 10**30
    response = client.post("/v4.0/orders", json=body, headers=headers)
    assert response.status_code == 400, response.text
    failure = response.json()["failures"]["items[0].copies"][0]
    assert failure["providedValue"] == pytest.approx(10**30)
