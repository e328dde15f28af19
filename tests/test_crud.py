"""heroes_lib.crud on the configured backend: every function, its ordering, its errors and its statement counts."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import concurrent_updates, crud
from heroes_lib.counter import count_statements
from heroes_lib.crud import ConflictError
from heroes_lib.db import make_sessionmaker
from heroes_lib.models import Hero, HeroCreate, HeroUpdate, Team, TeamCreate, TeamUpdate
from heroes_lib.sample_data import add_sample_data, generate_heroes


async def count_rows(session: AsyncSession, model: type) -> int:
    return (await session.exec(select(func.count()).select_from(model))).one()


async def make_team(session: AsyncSession, name: str = "Preventers") -> Team:
    return await crud.create_team(session, TeamCreate(name=name, headquarters="Sharp Tower"))


async def test_create_and_get_hero(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Deadpond", secret_name="Dive Wilson"))
    assert isinstance(hero, Hero) and hero.id is not None
    loaded = await crud.get_hero(session, hero.id)
    assert loaded is not None and (loaded.name, loaded.secret_name, loaded.age) == ("Deadpond", "Dive Wilson", None)


async def test_get_missing_rows_gives_none(session: AsyncSession) -> None:
    assert await crud.get_hero(session, 424242) is None
    assert await crud.get_team(session, 424242) is None
    assert await crud.get_hero_with_team(session, 424242) is None
    assert await crud.get_team_with_heroes(session, 424242) is None


async def test_list_heroes_pages_in_id_order_without_overlap(session: AsyncSession) -> None:
    created = [
        await crud.create_hero(session, HeroCreate(name=name, secret_name="s"))
        for name in ["Zed", "Amy", "Mia", "Bob", "Kim"]
    ]
    pages = [await crud.list_heroes(session, offset=offset, limit=2) for offset in (0, 2, 4, 6)]
    assert [[hero.name for hero in page] for page in pages] == [["Zed", "Amy"], ["Mia", "Bob"], ["Kim"], []]
    all_ids = [hero.id for hero in await crud.list_heroes(session)]
    assert all_ids == sorted(hero.id for hero in created)


async def test_update_hero_changes_only_the_fields_sent(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Rusty-Man", secret_name="Tommy Sharp", age=48))
    assert hero.id is not None
    updated = await crud.update_hero(session, hero.id, HeroUpdate(age=49))
    assert updated is not None and (updated.name, updated.secret_name, updated.age) == (
        "Rusty-Man",
        "Tommy Sharp",
        49,
    )
    cleared = await crud.update_hero(session, hero.id, HeroUpdate(age=None))
    assert cleared is not None and cleared.age is None and cleared.name == "Rusty-Man"
    assert await crud.update_hero(session, 424242, HeroUpdate(age=1)) is None


async def test_delete_hero_reports_whether_it_existed(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Gone", secret_name="Soon"))
    assert hero.id is not None
    assert await crud.delete_hero(session, hero.id) is True
    assert await crud.delete_hero(session, hero.id) is False
    assert await crud.get_hero(session, hero.id) is None


async def test_hero_with_unknown_team_is_a_conflict_and_writes_nothing(session: AsyncSession) -> None:
    with pytest.raises(ConflictError, match="team_id 424242 does not name an existing team"):
        await crud.create_hero(session, HeroCreate(name="Lost", secret_name="x", team_id=424242))
    assert await count_rows(session, Hero) == 0
    hero = await crud.create_hero(session, HeroCreate(name="Found", secret_name="y"))  # session still usable
    hero_id = hero.id  # the rollback below expires every object in the session
    assert hero_id is not None
    with pytest.raises(ConflictError):
        await crud.update_hero(session, hero_id, HeroUpdate(team_id=424242, age=5))
    reloaded = await crud.get_hero(session, hero_id)
    assert reloaded is not None and (reloaded.team_id, reloaded.age) == (None, None)


async def test_team_crud_and_duplicate_names(session: AsyncSession) -> None:
    team = await make_team(session)
    assert team.id is not None
    with pytest.raises(ConflictError, match="a team named 'Preventers' already exists"):
        await make_team(session)
    assert await count_rows(session, Team) == 1
    other = await make_team(session, "Z-Force")
    other_id = other.id  # the failed update's rollback expires the objects in the session
    assert [t.name for t in await crud.list_teams(session)] == ["Preventers", "Z-Force"]
    assert [t.name for t in await crud.list_teams(session, offset=1, limit=1)] == ["Z-Force"]
    assert other_id is not None
    with pytest.raises(ConflictError):
        await crud.update_team(session, other_id, TeamUpdate(name="Preventers"))
    renamed = await crud.update_team(session, other_id, TeamUpdate(headquarters="Bar"))
    assert renamed is not None and (renamed.name, renamed.headquarters) == ("Z-Force", "Bar")
    assert await crud.update_team(session, 424242, TeamUpdate(name="x")) is None
    assert await crud.delete_team(session, other_id) is True
    assert await crud.delete_team(session, other_id) is False


async def test_team_names_are_compared_exactly(session: AsyncSession) -> None:
    await make_team(session, "Preventers")
    await make_team(session, "preventers")  # case matters on every backend, MySQL included
    assert await count_rows(session, Team) == 2


async def test_strings_are_stored_verbatim(session: AsyncSession) -> None:
    name = 'Robert\'); DROP TABLE hero;-- 🦸‍♀️ "quoted" \\ %s'
    hero = await crud.create_hero(session, HeroCreate(name=name, secret_name="é" * 100))
    session.expunge_all()
    assert hero.id is not None
    loaded = await crud.get_hero(session, hero.id)
    assert loaded is not None and loaded.name == name and loaded.secret_name == "é" * 100


async def test_deleting_a_team_keeps_its_heroes_without_a_team(session: AsyncSession) -> None:
    teams, heroes = await add_sample_data(session)
    preventers = teams[0]
    assert preventers.id is not None
    assert await crud.delete_team(session, preventers.id) is True
    session.expunge_all()
    remaining = await crud.list_heroes(session)
    assert len(remaining) == len(heroes)
    assert {hero.name for hero in remaining if hero.team_id is None} >= {"Rusty-Man", "Tarantula", "Dr. Weird"}


async def test_eager_loading_helpers(plain_session: AsyncSession, engine: AsyncEngine) -> None:
    teams, heroes = await add_sample_data(plain_session)
    plain_session.expunge_all()
    with count_statements(engine) as counter:
        hero = await crud.get_hero_with_team(plain_session, heroes[1].id or 0)
    assert counter.count == 1
    assert hero is not None and hero.team is not None and hero.team.name == "Preventers"
    plain_session.expunge_all()
    with count_statements(engine) as counter:
        team = await crud.get_team_with_heroes(plain_session, teams[0].id or 0)
    assert counter.count == 2  # the team, then its heroes with SELECT ... IN
    assert team is not None and [h.name for h in team.heroes] == ["Rusty-Man", "Tarantula", "Dr. Weird"]


@pytest.mark.parametrize("count", [10, 300])
async def test_listing_with_teams_takes_one_statement_whatever_the_size(
    plain_session: AsyncSession, engine: AsyncEngine, count: int
) -> None:
    teams = [await make_team(plain_session, f"Team {number}") for number in range(5)]
    await crud.create_heroes_bulk(plain_session, generate_heroes(count, [team.id for team in teams] + [None]))
    plain_session.expunge_all()
    with count_statements(engine) as counter:
        heroes = await crud.list_heroes_with_team(plain_session, limit=count)
    assert counter.count == 1
    assert len(heroes) == count
    assert all((hero.team.id if hero.team else None) == hero.team_id for hero in heroes)


async def test_bulk_create_is_one_statement(plain_session: AsyncSession, engine: AsyncEngine) -> None:
    team = await make_team(plain_session)
    heroes = list(generate_heroes(1000, [team.id, None]))
    assert len({hero.age is None for hero in heroes}) == 2  # a mix of set and unset optional fields
    with count_statements(engine) as counter:
        inserted = await crud.create_heroes_bulk(plain_session, heroes)
    assert inserted == 1000
    assert [s for s in counter.statements if s.lstrip().upper().startswith("INSERT")] == counter.statements[:1]
    assert counter.count == 1
    assert await count_rows(plain_session, Hero) == 1000
    assert await crud.create_heroes_bulk(plain_session, []) == 0


async def test_bulk_create_is_all_or_nothing(session: AsyncSession) -> None:
    team = await make_team(session)
    heroes = list(generate_heroes(600, [team.id]))
    heroes[499] = HeroCreate(name="Bad", secret_name="Row", team_id=424242)  # the 500th row
    with pytest.raises(ConflictError, match="no hero was inserted"):
        await crud.create_heroes_bulk(session, heroes)
    assert await count_rows(session, Hero) == 0
    assert await crud.create_heroes_bulk(session, heroes[:499]) == 499  # the session is still usable


async def test_ids_outside_the_integer_range_find_nothing_without_an_error(session: AsyncSession) -> None:
    for row_id in (2**31, -(2**31) - 1, 2**63):
        assert await crud.get_hero(session, row_id) is None
        assert await crud.get_hero_with_team(session, row_id) is None
        assert await crud.update_hero(session, row_id, HeroUpdate(age=1)) is None
        assert await crud.delete_hero(session, row_id) is False
        assert await crud.get_team(session, row_id) is None
        assert await crud.get_team_with_heroes(session, row_id) is None
        assert await crud.update_team(session, row_id, TeamUpdate(name="x")) is None
        assert await crud.delete_team(session, row_id) is False


# Ids and team_ids of any size (the API accepts any integer, as SQLModel's tutorial does)

OUTSIDE_INTEGER = [2**31, -(2**31) - 1, 99999999999, 2**63, -(2**63)]


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]


@pytest.mark.parametrize("team_id", OUTSIDE_INTEGER, ids=str)
async def test_a_team_id_outside_the_integer_range_is_a_conflict_and_is_not_sent(
    session: AsyncSession, engine: AsyncEngine, team_id: int
) -> None:
    # asyncpg refuses to send such a number at all (an error, not a refusal by the database), so crud answers
    # as the foreign key would, without a statement.
    message = f"team_id {team_id} does not name an existing team"
    hero = await crud.create_hero(session, HeroCreate(name="Found", secret_name="y"))
    hero_id = hero.id
    assert hero_id is not None
    with count_statements(engine) as counter:
        with pytest.raises(ConflictError, match=f"^{message}$"):
            await crud.create_hero(session, HeroCreate(name="Lost", secret_name="x", team_id=team_id))
        with pytest.raises(ConflictError, match=f"^{message}$"):
            await crud.update_hero(session, hero_id, HeroUpdate(team_id=team_id, age=5))
        with pytest.raises(ConflictError, match=f"^{message}; no hero was inserted$"):
            await crud.create_heroes_bulk(session, [HeroCreate(name="Lost", secret_name="x", team_id=team_id)])
        with pytest.raises(ConflictError, match=f"^{message}$"):
            changes = HeroUpdate(team_id=team_id)
            await concurrent_updates.update_hero_if_unchanged(session, hero_id, {"age": None}, changes)
    assert writes(counter.statements) == []
    assert await count_rows(session, Hero) == 1
    reloaded = await crud.get_hero(session, hero_id)
    assert reloaded is not None and (reloaded.team_id, reloaded.age) == (None, None)


async def test_the_integer_range_limits_are_team_ids_like_any_other(session: AsyncSession) -> None:
    for team_id in (2**31 - 1, -(2**31)):  # storable: sent, and refused by the foreign key
        with pytest.raises(ConflictError, match=f"^team_id {team_id} does not name an existing team$"):
            await crud.create_hero(session, HeroCreate(name="Edge", secret_name="x", team_id=team_id))


# Conflict messages say which rule the change broke (validation bypassed with model_construct to reach the others)


async def test_a_check_constraint_is_not_reported_as_an_unknown_team(session: AsyncSession) -> None:
    hero = await crud.create_hero(session, HeroCreate(name="Checked", secret_name="y"))
    hero_id = hero.id
    assert hero_id is not None
    negative_age = HeroUpdate.model_construct(_fields_set={"age"}, age=-5)
    with pytest.raises(ConflictError) as raised:
        await crud.update_hero(session, hero_id, negative_age)
    assert (
        str(raised.value) == "a value breaks a rule of the table (a CHECK constraint: an empty name or a negative age)"
    )
    with pytest.raises(ConflictError, match="CHECK constraint") as raised:
        await concurrent_updates.update_hero_if_unchanged(session, hero_id, {"age": None}, negative_age)
    assert "team_id" not in str(raised.value)


async def test_a_check_constraint_is_not_reported_as_a_taken_name(session: AsyncSession) -> None:
    team = await make_team(session, "Named")
    team_id = team.id
    assert team_id is not None
    with pytest.raises(ConflictError) as raised:
        await crud.update_team(session, team_id, TeamUpdate.model_construct(_fields_set={"name"}, name=""))
    assert str(raised.value).startswith("a value breaks a rule of the table (a CHECK constraint")
    assert "already exists" not in str(raised.value)


async def test_bulk_create_says_which_rule_a_row_broke(session: AsyncSession) -> None:
    unknown_team = [HeroCreate(name="Lost", secret_name="x", team_id=424242)]
    with pytest.raises(ConflictError) as raised:
        await crud.create_heroes_bulk(session, unknown_team)
    assert str(raised.value) == "a hero names a team_id that does not exist; no hero was inserted"
    empty_name = [HeroCreate(name="Fine", secret_name="x"), HeroCreate.model_construct(name="", secret_name="x")]
    with pytest.raises(ConflictError) as raised:
        await crud.create_heroes_bulk(session, empty_name)
    assert str(raised.value).startswith("a value breaks a rule of the table (a CHECK constraint")
    assert str(raised.value).endswith("; no hero was inserted") and "team_id" not in str(raised.value)
    assert await count_rows(session, Hero) == 0


async def test_the_expected_conflicts_keep_their_messages(session: AsyncSession) -> None:
    # The messages lessons 03 and 05 show.
    await make_team(session, "Preventers")
    with pytest.raises(ConflictError, match=r"^a team named 'Preventers' already exists$"):
        await make_team(session, "Preventers")
    with pytest.raises(ConflictError, match=r"^team_id 999 does not name an existing team$"):
        await crud.create_hero(session, HeroCreate(name="Lost", secret_name="x", team_id=999))


async def test_get_or_create_team_creates_once_and_keeps_an_existing_team(session: AsyncSession) -> None:
    created = await crud.get_or_create_team(session, TeamCreate(name="Avengers", headquarters="Avengers Tower"))
    found = await crud.get_or_create_team(session, TeamCreate(name="Avengers", headquarters="Elsewhere"))
    assert created.id is not None and found.id == created.id
    assert found.headquarters == "Avengers Tower"  # an existing team is returned as it is, not updated
    assert await count_rows(session, Team) == 1


async def test_get_or_create_team_gives_two_racing_requests_the_same_one_row(
    plain_session: AsyncSession, engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(engine)

    async def request(headquarters: str) -> Team:
        async with sessions() as session:
            return await crud.get_or_create_team(session, TeamCreate(name="Avengers", headquarters=headquarters))

    for _ in range(3):  # the two INSERTs meet in the database: one inserts, the other waits and skips
        first, second = await asyncio.gather(request("Tower"), request("Mansion"))
        assert first.id == second.id is not None
    assert await count_rows(plain_session, Team) == 1


async def test_get_or_create_team_with_a_name_the_database_refuses_is_a_conflict(session: AsyncSession) -> None:
    # Validation bypassed (model_construct): the CHECK constraint refuses the empty name.
    with pytest.raises(ConflictError, match="CHECK constraint"):
        await crud.get_or_create_team(session, TeamCreate.model_construct(name="", headquarters="Nowhere"))
    assert await count_rows(session, Team) == 0
