"""First-start work: migrate, load the demo catalogue, make the demo merchant's sandbox key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from printwork.config import Settings
from printwork.core.catalog.demo import demo_catalog
from printwork.core.catalog.document import parse_catalog_document
from printwork.core.catalog.service import catalog_revision, import_catalog
from printwork.core.merchants.service import create_merchant_key, owner_for_key
from printwork.db import Database
from printwork.migrations import runner

DEMO_MERCHANT = "Demo Shop"


@dataclass(frozen=True)
class Prepared:
    demo_key: str | None
    catalog_loaded: bool


def prepare(settings: Settings, database: Database) -> Prepared:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runner.upgrade(settings.resolved_database_url)
    if not settings.seed_demo:
        return Prepared(None, False)
    loaded = False
    with database.transaction() as session:
        if not catalog_revision(session):
            import_catalog(session, parse_catalog_document(demo_catalog()))
            loaded = True
    return Prepared(_demo_key(settings, database), loaded)


def _demo_key(settings: Settings, database: Database) -> str:
    """The demo merchant's sandbox key, kept (owner-readable only) in the data folder so each
    start can show it again; a new one is issued if that key was revoked or the file lost."""
    key_file: Path = settings.data_dir / "demo-sandbox-api-key"
    if key_file.exists():
        key = key_file.read_text().strip()
        with database.read() as session:
            if key and owner_for_key(session, key) is not None:
                return key
    with database.transaction() as session:
        issued = create_merchant_key(session, DEMO_MERCHANT, "sandbox")
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(issued.key + "\n")
    return issued.key
