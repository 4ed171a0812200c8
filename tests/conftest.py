"""Shared fixtures: a migrated database per backend, an app bound to it, merchants and payloads.

Every database test runs twice, on SQLite (WAL, a file) and on the PostgreSQL server at
PRINTWORK_TEST_POSTGRES_URL. Schemas are built by the Alembic migrations, never create_all.
Between tests the order and merchant tables are emptied; the demo catalogue stays loaded.
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from printwork.api.app import create_app
from printwork.config import Settings
from printwork.core.catalog.demo import demo_catalog
from printwork.core.catalog.document import parse_catalog_document
from printwork.core.catalog.service import import_catalog
from printwork.core.merchants.service import create_merchant_key
from printwork.db import Database
from printwork.migrations import runner
from tests.dashboard import user_maker

POSTGRES_URL = os.environ.get("PRINTWORK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PER_TEST_TABLES = ["dashboard_sessions", "users", "order_history", "callback_attempts", "order_events", "lab_keys", "charge_items", "charges", "shipment_items", "shipments", "order_renditions", "order_issues", "order_assets", "order_items", "orders", "legacy_credentials", "api_keys", "merchants"]


def _postgres_unreachable_reason() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {POSTGRES_URL} cannot be reached: {exc}"


class TestDatabase:
    """A migrated, catalogue-loaded database that tests share and that is emptied between them."""

    def __init__(self, kind: str, url: str, cleanup) -> None:
        self.kind = kind
        self.url = url
        self.db = Database(url)
        self._cleanup = cleanup

    def reset(self) -> None:
        with self.db.transaction() as session:
            for table in PER_TEST_TABLES:
                session.execute(text(f"DELETE FROM {table}"))

    def reload_demo_catalog(self) -> None:
        with self.db.transaction() as session:
            import_catalog(session, parse_catalog_document(demo_catalog()))

    def close(self) -> None:
        self.db.dispose()
        self._cleanup()


def _make_sqlite(tmp_root: Path) -> TestDatabase:
    url = f"sqlite:///{tmp_root / 'printwork-test.db'}"
    runner.upgrade(url)
    return TestDatabase("sqlite", url, lambda: None)


def _make_postgres() -> TestDatabase:
    name = f"printwork_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    runner.upgrade(url)

    def drop() -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return TestDatabase("postgresql", url, drop)


_databases: dict[str, TestDatabase] = {}


@pytest.fixture(scope="session")
def _database_registry(tmp_path_factory) -> Iterator[dict[str, TestDatabase]]:
    yield _databases
    for database in _databases.values():
        database.close()
    _databases.clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def test_db(request, _database_registry, tmp_path_factory) -> Iterator[TestDatabase]:
    kind = request.param
    if kind == "postgresql":
        reason = _postgres_unreachable_reason()
        if reason:
            pytest.skip(reason)
    database = _database_registry.get(kind)
    if database is None:
        database = _make_sqlite(tmp_path_factory.mktemp("sqlite")) if kind == "sqlite" else _make_postgres()
        database.reload_demo_catalog()
        _database_registry[kind] = database
    database.reset()
    yield database


@pytest.fixture
def settings(tmp_path, test_db) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=test_db.url,
        public_base_url="https://printwork.test",
        api_key_cache_seconds=0,
        seed_demo=False,
    )


@pytest.fixture
def client(settings, test_db) -> Iterator[TestClient]:
    app = create_app(settings, test_db.db)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_key(test_db):
    def make(name: str = "Test Shop", environment: str = "sandbox") -> str:
        with test_db.db.transaction() as session:
            return create_merchant_key(session, name, environment).key

    return make


@pytest.fixture
def make_user(test_db):
    """make_user(email, merchant=NAME | operator=True): a dashboard user (tests/dashboard.py)."""
    return user_maker(test_db)


@pytest.fixture
def api_key(make_key) -> str:
    return make_key()


@pytest.fixture
def headers(api_key) -> dict[str, str]:
    return {"X-API-Key": api_key, "Content-Type": "application/json"}


EXAMPLE_ORDER = {
    "merchantReference": "MyMerchantReference1",
    "shippingMethod": "Overnight",
    "recipient": {
        "name": "Mr Testy McTestface",
        "address": {
            "line1": "14 test place",
            "line2": "test",
            "postalOrZipCode": "12345",
            "countryCode": "US",
            "townOrCity": "somewhere",
            "stateOrCounty": None,
        },
    },
    "items": [
        {
            "merchantReference": "item #1",
            "sku": "GLOBAL-CFPM-16X20",
            "copies": 1,
            "sizing": "fillPrintArea",
            "attributes": {"color": "black"},
            "recipientCost": {"amount": "15.00", "currency": "USD"},
            "assets": [
                {
                    "printArea": "default",
                    "url": "https://pwintyimages.blob.core.windows.net/samples/stars/test-sample-grey.png",
                    "md5Hash": "daa1c811c6038e718a23f0d816914b7b",
                }
            ],
        }
    ],
    "metadata": {
        "mycustomkey": "some-guid",
        "someCustomerPreference": {"preference1": "something", "preference2": "red"},
        "sourceId": 12345,
    },
}


@pytest.fixture
def order_payload():
    """A fresh deep copy of the documents' own create-order example."""
    return lambda: copy.deepcopy(EXAMPLE_ORDER)


@pytest.fixture
def use_catalog(test_db):
    """Load another catalogue for one test; the demo catalogue comes back afterwards."""

    def load(document: dict) -> None:
        with test_db.db.transaction() as session:
            import_catalog(session, parse_catalog_document(document))

    yield load
    test_db.reload_demo_catalog()


@pytest.fixture(scope="session")
def loopback_s3():
    """An S3 server on loopback (moto's), shared by the session; each test takes its own bucket."""
    from tests.servers import LoopbackS3

    server = LoopbackS3()
    yield server
    server.stop()
