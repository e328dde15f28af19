"""heroes_lib.schema: several processes creating the schema at the same moment all succeed, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from heroes_lib.db import make_engine
from heroes_lib.schema import (
    MYSQL_SCHEMA_LOCK,
    POSTGRESQL_SCHEMA_LOCK,
    SchemaLockTimeoutError,
    create_schema,
    drop_schema,
    table_names,
)

ALL_TABLES = ["hero", "hero_power", "power", "team"]
#: Engines creating the schema at once, as many uvicorn workers would (each its own connection, its own engine).
STARTERS = 6


async def create_from_every_engine(engines: list[AsyncEngine]) -> list[BaseException | None]:
    """``create_schema`` on every engine at the same moment; what each raised (``None`` for success)."""
    return await asyncio.gather(*(create_schema(engine) for engine in engines), return_exceptions=True)


@pytest.fixture
async def engines() -> AsyncIterator[list[AsyncEngine]]:
    started = [make_engine(poolclass=NullPool) for _ in range(STARTERS)]
    yield started
    await drop_schema(started[0])
    for engine in started:
        await engine.dispose()


@pytest.mark.parametrize("round_number", [1, 2, 3])
async def test_many_engines_create_the_schema_at_once_on_an_empty_database(
    engines: list[AsyncEngine], round_number: int
) -> None:
    await drop_schema(engines[0])
    assert await create_from_every_engine(engines) == [None] * STARTERS
    assert await table_names(engines[0]) == ALL_TABLES


async def test_many_engines_create_the_schema_at_once_on_a_current_database(engines: list[AsyncEngine]) -> None:
    await create_schema(engines[0])
    assert await create_from_every_engine(engines) == [None] * STARTERS
    assert await table_names(engines[0]) == ALL_TABLES


async def test_a_lock_held_too_long_gives_a_clear_timeout(engines: list[AsyncEngine]) -> None:
    backend = engines[0].url.get_backend_name()
    if backend == "sqlite":
        pytest.skip("SQLite waits for its file lock with its busy timeout (30 s), not with a lock of heroes_lib's")
    async with engines[0].connect() as holder:  # another process, in the middle of creating the tables
        if backend == "postgresql":
            await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRESQL_SCHEMA_LOCK})
        else:
            name = f"{MYSQL_SCHEMA_LOCK}.{holder.engine.url.database}"[:64]
            await holder.execute(text("SELECT GET_LOCK(:name, 1)"), {"name": name})
        with pytest.raises(SchemaLockTimeoutError, match=r"for more than 0\.3 s"):
            await create_schema(engines[1], timeout=0.3)
        if backend == "mysql":
            await holder.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        await holder.rollback()
    await create_schema(engines[1], timeout=5)  # released: the next caller goes ahead
