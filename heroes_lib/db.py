"""The async engine and the session factory, with the defaults a learner would get wrong.

- SQLite (aiosqlite): foreign keys switched on (SQLite ignores them otherwise), WAL and a busy timeout for
  file databases so readers and a writer can work at once, and transactions that really begin at
  ``BEGIN`` so that savepoints and rollbacks behave as on the servers.
- MySQL/MariaDB: a failed CHECK constraint raises ``IntegrityError``, as on the other backends.
- PostgreSQL and MySQL/MariaDB: a pool large enough for concurrent requests, ``pool_pre_ping`` so a
  connection the server dropped is replaced instead of failing the next request, and a connect timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, MissingGreenlet, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.util.concurrency import in_greenlet
from sqlmodel.ext.asyncio.session import AsyncSession

# DatabaseUnavailableError is re-exported: check_connection raises it, and callers catch it from here.
from heroes_lib.db_errors import DatabaseUnavailableError as DatabaseUnavailableError
from heroes_lib.db_errors import describe, is_mysql_check_violation
from heroes_lib.settings import (
    DATABASE_URL_ENV,
    DatabaseURLError,
    database_url,
    display_url,
    parse_database_url,
)

#: Connections kept open per engine on a database server, and how many more may open under a peak: 64 in all, one
#: for each of the 64 requests the API serves at once. Kept open: half of PostgreSQL's default max_connections
#: (100), so that a steady load does not open and close overflow connections on every burst (lesson 06).
SERVER_POOL_SIZE = 50
SERVER_MAX_OVERFLOW = 14
#: Seconds a request waits for a free pooled connection before ``TimeoutError``.
POOL_TIMEOUT = 30
#: Seconds to wait for a new connection to a server, and for a SQLite lock.
CONNECT_TIMEOUT = 5
SQLITE_BUSY_TIMEOUT = 30


def _is_file_database(url: URL) -> bool:
    return url.database not in (None, "", ":memory:") and not (url.database or "").startswith("file::memory:")


def _configure_sqlite(engine: AsyncEngine, url: URL) -> None:
    file_database = _is_file_database(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if file_database:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # sqlite3 otherwise starts transactions late (at the first INSERT), which breaks SAVEPOINT
        # and lets a SELECT run outside the transaction that follows it.
        if not in_greenlet():
            # IO attempted outside the async bridge (an implicit lazy load): let the statement itself raise
            # MissingGreenlet, as it does on the other drivers, instead of failing inside this hook.
            return
        # Sent on the DBAPI cursor, not through SQLAlchemy, so statement counts match the servers'.
        connection.connection.cursor().execute("BEGIN")

    @event.listens_for(engine.sync_engine, "close")
    def _end_the_transaction_before_closing(dbapi_connection: Any, _record: Any) -> None:
        # A task cancelled in the middle of a statement gets its connection closed, not rolled back. The
        # statement is still referenced (by the traceback), so sqlite3 only marks the connection to be closed
        # once it is freed, and until the garbage collector frees it the open transaction keeps the whole
        # database locked for writers. Rolling back first (queued behind the statement) releases the lock now.
        if not in_greenlet():
            return  # closed by the garbage collector: nothing can be awaited, and nothing is waiting
        with contextlib.suppress(Exception):  # a connection already broken has no transaction to end
            dbapi_connection.rollback()


def _configure_mysql(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def _check_violation_is_integrity_error(context: Any) -> None:
        original = context.original_exception
        if is_mysql_check_violation(original):
            # MariaDB and MySQL report a failed CHECK constraint as OperationalError.
            # The same exception class as SQLite and PostgreSQL raise, so callers need one except clause.
            raise IntegrityError(context.statement, context.parameters, original) from original


def _connect_failures_are_disconnects(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def _mark_connect_failure(context: Any) -> None:
        # No connection yet means the database could not be reached, whatever the driver calls it (asyncpg:
        # "the database system is starting up", an unknown database, a refused password): flagged as a
        # disconnect, the error says so through ``connection_invalidated``, as for a connection lost later.
        if context.connection is None and not context.is_pre_ping:
            context.is_disconnect = True


def _make_sqlite_folder(url: URL) -> None:
    folder = Path(url.database or "").parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DatabaseURLError(
            f"{DATABASE_URL_ENV}={display_url(url)!r} names a SQLite file in the folder {str(folder)!r}, "
            f"which cannot be created ({reason})"
        ) from None


def engine_options(url: URL) -> dict[str, Any]:
    """The keyword arguments ``make_engine`` passes to ``create_async_engine`` for this URL's backend."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not _is_file_database(url):
            return {}
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    connect_args: dict[str, Any] = (
        {"timeout": CONNECT_TIMEOUT}
        if backend == "postgresql"
        else {"connect_timeout": CONNECT_TIMEOUT, "charset": "utf8mb4"}
    )
    return {
        "pool_size": SERVER_POOL_SIZE,
        "max_overflow": SERVER_MAX_OVERFLOW,
        "pool_timeout": POOL_TIMEOUT,
        "pool_pre_ping": True,
        "pool_recycle": 1800,  # MySQL closes idle connections after wait_timeout; recycle well before
        "connect_args": connect_args,
    }


def make_engine(url: str | URL | None = None, **overrides: Any) -> AsyncEngine:
    """Create an async engine for ``url`` (default: ``HEROES_DATABASE_URL``, else the SQLite file).

    Keyword arguments override the per-backend defaults of ``engine_options`` (for example ``echo=True``
    or ``poolclass=NullPool``); ``connect_args`` is merged into the default one, its keys winning, so the
    connect timeout stays unless replaced. Raises ``DatabaseURLError`` for an unsupported or malformed URL,
    or a SQLite file whose folder cannot be created.
    """
    parsed = database_url() if url is None else parse_database_url(url)
    if parsed.get_backend_name() == "sqlite" and _is_file_database(parsed):
        _make_sqlite_folder(parsed)
    options = engine_options(parsed)
    poolclass = overrides.get("poolclass")
    if poolclass is not None and not issubclass(poolclass, QueuePool):
        # NullPool and StaticPool keep no queue: sizing options would be rejected.
        for sizing in ("pool_size", "max_overflow", "pool_timeout"):
            options.pop(sizing, None)
    if "connect_args" in overrides:
        overrides["connect_args"] = {**options.get("connect_args", {}), **overrides["connect_args"]}
    options.update(overrides)
    engine = create_async_engine(parsed, **options)
    _connect_failures_are_disconnects(engine)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, parsed)
    elif parsed.get_backend_name() == "mysql":
        _configure_mysql(engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory for ``engine`` whose objects stay readable after commit (``expire_on_commit=False``)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def is_missing_greenlet(error: BaseException) -> bool:
    """Whether ``error`` is SQLAlchemy refusing implicit IO outside its async bridge (a lazy load, say).

    asyncpg raises ``MissingGreenlet`` itself; aiosqlite and aiomysql wrap it in a ``StatementError``,
    so ``except MissingGreenlet`` alone misses two of the three drivers.
    """
    return isinstance(error, MissingGreenlet) or (
        isinstance(error, StatementError) and isinstance(error.orig, MissingGreenlet)
    )


async def check_connection(engine: AsyncEngine, timeout: float = 10) -> None:
    """Run ``SELECT 1`` within ``timeout`` seconds or raise ``DatabaseUnavailableError`` (password masked)."""
    where = display_url(engine.url)
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        raise DatabaseUnavailableError(f"database {where} did not answer within {timeout:g} s") from None
    except Exception as exc:  # driver errors differ per backend; the message says what happened
        raise DatabaseUnavailableError(f"cannot connect to database {where} ({describe(exc)})") from None
