"""The dashboard through HTTP: signing in and its guards, keys, settings, orders, payments,
operators' pages, and a second merchant refused everywhere."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from printwork.core.merchants.models import ApiKey, Merchant
from printwork.core.orders.repository import assets_t
from tests.dashboard import PASSWORD, csrf_of, sign_in
from tests.conftest import EXAMPLE_ORDER


def place(client, key: str, **changes) -> str:
    body = copy.deepcopy(EXAMPLE_ORDER)
    body.update(changes)
    response = client.post("/v4.0/orders", json=body, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return response.json()["order"]["id"]


# --- signing in ----------------------------------------------------------------------------

def test_the_root_leads_to_a_sign_in_page_with_labelled_fields(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    answer = client.get("/dashboard/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/sign-in"
    page = client.get("/dashboard/sign-in")
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text and '<label for="password">Password</label>' in page.text
    assert '<button type="submit">Sign in</button>' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"


def test_signing_in_gives_a_http_only_lax_cookie_secure_behind_https(client, make_user):
    make_user("ann@shop.test", merchant="Test Shop")
    answer = sign_in(client, "ANN@shop.test ")  # emails are matched as written in any case
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/"
    cookie = answer.headers["set-cookie"]
    assert "printwork_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert client.get("/dashboard/", follow_redirects=False).headers["location"] == "/dashboard/orders"
    page = client.get("/dashboard/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["set-cookie"]
    client.cookies.set("printwork_sign_in_csrf", csrf_of(page.text))  # as the browser on https would send it
    secure = client.post("/dashboard/sign-in", headers={"X-Forwarded-Proto": "https"}, follow_redirects=False,
                         data={"csrf_token": csrf_of(page.text), "email": "ann@shop.test", "password": PASSWORD})
    assert "Secure" in secure.headers["set-cookie"]


def test_wrong_passwords_are_refused_and_lock_the_account(client, make_user):
    make_user("ann@shop.test", merchant="Test Shop")
    wrong = sign_in(client, "ann@shop.test", "not the password")
    assert wrong.status_code == 400 and "Wrong email or password." in wrong.text
    unknown = sign_in(client, "nobody@shop.test")
    assert unknown.status_code == 400 and "Wrong email or password." in unknown.text
    for _ in range(4):
        sign_in(client, "ann@shop.test", "not the password")
    locked = sign_in(client, "ann@shop.test")  # the right password, but locked now
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert "printwork_session" not in locked.headers.get("set-cookie", "")


def test_one_address_is_throttled_across_accounts(client, make_user):
    for n in range(10):
        sign_in(client, f"user{n}@shop.test", "guess")
    throttled = sign_in(client, "another@shop.test", "guess")
    assert throttled.status_code == 429 and "Too many sign-in attempts" in throttled.text


def test_the_sign_in_form_needs_its_csrf_token(client, make_user):
    make_user("ann@shop.test", merchant="Test Shop")
    client.get("/dashboard/sign-in")
    answer = client.post("/dashboard/sign-in", data={"csrf_token": "forged", "email": "ann@shop.test",
                                                     "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403 and "printwork_session" not in answer.headers.get("set-cookie", "")


def test_every_change_needs_the_sessions_csrf_token(merchant_client):
    for path, data in (("/dashboard/keys", {"name": "x"}), ("/dashboard/settings", {"pause": "none"}),
                       ("/dashboard/sign-out", {}), ("/dashboard/environment", {"environment": "live"})):
        assert merchant_client.post(path, data=data, follow_redirects=False).status_code == 403, path
        assert merchant_client.post(path, data={**data, "csrf_token": "forged"},
                                    follow_redirects=False).status_code == 403, path
    # htmx requests carry it in a header instead
    answer = merchant_client.post("/dashboard/environment", data={"environment": "live"},
                                  headers={"X-CSRF-Token": merchant_client.csrf}, follow_redirects=False)
    assert answer.status_code == 303


def test_signed_out_pages_redirect_and_htmx_polls_are_told_to_sign_in(client):
    assert client.get("/dashboard/orders", follow_redirects=False).headers["location"] == "/dashboard/sign-in"
    poll = client.get("/dashboard/orders/ord_1/live", headers={"HX-Request": "true"})
    assert poll.status_code == 401 and poll.headers["hx-redirect"] == "/dashboard/sign-in"


def test_signing_out_ends_the_session(merchant_client):
    cookie = merchant_client.cookies.get("printwork_session")
    assert merchant_client.post("/dashboard/sign-out", data={"csrf_token": merchant_client.csrf},
                                follow_redirects=False).status_code == 303
    merchant_client.cookies.set("printwork_session", cookie)
    assert merchant_client.get("/dashboard/orders", follow_redirects=False).status_code == 303


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(merchant_client, test_db):
    from printwork.core.users.service import disable_user

    with test_db.db.transaction() as session:
        disable_user(session, "ann@shop.test")
    assert merchant_client.get("/dashboard/orders", follow_redirects=False).status_code == 303
    assert sign_in(merchant_client, "ann@shop.test").status_code == 400


# --- keys and settings ---------------------------------------------------------------------

def test_a_key_is_shown_once_works_and_stops_working_when_revoked(merchant_client):
    made = merchant_client.post("/dashboard/keys", data={"name": "shop backend", "csrf_token": merchant_client.csrf})
    assert made.status_code == 200
    key = re.search(r'id="new-key-value" readonly value="([^"]+)"', made.text).group(1)
    assert key.startswith("pw_sandbox_")
    assert merchant_client.get("/v4.0/orders", headers={"X-API-Key": key}).status_code == 200
    listing = merchant_client.get("/dashboard/keys").text
    assert key not in listing and "shop backend" in listing and key[:17] in listing
    key_id = re.search(r'name="key_id" value="(\d+)"', listing).group(1)  # the newest key is listed first
    assert merchant_client.post("/dashboard/keys/revoke", data={"key_id": key_id, "csrf_token": merchant_client.csrf},
                                follow_redirects=False).status_code == 303
    assert merchant_client.get("/v4.0/orders", headers={"X-API-Key": key}).status_code == 401
    assert "Revoked" in merchant_client.get("/dashboard/keys").text
    assert merchant_client.post("/dashboard/keys", data={"name": " ", "csrf_token": merchant_client.csrf}
                                ).status_code == 400


def test_a_keys_last_use_is_shown(merchant_client):
    made = merchant_client.post("/dashboard/keys", data={"name": "used", "csrf_token": merchant_client.csrf})
    key = re.search(r'id="new-key-value" readonly value="([^"]+)"', made.text).group(1)
    assert "never" in merchant_client.get("/dashboard/keys").text.split("used</td>")[1].split("</tr>")[0]
    merchant_client.get("/v4.0/orders", headers={"X-API-Key": key})
    row = merchant_client.get("/dashboard/keys").text.split("used</td>")[1].split("</tr>")[0]
    assert "never" not in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)


def test_settings_are_saved_checked_and_the_secret_rotates_with_an_overlap(merchant_client, test_db):
    saved = merchant_client.post("/dashboard/settings", follow_redirects=False, data={
        "csrf_token": merchant_client.csrf, "callback_url": "https://shop.test/hooks", "pause": "hours",
        "pause_hours": "2", "currency": "eur", "payment": "per_order"})
    assert saved.status_code == 303
    with test_db.db.read() as session:
        merchant = session.execute(select(Merchant).where(Merchant.name == "Test Shop")).scalar_one()
        assert (merchant.default_callback_url, merchant.pause_seconds, merchant.billing_currency,
                merchant.pays_per_order) == ("https://shop.test/hooks", 7200, "EUR", True)
    for bad in ({"callback_url": "ftp://x"}, {"currency": "XXQ"}, {"pause": "hours", "pause_hours": "soon"}):
        answer = merchant_client.post("/dashboard/settings", data={"csrf_token": merchant_client.csrf, "pause": "none",
                                                                   **bad})
        assert answer.status_code == 400 and 'role="alert"' in answer.text, bad
    before = re.search(r'id="signing-secret">([^<]+)<', merchant_client.get("/dashboard/settings").text).group(1)
    rotated = merchant_client.post("/dashboard/settings/rotate-secret", data={"csrf_token": merchant_client.csrf})
    after = re.search(r'id="signing-secret">([^<]+)<', rotated.text).group(1)
    assert after != before and after.startswith("whsec_") and "previous secret also signs" in rotated.text


def test_both_secrets_sign_during_the_overlap():
    from datetime import timedelta

    from standardwebhooks.webhooks import Webhook

    from printwork.core.callbacks.delivery import signing_secrets
    from printwork.core.merchants.service import new_signing_secret, utcnow

    new, old = new_signing_secret(), new_signing_secret()
    now = utcnow()
    assert signing_secrets(new, old, now + timedelta(hours=1), now) == (new, old)
    assert signing_secrets(new, old, now - timedelta(seconds=1), now) == (new,)
    from datetime import UTC, datetime
    at = datetime.now(tz=UTC)
    header = " ".join(Webhook(s).sign("evt_1", at, "{}") for s in (new, old))
    for secret in (new, old):  # a receiver that knows either secret accepts
        Webhook(secret).verify("{}", {"webhook-id": "evt_1", "webhook-timestamp": str(int(at.timestamp())),
                                      "webhook-signature": header})


# --- orders --------------------------------------------------------------------------------

def test_orders_are_searched_and_filtered(merchant_client, make_key):
    key = make_key("Test Shop", "sandbox")
    first = place(merchant_client, key, merchantReference="REF-apple")
    second = place(merchant_client, key, merchantReference="REF-banana")
    listing = merchant_client.get("/dashboard/orders").text
    assert first in listing and second in listing and listing.index(second) < listing.index(first)
    by_reference = merchant_client.get("/dashboard/orders?reference=REF-b").text
    assert second in by_reference and first not in by_reference
    by_id = merchant_client.get(f"/dashboard/orders?order={first}").text
    assert first in by_id and second not in by_id
    assert "No orders match." in merchant_client.get("/dashboard/orders?status=Complete").text
    assert first in merchant_client.get("/dashboard/orders?status=InProgress&face=prodigi_v4").text
    assert "No orders match." in merchant_client.get("/dashboard/orders?face=pwinty_v3").text
    assert "No orders match." in merchant_client.get("/dashboard/orders?from=2999-01-01").text
    bad = merchant_client.get("/dashboard/orders?from=yesterday&order=xyz")
    assert bad.status_code == 200 and "from: MustBeADate" in bad.text and "order: MustBeAnOrderId" in bad.text
    before_year_one = merchant_client.get("/dashboard/orders", params={"to": "0001-01-01T00:00+00:21"})
    assert before_year_one.status_code == 200 and "to: MustBeADate" in before_year_one.text
    # An offset is honoured: the orders, made just now, are all before a minute from now in UTC+05:00.
    soon = (datetime.now(UTC) + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=5))).isoformat()
    assert "No orders match." not in merchant_client.get("/dashboard/orders", params={"to": soon}).text
    fragment = merchant_client.get("/dashboard/orders?reference=REF-a",
                                   headers={"HX-Request": "true", "HX-Target": "orders-table"}).text
    assert fragment.startswith('<section id="orders-table"') and "<html" not in fragment


def test_the_orders_list_pages(merchant_client, make_key, test_db):
    key = make_key("Test Shop", "sandbox")
    ids = [place(merchant_client, key, merchantReference=f"R{n}") for n in range(27)]
    first_page = merchant_client.get("/dashboard/orders").text
    assert ids[-1] in first_page and "Next page" in first_page and "Previous page" not in first_page
    second_page = merchant_client.get("/dashboard/orders?page=2").text
    assert ids[0] in second_page and ids[-1] not in second_page and "Next page" not in second_page


def test_the_sandbox_live_switch_shows_each_environments_orders(merchant_client, make_key):
    sandbox = place(merchant_client, make_key("Test Shop", "sandbox"))
    live = place(merchant_client, make_key("Test Shop", "live"))
    page = merchant_client.get("/dashboard/orders").text
    assert 'id="environment-badge">SANDBOX<' in page and sandbox in page and live not in page
    merchant_client.post("/dashboard/environment", data={"environment": "live", "csrf_token": merchant_client.csrf,
                                                         "next": "/dashboard/orders"})
    page = merchant_client.get("/dashboard/orders").text
    assert 'id="environment-badge">LIVE<' in page and live in page and sandbox not in page
    assert merchant_client.get(f"/dashboard/orders/{sandbox}").status_code == 404


def test_an_order_is_cancelled_from_its_page_by_the_apis_rules(merchant_client, make_key):
    key = make_key("Test Shop", "sandbox")
    order_id = place(merchant_client, key)
    page = merchant_client.get(f"/dashboard/orders/{order_id}")
    assert page.status_code == 200 and "Order received" in page.text and 'hx-trigger="every 2s"' in page.text
    done = merchant_client.post(f"/dashboard/orders/{order_id}/cancel", data={"csrf_token": merchant_client.csrf})
    assert done.status_code == 200 and "Outcome: Cancelled." in done.text
    assert merchant_client.get(f"/v4.0/orders/{order_id}", headers={"X-API-Key": key}).json()["order"]["status"][
        "stage"] == "Cancelled"
    again = merchant_client.get(f"/dashboard/orders/{order_id}").text
    assert "hx-trigger" not in again.split('id="order-live"')[1].split(">")[0]  # a final order stops polling
    assert "Stage: Cancelled" in again
    assert "disabled" in again.split("Cancel order")[0].rsplit("<button", 1)[1]


def test_metadata_and_method_changes_follow_the_apis_rules(merchant_client, make_key):
    key = make_key("Test Shop", "sandbox")
    order_id = place(merchant_client, key)
    bad = merchant_client.post(f"/dashboard/orders/{order_id}/metadata",
                               data={"csrf_token": merchant_client.csrf, "metadata": "[1, 2"})
    assert "Not changed: metadata MustBeJson" in bad.text
    good = merchant_client.post(f"/dashboard/orders/{order_id}/metadata",
                                data={"csrf_token": merchant_client.csrf, "metadata": '{"a": 1}'})
    assert "Outcome: Updated." in good.text
    api = merchant_client.get(f"/v4.0/orders/{order_id}", headers={"X-API-Key": key}).json()["order"]
    assert api["metadata"] == {"a": 1}
    method = merchant_client.post(f"/dashboard/orders/{order_id}/shipping-method",
                                  data={"csrf_token": merchant_client.csrf, "method": "Warp"})
    assert "Not changed: method MustBeOneOf" in method.text
    recipient = merchant_client.post(f"/dashboard/orders/{order_id}/recipient",
                                     data={"csrf_token": merchant_client.csrf, "name": "X", "line1": "1 Road",
                                           "postal_code": "1", "town": "T", "country_code": ""})
    assert "Not changed: recipient.country_code Required" in recipient.text


def test_the_payment_page_asks_to_sign_in_first(client):
    answer = client.get("/payments/ord_5", follow_redirects=False)
    assert answer.headers["location"] == "/dashboard/sign-in?next=%2Fpayments%2Ford_5"
    assert 'name="next" value="/payments/ord_5"' in client.get(answer.headers["location"]).text


# --- two merchants, and operators ----------------------------------------------------------

def test_another_merchant_is_refused_everywhere(client, make_user, make_key, test_db):
    make_user("ann@shop.test", merchant="Test Shop")
    make_user("bob@other.test", merchant="Other Shop")
    key = make_key("Test Shop", "sandbox")
    order_id = place(client, key, callbackUrl="https://shop.test/hooks")
    with test_db.db.read() as session:
        asset_id = session.execute(select(assets_t.c.id)).scalar()
        ann_key_ids = session.execute(select(ApiKey.id).join(Merchant, Merchant.id == ApiKey.merchant_id)
                                      .where(Merchant.name == "Test Shop")).scalars().all()
    sign_in(client, "bob@other.test")
    csrf = csrf_of(client.get("/dashboard/keys").text)
    for path in (f"/dashboard/orders/{order_id}", f"/dashboard/orders/{order_id}/live",
                 f"/dashboard/orders/{order_id}/images/{asset_id}/original.jpg",
                 f"/dashboard/orders/{order_id}/images/{asset_id}/thumbnail.jpg", f"/payments/{order_id}"):
        assert client.get(path).status_code == 404, path
    for action in ("cancel", "shipping-method", "recipient", "metadata"):
        answer = client.post(f"/dashboard/orders/{order_id}/{action}", data={
            "csrf_token": csrf, "method": "Budget", "metadata": "{}", "name": "x", "line1": "x", "postal_code": "x",
            "town": "x", "country_code": "GB"})
        assert answer.status_code == 404, action
    assert client.post(f"/payments/{order_id}", data={"csrf_token": csrf}).status_code == 404
    for key_id in ann_key_ids:
        assert client.post("/dashboard/keys/revoke", data={"key_id": str(key_id), "csrf_token": csrf}
                           ).status_code == 404
    assert "No orders match." in client.get(f"/dashboard/orders?order={order_id}").text
    assert merchant_order_stage(client, key, order_id) == "InProgress"


def merchant_order_stage(client, key: str, order_id: str) -> str:
    return client.get(f"/v4.0/orders/{order_id}", headers={"X-API-Key": key}).json()["order"]["status"]["stage"]


OPERATOR_PAGES = ("/dashboard/operator", "/dashboard/operator/merchants", "/dashboard/operator/catalog",
                  "/dashboard/operator/labs")


def test_operator_pages_are_for_operators_only(merchant_client):
    for path in OPERATOR_PAGES:
        assert merchant_client.get(path).status_code == 403, path


def test_an_operator_sees_health_merchants_catalogue_and_labs(client, make_user):
    make_user("olga@printwork.test", operator=True)
    make_user("ann@shop.test", merchant="Test Shop")
    sign_in(client, "olga@printwork.test")
    for path in OPERATOR_PAGES:
        assert client.get(path).status_code == 200, path
    assert "Test Shop" in client.get("/dashboard/operator/merchants").text
    assert "GLOBAL-CFPM-16X20" in client.get("/dashboard/operator/catalog").text
    health = client.get("/dashboard/operator").text
    assert 'id="due-now"' in health and "<svg" in health and 'role="img"' in health
    assert client.get("/dashboard/orders").status_code == 403  # an operator has no merchant's orders


def test_an_operator_invites_a_user_who_can_sign_in(client, make_user):
    make_user("olga@printwork.test", operator=True)
    make_user("ann@shop.test", merchant="Test Shop")
    sign_in(client, "olga@printwork.test")
    csrf = csrf_of(client.get("/dashboard/operator/merchants").text)
    made = client.post("/dashboard/operator/users", data={"csrf_token": csrf, "email": "carl@shop.test",
                                                          "role": "merchant", "merchant": "Test Shop"})
    password = re.search(r'id="invited-password">([^<]+)<', made.text).group(1)
    again = client.post("/dashboard/operator/users", data={"csrf_token": csrf, "email": "carl@shop.test",
                                                           "role": "merchant", "merchant": "Test Shop"})
    assert again.status_code == 400 and "already exists" in again.text
    client.cookies.clear()
    assert sign_in(client, "carl@shop.test", password).status_code == 303


def test_a_broken_catalogue_shows_every_problem_and_changes_nothing(client, make_user, test_db):
    from printwork.core.catalog.service import catalog_revision

    make_user("olga@printwork.test", operator=True)
    sign_in(client, "olga@printwork.test")
    csrf = csrf_of(client.get("/dashboard/operator/catalog").text)
    with test_db.db.read() as session:
        before = catalog_revision(session)
    broken = b"products:\n  - sku: X\n    description: 5\nlabs: nope\n"
    answer = client.post("/dashboard/operator/catalog", data={"csrf_token": csrf},
                         files={"catalog": ("broken.yaml", broken, "application/yaml")})
    assert answer.status_code == 400 and 'id="import-problems"' in answer.text and "Nothing was changed" in answer.text
    assert answer.text.count("<li>") >= 2 and "labs" in answer.text
    not_yaml = client.post("/dashboard/operator/catalog", data={"csrf_token": csrf},
                           files={"catalog": ("x.json", b"{not json", "application/json")})
    assert not_yaml.status_code == 400 and "not valid JSON/YAML" in not_yaml.text
    forged = client.post("/dashboard/operator/catalog", data={"csrf_token": "x"},
                         files={"catalog": ("x.json", b"{}", "application/json")})
    assert forged.status_code == 403
    with test_db.db.read() as session:
        assert catalog_revision(session) == before
