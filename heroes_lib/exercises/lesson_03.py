"""Checks for lesson 03's exercises: a partial update, a one-statement insert, a get-or-create that survives a race.

Each check hands the learner's function sessions of its own, on the configured database, looks at what was stored,
and removes the rows it made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, NoResultFound, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.counter import count_statements
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, returned_nothing
from heroes_lib.models import Hero, HeroCreate, HeroUpdate, Power, Team

#: An id no row has, and small enough for an INTEGER column (a larger one is refused by asyncpg before any query).
_NO_SUCH_ID = 2_000_000_000


@asynccontextmanager
async def _checking_engine() -> AsyncIterator[AsyncEngine]:
    """An engine of the check's own (the notebook's is left alone), disposed after."""
    engine = make_engine()
    try:
        yield engine
    finally:
        await engine.dispose()


# Exercise 1: a partial update


async def _verify_patch_hero(patch_hero: Callable[[AsyncSession, int, HeroUpdate], Awaitable[Any]]) -> str:
    async with _checking_engine() as engine, make_sessionmaker(engine)() as session:
        team_name = "Exercise Patchers"
        await session.exec(delete(Team).where(col(Team.name) == team_name))
        team = Team(name=team_name, headquarters="Workshop")
        session.add(team)
        await session.commit()
        team_id = team.id
        hero = Hero(name="Patchy", secret_name="exercise-patch", age=30, team_id=team_id)
        session.add(hero)
        await session.commit()
        hero_id = hero.id
        assert hero_id is not None
        try:
            try:
                answer = await patch_hero(session, hero_id, HeroUpdate(age=31))
            except IntegrityError:
                await session.rollback()
                raise NotSolved(
                    "HeroUpdate(age=31) made the database refuse a NULL name: `model_dump()` sends the fields the\n"
                    "client left out as None. Dump only the fields that were set (`exclude_unset=True`)."
                ) from None
            if answer is None:
                raise returned_nothing("patch_hero")
            await session.refresh(hero)
            if (hero.name, hero.age, hero.team_id) != ("Patchy", 31, team_id):
                raise NotSolved(
                    f"After HeroUpdate(age=31) the stored hero has name={hero.name!r}, age={hero.age}, team_id="
                    f"{hero.team_id}:\nonly the age should change. Dump only the fields that were set."
                )
            await patch_hero(session, hero_id, HeroUpdate(age=None))
            await session.refresh(hero)
            if hero.age is not None:
                raise NotSolved(
                    "HeroUpdate(age=None) left the age at 31: an explicit null should clear it. `exclude_none`\n"
                    "drops it like a field never sent; `exclude_unset` tells the two apart."
                )
            if await patch_hero(session, _NO_SUCH_ID, HeroUpdate(age=1)) is not None:
                raise NotSolved("patch_hero should return None for an id no hero has.")
        finally:
            await session.rollback()
            await session.exec(delete(Hero).where(col(Hero.secret_name) == "exercise-patch"))
            await session.exec(delete(Team).where(col(Team.name) == team_name))
            await session.commit()
    return "Only the fields sent changed, an explicit null cleared the age, and a missing id gave None."


_PATCH_START = (
    "async def patch_hero(session, hero_id: int, changes: HeroUpdate) -> Hero | None:\n"
    "    hero = await session.get(Hero, hero_id)\n"
    "    if hero is None:\n"
    "        return None\n"
)
_PATCH_END = "    session.add(hero)\n    await session.commit()\n    return hero"

exercise_1 = Exercise(
    number=1,
    names=("patch_hero",),
    verify=_verify_patch_hero,
    mistakes=(
        Mistake(
            code=_PATCH_START + "    hero.sqlmodel_update(changes.model_dump())\n" + _PATCH_END,
            hint="(`exclude_unset=True`)",
        ),
        Mistake(
            code=_PATCH_START + "    hero.sqlmodel_update(changes.model_dump(exclude_none=True))\n" + _PATCH_END,
            hint="an explicit null should clear it",
        ),
    ),
)


# Exercise 2: many heroes in one statement


def _heroes_to_insert() -> list[HeroCreate]:
    # Every other hero without an age: rows with different columns set are what splits the ORM's inserts.
    return [
        HeroCreate(name=f"Bulk {number}", secret_name="exercise-bulk", age=None if number % 2 else 20 + number)
        for number in range(1, 7)
    ]


async def _verify_insert_heroes(insert_heroes: Callable[[AsyncSession, list[HeroCreate]], Awaitable[Any]]) -> str:
    inserted = select(func.count()).select_from(Hero).where(Hero.secret_name == "exercise-bulk")
    async with _checking_engine() as engine, make_sessionmaker(engine)() as session:
        await session.exec(delete(Hero).where(col(Hero.secret_name) == "exercise-bulk"))
        await session.commit()
        try:
            with count_statements(engine) as counted:
                await insert_heroes(session, _heroes_to_insert())
            await session.rollback()  # whatever was not committed is not counted as inserted
            stored = (await session.exec(inserted)).one()
        finally:
            await session.exec(delete(Hero).where(col(Hero.secret_name) == "exercise-bulk"))
            await session.commit()
    inserts = [statement for statement in counted.statements if statement.lstrip().upper().startswith("INSERT")]
    if stored == 0 and not inserts:
        raise NotSolved("No hero was inserted: write the body of insert_heroes in place of the `...`.")
    if stored != 6:
        raise NotSolved(f"{stored} of the 6 heroes were stored: is the insert committed?")
    if len(set(inserts)) > 1:  # statements with different column lists
        raise NotSolved(
            f"Your code sent {len(inserts)} INSERT statements: `insert(Hero)` leaves out the None values, so rows\n"
            "with different columns set go apart. Insert through the table, `insert(Hero.__table__)`."
        )
    if any("RETURNING" in statement.upper() for statement in inserts):
        raise NotSolved(
            "Your code asked for the new ids back (INSERT ... RETURNING, as `add_all` does): batched on PostgreSQL\n"
            "and MariaDB, one statement per row on SQLite. Send one Core insert with a list of dicts instead."
        )
    if len(inserts) != 1:
        raise NotSolved(f"Your code sent {len(inserts)} INSERT statements: send all the rows with one.")
    return "6 heroes, one INSERT statement: every row carries every column, None included."


exercise_2 = Exercise(
    number=2,
    names=("insert_heroes",),
    verify=_verify_insert_heroes,
    mistakes=(
        Mistake(
            code=(
                "async def insert_heroes(session, heroes: list[HeroCreate]) -> None:\n"
                "    session.add_all([Hero.model_validate(hero) for hero in heroes])\n"
                "    await session.commit()"
            ),
            hint="as `add_all` does",
        ),
        Mistake(
            code=(
                "from sqlalchemy import insert\n\n\n"
                "async def insert_heroes(session, heroes: list[HeroCreate]) -> None:\n"
                "    await session.exec(insert(Hero), params=[hero.model_dump() for hero in heroes])\n"
                "    await session.commit()"
            ),
            hint="`insert(Hero)` leaves out the None values",
        ),
    ),
)


# Exercise 3: get-or-create under a race


class _RacingSession(AsyncSession):
    """A session whose first statement, if it is a SELECT, waits until the other request has run its own.

    That is the worst moment for a read-then-insert: both requests have looked, found nothing, and will insert.
    Code that inserts first is not held back.
    """

    def __init__(self, *args: Any, both_looked: asyncio.Barrier, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._both_looked = both_looked
        self._first = True

    async def exec(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await super().exec(statement, *args, **kwargs)
        first, self._first = self._first, False
        if first and getattr(statement, "is_select", False):
            async with asyncio.timeout(10):
                await self._both_looked.wait()
        return result


async def _verify_get_or_create_power(get_or_create_power: Callable[[AsyncSession, str], Awaitable[Any]]) -> str:
    name = "Exercise Telepathy"
    stored = select(Power).where(Power.name == name)
    async with _checking_engine() as engine:
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            await session.exec(delete(Power).where(col(Power.name) == name))
            await session.commit()
        try:
            async with sessions() as session:
                created = await get_or_create_power(session, name)
            if created is None:
                raise returned_nothing("get_or_create_power")
            async with sessions() as session:
                rows = (await session.exec(stored)).all()
            if len(rows) != 1:
                raise NotSolved("The new power was not stored: commit before returning it.")
            async with sessions() as session:
                again = await get_or_create_power(session, name)
            if getattr(again, "id", None) != rows[0].id:
                raise NotSolved("A second call for the same name should return the power already stored.")
            async with sessions() as session:
                await session.exec(delete(Power).where(col(Power.name) == name))
                await session.commit()
            both_looked = asyncio.Barrier(2)

            async def request() -> Any:
                async with _RacingSession(bind=engine, expire_on_commit=False, both_looked=both_looked) as session:
                    return await get_or_create_power(session, name)

            answers: list[Any] = list(await asyncio.gather(request(), request(), return_exceptions=True))
            first, second = answers
            for answer in answers:
                if isinstance(answer, IntegrityError | OperationalError):
                    raise NotSolved(
                        "Two requests at once: both looked, found no power of that name, and the second INSERT was\n"
                        "refused. Insert first, letting the database skip a duplicate name, then read the row."
                    ) from answer
                if isinstance(answer, NoResultFound):
                    raise NotSolved(
                        "A racing request found no row after its INSERT was skipped: a read before the INSERT fixed\n"
                        "what its transaction sees (MariaDB's REPEATABLE READ). Insert first, then read."
                    ) from answer
                if isinstance(answer, BaseException):
                    raise answer
            async with sessions() as session:
                rows = (await session.exec(stored)).all()
            if len(rows) != 1 or {getattr(first, "id", None), getattr(second, "id", None)} != {rows[0].id}:
                raise NotSolved("Two requests at once should both get the one stored power.")
        finally:
            async with sessions() as session:
                await session.exec(delete(Power).where(col(Power.name) == name))
                await session.commit()
    return "Created once, found the second time, and two racing requests both got the one row."


_GET_OR_CREATE_SAFE = (
    "from sqlalchemy.dialects import mysql, postgresql, sqlite\n\n\n"
    "async def get_or_create_power(session, name: str) -> Power:\n"
    "    backend = (await session.connection()).dialect.name\n"
    '    if backend == "mysql":\n'
    "        statement = mysql.insert(Power).values(name=name)\n"
    "        statement = statement.on_duplicate_key_update(name=statement.inserted.name)\n"
    "    else:\n"
    '        insert = postgresql.insert if backend == "postgresql" else sqlite.insert\n'
    "        statement = insert(Power).values(name=name).on_conflict_do_nothing(index_elements=[Power.name])\n"
    "    await session.exec(statement)\n"
    "    power = (await session.exec(select(Power).where(Power.name == name))).one()\n"
)

exercise_3 = Exercise(
    number=3,
    names=("get_or_create_power",),
    verify=_verify_get_or_create_power,
    mistakes=(
        Mistake(
            code=(
                "async def get_or_create_power(session, name: str) -> Power:\n"
                "    power = (await session.exec(select(Power).where(Power.name == name))).first()\n"
                "    if power is None:\n"
                "        power = Power(name=name)\n"
                "        session.add(power)\n"
                "        await session.commit()\n"
                "    return power"
            ),
            hint="found no power of that name",
        ),
        Mistake(code=_GET_OR_CREATE_SAFE + "    return power", hint="commit before returning it"),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
