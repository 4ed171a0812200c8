"""`printwork callbacks send-test` and `tail`, run as a developer runs them, against a loopback receiver."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from printwork.core.callbacks.delivery import Deliverer
from tests.cli.test_cli import cli  # noqa: F401  (the fixture)
from tests.process.test_callbacks import Receiver, rules

PRIVATE_OK = {"PRINTWORK_ALLOW_PRIVATE_URLS": "true", "COLUMNS": "250"}
WIDE = {"COLUMNS": "250"}
SAMPLE_TYPES = [
    "com.prodigi.order.status.stage.changed#InProgress",
    "com.prodigi.order.status.details.downloadAssets.changed#Complete",
    "com.prodigi.order.status.details.downloadAssets.changed#Error",
    "com.prodigi.order.shipments.changed#Processing",
    "com.prodigi.order.shipments.changed#Shipped",
    "com.prodigi.order.status.stage.changed#Complete",
    "com.prodigi.order.shipments.changed#Cancelled",
    "com.prodigi.order.status.stage.changed#Cancelled",
]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_send_test_signs_a_sample_of_every_event_and_shows_the_answers(cli, receiver, client, headers,
                                                                        order_payload):
    cli("merchants", "create", "Hook Shop")
    secret = cli("merchants", "callback-secret", "Hook Shop").stdout.strip().splitlines()[-1]
    result = cli("callbacks", "send-test", "Hook Shop", "--url", receiver.url, extra_env=PRIVATE_OK)
    assert receiver.types() == SAMPLE_TYPES
    stages = {}
    for sent_headers, body in receiver.received:
        event = Webhook(secret).verify(body, sent_headers)  # raises if the signature is wrong
        assert event["subject"] == "ord_0" and event["id"] == sent_headers["webhook-id"]
        assert event["specversion"] == "1.0" and event["source"].endswith("/v4.0/Orders/")
        order = event["data"]["order"]
        assert order["id"] == "ord_0" and order["merchantReference"] == "printwork-test-callback"
        stages[event["type"]] = order
        assert event["id"] in result.stdout
    complete = stages["com.prodigi.order.status.stage.changed#Complete"]
    assert complete["status"]["stage"] == "Complete" and complete["shipments"][0]["tracking"]["number"]
    failed = stages["com.prodigi.order.status.details.downloadAssets.changed#Error"]
    assert failed["status"]["details"]["downloadAssets"] == "Error" and failed["status"]["issues"]
    # The same keys as a real order's callback body: receivers parse the samples with the same code.
    created = client.post("/v4.0/orders", json=order_payload(), headers=headers)
    assert created.status_code == 200, created.text
    real = created.json()["order"]
    assert set(complete) == set(real) and set(complete["items"][0]) == set(real["items"][0])
    assert set(complete["status"]["details"]) == set(real["status"]["details"])
    assert result.stdout.count("200") >= len(SAMPLE_TYPES) and "All 8 accepted" in result.stderr


def test_send_test_goes_to_the_default_callback_url_and_reports_refusals(cli, receiver):
    cli("merchants", "create", "Hook Shop")
    missing = cli("callbacks", "send-test", "Hook Shop", check=False)
    assert missing.returncode == 2 and "no default callback URL" in missing.stderr
    assert cli("callbacks", "send-test", "Nobody", "--url", receiver.url, check=False).returncode == 2
    assert "not an http(s) URL" in cli("callbacks", "send-test", "Hook Shop", "--url", "ftp://x",
                                       check=False).stderr
    cli("merchants", "settings", "Hook Shop", "--callback-url", receiver.url)
    receiver.status = 500
    failing = cli("callbacks", "send-test", "Hook Shop", check=False, extra_env=PRIVATE_OK)
    assert failing.returncode == 1 and "8 of 8 were not accepted" in failing.stderr
    assert "HTTP 500" in failing.stdout and len(receiver.received) == 8
    # Loopback is refused as it is for real deliveries, and the reason is given.
    refused = cli("callbacks", "send-test", "Hook Shop", check=False)
    assert refused.returncode == 1 and "PRINTWORK_ALLOW_PRIVATE_URLS" in refused.stderr
    assert len(receiver.received) == 8


def test_tail_shows_each_delivery_with_its_attempts_and_answers(cli, receiver, client, headers, order_payload,
                                                                test_db):
    body = order_payload()
    body["callbackUrl"] = receiver.url
    order_id = client.post("/v4.0/orders", json=body, headers=headers).json()["order"]["id"]
    assert client.post(f"/v4.0/orders/{order_id}/actions/cancel", headers=headers).status_code == 200
    pending = cli("callbacks", "tail", "Test Shop", "--once", extra_env=WIDE).stdout
    assert order_id in pending and "stage.changed#Cancelled" in pending and "Pending" in pending
    receiver.status = 503
    deliverer = Deliverer(test_db.db, rules(allow_private_urls=True, delays_sandbox=(3600,) * 14))
    try:
        deliverer.deliver()
        failed_once = cli("callbacks", "tail", "Test Shop", "--once", "--environment", "sandbox", extra_env=WIDE).stdout
        assert "HTTP 503" in failed_once and "next" in failed_once
        assert "Cancelled" not in cli("callbacks", "tail", "Test Shop", "--once", "--environment", "live").stdout
    finally:
        deliverer.close()
    assert cli("callbacks", "tail", "Nobody", "--once", check=False).returncode == 2
    assert cli("callbacks", "tail", "Test Shop", "--environment", "staging", check=False).returncode == 2
    assert json.loads(receiver.received[0][1])["subject"] == order_id
