"""Running many database tasks at once: a bounded ``gather``, and a wait that holds a connection.

Each task must use a session of its own (a session is not safe to share between tasks). Gathering more tasks
than the engine's pool has connections makes the extra ones queue for a connection, and fail with
``sqlalchemy.exc.TimeoutError`` after ``pool_timeout`` seconds; ``gather_limited`` keeps at most ``limit`` of
them running, so that none waits for the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")

#: Statements that make the server wait while the session holds its connection (SQLite has no server).
_SERVER_WAIT = {
    "postgresql": "SELECT pg_sleep(:seconds)",
    "mysql": "SELECT SLEEP(:seconds)",
}


async def gather_limited(awaitables: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await all ``awaitables`` concurrently, at most ``limit`` at a time; results in the order given.

    An ``asyncio.TaskGroup`` with a semaphore inside (lesson 11 writes it out): if one fails, the group cancels the
    others and waits for them before the first error is raised, so no task is left running with a session or
    connection in hand.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    semaphore = asyncio.Semaphore(limit)

    async def run(awaitable: Awaitable[T]) -> T:
        async with semaphore:
            return await awaitable

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run(awaitable)) for awaitable in awaitables]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None  # one error, as gather raises it
    return [task.result() for task in tasks]


async def wait_in_database(session: AsyncSession, seconds: float) -> None:
    """Keep the session's connection busy for ``seconds``, as a slow query would.

    PostgreSQL runs ``pg_sleep``, MySQL/MariaDB ``SLEEP``. SQLite has no server that could wait: the
    session takes its connection with ``SELECT 1`` and the task sleeps while holding it, which ties up the
    pool the same way (the wait of a slow query, or of a call to another service made inside a transaction).
    """
    backend = session.get_bind().dialect.name
    statement = _SERVER_WAIT.get(backend)
    # Through the session's connection: SQLModel's ``session.exec`` takes ORM statements, not plain SQL text.
    connection = await session.connection()
    if statement is not None:
        await connection.execute(text(statement), {"seconds": seconds})
    else:
        await connection.execute(text("SELECT 1"))
        await asyncio.sleep(seconds)
