"""heroes_lib.pool_counter: the same pool event counts on every backend, inside the block only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from heroes_lib.db import make_engine
from heroes_lib.pool_counter import PoolCounter, count_pool_events

BURST = 5


async def burst(engine: AsyncEngine, size: int) -> None:
    """``size`` connections checked out at the same time, then all returned."""
    barrier = asyncio.Barrier(size)

    async def hold() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await barrier.wait()  # every task holds its connection at this point

    await asyncio.gather(*(hold() for _ in range(size)))


@pytest.fixture
async def small_engine(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database with 2 pooled connections and up to 3 more (overflow)."""
    small = make_engine(engine.url, pool_size=2, max_overflow=3)
    yield small
    await small.dispose()


async def test_overflow_connections_are_opened_and_closed_on_every_burst(small_engine: AsyncEngine) -> None:
    with count_pool_events(small_engine) as pool:
        await burst(small_engine, BURST)
        first = pool.as_dict()
        await burst(small_engine, BURST)
    assert first == {"connects": 5, "checkouts": 5, "checkins": 5, "closes": 3, "invalidations": 0}
    # The 2 pooled connections are reused; the 3 overflow ones are opened again and closed again.
    assert pool.as_dict() == {"connects": 8, "checkouts": 10, "checkins": 10, "closes": 6, "invalidations": 0}


async def test_dispose_closes_the_pooled_connections(small_engine: AsyncEngine) -> None:
    await burst(small_engine, 2)
    with count_pool_events(small_engine) as pool:
        await small_engine.dispose()
        await burst(small_engine, 1)  # a disposed engine still works: it opens a new connection
    assert (pool.closes, pool.connects) == (2, 1)


async def test_null_pool_opens_and_closes_a_connection_per_checkout(engine: AsyncEngine) -> None:
    unpooled = make_engine(engine.url, poolclass=NullPool)
    try:
        with count_pool_events(unpooled) as pool:
            await burst(unpooled, 3)
            await burst(unpooled, 3)
    finally:
        await unpooled.dispose()
    assert pool.as_dict() == {"connects": 6, "checkouts": 6, "checkins": 6, "closes": 6, "invalidations": 0}


async def test_counts_only_inside_the_block(small_engine: AsyncEngine) -> None:
    with count_pool_events(small_engine) as pool:
        await burst(small_engine, 1)
    before = pool.as_dict()
    await burst(small_engine, 3)
    assert pool.as_dict() == before
    assert isinstance(pool, PoolCounter) and "connects=1" in repr(pool)


async def test_an_invalidated_connection_is_counted_and_replaced(small_engine: AsyncEngine) -> None:
    await burst(small_engine, 1)
    with count_pool_events(small_engine) as pool:
        async with small_engine.connect() as connection:
            await connection.invalidate()
        await burst(small_engine, 1)
    assert (pool.invalidations, pool.closes, pool.connects) == (1, 1, 1)
