"""Requests wait for a database connection in the order they arrived.

SQLAlchemy's async pool hands a connection that comes back to whichever task asks for one first, so when
more requests are in flight than the pool has connections, a request that has been waiting can be overtaken
by newer ones again and again. Throughput does not suffer; the unlucky requests do. Measured on PostgreSQL,
64 client connections over a pool of 50: p99 about 370 ms without a queue, 150 ms with one (lesson 10). A
first-in, first-out queue in front of the pool, as large as the pool, admits sessions in arrival order, and
a request never waits for the pool itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool


class ConnectionQueue:
    """At most ``capacity`` sessions at once, admitted first come, first served.

    A request that waits longer than ``timeout`` seconds fails as it would have in the pool, with
    ``sqlalchemy.exc.TimeoutError`` (which the API answers with 503).
    """

    def __init__(self, capacity: int, timeout: float) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self.timeout = timeout
        self._slots = asyncio.Semaphore(capacity)  # FIFO: a newcomer queues behind those already waiting

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> ConnectionQueue | None:
        """A queue as large as ``engine``'s pool, with its timeout; ``None`` for a pool with no fixed size.

        Only a ``QueuePool`` (the default for files and servers) has one; ``NullPool`` opens a connection per
        session and an in-memory SQLite database shares a single one.
        """
        pool = engine.pool
        if not isinstance(pool, QueuePool):
            return None
        max_overflow = pool._max_overflow  # no public accessor; below 0 means no limit
        if max_overflow < 0:
            return None
        return cls(pool.size() + max_overflow, pool.timeout())

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn now."""
        return len(self._slots._waiters or ())

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this request's turn, and give it up at the end of the block."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise sa_exc.TimeoutError(
                f"no database connection became free within {self.timeout:g} s (pool of {self.capacity})"
            ) from None
        try:
            yield
        finally:
            self._slots.release()
