"""PRINTWORK_RATE_LIMIT: past the limit a key gets 429 with Retry-After in its face's shape; other keys go on."""

from __future__ import annotations

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import ValidationError

from printwork.api.app import create_app
from printwork.config import Settings
from printwork.core.merchants.credentials import merchant_credentials
from tests.servers import REDIS_URL, free_port, running_servers


@pytest.fixture
def limited(settings, test_db):
    app = create_app(settings.model_copy(update={"rate_limit": "3/minute"}), test_db.db)
    with TestClient(app) as client:
        yield client


def test_a_key_past_its_limit_gets_429_with_retry_after_and_other_keys_go_on(limited, make_key):
    first, second = {"X-API-Key": make_key()}, {"X-API-Key": make_key("Other Shop")}
    assert [limited.get("/v4.0/orders", headers=first).status_code for _ in range(3)] == [200] * 3
    refused = limited.get("/v4.0/orders", headers=first)
    assert refused.status_code == 429
    body = refused.json()
    assert body["outcome"] == "TooManyRequests" and body["traceParent"] == refused.headers["traceparent"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Every route of the key is limited, the platform's too; another key is not.
    assert limited.post("/v4.0/quotes", json={}, headers=first).status_code == 429
    assert limited.get("/v4.0/orders", headers=second).status_code == 200
    # A key that does not exist is still 401, not counted against anyone.
    assert limited.get("/v4.0/orders", headers={"X-API-Key": "pw_sandbox_nope"}).status_code == 401


def test_pwinty_v3_answers_429_in_its_envelope(limited, make_key, test_db):
    key = make_key()
    with test_db.db.transaction() as session:
        merchant_id = merchant_credentials(session, "Test Shop", "sandbox").merchant_id
    headers = {"X-Pwinty-MerchantId": str(merchant_id), "X-Pwinty-REST-API-Key": key}
    assert [limited.get("/v3.0/countries", headers=headers).status_code for _ in range(3)] == [200] * 3
    refused = limited.get("/v3.0/countries", headers=headers)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    body = refused.json()
    assert body["data"] is None and body["statusCode"] == 429 and "Too many requests" in body["statusTxt"]


def test_no_limit_by_default(client, headers):
    assert {client.get("/v4.0/orders", headers=headers).status_code for _ in range(30)} == {200}


def test_an_unreadable_limit_stops_the_process_at_start(tmp_path):
    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(data_dir=tmp_path, rate_limit="lots")


def test_an_unreadable_wrong_key_limit_stops_the_process_at_start(tmp_path):
    with pytest.raises(ValidationError, match="is not a rate limit"):
        Settings(data_dir=tmp_path, rate_limit="50/second", auth_failure_limit="twenty a minute")


def test_two_processes_share_one_limit_through_redis(test_db, tmp_path, make_key):
    if test_db.kind != "postgresql":
        pytest.skip("the shared limit is a Redis deployment's: PostgreSQL with Redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} cannot be reached: {exc}")
    key = {"X-API-Key": make_key()}
    other = {"X-API-Key": make_key("Other Shop")}
    with running_servers(test_db.url, tmp_path, count=2, PRINTWORK_QUEUE_URL=REDIS_URL,
                         PRINTWORK_RATE_LIMIT="4/minute") as (a, b):
        answers = [httpx.get(f"{url}/v4.0/orders", headers=key).status_code for url in (a, b, a, b, a, b)]
        assert answers == [200, 200, 200, 200, 429, 429]
        assert httpx.get(f"{b}/v4.0/orders", headers=other).status_code == 200


def test_an_unreachable_counter_store_lets_requests_through(settings, test_db, make_key):
    app = create_app(settings.model_copy(update={"rate_limit": "1/minute",
                                                 "queue_url": f"redis://127.0.0.1:{free_port()}/0"}), test_db.db)
    headers = {"X-API-Key": make_key()}
    with TestClient(app) as client:
        assert [client.get("/v4.0/orders", headers=headers).status_code for _ in range(3)] == [200] * 3


def test_an_address_guessing_keys_is_refused_for_a_while_whatever_key_it_sends(settings, test_db, make_key):
    app = create_app(settings.model_copy(update={"rate_limit": "100/minute", "auth_failure_limit": "3/minute"}),
                     test_db.db)
    good = {"X-API-Key": make_key()}
    with TestClient(app, client=("203.0.113.7", 4000)) as guesser, \
            TestClient(app, client=("198.51.100.2", 4000)) as shop:
        assert guesser.get("/v4.0/orders").status_code == 401  # no key at all: refused, not counted
        guesses = [guesser.get("/v4.0/orders", headers={"X-API-Key": f"pw_sandbox_guess{n}"}) for n in range(3)]
        assert [g.status_code for g in guesses] == [401] * 3
        refused = guesser.get("/v4.0/orders", headers={"X-API-Key": "pw_sandbox_guess4"})
        assert refused.status_code == 429 and refused.json()["outcome"] == "TooManyRequests"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # A right guess now is refused the same way, so the guesser learns nothing from it.
        assert guesser.get("/v4.0/orders", headers=good).status_code == 429
        # Pwinty v3.0 is guarded the same way, in its envelope.
        v3 = guesser.get("/v3.0/countries", headers={"X-Pwinty-MerchantId": "1", "X-Pwinty-REST-API-Key": "x"})
        assert v3.status_code == 429 and v3.json()["statusCode"] == 429
        # Another address with the same key is served.
        assert shop.get("/v4.0/orders", headers=good).status_code == 200


def test_failed_keys_are_not_limited_when_rate_limits_are_off(client):
    answers = [client.get("/v4.0/orders", headers={"X-API-Key": f"pw_sandbox_nope{n}"}) for n in range(30)]
    assert {a.status_code for a in answers} == {401}
