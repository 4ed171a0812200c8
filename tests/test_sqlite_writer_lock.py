"""The embedded database's writers take turns across processes on a file lock, not SQLite's busy handler."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import text

from printwork.db import Database

WRITER = """
import sys, time
from sqlalchemy import text
from printwork.db import Database
database = Database(sys.argv[1])
with database.transaction() as session:
    session.execute(text("INSERT INTO marks (at) VALUES (:at)"), {"at": time.time()})
"""


def test_a_writer_in_another_process_waits_for_the_lock_and_goes_the_moment_it_is_free(tmp_path):
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    database = Database(url)
    with database.transaction() as session:
        session.execute(text("CREATE TABLE marks (at REAL)"))
    with database.transaction() as session:  # holds the writer lock (and SQLite's) for a second
        session.execute(text("INSERT INTO marks (at) VALUES (0)"))
        other = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert other.poll() is None, "the other process wrote while this one held the lock"
        released = time.time()
    other.communicate(timeout=30)
    with database.read() as session:
        written = session.execute(text("SELECT at FROM marks WHERE at > 0")).scalar_one()
    # Not before the lock went, and woken by the kernel when it did, not by a busy handler's
    # next try (up to 100 ms late).
    assert released - 0.005 <= written < released + 0.05
    database.dispose()


def test_the_lock_is_reentrant_within_a_thread(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'nested.db'}")
    with database.transaction() as outer:
        outer.execute(text("CREATE TABLE t (x INTEGER)"))
        with database._sqlite_writer:  # a nested take by the same thread does not deadlock
            pass
    database.dispose()
