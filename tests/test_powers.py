"""heroes_lib.crud's powers: the many-to-many link between heroes and powers, and what deletes do to it."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import crud, powers
from heroes_lib.counter import StatementCounter, count_statements
from heroes_lib.crud import ConflictError
from heroes_lib.models import Hero, HeroCreate, HeroPowerLink, Power, PowerCreate


async def make_hero(session: AsyncSession, name: str = "Deadpond") -> int:
    hero = await crud.create_hero(session, HeroCreate(name=name, secret_name="secret"))
    assert hero.id is not None
    return hero.id


async def make_power(session: AsyncSession, name: str) -> int:
    power = await powers.create_power(session, PowerCreate(name=name))
    assert power.id is not None
    return power.id


async def links(session: AsyncSession) -> list[tuple[int, int]]:
    statement = select(HeroPowerLink.hero_id, HeroPowerLink.power_id).order_by(
        HeroPowerLink.hero_id, HeroPowerLink.power_id
    )
    return [(hero_id, power_id) for hero_id, power_id in (await session.exec(statement)).all()]


def sql_verbs(counter: StatementCounter) -> list[str]:
    """The first word of each statement, without the SAVEPOINTs of the rolled-back test session."""
    verbs = [statement.split()[0] for statement in counter.statements]
    return [verb for verb in verbs if verb not in {"SAVEPOINT", "RELEASE"}]


async def test_create_and_list_powers(session: AsyncSession) -> None:
    for name in ["Invisibility", "Flight"]:
        await make_power(session, name)
    assert [power.name for power in await powers.list_powers(session)] == ["Invisibility", "Flight"]
    with pytest.raises(ConflictError, match="a power named 'Flight' already exists"):
        await powers.create_power(session, PowerCreate(name="Flight"))
    assert [power.name for power in await powers.list_powers(session, offset=1, limit=5)] == ["Flight"]


async def test_add_and_remove_a_power(session: AsyncSession) -> None:
    hero_id = await make_hero(session)
    flight = await make_power(session, "Flight")
    assert await powers.add_power_to_hero(session, hero_id, flight) is True
    assert await powers.add_power_to_hero(session, hero_id, flight) is False  # already has it: no duplicate
    assert await links(session) == [(hero_id, flight)]
    assert await powers.remove_power_from_hero(session, hero_id, flight) is True
    assert await powers.remove_power_from_hero(session, hero_id, flight) is False
    assert await links(session) == []


async def test_adding_to_a_missing_hero_or_power_is_a_conflict(session: AsyncSession) -> None:
    hero_id = await make_hero(session)
    flight = await make_power(session, "Flight")
    with pytest.raises(ConflictError, match=f"hero 424242 or power {flight} does not exist"):
        await powers.add_power_to_hero(session, 424242, flight)
    with pytest.raises(ConflictError):
        await powers.add_power_to_hero(session, hero_id, 424242)
    assert await links(session) == []
    assert await powers.add_power_to_hero(session, hero_id, flight) is True  # the session is still usable


async def test_get_hero_with_powers_loads_them_in_one_more_statement(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    hero_id = await make_hero(session)
    power_ids = [await make_power(session, name) for name in ["Super strength", "Flight", "Healing factor"]]
    for power_id in reversed(power_ids):
        await powers.add_power_to_hero(session, hero_id, power_id)
    session.expunge_all()
    with count_statements(engine) as counter:
        hero = await powers.get_hero_with_powers(session, hero_id)
    assert hero is not None and sql_verbs(counter) == ["SELECT", "SELECT"]
    assert [power.name for power in hero.powers] == ["Super strength", "Flight", "Healing factor"]  # by id
    assert await powers.get_hero_with_powers(session, 424242) is None


async def test_get_hero_with_powers_shows_changes_made_since_it_was_loaded(session: AsyncSession) -> None:
    hero_id = await make_hero(session)
    flight = await make_power(session, "Flight")
    hero = await powers.get_hero_with_powers(session, hero_id)
    assert hero is not None and hero.powers == []
    await powers.add_power_to_hero(session, hero_id, flight)
    hero = await powers.get_hero_with_powers(session, hero_id)
    assert hero is not None and [power.name for power in hero.powers] == ["Flight"]


async def test_deleting_a_hero_deletes_its_links_in_the_database(session: AsyncSession, engine: AsyncEngine) -> None:
    deadpond = await make_hero(session, "Deadpond")
    rusty = await make_hero(session, "Rusty-Man")
    flight = await make_power(session, "Flight")
    for hero_id in (deadpond, rusty):
        await powers.add_power_to_hero(session, hero_id, flight)
    session.expunge_all()
    with count_statements(engine) as counter:
        assert await crud.delete_hero(session, deadpond)
    # passive_deletes: the ORM does not load the powers to delete their links; ON DELETE CASCADE does it.
    assert sql_verbs(counter) == ["SELECT", "DELETE"]
    assert await links(session) == [(rusty, flight)]
    assert await session.get(Power, flight) is not None  # the power itself stays


async def test_deleting_a_power_deletes_its_links(session: AsyncSession) -> None:
    hero_id = await make_hero(session)
    flight = await make_power(session, "Flight")
    await powers.add_power_to_hero(session, hero_id, flight)
    await session.exec(delete(Power).where(Power.id == flight))
    assert await links(session) == []
    assert await session.get(Hero, hero_id) is not None
