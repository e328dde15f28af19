"""Checks for the exercise of lesson 00 (start here): a first query of your own on the database at hand.

The check hands the learner's function an engine of its own (``make_engine()``, so the database ``HEROES_DATABASE_URL``
selects) and compares what it returns with the version SQLAlchemy itself read from the server when it connected.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib.db import make_engine
from heroes_lib.exercises import Exercise, Mistake, NotSolved, returned_nothing

_PLACEHOLDER_HEAD = '''from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

VERSION_SQL = {  # by engine.dialect.name ("mysql" for MariaDB too)
    "sqlite": text("SELECT sqlite_version()"),
    "postgresql": text("SELECT version()"),
    "mysql": text("SELECT version()"),
}


async def server_version(engine: AsyncEngine) -> str:
    """The version the database reports, as text."""
'''


def _reported_version(engine: AsyncEngine) -> str:
    """The version SQLAlchemy read from the database on the first connection, e.g. ``3.40.1`` or ``15.20``."""
    info = engine.dialect.server_version_info or ()
    return ".".join(str(part) for part in info if isinstance(part, int))


async def _verify_server_version(server_version: Callable[..., Awaitable[Any] | Any]) -> str:
    engine = make_engine()
    try:
        try:
            answer = server_version(engine)
            if inspect.isawaitable(answer):
                answer = await answer
        except AttributeError as error:
            if "'coroutine' object" in str(error):
                raise NotSolved(
                    "`connection.execute(...)` gave a coroutine, not a result: nothing was sent to the database.\n"
                    "Put `await` in front of it."
                ) from error
            raise
        expected = _reported_version(engine)
    finally:
        await engine.dispose()
    if answer is None:
        raise returned_nothing("server_version")
    if isinstance(answer, CursorResult):
        raise NotSolved(
            "`server_version` returned the Result of the query, not the text in it.\n"
            "Read its one value with `.scalar_one()`."
        )
    if isinstance(answer, Row):
        raise NotSolved("`server_version` returned a whole row; `.scalar_one()` gives the one value in it.")
    if not isinstance(answer, str):
        raise NotSolved(f"`server_version` returned a {type(answer).__name__}, not the version as text.")
    if not expected or expected not in answer:
        raise NotSolved(
            "`server_version` returned text that does not hold the version your database reports.\n"
            "Send the statement that `VERSION_SQL` holds for `engine.dialect.name`."
        )
    return "It connected, sent one query and read the one value: the version your database reports."


exercise_1 = Exercise(
    number=1,
    names=("server_version",),
    verify=_verify_server_version,
    mistakes=(
        Mistake(
            code=_PLACEHOLDER_HEAD
            + """    async with engine.connect() as connection:
        result = connection.execute(VERSION_SQL[engine.dialect.name])
        return result.scalar_one()
""",
            hint="Put `await` in front of it.",
        ),
        Mistake(
            code=_PLACEHOLDER_HEAD
            + """    async with engine.connect() as connection:
        return await connection.execute(VERSION_SQL[engine.dialect.name])
""",
            hint="Read its one value with `.scalar_one()`.",
        ),
    ),
)

EXERCISES = (exercise_1,)
