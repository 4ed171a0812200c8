"""Group commit: one transaction for many callers, each rolled back alone when it fails."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from printwork.db import Database
from printwork.group_commit import GroupCommitter


@pytest.fixture
def database(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'gc.db'}")
    with database.transaction() as session:
        session.execute(text("CREATE TABLE t (v INTEGER UNIQUE)"))
    yield database
    database.dispose()


def values(database):
    with database.read() as session:
        return sorted(session.execute(text("SELECT v FROM t")).scalars())


def test_each_unit_commits_or_fails_alone(database):
    committer = GroupCommitter(database, max_batch=50)

    def insert(value):
        def work(writes):
            writes.session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
            if value % 3 == 0:
                raise ValueError(f"refused {value}")
            return value

        return work

    async def main():
        return await asyncio.gather(*(committer.run(insert(v)) for v in range(1, 31)), return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        committer.stop()
    for value, result in zip(range(1, 31), results):
        if value % 3 == 0:
            assert isinstance(result, ValueError)
        else:
            assert result == value
    assert values(database) == [v for v in range(1, 31) if v % 3]


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
            *(committer.run(lambda w, v=v: w.session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})) for v in range(5)),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(main())
    finally:
        committer.stop()
    assert all(isinstance(r, RuntimeError) for r in results)
    monkeypatch.undo()
    assert values(database) == []
