"""Count what an engine's connection pool does: connections opened and closed, checkouts and checkins.

The numbers depend only on how many connections the code asks for and on the pool's settings, not on the
database, so they show pool behaviour (overflow connections opened and closed on every burst, ``NullPool``
connecting for every session, ``pool_pre_ping`` replacing a dead connection) the same way on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

#: Pool events counted, by the attribute of ``PoolCounter`` that counts them.
_EVENTS = {
    "connects": "connect",  # a new DBAPI connection was opened
    "checkouts": "checkout",  # a connection was handed to a session or ``engine.connect()``
    "checkins": "checkin",  # ... and given back to the pool
    "closes": "close",  # a DBAPI connection was closed (overflow returned, invalidated, disposed)
    "invalidations": "invalidate",  # a connection was found broken (or invalidated on purpose)
}


@dataclass
class PoolCounter:
    """How often each pool event happened since counting started."""

    connects: int = 0
    checkouts: int = 0
    checkins: int = 0
    closes: int = 0
    invalidations: int = 0
    _listeners: list[tuple[str, Any]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, int]:
        """The counts by name, in a fixed order (handy for printing and comparing)."""
        return {name: getattr(self, name) for name in _EVENTS}

    def _increment(self, name: str) -> Any:
        def listener(*_args: Any) -> None:
            setattr(self, name, getattr(self, name) + 1)

        return listener


@contextmanager
def count_pool_events(engine: AsyncEngine) -> Iterator[PoolCounter]:
    """Count ``engine``'s pool events inside the ``with`` block.

    >>> with count_pool_events(engine) as pool:  # doctest: +SKIP
    ...     await asyncio.gather(*(lookup(hero_id) for hero_id in range(1, 11)))
    >>> pool.connects, pool.checkouts  # doctest: +SKIP
    (10, 10)
    """
    counter = PoolCounter()
    target = engine.sync_engine
    for name, event_name in _EVENTS.items():
        listener = counter._increment(name)
        event.listen(target, event_name, listener)
        counter._listeners.append((event_name, listener))
    try:
        yield counter
    finally:
        for event_name, listener in counter._listeners:
            event.remove(target, event_name, listener)
        counter._listeners.clear()
