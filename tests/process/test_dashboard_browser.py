"""The dashboard in a real browser (Playwright driving Debian's Chromium) against a real
`printwork serve` with its workers: what a merchant and an operator do, by mouse and keyboard,
at desktop and phone width, with an accessibility check on every main page.

Screenshots of the main pages go to tests/artifacts/screenshots (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.process.test_e2e import order, serving

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=(
    "Debian's chromium is not installed (/usr/bin/chromium); .ci/run installs it: apt-get install -y chromium"))


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "printwork.cli.main", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def served(tmp_path_factory, image_server):
    """`printwork serve` with its workers on its own embedded database and the demo catalogue;
    merchants Ann's Shop (sandbox and live keys) and Bob's Shop, their users, and an operator."""
    data_dir = tmp_path_factory.mktemp("served")
    database_url = f"sqlite:///{data_dir}/printwork.db"
    env = {**os.environ, "PRINTWORK_DATA_DIR": str(data_dir), "PRINTWORK_DATABASE_URL": database_url}
    cli(env, "db", "upgrade")
    keys = {"sandbox": cli(env, "merchants", "create", "Ann's Shop", "--environment", "sandbox"),
            "live": cli(env, "merchants", "create", "Ann's Shop", "--environment", "live")}
    cli(env, "merchants", "create", "Bob's Shop")
    cli(env, "users", "create", "ann@shop.test", "--merchant", "Ann's Shop", "--password-stdin", stdin=PASSWORD + "\n")
    cli(env, "users", "create", "bob@other.test", "--merchant", "Bob's Shop", "--password-stdin",
        stdin=PASSWORD + "\n")
    cli(env, "users", "create", "olga@printwork.test", "--operator", "--password-stdin", stdin=PASSWORD + "\n")
    server_env = {"PRINTWORK_ALLOW_PRIVATE_URLS": "1", "PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "1.5",
                  "PRINTWORK_SEED_DEMO": "1", "PRINTWORK_DATABASE_URL": database_url}
    with serving(data_dir, server_env, workers=True) as url:
        yield url, keys, image_server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def signed_in(browser, url: str, email: str, **context_options):
    context = browser.new_context(base_url=url, **context_options)
    page = context.new_page()
    page.goto("/dashboard/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/(orders|operator)"))
    return page


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def no_serious_violations(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{page.url}: {serious}"


def place(url: str, key: str, image_url: str, **changes) -> str:
    answer = httpx.post(f"{url}/v4.0/orders", json=order(image_url, **changes), headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    return answer.json()["order"]["id"]


def test_a_merchant_signs_in_by_keyboard_and_creates_and_revokes_a_key(served, browser):
    url, keys, _ = served
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/")
    assert page.url.endswith("/dashboard/sign-in")
    no_serious_violations(page)
    shoot(page, "sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type("ann@shop.test")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/orders")
    assert page.locator("#environment-badge").inner_text() == "SANDBOX"

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("shop backend")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("New API key").input_value()
    assert key.startswith("pw_sandbox_")
    no_serious_violations(page)
    shoot(page, "keys")
    assert httpx.get(f"{url}/v4.0/orders", headers={"X-API-Key": key}).status_code == 200
    page.goto("/dashboard/keys")
    assert key not in page.content()  # shown once
    page.get_by_role("button", name="Revoke shop backend").click()
    page.wait_for_load_state()
    assert "Revoked" in page.locator("tr", has_text="shop backend").inner_text()
    assert httpx.get(f"{url}/v4.0/orders", headers={"X-API-Key": key}).status_code == 401
    context.close()


def test_an_order_moves_on_its_page_without_reloading_and_shows_its_images(served, browser):
    url, keys, images = served
    order_id = place(url, keys["sandbox"], f"{images.url}/photo.jpg", merchantReference="browser-1")
    page = signed_in(browser, url, "ann@shop.test")
    page.get_by_label("Merchant reference").fill("browser-1")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=order_id).click()
    page.wait_for_url(f"**/dashboard/orders/{order_id}")
    page.evaluate("window.__notReloaded = true")
    # (wait_for_function would evaluate a string, which the dashboard's CSP rightly refuses)
    expect(page.locator("#order-stage")).to_have_text("Complete", timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True  # htmx swapped the status in: no reload
    timeline = page.locator(".timeline").inner_text()
    assert "Image downloads: Complete" in timeline and "Stage: Complete" in timeline
    page.reload()
    figures = page.locator(".images img")
    assert figures.count() == 3
    for n in range(3):
        figures.nth(n).scroll_into_view_if_needed()
        expect(figures.nth(n)).to_have_js_property("complete", True)
        assert figures.nth(n).evaluate("img => img.naturalWidth") > 0
    assert "3000 × 2400 px" in page.locator(".images").first.inner_text()
    no_serious_violations(page)
    shoot(page, "order")
    page.get_by_role("link", name="Orders").click()
    no_serious_violations(page)
    shoot(page, "orders")
    page.context.close()


def test_settings_pause_orders_which_are_cancelled_from_their_page(served, browser):
    url, keys, images = served
    page = signed_in(browser, url, "ann@shop.test")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Until released").check()
    page.get_by_role("button", name="Save settings").click()
    assert "Settings saved." in page.locator(".notice").inner_text()
    no_serious_violations(page)
    shoot(page, "settings")
    order_id = place(url, keys["sandbox"], f"{images.url}/photo.jpg")
    page.goto(f"/dashboard/orders/{order_id}")
    assert page.locator("#order-stage").inner_text() == "OnHold"
    page.get_by_role("button", name="Cancel order").click()
    assert "Outcome: Cancelled." in page.locator(".notice").inner_text()
    assert page.locator("#order-stage").inner_text() == "Cancelled"
    stage = httpx.get(f"{url}/v4.0/orders/{order_id}", headers={"X-API-Key": keys["sandbox"]}).json()
    assert stage["order"]["status"]["stage"] == "Cancelled"
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("No pause").check()
    page.get_by_role("button", name="Save settings").click()
    page.context.close()


def test_a_payment_is_authorised_and_an_operator_ships_the_lab_shipment(served, browser):
    url, keys, images = served
    page = signed_in(browser, url, "ann@shop.test")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Each order's payment is authorised").check()
    page.get_by_role("button", name="Save settings").click()
    order_id = place(url, keys["live"], f"{images.url}/photo.jpg")

    def issues():
        return httpx.get(f"{url}/v4.0/orders/{order_id}", headers={"X-API-Key": keys["live"]}).json()["order"][
            "status"]["issues"]

    from tests.process.test_e2e import wait_for
    [issue] = wait_for(issues, lambda found: len(found) == 1, 30)
    page.goto(issue["authorisationDetails"]["authorisationUrl"])
    amount = page.locator("#payment-amount").inner_text()
    assert re.fullmatch(r"\d+\.\d\d [A-Z]{3}", amount)
    no_serious_violations(page)
    shoot(page, "payment")
    page.get_by_role("button", name="Authorise payment").click()
    assert "Payment authorised" in page.locator(".notice").inner_text()
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Invoiced").check()
    page.get_by_role("button", name="Save settings").click()

    def shipments():
        return httpx.get(f"{url}/v4.0/orders/{order_id}", headers={"X-API-Key": keys["live"]}).json()["order"][
            "shipments"]

    [shipment] = wait_for(shipments, lambda found: len(found) == 1, 60)
    operator = signed_in(browser, url, "olga@printwork.test")
    operator.get_by_role("link", name="Lab work").click()
    card = operator.locator(f"#shipment-{shipment['id']}")
    card.get_by_label("Tracking number").fill("RM123456789GB")
    no_serious_violations(operator)
    shoot(operator, "lab-work")
    card.get_by_role("button", name=f"Mark {shipment['id']} shipped").click()
    assert f"{shipment['id']}: shipped." in operator.locator(".notice").inner_text()
    done = wait_for(lambda: httpx.get(f"{url}/v4.0/orders/{order_id}", headers={"X-API-Key": keys["live"]}).json(),
                    lambda body: body["order"]["status"]["stage"] == "Complete", 30)
    assert done["order"]["shipments"][0]["tracking"]["number"] == "RM123456789GB"
    for name, path in (("health", "/dashboard/operator"), ("merchants", "/dashboard/operator/merchants"),
                       ("catalogue", "/dashboard/operator/catalog")):
        operator.goto(path)
        no_serious_violations(operator)
        shoot(operator, f"operator-{name}")
    page.context.close()
    operator.context.close()


def test_an_operator_imports_a_broken_catalogue_and_sees_its_errors(served, browser, tmp_path):
    url, _, _ = served
    broken = tmp_path / "broken.yaml"
    broken.write_text("products:\n  - sku: X\n    description: 5\nlabs: nope\n")
    page = signed_in(browser, url, "olga@printwork.test")
    page.get_by_role("link", name="Catalogue").click()
    revision = page.locator("h1").inner_text()
    page.get_by_label("Catalogue file (.json or .yaml)").set_input_files(str(broken))
    page.get_by_role("button", name="Import").click()
    problems = page.locator("#import-problems")
    assert "Nothing was changed" in problems.inner_text() and problems.locator("li").count() >= 2
    assert page.locator("h1").inner_text() == revision
    shoot(page, "catalogue-errors")
    page.context.close()


def test_a_second_merchant_is_refused_everywhere(served, browser):
    url, keys, images = served
    order_id = place(url, keys["sandbox"], f"{images.url}/photo.jpg")
    page = signed_in(browser, url, "bob@other.test")
    assert order_id not in page.content()
    for path in (f"/dashboard/orders/{order_id}", f"/dashboard/orders/{order_id}/live", f"/payments/{order_id}",
                 "/dashboard/operator", "/dashboard/operator/labs"):
        answer = page.goto(path)
        assert answer.status in (403, 404), path
    page.goto(f"/dashboard/orders?order={order_id}")
    assert "No orders match." in page.content()
    page.context.close()


def test_pages_are_usable_at_phone_width(served, browser):
    url, _, _ = served
    page = signed_in(browser, url, "ann@shop.test", viewport={"width": 375, "height": 740})
    for path in ("/dashboard/orders", "/dashboard/keys", "/dashboard/settings"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        too_wide = page.evaluate(
            "[...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
            ".filter(e => !e.closest('table') || getComputedStyle(e).position === 'absolute')"
            ".map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + e.textContent.slice(0, 40))")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at phone width: {too_wide}"
    shoot(page, "orders-phone")
    page.context.close()
