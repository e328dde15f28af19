"""heroes_lib.concurrency: a bounded gather that never waits for the pool, and a wait that holds a connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.concurrency import gather_limited, wait_in_database
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.pool_counter import count_pool_events

HOLD = 0.3  # seconds a task keeps its connection
POOL_TIMEOUT = 0.1  # shorter than HOLD: a task that has to wait for a connection fails


@pytest.mark.no_database
async def test_gather_limited_keeps_order_and_limit() -> None:
    running = 0
    most = 0

    async def work(number: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01 * (number % 3))
        running -= 1
        return number * number

    assert await gather_limited((work(n) for n in range(10)), limit=3) == [n * n for n in range(10)]
    assert most == 3
    assert await gather_limited([], limit=1) == []


@pytest.mark.no_database
async def test_gather_limited_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await gather_limited([], limit=0)


@pytest.mark.no_database
async def test_gather_limited_cancels_the_others_when_one_fails() -> None:
    finished: list[int] = []
    cancelled: list[int] = []

    async def work(number: int) -> int:
        if number == 0:
            raise RuntimeError("task 0 failed")
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            cancelled.append(number)
            raise
        finished.append(number)
        return number

    with pytest.raises(RuntimeError, match="task 0 failed"):
        await gather_limited((work(n) for n in range(4)), limit=4)
    assert finished == [] and sorted(cancelled) == [1, 2, 3]  # none left running


@pytest.fixture
async def tiny_pool(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Two connections, no overflow, and a short wait for a free one."""
    tiny = make_engine(engine.url, pool_size=2, max_overflow=0, pool_timeout=POOL_TIMEOUT)
    yield tiny
    await tiny.dispose()


async def hold_a_connection(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        await wait_in_database(session, HOLD)


async def test_more_tasks_than_connections_time_out_waiting_for_the_pool(tiny_pool: AsyncEngine) -> None:
    results = await asyncio.gather(*(hold_a_connection(tiny_pool) for _ in range(4)), return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert len(failures) == 2 and all(isinstance(failure, PoolTimeoutError) for failure in failures)
    assert "QueuePool limit of size 2 overflow 0 reached" in str(failures[0])


async def test_gather_limited_to_the_pool_size_never_times_out(tiny_pool: AsyncEngine) -> None:
    with count_pool_events(tiny_pool) as pool:
        await gather_limited((hold_a_connection(tiny_pool) for _ in range(4)), limit=2)
    assert (pool.checkouts, pool.connects) == (4, 2)


async def test_wait_in_database_holds_the_connection(session: AsyncSession, engine: AsyncEngine) -> None:
    started = time.perf_counter()
    await wait_in_database(session, 0.05)
    assert time.perf_counter() - started >= 0.045
    assert session.in_transaction()  # the session took its connection and still has it
