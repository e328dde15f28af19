"""Lesson 04's exercises: load a relationship on purpose, fix a lazy load, forbid the loads you did not plan.

Each check runs the learner's function on a database of its own making (``make_engine()``, the tables reset to a
known state) and counts the statements it sends, so the verdict is the same on every backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib.counter import count_statements
from heroes_lib.db import is_missing_greenlet, make_engine, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, returned_nothing
from heroes_lib.models import Hero, HeroPublicWithTeam, Team
from heroes_lib.sample_data import add_sample_data
from heroes_lib.schema import reset_schema

#: Heroes each on a team of their own: every ``hero.team`` loaded one by one is a statement of its own.
LONERS = 7

N_PLUS_ONE_HINT = "was loaded on its own. Which loader option loads them all at once?"
NOT_LOADED_HINT = "building HeroPublicWithTeam read `hero.team`, which the query did not load"
LAZY_READ_HINT = "`hero.team` was read before it was loaded"
NOT_RAISING_HINT = "reading `hero.powers` tried a lazy load instead of raising at once"
TEAM_NOT_LOADED_HINT = "`hero.team` is not loaded"


@asynccontextmanager
async def _database(*, loners: bool) -> AsyncIterator[AsyncEngine]:
    """An engine on fresh tables: the tutorial's 2 teams and 7 heroes, or ``LONERS`` heroes on a team each."""
    engine = make_engine()
    try:
        await reset_schema(engine)
        async with make_sessionmaker(engine)() as session:
            if loners:
                session.add_all(
                    Hero(name=f"Loner {n}", secret_name=f"L{n}", team=Team(name=f"Team {n}", headquarters="HQ"))
                    for n in range(1, LONERS + 1)
                )
                await session.commit()
            else:
                await add_sample_data(session)
        yield engine
    finally:
        await engine.dispose()


def _is_lazy_load_in_model(error: ValidationError) -> bool:
    return any("MissingGreenlet" in problem.get("msg", "") for problem in error.errors())


async def _verify_heroes_with_team(heroes_with_team: Callable[..., Awaitable[Any]]) -> str:
    async with _database(loners=True) as engine, make_sessionmaker(engine)() as session:
        with count_statements(engine) as counter:
            try:
                result = await heroes_with_team(session)
            except ValidationError as error:
                if not _is_lazy_load_in_model(error):
                    raise
                raise NotSolved(f"{NOT_LOADED_HINT} (MissingGreenlet).\nLoad the team in the query itself.") from None
    if result is None:
        raise returned_nothing("heroes_with_team")
    result = list(result)
    if not all(isinstance(hero, HeroPublicWithTeam) for hero in result):
        raise NotSolved("Return a list of HeroPublicWithTeam: `HeroPublicWithTeam.model_validate(hero)` for each hero.")
    got = [(hero.name, hero.team.name if hero.team else None) for hero in result]
    expected = [(f"Loner {n}", f"Team {n}") for n in range(1, LONERS + 1)]
    if got != expected:
        raise NotSolved(
            f"Expected every hero with its team, in id order: {expected[:2]}, ...\nYour code returned {got[:2]}, ..."
        )
    if counter.count == 1 + LONERS:
        raise NotSolved(
            f"Your code sent {counter.count} statements for {LONERS} heroes: each `hero.team` {N_PLUS_ONE_HINT}"
        )
    if counter.count > 2:
        raise NotSolved(f"Your code sent {counter.count} statements for {LONERS} heroes: one or two are enough.")
    return f"{LONERS} heroes with their teams in {counter.count} statement{'s' if counter.count > 1 else ''}."


async def _verify_team_name_of(team_name_of: Callable[..., Awaitable[Any]]) -> str:
    expected = {1: "Z-Force", 2: "Preventers", 3: None}  # Deadpond, Rusty-Man, Spider-Boy (no team)
    async with _database(loners=False) as engine:
        sessionmaker = make_sessionmaker(engine)
        got: dict[int, Any] = {}
        for hero_id in expected:
            async with sessionmaker() as session:  # a fresh session each time: no team already in it
                try:
                    got[hero_id] = await team_name_of(session, hero_id)
                except Exception as error:
                    if not is_missing_greenlet(error):
                        raise
                    raise NotSolved(
                        f"{LAZY_READ_HINT}, so SQLAlchemy refused to load it (MissingGreenlet).\n"
                        'Load it with the hero (an option of `session.get`) or with `refresh(hero, ["team"])`.'
                    ) from None
    if all(value is None for value in got.values()):
        raise returned_nothing("team_name_of")
    if got != expected:
        raise NotSolved(f"Expected {expected} (hero id: team name), got {got}.")
    return "Deadpond's and Rusty-Man's teams loaded on purpose; Spider-Boy has none."


async def _verify_hero_with_team_only(hero_with_team_only: Callable[..., Awaitable[Any]]) -> str:
    async with _database(loners=False) as engine, make_sessionmaker(engine)() as session:
        hero = await hero_with_team_only(session, 1)
        if hero is None:
            raise returned_nothing("hero_with_team_only")
        if not isinstance(hero, Hero) or hero.id != 1:
            raise NotSolved("Return hero 1 itself (the `Hero` row), not a read model or another hero.")
        if "team" in inspect(hero).unloaded:
            raise NotSolved(f"{TEAM_NOT_LOADED_HINT}: put a loader for it in the query, next to `raiseload`.")
        team = hero.team.name if hero.team else None
        if team != "Z-Force":
            raise NotSolved(f"Deadpond's team is Z-Force, not {team}.")
        try:
            _ = hero.powers
        except Exception as error:
            if is_missing_greenlet(error):  # a subclass of InvalidRequestError, so tested first
                raise NotSolved(f'{NOT_RAISING_HINT} (MissingGreenlet): add `raiseload("*")`.') from None
            if not isinstance(error, InvalidRequestError) or "lazy='raise" not in str(error):
                raise
        else:
            raise NotSolved("`hero.powers` was loaded although the exercise asks to load only the team.")
    return "The team came with the hero; `hero.powers` raises at once instead of trying a lazy load."


exercise_1 = Exercise(
    number=1,
    names=("heroes_with_team",),
    verify=_verify_heroes_with_team,
    mistakes=(
        Mistake(
            code='''async def heroes_with_team(session) -> list[HeroPublicWithTeam]:
    """Every hero, in id order, as a HeroPublicWithTeam, in one or two statements."""
    heroes = (await session.exec(select(Hero).order_by(Hero.id))).all()
    for hero in heroes:
        await hero.awaitable_attrs.team
    return [HeroPublicWithTeam.model_validate(hero) for hero in heroes]''',
            hint=N_PLUS_ONE_HINT,
        ),
        Mistake(
            code='''async def heroes_with_team(session) -> list[HeroPublicWithTeam]:
    """Every hero, in id order, as a HeroPublicWithTeam, in one or two statements."""
    heroes = (await session.exec(select(Hero).order_by(Hero.id))).all()
    return [HeroPublicWithTeam.model_validate(hero) for hero in heroes]''',
            hint=NOT_LOADED_HINT,
        ),
    ),
)

exercise_2 = Exercise(
    number=2,
    names=("team_name_of",),
    verify=_verify_team_name_of,
    mistakes=(
        Mistake(
            code='''async def team_name_of(session, hero_id: int) -> str | None:
    """The name of the hero's team, or None if the hero has no team."""
    hero = await session.get(Hero, hero_id)
    await session.refresh(hero)
    return hero.team.name if hero.team is not None else None''',
            hint=LAZY_READ_HINT,
        ),
    ),
)

exercise_3 = Exercise(
    number=3,
    names=("hero_with_team_only",),
    verify=_verify_hero_with_team_only,
    mistakes=(
        Mistake(
            code='''async def hero_with_team_only(session, hero_id: int) -> Hero | None:
    """The hero with its team loaded; reading any other relationship raises at once."""
    statement = select(Hero).where(Hero.id == hero_id).options(selectinload(Hero.team))
    return (await session.exec(statement)).one_or_none()''',
            hint=NOT_RAISING_HINT,
        ),
        Mistake(
            code='''async def hero_with_team_only(session, hero_id: int) -> Hero | None:
    """The hero with its team loaded; reading any other relationship raises at once."""
    statement = select(Hero).where(Hero.id == hero_id).options(raiseload("*"))
    return (await session.exec(statement)).one_or_none()''',
            hint=TEAM_NOT_LOADED_HINT,
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
