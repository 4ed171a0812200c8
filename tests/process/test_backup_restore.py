"""`printwork backup` of the embedded database while a server writes to it, and a restore."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from printwork.core.merchants.service import create_merchant_key
from printwork.db import Database
from tests.process.test_e2e import order, serving

# The demo catalogue; a reconciler that re-drives at once what the restored database says is due.
SERVER = {"PRINTWORK_SANDBOX_LAB_DELAY_SECONDS": "0", "PRINTWORK_SEED_DEMO": "1", "PRINTWORK_ALLOW_PRIVATE_URLS": "1",
          "PRINTWORK_RECONCILE_GRACE_SECONDS": "1", "PRINTWORK_RECONCILE_INTERVAL_SECONDS": "1"}


def printwork(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "printwork.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PRINTWORK_DATA_DIR": str(data_dir), **env})


def database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'printwork.db').resolve()}"


def new_key(data_dir: Path) -> dict[str, str]:
    database = Database(database_url(data_dir))
    try:
        with database.transaction() as session:
            return {"X-API-Key": create_merchant_key(session, "Backup Shop", "sandbox").key}
    finally:
        database.dispose()


class OrdersPlaced:
    """A busy shop placing orders on `url` in a thread, until the block ends; `acknowledged` are
    the ids answered 2xx, in order."""

    def __init__(self, url: str, key: dict[str, str], photo: str) -> None:
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._place, args=(url, key, photo))

    def _place(self, url: str, key: dict[str, str], photo: str) -> None:
        with httpx.Client(base_url=url, headers=key, timeout=30) as client:
            while not self._stop.is_set():
                answer = client.post("/v4.0/orders", json=order(photo))
                assert answer.status_code == 200, answer.text
                self.acknowledged.append(answer.json()["order"]["id"])
                self._stop.wait(0.02)  # a busy shop, not a flood: the backlog stays small

    def wait_for(self, count: int) -> list[str]:
        while len(self.acknowledged) < count:
            assert self._writer.is_alive(), "the orders could not be placed"
            threading.Event().wait(0.05)
        return list(self.acknowledged)

    def __enter__(self) -> OrdersPlaced:
        self._writer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._writer.join()


def test_a_backup_taken_under_writes_is_consistent_and_restores_into_a_working_server(tmp_path, image_server):
    live, restored = tmp_path / "live", tmp_path / "restored"
    backup_file = tmp_path / "printwork-backup.db"
    with serving(live, SERVER, workers=True) as url:
        key = new_key(live)
        with OrdersPlaced(url, key, f"{image_server.url}/photo.jpg") as shop:
            before_backup = shop.wait_for(20)
            made = printwork(live, "backup", str(backup_file))
            assert made.returncode == 0, made.stderr
            assert "integrity check ok" in made.stderr
            shop.wait_for(len(before_backup) + 10)  # the server went on writing meanwhile
        again = printwork(live, "backup", str(backup_file))
        assert again.returncode == 2 and "already exists" in again.stderr
        in_use = printwork(live, "restore", str(backup_file))
        assert in_use.returncode == 2 and "running Printwork process" in in_use.stderr
        after_backup = shop.acknowledged[-1]

    copy = sqlite3.connect(backup_file)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        backed_up = {f"ord_{n}" for (n,) in copy.execute("SELECT id FROM orders")}
        # Each order whole: none without its items, recipient or rendition's owner.
        assert copy.execute("SELECT count(*) FROM orders WHERE id NOT IN (SELECT order_id FROM order_items)"
                            ).fetchone() == (0,)
    finally:
        copy.close()
    assert set(before_backup) <= backed_up
    assert after_backup not in backed_up
    assert not list(tmp_path.glob(".*.part"))

    done = printwork(restored, "restore", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert f"Restored {len(backed_up)} orders" in done.stderr
    with serving(restored, SERVER, workers=True) as url:
        first = httpx.get(f"{url}/v4.0/orders/{before_backup[0]}", headers=key)
        assert first.status_code == 200 and first.json()["order"]["id"] == before_backup[0]
        assert httpx.get(f"{url}/v4.0/orders/{after_backup}", headers=key).status_code == 404
        listed = httpx.get(f"{url}/v4.0/orders", params={"top": 100}, headers=key).json()
        assert {o["id"] for o in listed["orders"]} <= backed_up
        # What the backup caught half-way through the pipeline finishes after the restore.
        newest = max(backed_up, key=lambda i: int(i.removeprefix("ord_")))
        deadline = threading.Event()
        for _ in range(450):
            if httpx.get(f"{url}/v4.0/orders/{newest}", headers=key).json()["order"]["status"]["stage"] == "Complete":
                break
            deadline.wait(0.2)
        else:
            raise AssertionError(f"{newest} did not complete after the restore")
        created = httpx.post(f"{url}/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"), headers=key)
        assert created.status_code == 200
        assert created.json()["order"]["id"] not in backed_up


def test_backup_and_restore_refuse_what_they_cannot_do_safely(tmp_path):
    server_db = printwork(tmp_path, "backup", str(tmp_path / "b.db"),
                          PRINTWORK_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1/test")
    assert server_db.returncode == 2 and "database server" in server_db.stderr and "pg_dump" not in server_db.stdout
    nothing = printwork(tmp_path / "empty", "backup", str(tmp_path / "b.db"))
    assert nothing.returncode == 2 and "no database" in nothing.stderr
    (tmp_path / "notes.db").write_text("not a database at all" * 100)
    foreign = printwork(tmp_path / "target", "restore", str(tmp_path / "notes.db"))
    assert foreign.returncode == 2 and "not a readable SQLite database" in foreign.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    stranger = printwork(tmp_path / "target", "restore", str(other))
    assert stranger.returncode == 2 and "not a Printwork database" in stranger.stderr
    assert not (tmp_path / "target" / "printwork.db").exists()
    missing = printwork(tmp_path / "target", "restore", str(tmp_path / "nowhere.db"))
    assert missing.returncode == 2 and "no backup" in missing.stderr


def test_postgresql_as_docs_deployment_md_backs_it_up_online_and_restores_it(tmp_path, image_server):
    """The guide's procedure: pg_dump -Fc while the server writes, pg_restore into a new database."""
    import shutil
    import uuid

    import psycopg
    import pytest

    from tests.conftest import POSTGRES_URL, _postgres_unreachable_reason

    reason = _postgres_unreachable_reason()
    if reason or not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip(reason or "pg_dump and pg_restore are not installed")
    names = [f"printwork_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    live_url, restored_url = (POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}" for name in names)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    dump = tmp_path / "printwork.dump"
    try:
        live = {**SERVER, "PRINTWORK_DATABASE_URL": live_url}
        with serving(tmp_path / "live", live, workers=True) as url:
            database = Database(live_url)
            try:
                with database.transaction() as session:
                    key = {"X-API-Key": create_merchant_key(session, "Backup Shop", "sandbox").key}
            finally:
                database.dispose()
            with OrdersPlaced(url, key, f"{image_server.url}/photo.jpg") as shop:
                before_dump = shop.wait_for(20)
                made = subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", live_url],
                                      capture_output=True, text=True, timeout=120)
                assert made.returncode == 0, made.stderr
        restored = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}",
                                   str(dump)], capture_output=True, text=True, timeout=120)
        assert restored.returncode == 0, restored.stderr
        upgraded = printwork(tmp_path / "restored", "db", "upgrade", PRINTWORK_DATABASE_URL=restored_url)
        assert upgraded.returncode == 0, upgraded.stderr
        with serving(tmp_path / "restored", {**SERVER, "PRINTWORK_DATABASE_URL": restored_url},
                     workers=True) as url:
            with httpx.Client(base_url=url, headers=key, timeout=30) as client:
                for order_id in before_dump:
                    assert client.get(f"/v4.0/orders/{order_id}").status_code == 200, order_id
                listed = {o["id"] for o in client.get("/v4.0/orders", params={"top": 100}).json()["orders"]}
                newest = max(listed, key=lambda i: int(i.removeprefix("ord_")))
                for _ in range(450):
                    if client.get(f"/v4.0/orders/{newest}").json()["order"]["status"]["stage"] == "Complete":
                        break
                    threading.Event().wait(0.2)
                else:
                    raise AssertionError(f"{newest} did not complete after the restore")
                # The restored sequences go on from the restored rows.
                created = client.post("/v4.0/orders", json=order(f"{image_server.url}/photo.jpg"))
                assert created.status_code == 200 and created.json()["order"]["id"] not in listed
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
