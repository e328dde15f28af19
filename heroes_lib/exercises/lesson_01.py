"""Checks for the exercises of lesson 01 (the async engine).

Each check makes an engine of its own on the database ``HEROES_DATABASE_URL`` selects (``make_engine()``), puts the
database in a known state, calls the learner's function with it and judges what the database holds afterwards, or
what the function returned. The mistakes the lesson's "Common errors" showed (``create_all`` or ``inspect`` on an
``AsyncConnection``, ``engine.connect()`` without ``async with``, a forgotten ``await``) get a hint of their own.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.ext.asyncio.exc import AsyncContextNotStarted
from sqlmodel import SQLModel

from heroes_lib.db import make_engine
from heroes_lib.exercises import Exercise, Mistake, NotSolved, returned_nothing
from heroes_lib.models import Hero
from heroes_lib.schema import create_schema, drop_schema, reset_schema, table_names

#: A table the check of exercise 2 creates for the time of the check: no model describes it, so its columns can
#: only be read from the database.
PROBE_TABLE = "lesson01_probe"
PROBE_COLUMNS = ["code", "id", "score"]

FORGOTTEN_AWAIT = (
    "`connection.execute(...)` gave a coroutine, not a result: nothing was sent to the database.\n"
    "Put `await` in front of it."
)


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Call the learner's function and await what it returns if it is awaitable (an ``async def``)."""
    answer = function(*args)
    if inspect.isawaitable(answer):
        answer = await answer
    return answer


def _is_forgotten_await(error: BaseException) -> bool:
    return isinstance(error, AttributeError) and "'coroutine' object" in str(error)


# Exercise 1: create the tables with run_sync, in a transaction that is committed.


async def _verify_create_tables(create_tables: Callable[..., Awaitable[None] | None]) -> str:
    engine = make_engine()
    connections: list[object] = []
    commits: list[object] = []
    try:
        await drop_schema(engine)
        # Counted from here on: what the learner's function does, not the check's own preparation.
        event.listen(engine.sync_engine, "engine_connect", connections.append)
        event.listen(engine.sync_engine, "commit", commits.append)
        try:
            await _call(create_tables, engine)
        except AttributeError as error:
            if "_run_ddl_visitor" in str(error):
                raise NotSolved(
                    "`create_all` is synchronous code: given the AsyncConnection itself, it fails.\n"
                    "Run it inside the bridge: `await connection.run_sync(SQLModel.metadata.create_all)`."
                ) from error
            raise
        used, committed = len(connections), len(commits)  # before the check's own queries below
        present = set(await table_names(engine))
    finally:
        await create_schema(engine)  # the course's tables stay in place, whatever the code above did
        await engine.dispose()
    if not used:
        raise NotSolved("`create_tables` did not use the engine: write its body in place of the `...`.")
    if not committed:
        raise NotSolved(
            "Nothing was committed: an `engine.connect()` block ends with a rollback, which undoes CREATE TABLE on\n"
            "PostgreSQL and SQLite. Use `engine.begin()`, which commits at the end of its block."
        )
    missing = sorted(set(SQLModel.metadata.tables) - present)
    if missing:
        raise NotSolved(f"These tables were not created: {', '.join(missing)}. Call `SQLModel.metadata.create_all`.")
    return "Every table of SQLModel.metadata exists: create_all ran through run_sync, and the transaction committed."


# Exercise 2: read a table's column names with inspect, through run_sync.


async def _verify_column_names(column_names: Callable[..., Awaitable[Any] | Any]) -> str:
    engine = make_engine()
    try:
        await create_schema(engine)
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {PROBE_TABLE}"))
            await connection.execute(
                text(f"CREATE TABLE {PROBE_TABLE} (code VARCHAR(10), id INTEGER PRIMARY KEY, score INTEGER)")
            )
        try:
            hero = await _call(column_names, engine, "hero")
            probe = await _call(column_names, engine, PROBE_TABLE)
        except NoInspectionAvailable as error:
            raise NotSolved(
                "`inspect()` cannot read an AsyncConnection.\n"
                "Call it inside the bridge: `await connection.run_sync(lambda sync: inspect(sync).get_columns(table))`."
            ) from error
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {PROBE_TABLE}"))
        await engine.dispose()
    if hero is None:
        raise returned_nothing("column_names")
    if isinstance(hero, list) and hero and isinstance(hero[0], dict):
        raise NotSolved(
            "`column_names` returned the columns' descriptions (dicts); return the `name` of each: "
            '`[column["name"] for column in columns]`.'
        )
    expected_hero = [column.name for column in SQLModel.metadata.tables["hero"].columns]
    if list(hero) != expected_hero:
        raise NotSolved(f"For `hero` it returned {hero!r}; the database has {expected_hero!r}.")
    if probe != PROBE_COLUMNS:
        raise NotSolved(
            f"Right for `hero`, but for a table no model describes it returned {probe!r}, not {PROBE_COLUMNS!r}.\n"
            "Read the columns from the database with `inspect`, not from the models."
        )
    return "It read the columns from the database itself, with inspect run inside run_sync."


# Exercise 3: fix engine.connect() used without async with.

HEROES_STORED = 3


async def _verify_count_heroes(count_heroes: Callable[..., Awaitable[Any] | Any]) -> str:
    engine = make_engine()
    try:
        await reset_schema(engine)
        async with engine.begin() as connection:
            await connection.execute(
                insert(Hero), [{"name": f"Hero {n}", "secret_name": f"Person {n}"} for n in range(HEROES_STORED)]
            )
        try:
            answer = await _call(count_heroes, engine)
        except AsyncContextNotStarted as error:
            raise NotSolved(
                "`engine.connect()` gave a connection that was never opened.\n"
                "Open it with `async with engine.connect() as connection:` (which also gives it back at the end)."
            ) from error
        except TypeError as error:
            if "context manager" in str(error):
                raise NotSolved(
                    "A plain `with` cannot open an async connection.\n"
                    "Write `async with engine.connect() as connection:`."
                ) from error
            raise
        except AttributeError as error:
            if _is_forgotten_await(error):
                raise NotSolved(FORGOTTEN_AWAIT) from error
            raise
    finally:
        await engine.dispose()
    if answer is None:
        raise returned_nothing("count_heroes")
    if answer != HEROES_STORED:
        raise NotSolved(f"`count_heroes` returned {answer!r}; the check stored {HEROES_STORED} heroes.")
    return "It opened the connection with async with (which gives it back at the end) and counted the heroes."


_COUNT_HEAD = '''from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def count_heroes(engine: AsyncEngine) -> int:
    """How many heroes the database holds."""
'''

exercise_1 = Exercise(
    number=1,
    names=("create_tables",),
    verify=_verify_create_tables,
    mistakes=(
        Mistake(
            code='''from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel


async def create_tables(engine: AsyncEngine) -> None:
    """Create the tables of SQLModel.metadata that are missing."""
    async with engine.begin() as connection:
        SQLModel.metadata.create_all(connection)
''',
            hint="`create_all` is synchronous code",
        ),
        Mistake(
            code='''from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel


async def create_tables(engine: AsyncEngine) -> None:
    """Create the tables of SQLModel.metadata that are missing."""
    async with engine.connect() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
''',
            hint="Nothing was committed",
        ),
    ),
)

exercise_2 = Exercise(
    number=2,
    names=("column_names",),
    verify=_verify_column_names,
    mistakes=(
        Mistake(
            code='''from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine


async def column_names(engine: AsyncEngine, table: str) -> list[str]:
    """The names of the table's columns, as the database reports them."""
    async with engine.connect() as connection:
        columns = inspect(connection).get_columns(table)
    return [column["name"] for column in columns]
''',
            hint="`inspect()` cannot read an AsyncConnection",
        ),
        Mistake(
            code='''from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine


async def column_names(engine: AsyncEngine, table: str) -> list[str]:
    """The names of the table's columns, as the database reports them."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync_connection: inspect(sync_connection).get_columns(table))
''',
            hint="returned the columns' descriptions (dicts)",
        ),
    ),
)

exercise_3 = Exercise(
    number=3,
    names=("count_heroes",),
    verify=_verify_count_heroes,
    mistakes=(
        Mistake(
            code=_COUNT_HEAD
            + """    with engine.connect() as connection:
        result = await connection.execute(text("SELECT count(*) FROM hero"))
        return result.scalar_one()
""",
            hint="A plain `with` cannot open an async connection",
        ),
        Mistake(
            code=_COUNT_HEAD
            + """    async with engine.connect() as connection:
        result = connection.execute(text("SELECT count(*) FROM hero"))
        return result.scalar_one()
""",
            hint="Put `await` in front of it.",
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
