"""Checks for lesson 02's exercises: a commit that expires, a forgotten ``await``, a savepoint per row.

Each check runs the learner's function against the configured database through an engine of its own, looks at
what was saved, and removes the rows it made.
"""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db import is_missing_greenlet, make_engine, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, returned_nothing
from heroes_lib.models import Hero, Team

_NEVER_AWAITED = re.compile(r"coroutine '([\w.]+)' was never awaited")


@asynccontextmanager
async def _checking_session() -> AsyncIterator[AsyncSession]:
    """A session on an engine of the check's own (the learner's engine is left alone), disposed after."""
    engine = make_engine()
    try:
        async with make_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def _run_noting_unawaited(call: Callable[[], Awaitable[Any]]) -> tuple[Any, Exception | None, set[str]]:
    """Await ``call()``; return its result (or the exception it raised) and the coroutines it never awaited.

    The exercise framework hides "never awaited" warnings during a check; here they are recorded instead,
    because a forgotten ``await`` is what some exercises are about.
    """
    result: Any = None
    failure: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            result = await call()
        except Exception as error:  # judged by the caller, after the warnings are read
            failure = error
        gc.collect()  # a coroutine held in a cycle is reported only when collected
    names = {found.group(1) for w in caught if (found := _NEVER_AWAITED.search(str(w.message)))}
    return result, failure, names


# Exercise 1: expire_on_commit


async def _verify_save_team(save_team: Callable[[str, str], Awaitable[Any]]) -> str:
    name = "Exercise Squad"
    async with _checking_session() as session:
        await session.exec(delete(Team).where(col(Team.name) == name))
        await session.commit()
        try:
            answer, failure, unawaited = await _run_noting_unawaited(lambda: save_team(name, "Attic"))
            if any(name.endswith("refresh") for name in unawaited):
                raise NotSolved("`session.refresh(team)` was called without `await`: it never ran.")
            if failure is not None and is_missing_greenlet(failure):
                raise NotSolved(
                    "Reading the team after the commit raised MissingGreenlet: the commit expired the team.\n"
                    "Make the factory keep values after commit, or reload the team with an awaited refresh."
                ) from failure
            if failure is not None:
                raise failure
            if answer is None:
                raise returned_nothing("save_team")
            saved = (await session.exec(select(Team).where(Team.name == name))).first()
            if saved is None:
                raise NotSolved("No team named 'Exercise Squad' was saved: keep the `await session.commit()`.")
            if answer != f"{saved.id}: {name}":
                raise NotSolved(f'save_team returned {answer!r}; expected "<id>: <name>", here "{saved.id}: {name}".')
        finally:
            await session.exec(delete(Team).where(col(Team.name) == name))
            await session.commit()
    return "The team was saved and read after the commit without a query: nothing was expired."


exercise_1 = Exercise(
    number=1,
    names=("save_team",),
    verify=_verify_save_team,
    mistakes=(
        Mistake(
            code=(
                "TeamSession = async_sessionmaker(engine, class_=AsyncSession)\n\n\n"
                "async def save_team(name: str, headquarters: str) -> str:\n"
                "    async with TeamSession() as session:\n"
                "        team = Team(name=name, headquarters=headquarters)\n"
                "        session.add(team)\n"
                "        await session.commit()\n"
                '        return f"{team.id}: {team.name}"'
            ),
            hint="the commit expired the team",
        ),
        Mistake(
            code=(
                "TeamSession = async_sessionmaker(engine, class_=AsyncSession)\n\n\n"
                "async def save_team(name: str, headquarters: str) -> str:\n"
                "    async with TeamSession() as session:\n"
                "        team = Team(name=name, headquarters=headquarters)\n"
                "        session.add(team)\n"
                "        await session.commit()\n"
                "        session.refresh(team)\n"
                '        return f"{team.id}: {team.name}"'
            ),
            hint="`session.refresh(team)` was called without `await`",
        ),
    ),
)


# Exercise 2: a forgotten await on commit


async def _verify_move_team(move_team: Callable[[int, str], Awaitable[Any]]) -> str:
    name = "Exercise Movers"
    async with _checking_session() as session:
        await session.exec(delete(Team).where(col(Team.name) == name))
        team = Team(name=name, headquarters="Old Garage")
        session.add(team)
        await session.commit()
        assert team.id is not None
        try:
            team_id = team.id
            _, failure, unawaited = await _run_noting_unawaited(lambda: move_team(team_id, "New Garage"))
            if failure is not None:
                raise failure
            await session.refresh(team)
            if team.headquarters != "New Garage":
                if any(name.endswith("commit") for name in unawaited):
                    raise NotSolved(
                        "The new headquarters were not saved: `session.commit()` without `await` only made a\n"
                        "coroutine (Python warned it was never awaited), and closing the session rolled back."
                    )
                raise NotSolved("The new headquarters were not saved: the session closed without a commit.")
        finally:
            await session.exec(delete(Team).where(col(Team.name) == name))
            await session.commit()
    return "The new headquarters were committed: every coroutine was awaited."


_MOVE_TEAM = (
    "async def move_team(team_id: int, headquarters: str) -> None:\n"
    "    async with Session() as session:\n"
    "        team = await session.get(Team, team_id)\n"
    "        team.headquarters = headquarters\n"
)

exercise_2 = Exercise(
    number=2,
    names=("move_team",),
    verify=_verify_move_team,
    mistakes=(
        Mistake(code=_MOVE_TEAM + "        session.commit()", hint="`session.commit()` without `await`"),
        Mistake(code=_MOVE_TEAM, hint="the session closed without a commit"),
    ),
)


# Exercise 3: a savepoint per row


def _heroes_to_import() -> list[Hero]:
    return [
        Hero(name="Import Alpha", secret_name="exercise-import", age=30),
        Hero(name="Import Bravo", secret_name="exercise-import", age=-1),  # refused: CHECK age >= 0
        Hero(name="Import Charlie", secret_name="exercise-import", team_id=2_000_000_000),  # refused: no such team
        Hero(name="Import Delta", secret_name="exercise-import", age=41),
    ]


async def _verify_import_heroes(import_heroes: Callable[[list[Hero]], Awaitable[Any]]) -> str:
    async with _checking_session() as session:
        imported = select(Hero.name).where(Hero.secret_name == "exercise-import").order_by(Hero.name)
        await session.exec(delete(Hero).where(col(Hero.secret_name) == "exercise-import"))
        await session.commit()
        try:
            try:
                refused = await import_heroes(_heroes_to_import())
            except PendingRollbackError:
                raise NotSolved(
                    "After the first refused hero the session refused everything (PendingRollbackError): the\n"
                    "failed INSERT rolled back the whole transaction. Add each hero in its own `begin_nested()`."
                ) from None
            except IntegrityError:
                raise NotSolved(
                    "The database's refusal (IntegrityError) escaped import_heroes: catch it outside the\n"
                    "`async with session.begin_nested():` block, so the savepoint rolls back first."
                ) from None
            if refused is None:
                raise returned_nothing("import_heroes")
            saved = list((await session.exec(imported)).all())
        finally:
            await session.exec(delete(Hero).where(col(Hero.secret_name) == "exercise-import"))
            await session.commit()
    if saved != ["Import Alpha", "Import Delta"]:
        raise NotSolved(
            f"Saved {saved}, expected ['Import Alpha', 'Import Delta']: each hero in a savepoint, and\n"
            "one commit for the accepted ones at the end."
        )
    if sorted(refused) != ["Import Bravo", "Import Charlie"]:
        raise NotSolved(f"import_heroes returned {refused}: it should name the two refused heroes.")
    return "Two heroes saved, two refused, each refusal undone by its own savepoint."


_IMPORT_START = (
    "async def import_heroes(heroes: list[Hero]) -> list[str]:\n"
    "    refused: list[str] = []\n"
    "    async with Session.begin() as session:\n"
    "        for hero in heroes:\n"
)

exercise_3 = Exercise(
    number=3,
    names=("import_heroes",),
    verify=_verify_import_heroes,
    mistakes=(
        Mistake(
            code=(
                _IMPORT_START + "            session.add(hero)\n"
                "            try:\n"
                "                await session.flush()\n"
                "            except IntegrityError:\n"
                "                refused.append(hero.name)\n"
                "    return refused"
            ),
            hint="Add each hero in its own `begin_nested()`",
        ),
        Mistake(
            code=(
                _IMPORT_START + "            async with session.begin_nested():\n"
                "                session.add(hero)\n"
                "    return refused"
            ),
            hint="catch it outside the",
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
