"""Backing up and restoring the embedded SQLite database.

The backup is taken online: SQLite's backup API copies every page inside one read transaction,
which in WAL mode never blocks the server's writers, so the copy is the database as it stood at
one instant (each order whole or absent). The copy is checked (`PRAGMA integrity_check`) before
it is moved into place under its final name, so a file that carries the name is a usable backup.

A restore replaces the database only while no process has it open, and drops the embedded job
queue with it: the database says what every order still has to do, and the reconciler re-drives
it, whereas jobs queued for the database that was replaced would name work it does not know.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


class BackupRefused(Exception):
    """A backup or restore that cannot be done safely; the message says why and what to do."""


@dataclass(frozen=True)
class DatabaseSummary:
    path: Path
    bytes: int
    orders: int
    schema_revision: str
    seconds: float


# SQLite's unix VFS holds a shared lock on this byte of the `-shm` file for as long as a
# connection has the database open in WAL mode (UNIX_SHM_DMS in os_unix.c): if an exclusive lock
# on it can be had, nobody has the database open.
_SHM_DMS_OFFSET = 128


def sqlite_path(database_url: str) -> Path:
    if not database_url.startswith("sqlite:///"):
        raise BackupRefused(
            "`printwork backup` copies the embedded SQLite database; this one is a database server "
            f"({database_url.split(':', 1)[0]}): back it up with its own tools (docs/deployment.md, \"Backups\").")
    return Path(database_url.removeprefix("sqlite:///"))


def _summary(path: Path, started: float) -> DatabaseSummary:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupRefused(f"{path} is damaged: {'; '.join(problems[:5])}")
        try:
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            orders = connection.execute("SELECT count(*) FROM orders").fetchone()[0]
        except sqlite3.DatabaseError:
            raise BackupRefused(f"{path} is not a Printwork database") from None
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{path} is not a readable SQLite database: {exc}") from None
    finally:
        connection.close()
    if revision is None:
        raise BackupRefused(f"{path} is not a Printwork database (it has no schema revision)")
    return DatabaseSummary(path, path.stat().st_size, orders, revision[0], time.monotonic() - started)


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def backup(database_url: str, target: Path) -> DatabaseSummary:
    source = sqlite_path(database_url)
    if not source.is_file():
        raise BackupRefused(f"there is no database at {source} to back up")
    if target.exists():
        raise BackupRefused(f"{target} already exists; name a new file (a backup never overwrites one)")
    started = time.monotonic()
    partial = target.with_name(f".{target.name}.part")
    partial.unlink(missing_ok=True)
    try:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        writer = sqlite3.connect(partial)
        try:
            # All pages in one step: in steps, every write the server makes meanwhile would make
            # SQLite start the copy again, and a busy server could keep it from ever finishing.
            reader.backup(writer)
            writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            writer.close()
            reader.close()
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        summary = _summary(partial, started)
        os.replace(partial, target)
        _fsync_directory(target.parent.resolve())
    finally:
        partial.unlink(missing_ok=True)
    return DatabaseSummary(target, summary.bytes, summary.orders, summary.schema_revision,
                           time.monotonic() - started)


def _database_in_use(path: Path) -> bool:
    shm = Path(f"{path}-shm")
    if not shm.exists():
        return False
    with shm.open("r+b") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_OFFSET)
        except OSError:
            return True
        fcntl.lockf(handle, fcntl.LOCK_UN, 1, _SHM_DMS_OFFSET)
    return False


def restore(source: Path, database_url: str, queue_file: Path | None) -> DatabaseSummary:
    target = sqlite_path(database_url)
    started = time.monotonic()
    if not source.is_file():
        raise BackupRefused(f"there is no backup at {source}")
    _summary(source, started)  # refuses a damaged or foreign file before anything is touched
    if _database_in_use(target):
        raise BackupRefused(f"{target} is open in a running Printwork process: stop every `printwork serve` and "
                            "`printwork worker` that uses it, then restore")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    partial.unlink(missing_ok=True)
    try:
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer)
        finally:
            writer.close()
            reader.close()
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        # The old database's log must not be replayed into the restored one.
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        os.replace(partial, target)
        _fsync_directory(target.parent.resolve())
    finally:
        partial.unlink(missing_ok=True)
    if queue_file is not None:
        for part in (queue_file, Path(f"{queue_file}-wal"), Path(f"{queue_file}-shm")):
            part.unlink(missing_ok=True)
    return _summary(target, started)
