"""The `printwork` command as an operator runs it, in a subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.factories import tiny_catalog


@pytest.fixture
def cli(test_db, tmp_path):
    env = dict(os.environ, PRINTWORK_DATABASE_URL=test_db.url, PRINTWORK_DATA_DIR=str(tmp_path))

    def run(*args: str, stdin: str | None = None, check: bool = True,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "printwork.cli.main", *args],
            env={**env, **(extra_env or {})}, capture_output=True, text=True, input=stdin, timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"printwork {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    return run


def test_merchants_create_prints_the_key_last_and_it_works(cli, client):
    result = cli("merchants", "create", "Acme Prints", "--environment", "live")
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("pw_live_")
    assert client.get("/v4.0/orders", headers={"X-API-Key": key}).status_code == 200
    # Only the hash is stored.
    assert key not in cli("merchants", "list").stdout


def test_merchants_create_adds_a_key_to_an_existing_merchant(cli):
    cli("merchants", "create", "Acme Prints")
    cli("merchants", "create", "Acme Prints", "--environment", "live")
    listing = cli("merchants", "list").stdout
    assert listing.count("Acme Prints") == 1
    assert "sandbox" in listing and "live" in listing


def test_merchants_create_refuses_a_bad_environment(cli):
    result = cli("merchants", "create", "Acme", "--environment", "staging", check=False)
    assert result.returncode != 0 and "environment must be one of" in result.stderr


def test_revoke_key_by_key_and_by_prefix(cli, client):
    key = cli("merchants", "create", "Revoker").stdout.strip().splitlines()[-1]
    cli("merchants", "revoke-key", key)
    assert client.get("/v4.0/orders", headers={"X-API-Key": key}).status_code == 401
    assert "revoked" in cli("merchants", "list").stdout

    second = cli("merchants", "create", "Revoker").stdout.strip().splitlines()[-1]
    prefix = second[: len("pw_sandbox_") + 6]
    cli("merchants", "revoke-key", prefix)
    assert client.get("/v4.0/orders", headers={"X-API-Key": second}).status_code == 401
    unknown = cli("merchants", "revoke-key", "pw_sandbox_nope", check=False)
    assert unknown.returncode != 0 and "no active key" in unknown.stderr


def test_catalog_export_then_import_round_trips(cli, tmp_path, test_db):
    exported = cli("catalog", "export").stdout
    document = yaml.safe_load(exported)
    assert len(document["products"]) >= 30
    path = tmp_path / "catalogue.yaml"
    path.write_text(exported)
    result = cli("catalog", "import", str(path))
    assert "Imported 37 products and 6 labs" in result.stderr
    assert yaml.safe_load(cli("catalog", "export").stdout) == document


def test_catalog_import_json_changes_what_orders_may_use(cli, tmp_path, client, headers, use_catalog):
    from tests.factories import tiny_order

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_catalog()))
    cli("catalog", "import", str(path))
    assert client.post("/v4.0/orders", json=tiny_order(), headers=headers).status_code == 200


def test_an_invalid_catalogue_is_refused_whole_with_every_problem_named(cli, tmp_path, client, headers, order_payload):
    broken = tiny_catalog()
    broken["products"][0]["variants"][0]["printAreaSizes"] = {}
    broken["labs"][0]["currency"] = "XYZ"
    broken["labs"][0]["products"]["NO-SUCH-SKU"] = "1.00"
    broken["labs"][0]["shipping"][0]["destination"] = "Narnia"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = cli("catalog", "import", str(path), check=False)
    assert result.returncode == 1
    for expected in ("printAreaSizes: no size for print area(s) ['default']", "'XYZ' is not an ISO 4217 currency",
                     "products.NO-SUCH-SKU: no such product", "'Narnia' is neither a country code"):
        assert expected in result.stderr, result.stderr
    # Nothing changed: the demo catalogue still takes orders.
    assert client.post("/v4.0/orders", json=order_payload(), headers=headers).status_code == 200


@pytest.mark.parametrize("content, message", [("{not json", "not valid JSON/YAML"), ("- just\n- a list\n", "(document)")])
def test_catalog_import_reports_unreadable_files(cli, tmp_path, content, message):
    path = tmp_path / ("bad.json" if content.startswith("{") else "bad.yaml")
    path.write_text(content)
    result = cli("catalog", "import", str(path), check=False)
    assert result.returncode == 1 and message in result.stderr


def test_catalog_import_of_a_missing_file(cli, tmp_path):
    result = cli("catalog", "import", str(tmp_path / "nope.yaml"), check=False)
    assert result.returncode == 1 and "No such file" in result.stderr


def test_a_command_on_a_fresh_data_directory_migrates_the_embedded_database_first(tmp_path):
    """`make run` needs no `db upgrade`; neither does the first command in a second terminal."""
    env = {k: v for k, v in os.environ.items() if k != "PRINTWORK_DATABASE_URL"}
    env["PRINTWORK_DATA_DIR"] = str(tmp_path / "var")
    result = subprocess.run([sys.executable, "-m", "printwork.cli.main", "merchants", "create", "shop",
                             "--environment", "sandbox"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    from starlette.testclient import TestClient

    from printwork.api.app import create_app
    from printwork.config import Settings
    from printwork.db import Database

    settings = Settings(data_dir=tmp_path / "var")
    database = Database(settings.resolved_database_url)
    with TestClient(create_app(settings, database)) as client:
        assert client.get("/v4.0/orders", headers={"X-API-Key": key}).json()["outcome"] == "Ok"
    database.dispose()


@pytest.mark.postgres
def test_a_command_on_a_database_server_behind_says_so_and_db_upgrade_fixes_it(tmp_path):
    import uuid

    import psycopg

    from tests.conftest import POSTGRES_URL, _postgres_unreachable_reason

    reason = _postgres_unreachable_reason()
    if reason:
        pytest.skip(reason)
    name = f"printwork_test_{uuid.uuid4().hex[:10]}_empty"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = dict(os.environ, PRINTWORK_DATABASE_URL=POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}",
                   PRINTWORK_DATA_DIR=str(tmp_path))

        def printwork(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "printwork.cli.main", *args],
                                  env=env, capture_output=True, text=True, timeout=120)

        refused = printwork("merchants", "list")
        assert refused.returncode == 2 and "printwork db upgrade" in refused.stderr
        assert printwork("db", "upgrade").returncode == 0
        assert printwork("merchants", "list").returncode == 0
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_merchants_create_refuses_a_bad_currency(cli):
    result = cli("merchants", "create", "Acme", "--currency", "XYZ", check=False)
    assert result.returncode != 0 and "'XYZ' is not an ISO 4217 currency" in result.stderr


def test_merchant_settings_lab_keys_and_order_commands(cli, client, test_db):
    key = cli("merchants", "create", "Held Shop").stdout.strip().splitlines()[-1]
    assert "pause window 90 minute(s); pays per order" in cli(
        "merchants", "settings", "Held Shop", "--pause-minutes", "90", "--pays-per-order").stdout
    assert cli("merchants", "settings", "Held Shop", "--pause-minutes", "0", check=False).returncode == 2
    assert cli("merchants", "settings", "Nobody", "--no-pause", check=False).returncode == 1
    cli("merchants", "settings", "Held Shop", "--pause-indefinite")
    body = {"shippingMethod": "Budget", "recipient": {"name": "A", "address": {
        "line1": "1 St", "postalOrZipCode": "AB1", "countryCode": "GB", "townOrCity": "Town"}},
        "items": [{"sku": "GLOBAL-PHO-4X6", "copies": 1,
                   "assets": [{"printArea": "default", "url": "https://example.com/a.jpg"}]}]}
    created = client.post("/v4.0/orders", json=body, headers={"X-API-Key": key}).json()
    assert created["outcome"] == "OnHold"
    order_id = created["order"]["id"]

    # Out of the pause window, into payment authorisation, then into fulfilment.
    cli("orders", "release", order_id)
    order = client.get(f"/v4.0/orders/{order_id}", headers={"X-API-Key": key}).json()["order"]
    assert [i["errorCode"] for i in order["status"]["issues"]] == ["RequiresPaymentAuthorisation"]
    assert cli("orders", "release", order_id, check=False).returncode == 1
    cli("orders", "authorise-payment", order_id)
    order = client.get(f"/v4.0/orders/{order_id}", headers={"X-API-Key": key}).json()["order"]
    assert order["status"]["issues"] == [] and order["status"]["stage"] == "InProgress"
    assert cli("orders", "authorise-payment", order_id, check=False).returncode == 1
    assert cli("orders", "authorise-payment", "ord_999999", check=False).returncode == 1
    assert cli("orders", "authorise-payment", "nonsense", check=False).returncode == 2

    lab_key = cli("labs", "create-key", "uk6").stdout.strip().splitlines()[-1]
    assert lab_key.startswith("pw_lab_")
    assert client.get("/lab/v1/shipments", headers={"X-API-Key": lab_key}).status_code == 200
    assert cli("labs", "create-key", "nolab", check=False).returncode == 1
    cli("labs", "revoke-key", lab_key[:14])
    assert client.get("/lab/v1/shipments", headers={"X-API-Key": lab_key}).status_code == 401


def test_callback_url_and_signing_secret_from_the_command_line(cli, client):
    key = cli("merchants", "create", "Hook Shop").stdout.strip().splitlines()[-1]
    assert cli("merchants", "settings", "Hook Shop", "--callback-url", "ftp://nope", check=False).returncode == 2
    assert "callbacks to https://shop.example/hooks" in cli(
        "merchants", "settings", "Hook Shop", "--callback-url", "https://shop.example/hooks").stdout
    secret = cli("merchants", "callback-secret", "Hook Shop").stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    assert cli("merchants", "callback-secret", "Hook Shop").stdout.strip().splitlines()[-1] == secret
    settings = client.get("/platform/v1/callbacks/settings", headers={"X-API-Key": key}).json()
    assert settings == {**settings, "defaultCallbackUrl": "https://shop.example/hooks", "signingSecret": secret}
    rotated = cli("merchants", "callback-secret", "Hook Shop", "--rotate").stdout.strip().splitlines()[-1]
    assert rotated.startswith("whsec_") and rotated != secret
    assert cli("merchants", "callback-secret", "Nobody", check=False).returncode == 1


def test_serve_refuses_fewer_than_one_process(cli):
    result = cli("serve", "--processes", "0", check=False)
    assert result.returncode == 2
    assert "--processes" in result.stderr and "greater than or equal to 1" in result.stderr


def test_merchant_credentials_are_made_once_and_the_secret_shown_only_when_made(cli, client):
    key = cli("merchants", "create", "Old Shop").stdout.strip().splitlines()[-1]
    first = json.loads(cli("merchants", "credentials", "Old Shop", "--environment", "sandbox", "--json").stdout)
    assert set(first) == {"merchantId", "environment", "printApi"}
    assert set(first["printApi"]) == {"apiKey", "apiSecret", "clientCode", "sourceCodes"}
    assert first["printApi"]["apiSecret"] and first["printApi"]["sourceCodes"]
    # The merchant id and the v4 key are the Pwinty v3.0 credentials.
    v3 = {"X-Pwinty-MerchantId": first["merchantId"], "X-Pwinty-REST-API-Key": key}
    assert client.get("/v3.0/orders", headers=v3).status_code == 200
    again = json.loads(cli("merchants", "credentials", "Old Shop", "--json").stdout)
    assert again["printApi"] == {**first["printApi"], "apiSecret": None}
    rotated = json.loads(cli("merchants", "credentials", "Old Shop", "--rotate-secret", "--json").stdout)
    assert rotated["printApi"]["apiSecret"] not in (None, first["printApi"]["apiSecret"])
    assert rotated["printApi"]["apiKey"] == first["printApi"]["apiKey"]
    live = json.loads(cli("merchants", "credentials", "Old Shop", "--environment", "live", "--json").stdout)
    assert live["merchantId"] == first["merchantId"] and live["printApi"]["apiKey"] != first["printApi"]["apiKey"]
    table = cli("merchants", "credentials", "Old Shop").stdout
    assert first["merchantId"] in table and first["printApi"]["apiKey"] in table
    assert first["printApi"]["apiSecret"] not in table
    missing = cli("merchants", "credentials", "Nobody", check=False)
    assert missing.returncode == 1 and "no merchant named" in missing.stderr


def test_dashboard_users_from_the_command_line(cli, client):
    from tests.dashboard import sign_in

    cli("merchants", "create", "Acme Prints")
    made = cli("users", "create", "Ann@Acme.test", "--merchant", "Acme Prints", "--password-stdin",
               stdin="a long enough password\n")
    assert "ann@acme.test" in made.stderr
    assert sign_in(client, "ann@acme.test", "a long enough password").status_code == 303
    cli("users", "create", "ops@printwork.test", "--operator", "--password-stdin", stdin="another long password\n")
    listing = cli("users", "list").stdout
    assert "ann@acme.test" in listing and "merchant Acme Prints" in listing and "operator" in listing
    # The password never goes on the command line, and a short one is refused.
    refused = cli("users", "create", "bob@acme.test", "--merchant", "Acme Prints", check=False)
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
    short = cli("users", "create", "bob@acme.test", "--merchant", "Acme Prints", "--password-stdin",
                stdin="short\n", check=False)
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    both = cli("users", "create", "bob@acme.test", "--merchant", "Acme Prints", "--operator", "--password-stdin",
               stdin="a long enough password\n", check=False)
    assert both.returncode == 2
    unknown = cli("users", "create", "bob@acme.test", "--merchant", "Nobody", "--password-stdin",
                  stdin="a long enough password\n", check=False)
    assert unknown.returncode == 1 and "no merchant named 'Nobody'" in unknown.stderr
    # A new password works at once and the old one stops working.
    cli("users", "set-password", "ann@acme.test", "--password-stdin", stdin="a brand new password\n")
    assert sign_in(client, "ann@acme.test", "a long enough password").status_code != 303
    assert sign_in(client, "ann@acme.test", "a brand new password").status_code == 303
    cli("users", "disable", "ann@acme.test")
    assert sign_in(client, "ann@acme.test", "a brand new password").status_code != 303
    assert "disabled" in cli("users", "list").stdout
    assert cli("users", "disable", "nobody@acme.test", check=False).returncode == 1
    unknown_user = cli("users", "set-password", "nobody@acme.test", "--password-stdin",
                       stdin="a long enough password\n", check=False)
    assert unknown_user.returncode == 1 and "no user nobody@acme.test" in unknown_user.stderr
    too_short = cli("users", "set-password", "ann@acme.test", "--password-stdin", stdin="short\n", check=False)
    assert too_short.returncode == 1 and "at least 12 characters" in too_short.stderr
