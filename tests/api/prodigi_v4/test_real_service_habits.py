"""What the real Prodigi v4 service does and the official Postman collection relies on.

Recorded from the collection's saved responses (its requests send a trailing slash on
`/v4.0/Orders/`, `?Top=5`, and `products/GLOBAL-CAN-10x10 ` with a trailing space).
"""

from __future__ import annotations


def test_orders_with_a_trailing_slash_are_answered_not_redirected(client, headers, order_payload):
    created = client.post("/v4.0/Orders/", json=order_payload(), headers=headers, follow_redirects=False)
    assert created.status_code == 200 and created.json()["outcome"] == "Created"
    client.post("/v4.0/Orders/", json=order_payload(), headers=headers)
    listed = client.get("/v4.0/Orders/?Top=1", headers=headers, follow_redirects=False)
    assert listed.status_code == 200 and listed.json()["outcome"] == "Ok"
    assert len(listed.json()["orders"]) == 1 and listed.json()["hasMore"] is True
    assert "/v4.0/orders?" in listed.json()["nextUrl"] and "/?" not in listed.json()["nextUrl"]
    order_id = created.json()["order"]["id"]
    assert client.get(f"/v4.0/Orders/{order_id}/", headers=headers).json()["order"]["id"] == order_id


def test_a_product_sku_with_a_trailing_space_is_found_and_echoed_as_sent(client, headers):
    response = client.get("/v4.0/products/GLOBAL-CAN-10x10%20", headers=headers)
    assert response.status_code == 200 and response.json()["outcome"] == "Ok"
    assert response.json()["product"]["sku"] == "GLOBAL-CAN-10x10 "
    exact = client.get("/v4.0/products/GLOBAL-CAN-10X10", headers=headers).json()["product"]
    assert {k: v for k, v in exact.items() if k != "sku"} == {
        k: v for k, v in response.json()["product"].items() if k != "sku"}
    assert client.get("/v4.0/products/NOT-A-SKU%20", headers=headers).json()["outcome"] == "EntityNotFound"


def test_each_quote_has_item_ids_of_its_own(client, headers):
    response = client.post("/v4.0/quotes", headers=headers, json={
        "destinationCountryCode": "GB",
        "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 2, "assets": [{"printArea": "default"}]},
                  {"sku": "GLOBAL-CAN-10X10", "copies": 1, "attributes": {"wrap": "ImageWrap"},
                   "assets": [{"printArea": "default"}]}]})
    quotes = response.json()["quotes"]
    assert len(quotes) == 4
    ids = [item["id"] for quote in quotes for item in quote["items"]]
    assert len(ids) == len(set(ids)) == 8
    for quote in quotes:
        own = {item["id"] for item in quote["items"]}
        assert {i for shipment in quote["shipments"] for i in shipment["items"]} == own


def test_the_collections_framed_canvas_quote_is_priced(client, headers):
    response = client.post("/v4.0/quotes", headers=headers, json={
        "shippingMethod": "Standard", "destinationCountryCode": "GB",
        "items": [{"sku": "GLOBAL-FRA-CAN-30x40", "copies": 2, "attributes": {"wrap": "black"},
                   "assets": [{"printArea": "default"}]}]})
    assert response.status_code == 200, response.text
    [quote] = response.json()["quotes"]
    assert quote["shipmentMethod"] == "Standard"
    assert quote["items"][0]["sku"] == "GLOBAL-FRA-CAN-30X40" and quote["items"][0]["copies"] == 2
    assert float(quote["costSummary"]["items"]["amount"]) > 0
