"""Lesson 10's exercises: a bulk insert that is one statement, and a save that is one transaction.

Each check runs the learner's function on empty tables of its own (``make_engine()``) and judges it by what it
sent: statements and commits, counted. Never by timings, so the verdict is the same on every backend and machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from heroes_lib.counter import StatementCounter, count_statements
from heroes_lib.db import make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, fresh_tables, returned_nothing
from heroes_lib.models import Hero, HeroCreate
from heroes_lib.sample_data import generate_heroes

#: Heroes each check stores: every other one without an age, so rows differ in the keys they set.
HEROES = 40

RENDER_NULLS_HINT = "the ORM's bulk insert leaves out the `None` ages and splits the rows by the keys they set"
OBJECTS_HINT = "`add_all` builds a Hero object per row"
COMMIT_PER_ROW_HINT = "a commit per row is a transaction per row"
REFRESH_HINT = "`refresh` reads each row back with a SELECT"


@contextmanager
def _count_commits(engine: AsyncEngine) -> Iterator[list[object]]:
    """The commits ``engine`` sends inside the block, one list entry each."""
    commits: list[object] = []

    def on_commit(connection: object) -> None:
        commits.append(connection)

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)


@contextmanager
def _count_flushed_objects() -> Iterator[list[object]]:
    """The ``Hero`` objects the unit of work inserts inside the block (a bulk ``insert`` statement adds none)."""
    flushed: list[object] = []

    def before_insert(_mapper: object, _connection: object, target: object) -> None:
        flushed.append(target)

    event.listen(Hero, "before_insert", before_insert)
    try:
        yield flushed
    finally:
        event.remove(Hero, "before_insert", before_insert)


def _inserts(counter: StatementCounter) -> list[str]:
    return [sql for sql in counter.statements if sql.lstrip().upper().startswith("INSERT")]


def _reads(counter: StatementCounter) -> list[str]:
    return [sql for sql in counter.statements if sql.lstrip().upper().startswith("SELECT")]


async def _stored(engine: AsyncEngine) -> list[tuple[str, int | None]]:
    async with make_sessionmaker(engine)() as session:
        statement = select(Hero.name, Hero.age).order_by(col(Hero.name))
        return [(name, age) for name, age in (await session.exec(statement)).all()]


def _expected(heroes: list[HeroCreate]) -> list[tuple[str, int | None]]:
    return sorted((hero.name, hero.age) for hero in heroes)


async def _verify_insert_heroes(insert_heroes: Callable[..., Any]) -> str:
    heroes = list(generate_heroes(HEROES))
    async with fresh_tables() as engine:
        async with make_sessionmaker(engine)() as session:
            with count_statements(engine) as counter, _count_flushed_objects() as flushed:
                returned = await insert_heroes(session, heroes)
        stored = await _stored(engine)
    if not counter.statements and returned is None:
        raise returned_nothing("insert_heroes")
    if stored != _expected(heroes):
        committed = "nothing was stored: did you commit?" if not stored else f"{len(stored)} heroes were stored"
        raise NotSolved(f"Expected the {HEROES} heroes with their ages in the table; {committed}")
    inserts = _inserts(counter)
    if flushed:
        raise NotSolved(
            f"{OBJECTS_HINT} ({len(flushed)} were flushed) and, on some drivers, an INSERT each.\n"
            "Send plain rows instead: a list of dicts (`hero.model_dump()`) to one `insert`."
        )
    if len(inserts) > 1:
        raise NotSolved(
            f"Your code sent {len(inserts)} INSERT statements for {HEROES} heroes: {RENDER_NULLS_HINT}.\n"
            "Pass `.execution_options(render_nulls=True)`, or insert into `Hero.__table__` (Core)."
        )
    return f"{HEROES} heroes, some without an age, in {len(inserts)} INSERT statement."


async def _verify_save_heroes(save_heroes: Callable[..., Any]) -> str:
    heroes = list(generate_heroes(HEROES))
    async with fresh_tables() as engine:
        async with make_sessionmaker(engine)() as session:
            with count_statements(engine) as counter, _count_commits(engine) as commits:
                rows = await save_heroes(session, heroes)
        stored = await _stored(engine)
        async with make_sessionmaker(engine)() as session:
            ids = set((await session.exec(select(Hero.id))).all())
            total = (await session.exec(select(func.count()).select_from(Hero))).one()
    if rows is None:
        raise returned_nothing("save_heroes")
    rows = list(rows)
    if stored != _expected(heroes) or total != HEROES:
        raise NotSolved(f"Expected the {HEROES} heroes in the table; found {total}. Did you commit?")
    if len(rows) != HEROES or not all(isinstance(row, Hero) and row.id in ids for row in rows):
        raise NotSolved(f"Return the {HEROES} Hero rows, each with the id the database gave it.")
    if len(commits) > 1:
        raise NotSolved(
            f"Your code committed {len(commits)} times for {HEROES} heroes: {COMMIT_PER_ROW_HINT}.\n"
            "Add all the rows, then commit once."
        )
    reads = _reads(counter)
    if reads:
        raise NotSolved(
            f"Your code sent {len(reads)} SELECT statements: {REFRESH_HINT}.\n"
            "The flush already set each id, and `expire_on_commit=False` keeps the values after the commit."
        )
    return f"{HEROES} heroes stored in one transaction, ids set, nothing read back."


exercise_1 = Exercise(
    number=1,
    names=("insert_heroes",),
    verify=_verify_insert_heroes,
    mistakes=(
        Mistake(
            code='''async def insert_heroes(session, heroes: list) -> None:
    """Insert all `heroes` (HeroCreate objects) with one INSERT statement, then commit."""
    rows = [hero.model_dump() for hero in heroes]
    await session.exec(insert(Hero), params=rows)
    await session.commit()''',
            hint=RENDER_NULLS_HINT,
        ),
        Mistake(
            code='''async def insert_heroes(session, heroes: list) -> None:
    """Insert all `heroes` (HeroCreate objects) with one INSERT statement, then commit."""
    session.add_all(Hero.model_validate(hero) for hero in heroes)
    await session.commit()''',
            hint=OBJECTS_HINT,
        ),
    ),
)

exercise_2 = Exercise(
    number=2,
    names=("save_heroes",),
    verify=_verify_save_heroes,
    mistakes=(
        Mistake(
            code='''async def save_heroes(session, heroes: list) -> list[Hero]:
    """Store the `heroes` (HeroCreate objects); return the Hero rows, ids set."""
    rows = []
    for hero in heroes:
        row = Hero.model_validate(hero)
        session.add(row)
        await session.commit()
        rows.append(row)
    return rows''',
            hint=COMMIT_PER_ROW_HINT,
        ),
        Mistake(
            code='''async def save_heroes(session, heroes: list) -> list[Hero]:
    """Store the `heroes` (HeroCreate objects); return the Hero rows, ids set."""
    rows = [Hero.model_validate(hero) for hero in heroes]
    session.add_all(rows)
    await session.commit()
    for row in rows:
        await session.refresh(row)
    return rows''',
            hint=REFRESH_HINT,
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2)
