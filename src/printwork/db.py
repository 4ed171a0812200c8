"""Engine, sessions and the metadata naming convention.

SQLite runs in WAL mode with synchronous=FULL so that an order answered with 2xx survives a
power cut; PostgreSQL's defaults are already durable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _configure_sqlite(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN is the
    # real one; IMMEDIATE makes writers queue on the lock instead of failing on upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_sqlite(conn) -> None:
    writes = conn.get_execution_options().get("printwork_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=8, max_overflow=16, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """One engine and its session factory; the boundary (request, job, command) owns commits."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(printwork_write=True), expire_on_commit=False
        )
        self.fast = FastReader(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with (self._write_sessions if write else self._sessions)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


class Precompiled:
    """A Core statement compiled once for one dialect, run straight on a DBAPI cursor.

    For the few hottest reads, where SQLAlchemy's per-execution work costs more than the query.
    """

    __slots__ = ("sql", "names")

    def __init__(self, engine: Engine, statement) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup) if compiled.positional else None

    def parameters(self, values: dict):
        return tuple(values[name] for name in self.names) if self.names is not None else values


class FastReader:
    """Runs precompiled read statements on pooled DBAPI connections, outside any ORM session."""

    def __init__(self, engine: Engine, max_statements: int = 512) -> None:
        self._engine = engine
        self._statements: dict[object, Precompiled] = {}
        self._max = max_statements

    def fetch_all(self, key: object, build, values: dict) -> list[tuple]:
        statement = self._statements.get(key)
        if statement is None:
            statement = Precompiled(self._engine, build())
            if len(self._statements) < self._max:
                self._statements[key] = statement
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(statement.sql, statement.parameters(values))
                return cursor.fetchall()
            finally:
                cursor.close()
        finally:
            connection.close()
