"""Run a whole transaction again when it lost a race with another one (lesson 11).

Two transactions that touch the same rows in a different order, or that read what the other one then changes, can
each be valid alone and still not both commit: the database picks one to fail (PostgreSQL: serialization failure
40001 or deadlock 40P01; MariaDB: deadlock 1213; SQLite: "database is locked" for a transaction that read before
another one wrote). The failed one changed nothing, and running it again, from the start, in a new session, usually
succeeds. Retrying only the last statement does not work: the database already rolled the transaction back.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

# Re-exported: lessons and callers ask heroes_lib.retry whether an error is worth a retry.
from heroes_lib.db_errors import lost_a_race as lost_a_race

T = TypeVar("T")


async def run_transaction(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    attempts: int = 3,
    backoff: float = 0.05,
) -> T:
    """Run ``work(session)`` in a new session and commit; if it lost a race, run it all again.

    At most ``attempts`` times in all, waiting ``backoff`` seconds before the second attempt and twice as long before
    each next one, with some randomness so that two retrying transactions do not collide again. Any other error, or
    the last attempt's, is raised. ``work`` must do the whole transaction (read, decide, write): it is called again
    from the start, in a fresh session, for each attempt.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    for attempt in range(1, attempts + 1):
        try:
            async with sessions() as session:
                result = await work(session)
                await session.commit()
                return result
        except DBAPIError as error:
            if attempt == attempts or not lost_a_race(error):
                raise
        await asyncio.sleep(backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable: the last attempt returns or raises")
