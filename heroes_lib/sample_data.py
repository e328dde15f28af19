"""A small, fixed set of teams and heroes (the SQLModel tutorial's), and a generator of many more."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.models import Hero, HeroCreate, Team, TeamCreate

SAMPLE_TEAMS: tuple[TeamCreate, ...] = (
    TeamCreate(name="Preventers", headquarters="Sharp Tower"),
    TeamCreate(name="Z-Force", headquarters="Sister Margaret's Bar"),
)

#: (hero, name of its team or None)
SAMPLE_HEROES: tuple[tuple[HeroCreate, str | None], ...] = (
    (HeroCreate(name="Deadpond", secret_name="Dive Wilson"), "Z-Force"),
    (HeroCreate(name="Rusty-Man", secret_name="Tommy Sharp", age=48), "Preventers"),
    (HeroCreate(name="Spider-Boy", secret_name="Pedro Parqueador"), None),
    (HeroCreate(name="Tarantula", secret_name="Natalia Roman-on", age=32), "Preventers"),
    (HeroCreate(name="Black Lion", secret_name="Trevor Challa", age=35), "Z-Force"),
    (HeroCreate(name="Dr. Weird", secret_name="Steve Weird", age=36), "Preventers"),
    (HeroCreate(name="Captain North America", secret_name="Esteban Rogelios", age=93), None),
)


async def add_sample_data(session: AsyncSession) -> tuple[list[Team], list[Hero]]:
    """Insert the sample teams and heroes in one transaction and return them (ids assigned in order).

    Call it on an empty schema (``reset_schema``) so that the ids are the same on every run and backend.
    """
    teams = [Team.model_validate(team) for team in SAMPLE_TEAMS]
    session.add_all(teams)
    await session.flush()  # assigns the team ids the heroes refer to
    team_ids = {team.name: team.id for team in teams}
    heroes = []
    for hero, team_name in SAMPLE_HEROES:
        team_id = team_ids[team_name] if team_name else None
        heroes.append(Hero.model_validate(hero, update={"team_id": team_id}))
    # One flush per hero keeps the insert order, and so the ids, the same on every backend.
    for row in heroes:
        session.add(row)
        await session.flush()
    await session.commit()
    return teams, heroes


def generate_heroes(count: int, team_ids: Sequence[int | None] = (None,)) -> Iterator[HeroCreate]:
    """``count`` distinct heroes, the same on every call: every other one has no age, teams taken in turn."""
    for number in range(1, count + 1):
        yield HeroCreate(
            name=f"Hero {number:05d}",
            secret_name=f"Secret Identity {number:05d}",
            age=None if number % 2 else 18 + number % 60,
            team_id=team_ids[number % len(team_ids)],
        )
