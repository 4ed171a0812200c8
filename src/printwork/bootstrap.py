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
from printwork.core.users import service as users
from printwork.db import Database
from printwork.migrations import runner

DEMO_MERCHANT = "Demo Shop"
# Addresses of the documentation domain: nobody can receive mail there.
DEMO_MERCHANT_USER = "demo@example.com"
DEMO_OPERATOR = "operator@example.com"


@dataclass(frozen=True)
class DemoSignIn:
    merchant_user: str
    operator: str
    password: str


@dataclass(frozen=True)
class Prepared:
    demo_key: str | None
    catalog_loaded: bool
    demo_sign_in: DemoSignIn | None = None


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
    demo_key = _demo_key(settings, database)
    return Prepared(demo_key, loaded, _demo_sign_in(settings, database))


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
    _write_private(key_file, issued.key)
    return issued.key


def _demo_sign_in(settings: Settings, database: Database) -> DemoSignIn:
    """The demo merchant's dashboard user and a demo operator, sharing one password kept
    (owner-readable only) in the data folder; made on first start, or again when the file is lost."""
    password_file: Path = settings.data_dir / "demo-dashboard-password"
    emails = (DEMO_MERCHANT_USER, DEMO_OPERATOR)
    with database.read() as session:
        existing = {user.email for user in users.list_users(session)}
    if password_file.exists() and existing.issuperset(emails):
        return DemoSignIn(*emails, password_file.read_text().strip())
    password = users.new_initial_password()
    with database.transaction() as session:
        for email, merchant in ((DEMO_MERCHANT_USER, DEMO_MERCHANT), (DEMO_OPERATOR, None)):
            if email in existing:
                users.set_password(session, email, password)
            else:
                users.create_user(session, email, password, merchant_name=merchant, operator=merchant is None)
    _write_private(password_file, password)
    return DemoSignIn(*emails, password)


def _write_private(path: Path, secret: str) -> None:
    """A one-line file only its owner can read (the demo key, the demo password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
