"""The async engine and the session factory, with the defaults a learner would get wrong.

- SQLite (aiosqlite): foreign keys switched on (SQLite ignores them otherwise), WAL and a busy timeout for
  file databases so readers and a writer can work at once, and transactions that really begin at
  ``BEGIN`` so that savepoints and rollbacks behave as on the servers.
- MySQL/MariaDB: a failed CHECK constraint raises ``IntegrityError``, as on the other backends.
- PostgreSQL and MySQL/MariaDB: a pool small enough for several worker processes to share the server (sized per
  deployment by ``HEROES_POOL_SIZE``, ``HEROES_MAX_OVERFLOW``, ``HEROES_POOL_TIMEOUT``), ``pool_pre_ping`` so a
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
    PoolSettings,
    database_url,
    display_url,
    parse_database_url,
    pool_settings,
)

#: Connections a server engine keeps open, and how many more it may open under a peak: 15 per process. The pool
#: is per process, and a deployment runs several (one uvicorn or gunicorn worker per core): 4 workers x (10 + 5) =
#: 60 of PostgreSQL's default max_connections (100; MariaDB's is 151), leaving room for admin clients (psql) and
#: migrations (lesson 06). Set per deployment with HEROES_POOL_SIZE and HEROES_MAX_OVERFLOW; these are the defaults.
SERVER_POOL_SIZE = 10
SERVER_MAX_OVERFLOW = 5
#: Seconds a request waits for a free pooled connection before ``TimeoutError`` (HEROES_POOL_TIMEOUT).
POOL_TIMEOUT = 30
#: Seconds to wait for a new connection to a server, and for a SQLite lock.
CONNECT_TIMEOUT = 5
SQLITE_BUSY_TIMEOUT = 30


#: SQLite: an execution option that makes a connection's transactions take the write lock at ``BEGIN``
#: (``BEGIN IMMEDIATE``), for work that must not interleave with another connection's (``schema.create_schema``).
SQLITE_BEGIN_IMMEDIATE = "heroes_sqlite_begin_immediate"


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
        immediate = connection.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False)
        connection.connection.cursor().execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

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


#: The pool a server engine gets when the environment does not say otherwise.
DEFAULT_POOL = PoolSettings(pool_size=SERVER_POOL_SIZE, max_overflow=SERVER_MAX_OVERFLOW, pool_timeout=POOL_TIMEOUT)


def engine_options(url: URL) -> dict[str, Any]:
    """The keyword arguments ``make_engine`` passes to ``create_async_engine`` for this URL's backend.

    A server's pool comes from ``HEROES_POOL_SIZE``, ``HEROES_MAX_OVERFLOW`` and ``HEROES_POOL_TIMEOUT`` where
    they are set, else from ``DEFAULT_POOL``; a bad value raises ``PoolSettingError`` naming the variable.
    """
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
    pool = pool_settings(DEFAULT_POOL)
    return {
        "pool_size": pool.pool_size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.pool_timeout,
        "pool_pre_ping": True,
        "pool_recycle": 1800,  # MySQL closes idle connections after wait_timeout; recycle well before
        "connect_args": connect_args,
    }


def make_engine(url: str | URL | None = None, **overrides: Any) -> AsyncEngine:
    """Create an async engine for ``url`` (default: ``HEROES_DATABASE_URL``, else the SQLite file).

    Keyword arguments override the per-backend defaults of ``engine_options`` (for example ``echo=True``
    or ``poolclass=NullPool``); ``connect_args`` is merged into the default one, its keys winning, so the
    connect timeout stays unless replaced. Raises ``DatabaseURLError`` for an unsupported or malformed URL,
    or a SQLite file whose folder cannot be created, and ``PoolSettingError`` for a bad pool variable.
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

    Its form depends on where the first IO happens: refused at a connection checkout (a ``pool_pre_ping``) or by
    the driver's execute (asyncpg) it is a bare ``MissingGreenlet``; refused while SQLAlchemy sets up the statement
    (aiosqlite and aiomysql open a cursor with IO) it is wrapped in a ``StatementError`` whose ``.orig`` holds it,
    which ``except MissingGreenlet`` alone misses.
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
