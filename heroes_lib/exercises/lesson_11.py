"""Checks of lesson 11's exercises: all-or-nothing with a task group, and retrying a transaction whole."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved
from heroes_lib.models import Hero
from heroes_lib.retry import lost_a_race

#: Heroes the first exercise writes carry this prefix, so the check can count and remove them.
PREFIX = "Exercise "
#: Seconds the check waits for tasks that a failed group may have left running.
STRAGGLERS = 1.5


async def _count_and_remove(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        mine = col(Hero.name).startswith(PREFIX)
        count = (await session.exec(select(func.count()).select_from(Hero).where(mine))).one()
        await session.exec(delete(Hero).where(mine))
        await session.commit()
    return count


async def _verify_all_or_nothing(add_heroes_all_or_nothing: Callable[[list[str]], Awaitable[Any]]) -> str:
    engine = make_engine()
    sessions = make_sessionmaker(engine)
    try:
        await _count_and_remove(sessions)
        failed = False
        try:
            await add_heroes_all_or_nothing([f"{PREFIX}Storm", f"{PREFIX}Cyclops", ""])
        except Exception:  # an ExceptionGroup from a task group, or the ValueError itself
            failed = True
        await asyncio.sleep(STRAGGLERS)
        if await _count_and_remove(sessions):
            raise NotSolved(
                "The good heroes were committed after the nameless one failed: `gather` does not cancel the other\n"
                "tasks when one fails. Which asyncio construct cancels the siblings of a failed task?"
            )
        if not failed:
            raise NotSolved(
                "A hero without a name should make `add_heroes_all_or_nothing` fail, but it returned normally:\n"
                "let the error out of the task group (don't catch it inside the function)."
            )
        await add_heroes_all_or_nothing([f"{PREFIX}Storm", f"{PREFIX}Cyclops"])
        written = await _count_and_remove(sessions)
        if written != 2:
            raise NotSolved(f"With two good names, both heroes should be written; {written} were.")
    finally:
        await engine.dispose()
    return "One failure cancels the other tasks and their sessions roll back: nothing is half-written."


class _CrossingTransfers:
    """Two transfers that take one hero's row each, then want the other's: their first attempts always collide."""

    def __init__(self) -> None:
        self.sessions_used: dict[int, list[int]] = {2: [], 7: []}
        self._both_started = asyncio.Barrier(2)

    def transfer(self, first: int, second: int) -> Callable[[AsyncSession], Awaitable[None]]:
        async def work(session: AsyncSession) -> None:
            first_attempt = not self.sessions_used[first]
            self.sessions_used[first].append(id(session))
            if session.get_bind().dialect.name == "sqlite":
                await session.exec(select(Hero.age).where(col(Hero.id) == first))
            else:
                await session.exec(update(Hero).where(col(Hero.id) == first).values(age=col(Hero.age) + 1))
            if first_attempt:
                async with asyncio.timeout(10):  # the other transfer never came: the check reports it
                    await self._both_started.wait()
            await session.exec(update(Hero).where(col(Hero.id) == second).values(age=col(Hero.age) + 1))

        return work


async def _ages(sessions: async_sessionmaker[AsyncSession]) -> list[int | None]:
    async with sessions() as session:
        return list((await session.exec(select(Hero.age).where(col(Hero.id).in_([2, 7])).order_by(col(Hero.id)))).all())


async def _verify_retries(run_with_retries: Callable[..., Awaitable[Any]]) -> str:
    if "run_transaction" in getattr(run_with_retries, "__code__", compile("", "", "exec")).co_names:
        raise NotSolved("`run_with_retries` calls heroes_lib's `run_transaction`: write the loop yourself.")
    engine = make_engine()
    sessions = make_sessionmaker(engine)
    try:
        before = await _ages(sessions)
        transfers = _CrossingTransfers()
        crossing = (run_with_retries(transfers.transfer(2, 7)), run_with_retries(transfers.transfer(7, 2)))
        results = await asyncio.gather(*crossing, return_exceptions=True)
        attempts = transfers.sessions_used
        if not attempts[2] and not attempts[7]:
            raise NotSolved("`run_with_retries` never called `work`: write its body in place of the `...`.")
        if any(len(used) != len(set(used)) for used in attempts.values()):
            raise NotSolved(
                "A retry ran in the same session as the attempt that failed, whose transaction the database had\n"
                "already rolled back: open a new session for each attempt."
            )
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors and lost_a_race(errors[0]):
            raise NotSolved(
                "One transfer lost the race and was not run again: catch the error, check `lost_a_race(error)`,\n"
                "and run the whole transaction again in a new session."
            )
        if errors:
            raise errors[0]
        after = await _ages(sessions)
    finally:
        await engine.dispose()
    backend = engine.dialect.name
    writes = 1 if backend == "sqlite" else 2  # on SQLite each transfer reads one row and writes the other
    if [(age or 0) - (old or 0) for age, old in zip(after, before, strict=True)] != [writes, writes]:
        raise NotSolved("Both transfers ran, but the ages did not change as two committed transfers change them.")
    tries = sum(len(used) for used in attempts.values())
    return f"Both crossing transfers committed; the loser of the race ran again in a new session ({tries} attempts)."


#: The part of exercise 1's cell the learner is given as it is: the work of one task.
_GIVEN_HELPER = """async def add_hero_slowly(name: str) -> None:
    if not name:
        raise ValueError("a hero needs a name")
    async with Session() as session:
        session.add(Hero(name=name, secret_name="?"))
        await session.flush()
        await asyncio.sleep(0.2)
        await session.commit()


"""

exercise_1 = Exercise(
    number=1,
    names=("add_heroes_all_or_nothing",),
    verify=_verify_all_or_nothing,
    mistakes=(
        Mistake(
            code=_GIVEN_HELPER
            + """async def add_heroes_all_or_nothing(names: list[str]) -> None:
    results = await asyncio.gather(*(add_hero_slowly(name) for name in names), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            raise result""",
            hint="`gather` does not cancel the other",
        ),
        Mistake(
            code=_GIVEN_HELPER
            + """async def add_heroes_all_or_nothing(names: list[str]) -> None:
    try:
        async with asyncio.TaskGroup() as group:
            for name in names:
                group.create_task(add_hero_slowly(name))
    except* ValueError:
        pass""",
            hint="it returned normally",
        ),
    ),
)

exercise_2 = Exercise(
    number=2,
    names=("run_with_retries",),
    verify=_verify_retries,
    mistakes=(
        Mistake(
            code="""async def run_with_retries(work, attempts: int = 3):
    async with Session() as session:
        for attempt in range(1, attempts + 1):
            try:
                result = await work(session)
                await session.commit()
                return result
            except DBAPIError as error:
                if attempt == attempts or not lost_a_race(error):
                    raise
                await asyncio.sleep(0.05 * 2**attempt)""",
            hint="open a new session for each attempt",
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2)
