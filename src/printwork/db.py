"""Engine, sessions and the metadata naming convention.

SQLite runs in WAL mode with synchronous=FULL so that an order answered with 2xx survives a
power cut; PostgreSQL's defaults are already durable.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
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
    # No pre-ping: it costs a round trip per checkout (measured at ~0.9 ms on this machine's
    # loopback); a connection the server dropped still fails only the one request that finds
    # it, and SQLAlchemy then discards the pool's stale connections.
    return create_engine(url, pool_size=10, max_overflow=20)


class Database:
    """One engine and its session factory; the boundary (request, job, command) owns commits."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(printwork_write=True), expire_on_commit=False
        )
        self.statements = StatementCache(self.engine.dialect)
        self.fast = FastReader(self.engine, self.statements)
        self.after_commit: list[Callable[[dict], None]] = []
        # Run inside every transaction just before it commits, by name (e.g. keeping the
        # orders' renditions current, core/orders/renditions.py); one per name.
        self.before_commit: dict[str, Callable[[Session], None]] = {}
        self._sqlite_writer = SqliteWriterLock(url) if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        # SQLite has one writer at a time. Writers queue for it on a lock, which wakes the next
        # one at once, instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms
        # (seconds-long stalls with four job threads, bench/callbacks.py).
        guard = self._sqlite_writer if write and self._sqlite_writer is not None else nullcontext()
        with guard, (self._write_sessions if write else self._sessions)() as session:
            try:
                yield session
                if session.info and self.before_commit:
                    for hook in list(self.before_commit.values()):
                        hook(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            if session.info and self.after_commit:
                # What the transaction left in session.info (e.g. new callback events) is handed
                # on only now that it is durable.
                for listener in self.after_commit:
                    listener(session.info)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def writes(self) -> Iterator[Writes]:
        """A write transaction for raw-writer units; committed on success, else rolled back."""
        with self.transaction() as session:
            writes = Writes(session, self.statements)
            try:
                yield writes
            finally:
                writes.raw.close()

    def dispose(self) -> None:
        self.fast.close()
        self.engine.dispose()


class SqliteWriterLock:
    """The embedded database's writers, in this process and in others, take turns here.

    A thread lock orders this process's threads; a file lock beside the database orders the
    processes (`printwork serve`'s server and its worker child, CLI commands), so a writer
    waiting for another process's is woken by the kernel the moment the lock is free, not on
    the busy handler's next try. Reentrant per thread.
    """

    def __init__(self, url: str) -> None:
        path = url.split("///", 1)[-1]
        self._path = None if not path or path == ":memory:" else Path(path + "-writer.lock")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._file = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._depth == 0 and self._path is not None:
            try:
                if self._file is None:
                    self._file = open(self._path, "a+b")  # noqa: SIM115 - kept open for the process's life
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._thread_lock.release()


class Precompiled:
    """A Core statement compiled once for one dialect, run straight on a DBAPI cursor.

    For the few hottest statements, where SQLAlchemy's per-execution work costs more than the
    query itself (see bench/README.md). Bind processors (e.g. SQLite's datetime-to-text) are
    still applied, so values are stored exactly as SQLAlchemy would store them.
    """

    __slots__ = ("defaults", "names", "processors", "sql")

    def __init__(self, dialect, statement) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup) if compiled.positional else None
        # Literal values in the statement (`id == 1`) are bound parameters with a value already.
        self.defaults = {
            name: bind.value for name, bind in compiled.binds.items() if not bind.required and bind.value is not None
        }
        self.processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.bind_processor(dialect)) is not None
        }

    def parameters(self, values: dict):
        if self.defaults:
            values = {**self.defaults, **values}
        if self.processors:
            values = {k: (self.processors[k](v) if k in self.processors and v is not None else v) for k, v in values.items()}
        return tuple(values[name] for name in self.names) if self.names is not None else values


class StatementCache:
    def __init__(self, dialect, max_statements: int = 512) -> None:
        self._dialect = dialect
        self._statements: dict[object, Precompiled] = {}
        self._max = max_statements

    def get(self, key: object, build) -> Precompiled:
        statement = self._statements.get(key)
        if statement is None:
            statement = Precompiled(self._dialect, build())
            if len(self._statements) < self._max:
                self._statements[key] = statement
        return statement


class FastReader:
    """Runs precompiled read statements on DBAPI connections, outside any ORM session.

    On SQLite each thread keeps one connection of its own for these reads: checking a pooled
    connection out and in cost more than the query (bench/README.md). Its statements run in
    autocommit (pysqlite's transaction handling is off), so every read sees the latest commit.
    """

    def __init__(self, engine: Engine, statements: StatementCache) -> None:
        self._engine = engine
        self._statements = statements
        self._autocommit_attribute = engine.dialect.name == "postgresql"
        self._per_thread = threading.local() if engine.dialect.name == "sqlite" else None
        self._kept: list[tuple[threading.Thread, object]] = []
        self._kept_lock = threading.Lock()

    def fetch_all(self, key: object, build, values: dict) -> list[tuple]:
        statement = self._statements.get(key, build)
        if self._per_thread is not None:
            cursor = self._thread_connection().cursor()
            try:
                cursor.execute(statement.sql, statement.parameters(values))
                return cursor.fetchall()
            finally:
                cursor.close()
        connection = self._engine.raw_connection()
        try:
            # One statement needs no transaction; in autocommit the pool's reset on return
            # has nothing to roll back, which saves PostgreSQL a round trip.
            if self._autocommit_attribute:
                connection.driver_connection.autocommit = True
            cursor = connection.cursor()
            try:
                cursor.execute(statement.sql, statement.parameters(values))
                return cursor.fetchall()
            finally:
                cursor.close()
        finally:
            if self._autocommit_attribute:
                connection.driver_connection.autocommit = False
            connection.close()

    def _thread_connection(self):
        connection = getattr(self._per_thread, "connection", None)
        if connection is None:
            pooled = self._engine.raw_connection()  # made, and set up, by the engine's own hooks
            connection = self._per_thread.connection = pooled.driver_connection
            pooled.detach()  # ours now: the pool neither resets nor reuses it
            with self._kept_lock:
                # A thread that has ended no longer needs its connection.
                ended = [(thread, kept) for thread, kept in self._kept if not thread.is_alive()]
                self._kept = [entry for entry in self._kept if entry[0].is_alive()]
                self._kept.append((threading.current_thread(), connection))
            for _, kept in ended:
                kept.close()
        return connection

    def close(self) -> None:
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for _, connection in kept:
            connection.close()
        self._per_thread = threading.local() if self._per_thread is not None else None


class RawWriter:
    """Precompiled statements on the DBAPI connection of an open session's transaction."""

    def __init__(self, session: Session, statements: StatementCache) -> None:
        self._cursor = session.connection().connection.driver_connection.cursor()
        self._statements = statements
        self._savepoints = 0

    def execute(self, key: object, build, values: dict):
        statement = self._statements.get(key, build)
        self._cursor.execute(statement.sql, statement.parameters(values))
        return self._cursor

    def returning_one(self, key: object, build, values: dict):
        return self.execute(key, build, values).fetchone()[0]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Everything inside is undone alone if it raises; the transaction goes on."""
        self._savepoints += 1
        name = f"pw_{self._savepoints}"
        self._cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self._cursor.execute(f"RELEASE SAVEPOINT {name}")

    def close(self) -> None:
        self._cursor.close()


class Writes:
    """What one unit of work inside a write transaction gets: the session, a raw writer on the
    same transaction, and a memo shared by the units of that transaction."""

    def __init__(self, session: Session, statements: StatementCache) -> None:
        self.session = session
        self.raw = RawWriter(session, statements)
        self.memo: dict = {}
        # Orders this transaction made due now; the queue hears of them after the commit.
        self.due_orders: list[int] = []
        self.integrity_error = session.get_bind().dialect.loaded_dbapi.IntegrityError
