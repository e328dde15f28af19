"""The database a run works in, and the helpers every benchmark uses on it.

By default the run creates a scratch database beside the configured one (a file in a temporary folder for
SQLite; ``<name>_bench_<pid>`` on the same server otherwise) and drops it at the end, so the course's own
data is never touched. ``--in-place`` runs on the configured database itself instead, dropping and
recreating the course's tables (for a server account that may not create databases).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.common import BenchmarkError
from devtools.scratch_database import ScratchDatabase
from heroes_lib.db_errors import describe
from heroes_lib.models import Hero, HeroCreate, Team
from heroes_lib.schema import reset_schema
from heroes_lib.settings import display_url


class ScratchDatabaseError(BenchmarkError):
    """The scratch database could not be created (the message says why and what to do)."""


@asynccontextmanager
async def scratch_database(configured: URL, in_place: bool = False) -> AsyncIterator[URL]:
    """Yield the URL of an empty database to benchmark in; drop it afterwards (unless ``in_place``)."""
    if in_place:
        yield configured
        return
    try:
        scratch = await ScratchDatabase.create(configured, label="bench")
    except Exception as error:
        raise ScratchDatabaseError(
            f"cannot create a scratch database beside {display_url(configured)} ({describe(error)}); "
            "use an account that may create databases, or --in-place to benchmark in the configured "
            "database itself (this drops and recreates the course's tables)"
        ) from None
    try:
        yield scratch.url
    finally:
        await scratch.drop()


async def fresh_tables(engine: AsyncEngine, teams: int) -> list[int]:
    """Empty course tables plus ``teams`` teams (ids 1..teams); return their ids."""
    await reset_schema(engine)
    if teams:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Team.__table__),
                [{"name": f"Team {number:05d}", "headquarters": f"Tower {number}"} for number in range(1, teams + 1)],
            )
    return list(range(1, teams + 1))


async def add_heroes(engine: AsyncEngine, heroes: Sequence[HeroCreate]) -> None:
    """Insert heroes quickly (one Core executemany), for setting up a benchmark."""
    async with engine.begin() as connection:
        await connection.execute(insert(Hero.__table__), [hero.model_dump() for hero in heroes])


def placeholders(backend: str, count: int) -> str:
    """The driver's own parameter markers: ``$1, $2`` (asyncpg), ``?, ?`` (sqlite3), ``%s, %s`` (MySQL)."""
    if backend == "postgresql":
        return ", ".join(f"${number}" for number in range(1, count + 1))
    if backend == "sqlite":
        return ", ".join("?" * count)
    return ", ".join(["%s"] * count)


async def driver_connection(connection: AsyncConnection) -> Any:
    """The driver's own connection object (asyncpg, aiosqlite or aiomysql) behind a SQLAlchemy connection."""
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def driver_executemany(backend: str, driver: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """One ``executemany`` in one transaction, straight on the driver: the floor for inserting ``rows``."""
    if backend == "postgresql":
        async with driver.transaction():
            await driver.executemany(sql, rows)
    elif backend == "sqlite":
        # heroes_lib puts sqlite3 in autocommit mode (it sends BEGIN itself): without BEGIN each row would
        # be a transaction of its own.
        await driver.execute("BEGIN")
        await driver.executemany(sql, rows)
        await driver.commit()
    else:
        async with driver.cursor() as cursor:
            await cursor.executemany(sql, rows)
        await driver.commit()


async def driver_fetchall(backend: str, driver: Any, sql: str) -> list[Any]:
    """Run a query straight on the driver and return every row (tuples or records)."""
    if backend == "postgresql":
        return list(await driver.fetch(sql))
    if backend == "sqlite":
        async with driver.execute(sql) as cursor:
            return list(await cursor.fetchall())
    async with driver.cursor() as cursor:
        await cursor.execute(sql)
        rows = list(await cursor.fetchall())
    await driver.commit()
    return rows


async def connection_budget(engine: AsyncEngine, margin: int = 5) -> int | None:
    """How many more connections the server accepts now (``None``: no limit, SQLite), less a margin."""
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        return None
    async with engine.connect() as connection:
        if backend == "postgresql":
            limit = (await connection.execute(text("SELECT current_setting('max_connections')::int"))).scalar_one()
            used = (await connection.execute(text("SELECT count(*) FROM pg_stat_activity"))).scalar_one()
        else:
            limit = (await connection.execute(text("SELECT @@max_connections"))).scalar_one()
            used = (await connection.execute(text("SHOW STATUS LIKE 'Threads_connected'"))).one()[1]
    return int(limit) - int(used) - margin


async def server_version(engine: AsyncEngine) -> str:
    backend = engine.url.get_backend_name()
    query = {"sqlite": "SELECT sqlite_version()", "postgresql": "SHOW server_version"}.get(backend, "SELECT VERSION()")
    async with engine.connect() as connection:
        return str((await connection.execute(text(query))).scalar_one())
