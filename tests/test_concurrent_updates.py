"""heroes_lib.crud's safe concurrent updates: an atomic increment and a compare-and-set, under many tasks at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import count

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import concurrent_updates, crud
from heroes_lib.crud import ConflictError
from heroes_lib.db import make_sessionmaker
from heroes_lib.models import Hero, HeroCreate, HeroUpdate, Team

TASKS = 20


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory for tasks that commit for real (concurrent transactions); rows deleted after."""
    yield make_sessionmaker(engine)
    async with engine.begin() as connection:
        await connection.execute(delete(Hero))
        await connection.execute(delete(Team))


async def new_hero(sessions: async_sessionmaker[AsyncSession], age: int | None = 48) -> int:
    async with sessions() as session:
        hero = await crud.create_hero(session, HeroCreate(name="Rusty-Man", secret_name="Tommy Sharp", age=age))
    assert hero.id is not None
    return hero.id


async def stored_age(sessions: async_sessionmaker[AsyncSession], hero_id: int) -> int | None:
    async with sessions() as session:
        hero = await session.get(Hero, hero_id)
    assert hero is not None
    return hero.age


# The problem


async def test_read_modify_write_in_two_requests_loses_an_update(sessions: async_sessionmaker[AsyncSession]) -> None:
    hero_id = await new_hero(sessions)
    both_have_read = asyncio.Barrier(2)

    async def birthday() -> None:
        async with sessions() as session:  # request 1: read
            hero = await session.get(Hero, hero_id)
        assert hero is not None and hero.age is not None
        await both_have_read.wait()
        async with sessions() as session:  # request 2: write what was computed from the read
            await session.exec(update(Hero).where(col(Hero.id) == hero_id).values(age=hero.age + 1))
            await session.commit()

    await asyncio.gather(birthday(), birthday())
    assert await stored_age(sessions, hero_id) == 49  # two birthdays, one year: an update was lost


# Atomic increment


async def test_increment_hero_age_returns_the_stored_hero(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Rusty-Man", secret_name="Tommy Sharp", age=48))
    assert hero.id is not None
    incremented = await concurrent_updates.increment_hero_age(session, hero.id)
    assert incremented is not None and incremented.age == 49
    incremented = await concurrent_updates.increment_hero_age(session, hero.id, by=10)
    assert incremented is not None and incremented.age == 59
    assert await concurrent_updates.increment_hero_age(session, 424242) is None


async def test_increment_keeps_an_unknown_age_unknown(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Deadpond", secret_name="Dive Wilson"))
    assert hero.id is not None
    incremented = await concurrent_updates.increment_hero_age(session, hero.id)
    assert incremented is not None and incremented.age is None


async def test_increment_below_zero_is_a_conflict_and_changes_nothing(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Young", secret_name="Kid", age=3))
    hero_id = hero.id  # the rollback after the failed update expires every object in the session
    assert hero_id is not None
    with pytest.raises(ConflictError, match="cannot become negative"):
        await concurrent_updates.increment_hero_age(session, hero_id, by=-4)
    reloaded = await session.get(Hero, hero_id)
    assert reloaded is not None and reloaded.age == 3


async def test_concurrent_increments_are_never_lost(sessions: async_sessionmaker[AsyncSession]) -> None:
    hero_id = await new_hero(sessions)

    async def birthday() -> int | None:
        async with sessions() as session:
            hero = await concurrent_updates.increment_hero_age(session, hero_id)
        assert hero is not None
        return hero.age

    ages = await asyncio.gather(*(birthday() for _ in range(TASKS)))
    assert await stored_age(sessions, hero_id) == 48 + TASKS
    assert sorted(ages) == list(range(49, 49 + TASKS))  # each task saw its own increment


# Compare-and-set (optimistic concurrency)


async def test_update_if_unchanged_writes_only_over_the_expected_values(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Rusty-Man", secret_name="Tommy Sharp", age=48))
    assert hero.id is not None
    assert await concurrent_updates.update_hero_if_unchanged(session, hero.id, {"age": 48}, HeroUpdate(age=49)) is True
    assert hero.age == 49  # the session's copy follows the update
    assert await concurrent_updates.update_hero_if_unchanged(session, hero.id, {"age": 48}, HeroUpdate(age=50)) is False
    reloaded = await session.get(Hero, hero.id)
    assert reloaded is not None and reloaded.age == 49
    assert await concurrent_updates.update_hero_if_unchanged(session, 424242, {"age": 49}, HeroUpdate(age=1)) is False


async def test_update_if_unchanged_compares_null_and_several_fields(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Deadpond", secret_name="Dive Wilson"))
    assert hero.id is not None
    expected = {"age": None, "name": "Deadpond"}
    assert await concurrent_updates.update_hero_if_unchanged(session, hero.id, expected, HeroUpdate(age=30)) is True
    assert await concurrent_updates.update_hero_if_unchanged(session, hero.id, expected, HeroUpdate(age=31)) is False


async def test_after_a_failed_compare_the_session_reads_the_row_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hero_id = await new_hero(sessions)
    async with sessions() as session:
        stale = await session.get(Hero, hero_id)
        assert stale is not None and stale.age == 48
        async with sessions() as other:
            await concurrent_updates.increment_hero_age(other, hero_id)  # another request changes the row
        changed = await concurrent_updates.update_hero_if_unchanged(session, hero_id, {"age": 48}, HeroUpdate(age=49))
        assert changed is False
        assert stale.age == 48  # the caller's copy stays readable
        fresh = await session.get(Hero, hero_id)
        assert fresh is not None and fresh.age == 49


async def test_update_if_unchanged_refuses_bad_arguments(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="not fields of a hero: power"):
        await concurrent_updates.update_hero_if_unchanged(session, 1, {"power": 1}, HeroUpdate(age=1))
    with pytest.raises(ValueError, match="no changes"):
        await concurrent_updates.update_hero_if_unchanged(session, 1, {"age": 1}, HeroUpdate())


async def test_update_if_unchanged_with_an_unknown_team_is_a_conflict(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Lost", secret_name="x", age=1))
    assert hero.id is not None
    with pytest.raises(ConflictError, match="team_id 424242"):
        await concurrent_updates.update_hero_if_unchanged(session, hero.id, {"age": 1}, HeroUpdate(team_id=424242))


async def test_concurrent_compare_and_set_with_retries_loses_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hero_id = await new_hero(sessions)
    all_have_read = asyncio.Barrier(TASKS)

    async def birthday() -> int:
        for attempt in count(1):
            async with sessions() as session:  # read in a short transaction of its own
                hero = await session.get(Hero, hero_id)
            assert hero is not None and hero.age is not None
            if attempt == 1:
                await all_have_read.wait()  # every task read the same age: the worst case
            async with sessions() as session:
                if await concurrent_updates.update_hero_if_unchanged(
                    session, hero_id, {"age": hero.age}, HeroUpdate(age=hero.age + 1)
                ):
                    return attempt
        raise AssertionError("unreachable")

    attempts = await asyncio.gather(*(birthday() for _ in range(TASKS)))
    assert await stored_age(sessions, hero_id) == 48 + TASKS
    assert min(attempts) == 1 and sum(attempts) >= 2 * TASKS - 1  # all but one had to retry at least once
