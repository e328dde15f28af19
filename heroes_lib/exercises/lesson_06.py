"""Checks for the exercises of lesson 06 (concurrency and pooling).

Each check hands the learner's function a session factory of its own, on an engine of its own, that watches how
the function uses it: how many sessions it opens, how many are open at once, whether it closes them. A shared
session, a lookup loop that runs one at a time or a lost update is then found from what the code did, the same way
on every backend and on every run, not by waiting for a race that may or may not happen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import Select, update
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, describe_error, returned_nothing
from heroes_lib.models import Hero

#: Seconds a read waits for the other concurrent callers to have read too (exercise 2). A correct locking read
#: (``FOR UPDATE``) keeps the others from reading at all, so the wait has to end on its own.
READ_HOLD = 1.0

#: Exercise 3's pool: two connections, no overflow, and a checkout that waits 10 ms. Each lookup holds its connection
#: for at least 20 ms, and the tasks of a gather all ask at once, so every lookup past the second times out.
SMALL_POOL_SIZE = 2
SMALL_POOL_TIMEOUT = 0.01


class _ReadGate:
    """Makes concurrent callers' first reads all happen before any of them goes on (the worst interleaving)."""

    def __init__(self, callers: int) -> None:
        self.callers = callers
        self._arrived: set[asyncio.Task[Any] | None] = set()
        self._all_arrived = asyncio.Event()

    def _arrive(self) -> bool:
        """Count the current task in; whether it is new."""
        task = asyncio.current_task()
        if task in self._arrived:
            return False
        self._arrived.add(task)
        if len(self._arrived) >= self.callers:
            self._all_arrived.set()
        return True

    async def after_read(self) -> None:
        """Called after each read: the first one of each caller waits for the others' first reads."""
        if self._arrive():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READ_HOLD):
                    await self._all_arrived.wait()

    def finished(self) -> None:
        """A caller that ends without reading must not keep the others waiting."""
        self._arrive()


class _WatchedSession:
    """A session that reports to its factory; every attribute not defined here is the real session's."""

    def __init__(self, factory: WatchedSessions) -> None:
        self._factory = factory
        self._session = factory.sessionmaker()
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def __aenter__(self) -> _WatchedSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the real session, once, and count it as closed."""
        if not self._closed:
            self._closed = True
            self._factory.open -= 1
        await self._session.close()

    async def _read(self, method: str, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await getattr(self._session, method)(statement, *args, **kwargs)
        if self._factory.gate is not None and (method == "get" or isinstance(statement, Select)):
            await self._factory.gate.after_read()
        return result

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        """``AsyncSession.get``, a read."""
        return await self._read("get", *args, **kwargs)

    async def exec(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """``AsyncSession.exec``; a read when the statement is a ``SELECT``."""
        return await self._read("exec", statement, *args, **kwargs)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """``AsyncSession.execute``; a read when the statement is a ``SELECT``."""
        return await self._read("execute", statement, *args, **kwargs)

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """``AsyncSession.scalar``; a read when the statement is a ``SELECT``."""
        return await self._read("scalar", statement, *args, **kwargs)

    async def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        """``AsyncSession.scalars``; a read when the statement is a ``SELECT``."""
        return await self._read("scalars", statement, *args, **kwargs)


class WatchedSessions:
    """A session factory (called like ``Session()``) that counts the sessions made and those open at once."""

    def __init__(self, engine: AsyncEngine, gate: _ReadGate | None = None) -> None:
        self.sessionmaker = make_sessionmaker(engine)
        self.gate = gate
        self.created = 0
        self.open = 0
        self.most_open = 0
        self._sessions: list[_WatchedSession] = []

    def __call__(self) -> _WatchedSession:
        session = _WatchedSession(self)
        self._sessions.append(session)
        self.created += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        return session

    async def close_all(self) -> int:
        """Close the sessions the code left open (their connections go back to the pool); return how many."""
        left_open = self.open
        for session in self._sessions:
            await session.close()
        return left_open


@contextlib.contextmanager
def _tasks_started() -> Iterator[set[asyncio.Task[Any]]]:
    """The tasks started inside the block that are still running at its end (``gather`` leaves them running)."""
    before = asyncio.all_tasks()
    started: set[asyncio.Task[Any]] = set()
    try:
        yield started
    finally:
        started.update(task for task in asyncio.all_tasks() - before if not task.done())


async def _run_and_settle(call: Awaitable[Any], sessions: WatchedSessions) -> tuple[Any, BaseException | None, int]:
    """Await the learner's call, let any task it left running end, and close the sessions it left open.

    Returns what the call returned, what it raised, and how many sessions it left open.
    """
    result: Any = None
    error: BaseException | None = None
    with _tasks_started() as leftovers:
        try:
            result = await call
        except Exception as raised:
            error = raised
    if leftovers:
        await asyncio.gather(*leftovers, return_exceptions=True)
    left_open = await sessions.close_all()
    return result, error, left_open


async def _names_by_id(engine: AsyncEngine) -> dict[int, str]:
    async with make_sessionmaker(engine)() as session:
        heroes = (await session.exec(select(Hero).order_by(col(Hero.id)))).all()
    return {hero.id: hero.name for hero in heroes if hero.id is not None}


# Exercise 1: one session per task


HERO_IDS = [3, 1, 7, 2, 5]


async def _verify_hero_names(hero_names: Callable[..., Awaitable[Any]]) -> str:
    engine = make_engine()
    try:
        expected = [(await _names_by_id(engine))[hero_id] for hero_id in HERO_IDS]
        sessions = WatchedSessions(engine)
        result, error, left_open = await _run_and_settle(hero_names(sessions, list(HERO_IDS)), sessions)
    finally:
        await engine.dispose()
    lookups = len(HERO_IDS)
    if sessions.created < lookups:
        used = "one session" if sessions.created == 1 else f"only {sessions.created} sessions"
        raise NotSolved(
            f"The {lookups} concurrent lookups used {used}: a shared session. A session is not safe to use"
            "\nfrom two tasks at once; open one per task, inside the coroutine that uses it."
        )
    if error is not None:
        raise error
    if left_open:
        raise NotSolved(
            f"{left_open} of {sessions.created} sessions were left open, each holding a pooled connection:"
            "\nopen each with `async with session_factory() as session:` so that it is closed."
        )
    if sessions.most_open < 2:
        raise NotSolved(
            f"The {lookups} lookups ran one after another (never two sessions open at once):"
            "\ngather them, each in a session of its own, so that they wait for the database together."
        )
    if result is None:
        raise returned_nothing("hero_names")
    if list(result) != expected:
        raise NotSolved(f"hero_names(session_factory, {HERO_IDS}) returned {list(result)!r},\nnot {expected!r}.")
    return f"{lookups} lookups at once, one session each, names in the order asked for."


HERO_NAMES_SEQUENTIAL = """\
async def hero_names(session_factory, hero_ids: list[int]) -> list[str]:
    names = []
    for hero_id in hero_ids:
        async with session_factory() as session:
            names.append((await session.get(Hero, hero_id)).name)
    return names
"""

HERO_NAMES_NEVER_CLOSED = """\
async def hero_names(session_factory, hero_ids: list[int]) -> list[str]:
    sessions = [session_factory() for _ in hero_ids]
    heroes = await asyncio.gather(*(s.get(Hero, hero_id) for s, hero_id in zip(sessions, hero_ids)))
    return [hero.name for hero in heroes]
"""

exercise_1 = Exercise(
    number=1,
    names=("hero_names",),
    verify=_verify_hero_names,
    mistakes=(
        Mistake(code=HERO_NAMES_SEQUENTIAL, hint="ran one after another"),
        Mistake(code=HERO_NAMES_NEVER_CLOSED, hint="sessions were left open"),
    ),
)


# Exercise 2: no lost update

BIRTHDAY_HERO = 2  # Rusty-Man
BIRTHDAYS = 3
START_AGE = 48


async def _age(engine: AsyncEngine) -> int | None:
    async with make_sessionmaker(engine)() as session:
        hero = await session.get(Hero, BIRTHDAY_HERO, populate_existing=True)
        return None if hero is None else hero.age


async def _verify_birthday(birthday: Callable[..., Awaitable[Any]]) -> str:
    engine = make_engine()
    try:
        async with make_sessionmaker(engine)() as session:
            await session.exec(update(Hero).where(col(Hero.id) == BIRTHDAY_HERO).values(age=START_AGE))
            await session.commit()
        gate = _ReadGate(BIRTHDAYS)
        sessions = WatchedSessions(engine, gate)

        async def one_request() -> Any:
            try:
                return await birthday(sessions, BIRTHDAY_HERO)
            finally:
                gate.finished()

        async def all_requests() -> list[Any]:
            return await asyncio.gather(*(one_request() for _ in range(BIRTHDAYS)), return_exceptions=True)

        outcomes, error, _ = await _run_and_settle(all_requests(), sessions)
        age = await _age(engine)
    finally:
        await engine.dispose()
    if error is not None:
        raise error
    raised = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    if age != START_AGE + BIRTHDAYS:
        # On SQLite a write based on a stale read is refused ("database is locked") instead of overwriting.
        refused = f"; {len(raised)} raised {describe_error(raised[0])}" if raised else ""
        raise NotSolved(
            f"{BIRTHDAYS} birthdays at once took the age from {START_AGE} to {age}{refused}.\nEach request wrote an"
            " age computed from what it had read: a lost update. Let the database compute it: age = age + 1."
        )
    if raised:
        raise raised[0]
    return f"{BIRTHDAYS} birthdays at once, even with every read first: {START_AGE} became {age}, none lost."


BIRTHDAY_ONE_SESSION = """\
async def birthday(session_factory, hero_id: int) -> None:
    async with session_factory() as session:
        hero = await session.get(Hero, hero_id)
        hero.age += 1
        await session.commit()
"""

exercise_2 = Exercise(
    number=2,
    names=("birthday",),
    verify=_verify_birthday,
    mistakes=(Mistake(code=BIRTHDAY_ONE_SESSION, hint="a lost update"),),
)


# Exercise 3: bound the gather to the pool


async def _verify_slow_names(slow_names: Callable[..., Awaitable[Any]]) -> str:
    engine = make_engine(pool_size=SMALL_POOL_SIZE, max_overflow=0, pool_timeout=SMALL_POOL_TIMEOUT)
    try:
        expected = [(await _names_by_id(engine))[hero_id] for hero_id in HERO_IDS]
        sessions = WatchedSessions(engine)
        result, error, _ = await _run_and_settle(slow_names(sessions, list(HERO_IDS)), sessions)
    finally:
        await engine.dispose()
    if isinstance(error, PoolTimeoutError):
        raise NotSolved(
            "sqlalchemy.exc.TimeoutError: the pool ran dry (more lookups wanted a connection at once than its 2)."
            "\nMake each lookup wait for its turn at a semaphore of 2 before it opens its session."
        )
    if error is not None:
        raise error
    if sessions.most_open < 2:
        raise NotSolved(
            f"The {len(HERO_IDS)} lookups ran one after another: let 2 run at once, one per pooled connection."
        )
    if result is None:
        raise returned_nothing("slow_names")
    if list(result) != expected:
        raise NotSolved(f"slow_names(session_factory, {HERO_IDS}) returned {list(result)!r},\nnot {expected!r}.")
    return f"{len(HERO_IDS)} slow lookups, at most {sessions.most_open} at once on 2 connections: none timed out."


SLOW_NAMES_SEMAPHORE_AROUND_GATHER = """\
async def slow_names(session_factory, hero_ids: list[int]) -> list[str]:
    semaphore = asyncio.Semaphore(2)
    async with semaphore:
        return await asyncio.gather(*(slow_lookup(session_factory, hero_id) for hero_id in hero_ids))
"""

SLOW_NAMES_SEQUENTIAL = """\
async def slow_names(session_factory, hero_ids: list[int]) -> list[str]:
    return [await slow_lookup(session_factory, hero_id) for hero_id in hero_ids]
"""

exercise_3 = Exercise(
    number=3,
    names=("slow_names",),
    verify=_verify_slow_names,
    mistakes=(
        Mistake(code=SLOW_NAMES_SEMAPHORE_AROUND_GATHER, hint="the pool ran dry"),
        Mistake(code=SLOW_NAMES_SEQUENTIAL, hint="ran one after another"),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
