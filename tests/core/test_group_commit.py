"""Group commit: one transaction for many callers, each rolled back alone when it fails."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from sqlalchemy import text

from printwork.db import Database
from printwork.group_commit import GroupCommitter


@pytest.fixture
def database(test_db):
    """The suite's own database of either kind, with a scratch table of this test's."""
    database = Database(test_db.url)
    database.table = f"t_{uuid.uuid4().hex[:12]}"
    with database.transaction() as session:
        session.execute(text(f"CREATE TABLE {database.table} (v INTEGER UNIQUE)"))
    yield database
    with database.transaction() as session:
        session.execute(text(f"DROP TABLE {database.table}"))
    database.dispose()


def values(database):
    with database.read() as session:
        return sorted(session.execute(text(f"SELECT v FROM {database.table}")).scalars())


def insert(database, value, refuse=lambda value: value % 3 == 0):
    def work(writes):
        writes.session.execute(text(f"INSERT INTO {database.table} (v) VALUES (:v)"), {"v": value})
        if refuse(value):
            raise ValueError(f"refused {value}")
        return value

    return work


@pytest.mark.parametrize("threads", [1, 3])
def test_each_unit_commits_or_fails_alone(database, threads):
    committer = GroupCommitter(database, max_batch=50, threads=threads)

    async def main():
        return await asyncio.gather(*(committer.run(insert(database, v)) for v in range(1, 61)), return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        committer.stop()
    for value, result in zip(range(1, 61), results):
        if value % 3 == 0:
            assert isinstance(result, ValueError)
        else:
            assert result == value
    assert values(database) == [v for v in range(1, 61) if v % 3]


def test_a_database_server_gets_several_committing_threads_and_sqlite_one(database):
    committer = GroupCommitter(database, threads=3)
    before = {thread.name for thread in threading.enumerate()}
    committer.start()
    started = {thread.name for thread in threading.enumerate()} - before
    committer.stop()
    expected = 1 if database.is_sqlite else 3
    assert len({name for name in started if name.startswith("printwork-group-commit")}) == expected
    assert not {thread.name for thread in threading.enumerate()} & started  # all stopped


def test_a_duplicate_racing_in_another_thread_fails_only_its_own_unit(database):
    """Two committing threads, the same value twice: one commits, the other is refused alone."""
    committer = GroupCommitter(database, max_batch=1, threads=2)

    async def main():
        return await asyncio.gather(
            *(committer.run(insert(database, v, refuse=lambda _: False)) for v in (7, 7, 8, 9)), return_exceptions=True
        )

    try:
        results = asyncio.run(main())
    finally:
        committer.stop()
    assert sorted(r for r in results if isinstance(r, int)) == [7, 8, 9]
    assert sum(isinstance(r, Exception) for r in results) == 1
    assert values(database) == [7, 8, 9]


def test_a_failed_commit_fails_every_caller_in_the_batch(database, monkeypatch):
    committer = GroupCommitter(database)
    original = database.transaction

    def failing_transaction(**kwargs):
        context = original(**kwargs)

        class Wrapper:
            def __enter__(self):
                return context.__enter__()

            def __exit__(self, *exc):
                context.__exit__(RuntimeError, RuntimeError("commit failed"), None)
                raise RuntimeError("commit failed")

        return Wrapper()

    monkeypatch.setattr(database, "transaction", failing_transaction)

    async def main():
        return await asyncio.gather(
            *(committer.run(insert(database, v, refuse=lambda _: False)) for v in range(5)),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(main())
    finally:
        committer.stop()
    assert all(isinstance(r, RuntimeError) for r in results)
    monkeypatch.undo()
    assert values(database) == []


def test_a_deadlock_victim_runs_again_and_meets_the_winner_s_rows(database):
    """Two committing threads insert the same two values in opposite orders; PostgreSQL picks a
    victim, which runs again and is refused as a duplicate, never with the deadlock itself."""
    if database.is_sqlite:
        pytest.skip("SQLite has one writer at a time: nothing can deadlock")
    both_started = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def unit(name, first, second):
        def work(writes):
            attempts.append(name)
            writes.session.execute(text(f"INSERT INTO {database.table} (v) VALUES (:v)"), {"v": first})
            if attempts.count(name) == 1:
                both_started.wait()
            writes.session.execute(text(f"INSERT INTO {database.table} (v) VALUES (:v)"), {"v": second})
            return name

        return work

    committer = GroupCommitter(database, max_batch=1, threads=2)

    async def main():
        return await asyncio.gather(committer.run(unit("x", 1, 2)), committer.run(unit("y", 2, 1)),
                                    return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        committer.stop()
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert getattr(getattr(losers[0], "orig", losers[0]), "sqlstate", None) == "23505", losers  # unique_violation
    victim = "y" if winners[0] == "x" else "x"
    assert attempts.count(victim) == 2 and attempts.count(winners[0]) == 1
    assert values(database) == [1, 2]
