"""The course's tables on a database: create the missing ones, drop them, list them.

This sits above ``models`` (importing them registers the tables on ``SQLModel.metadata``) and below ``crud``, so
the engine layer (``db``) never needs to know which tables exist.

Production schemas come from ``alembic upgrade head``, run once before the app's workers start. Creating the
missing tables at startup (``create_schema``, which the API's lifespan calls) is a convenience for development,
made safe for several workers starting at the same moment: each takes a lock on the database first, so one
creates the tables and the others find them there.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import heroes_lib.models  # noqa: F401  (registers the course's tables on SQLModel.metadata)
from heroes_lib.db import SQLITE_BEGIN_IMMEDIATE

#: Seconds ``create_schema`` waits for another process that is creating the tables before giving up.
SCHEMA_LOCK_TIMEOUT = 30
#: PostgreSQL: the advisory lock's key (any 64-bit number the application reserves; these are the bytes "heroes").
POSTGRESQL_SCHEMA_LOCK = int.from_bytes(b"heroes", "big")
#: MariaDB/MySQL: the prefix of the named lock (the database name follows, named locks are server-wide).
MYSQL_SCHEMA_LOCK = "heroes_schema"
_POLL_SECONDS = 0.05


class SchemaLockTimeoutError(TimeoutError):
    """Another process held the schema lock longer than ``create_schema`` was willing to wait."""


def _lock_timeout(timeout: float) -> SchemaLockTimeoutError:
    return SchemaLockTimeoutError(
        f"another process has been creating the tables for more than {timeout:g} s (schema lock not released)"
    )


async def create_schema(engine: AsyncEngine, timeout: float = SCHEMA_LOCK_TIMEOUT) -> None:
    """Create the tables that do not exist yet, one process at a time.

    Any number of processes may call this at the same moment (uvicorn workers starting together): on
    PostgreSQL it holds a transaction-scoped advisory lock, on MariaDB/MySQL a named lock (``GET_LOCK``), on
    SQLite the file's write lock (``BEGIN IMMEDIATE``), so the checks for existing tables and the
    ``CREATE TABLE`` statements of one caller never interleave with another's. Raises
    ``SchemaLockTimeoutError`` if the lock is not free within ``timeout`` seconds.
    """
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        async with engine.begin() as connection:
            await _postgresql_lock(connection, timeout)  # released when this transaction ends
            await connection.run_sync(SQLModel.metadata.create_all)
    elif backend == "mysql":
        async with engine.connect() as connection:
            await _mysql_create_all(connection, timeout)
    else:
        async with engine.connect() as connection:
            # Held from BEGIN: a plain BEGIN reads the schema first and cannot write once another
            # connection has committed tables meanwhile. The busy timeout (30 s) bounds the wait.
            await connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
            async with connection.begin():
                await connection.run_sync(SQLModel.metadata.create_all)


async def _postgresql_lock(connection: AsyncConnection, timeout: float) -> None:
    # pg_advisory_xact_lock would wait without a bound; trying again until the deadline bounds it.
    deadline = time.monotonic() + timeout
    statement = text("SELECT pg_try_advisory_xact_lock(:key)")
    while not (await connection.execute(statement, {"key": POSTGRESQL_SCHEMA_LOCK})).scalar_one():
        if time.monotonic() > deadline:
            raise _lock_timeout(timeout)
        await asyncio.sleep(_POLL_SECONDS)


async def _mysql_create_all(connection: AsyncConnection, timeout: float) -> None:
    # Named locks belong to the connection, not to a transaction: MariaDB commits each CREATE TABLE itself.
    name = f"{MYSQL_SCHEMA_LOCK}.{connection.engine.url.database}"[:64]  # the server's limit on lock names
    acquire = text("SELECT GET_LOCK(:name, :timeout)")
    if (await connection.execute(acquire, {"name": name, "timeout": timeout})).scalar_one() != 1:
        raise _lock_timeout(timeout)
    try:
        await connection.run_sync(SQLModel.metadata.create_all)
        await connection.commit()
    finally:
        await connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        await connection.commit()


async def drop_schema(engine: AsyncEngine) -> None:
    """Drop the course's tables (and their data), if they exist."""
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)


async def reset_schema(engine: AsyncEngine) -> None:
    """Drop and recreate the course's tables, leaving them empty (ids start again at 1)."""
    await drop_schema(engine)
    await create_schema(engine)


async def table_names(engine: AsyncEngine) -> list[str]:
    """The names of the tables in the database, sorted, read back through ``inspect``."""
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync_connection: inspect(sync_connection).get_table_names())
    return sorted(names)
