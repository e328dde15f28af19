"""Fixtures for heroes_lib's tests: an engine on the scratch database and a session rolled back per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.models import Hero, Team
from heroes_lib.schema import create_schema, drop_schema


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[AsyncEngine]:
    """An engine on the scratch database (``HEROES_DATABASE_URL``, set by the root conftest) with the tables."""
    engine = make_engine()
    await drop_schema(engine)
    await create_schema(engine)
    yield engine
    await drop_schema(engine)
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test.

    The CRUD functions commit; with ``join_transaction_mode="create_savepoint"`` their commits only release
    a savepoint, so the outer rollback still undoes everything and each test starts from empty tables.
    """
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def plain_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """An ordinary session (no outer transaction, so no SAVEPOINT in statement counts); rows deleted after."""
    async with make_sessionmaker(engine)() as session:
        yield session
    async with engine.begin() as connection:
        await connection.execute(delete(Hero))
        await connection.execute(delete(Team))


@pytest.fixture
def backend(engine: AsyncEngine) -> str:
    """The backend under test: ``sqlite``, ``postgresql`` or ``mysql``."""
    return engine.url.get_backend_name()
