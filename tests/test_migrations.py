"""The migrations build both databases, go down and up again, and match the models exactly."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from printwork.db import make_engine
from printwork.migrations import runner
from printwork.models import metadata
from tests.conftest import POSTGRES_URL, _postgres_unreachable_reason


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    reason = _postgres_unreachable_reason()
    if reason:
        pytest.skip(reason)
    name = f"printwork_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_downgrade_upgrade(empty_database_url):
    runner.upgrade(empty_database_url)
    assert runner.is_up_to_date(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        assert {"orders", "order_items", "order_assets", "merchants", "api_keys", "catalog_products"} <= set(
            inspect(engine).get_table_names()
        )
        runner.downgrade(empty_database_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        runner.upgrade(empty_database_url)
        assert runner.is_up_to_date(empty_database_url)
    finally:
        engine.dispose()


def test_the_migrations_match_the_models(empty_database_url):
    runner.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
