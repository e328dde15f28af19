"""heroes_lib.sample_data: the same teams, heroes and ids every time."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib.db import make_sessionmaker
from heroes_lib.models import HeroPublic
from heroes_lib.sample_data import SAMPLE_HEROES, SAMPLE_TEAMS, add_sample_data, generate_heroes
from heroes_lib.schema import reset_schema


async def test_sample_data_gets_the_same_ids_on_a_fresh_schema(engine: AsyncEngine) -> None:
    for _ in range(2):
        await reset_schema(engine)
        async with make_sessionmaker(engine)() as session:
            teams, heroes = await add_sample_data(session)
        assert [(t.id, t.name) for t in teams] == [(1, "Preventers"), (2, "Z-Force")]
        assert [h.id for h in heroes] == list(range(1, len(SAMPLE_HEROES) + 1))
        by_name = {h.name: h for h in heroes}
        assert by_name["Deadpond"].team_id == 2 and by_name["Spider-Boy"].team_id is None
        assert HeroPublic.model_validate(by_name["Rusty-Man"]).model_dump() == {
            "id": 2,
            "name": "Rusty-Man",
            "secret_name": "Tommy Sharp",
            "age": 48,
            "team_id": 1,
        }
    await reset_schema(engine)


@pytest.mark.no_database
def test_sample_constants_are_valid_models() -> None:
    assert len(SAMPLE_TEAMS) == 2 and len({team.name for team in SAMPLE_TEAMS}) == 2
    team_names = {team.name for team in SAMPLE_TEAMS}
    assert all(team is None or team in team_names for _, team in SAMPLE_HEROES)


@pytest.mark.no_database
def test_generate_heroes_is_deterministic_and_half_without_age() -> None:
    first = list(generate_heroes(1000, [1, 2, None]))
    assert first == list(generate_heroes(1000, [1, 2, None]))
    assert len({hero.name for hero in first}) == 1000
    assert sum(hero.age is None for hero in first) == 500
    assert {hero.team_id for hero in first} == {1, 2, None}
    assert list(generate_heroes(0)) == []
