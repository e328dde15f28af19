"""heroes_lib.retry: a transaction that lost a race runs again from the start; anything else is raised at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db import make_sessionmaker
from heroes_lib.models import Hero, Team
from heroes_lib.retry import lost_a_race, run_transaction


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on tables holding two heroes of age 10 (ids 1 and 2), emptied afterwards."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        session.add_all([Hero(id=1, name="A", secret_name="a", age=10), Hero(id=2, name="B", secret_name="b", age=10)])
        await session.commit()
    yield sessions
    async with sessions() as session:
        await session.exec(delete(Hero))
        await session.exec(delete(Team))
        await session.commit()


class CrossingTransfers:
    """Two transactions that each take one hero's row and then want the other's: their first attempts collide."""

    def __init__(self) -> None:
        self.attempts: list[int] = []
        self._both_started = asyncio.Barrier(2)

    def transfer(self, first: int, second: int) -> Callable[[AsyncSession], Awaitable[None]]:
        async def work(session: AsyncSession) -> None:
            first_attempt = first not in self.attempts
            self.attempts.append(first)
            if session.get_bind().dialect.name == "sqlite":
                # SQLite: both read first (each from its own snapshot), then both want to write.
                await session.exec(select(Hero.age).where(col(Hero.id) == first))
                if first_attempt:
                    await self._both_started.wait()
                await session.exec(update(Hero).where(col(Hero.id) == first).values(age=col(Hero.age) + 1))
                return
            # The servers: each locks one row, then waits for the other's lock: a deadlock.
            await session.exec(update(Hero).where(col(Hero.id) == first).values(age=col(Hero.age) + 1))
            if first_attempt:
                await self._both_started.wait()
            await session.exec(update(Hero).where(col(Hero.id) == second).values(age=col(Hero.age) + 1))

        return work


async def _ages(sessions: async_sessionmaker[AsyncSession]) -> list[int | None]:
    async with sessions() as session:
        return list((await session.exec(select(Hero.age).order_by(col(Hero.id)))).all())


async def test_without_a_retry_one_of_two_crossing_transactions_fails_for_having_lost_a_race(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    transfers = CrossingTransfers()
    results = await asyncio.gather(
        run_transaction(sessions, transfers.transfer(1, 2), attempts=1),
        run_transaction(sessions, transfers.transfer(2, 1), attempts=1),
        return_exceptions=True,
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    assert len(failures) == 1, results
    assert isinstance(failures[0], DBAPIError) and lost_a_race(failures[0])


async def test_with_retries_both_crossing_transactions_commit_whole(sessions: async_sessionmaker[AsyncSession]) -> None:
    transfers = CrossingTransfers()
    await asyncio.gather(
        run_transaction(sessions, transfers.transfer(1, 2)),
        run_transaction(sessions, transfers.transfer(2, 1)),
    )
    assert len(transfers.attempts) == 3  # one of them ran twice, from the start
    backend = sessions.kw["bind"].dialect.name
    expected = [11, 11] if backend == "sqlite" else [12, 12]  # on SQLite each transfer writes one row
    assert await _ages(sessions) == expected


async def test_an_error_that_is_not_a_lost_race_is_raised_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    calls = 0

    async def duplicate(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        session.add(Hero(id=1, name="Again", secret_name="x"))
        await session.flush()

    with pytest.raises(IntegrityError) as raised:
        await run_transaction(sessions, duplicate)
    assert calls == 1 and not lost_a_race(raised.value)


@pytest.mark.no_database
async def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        await run_transaction(None, None, attempts=0)  # type: ignore[arg-type]
