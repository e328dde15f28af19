"""The course's tables on a database: create the missing ones, drop them, list them.

This sits above ``models`` (importing them registers the tables on ``SQLModel.metadata``) and below ``crud``, so
the engine layer (``db``) never needs to know which tables exist.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import heroes_lib.models  # noqa: F401  (registers the course's tables on SQLModel.metadata)


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables that do not exist yet."""
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)


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
