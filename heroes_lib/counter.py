"""Count the SQL statements a block of code sends, to make N+1 queries and batching visible."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class StatementCounter:
    """The statements seen so far: ``count`` and their SQL text in ``statements``.

    An ``executemany`` (one statement, many parameter sets) counts once.
    """

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def __repr__(self) -> str:
        return f"StatementCounter(count={self.count})"


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Count the statements ``engine`` sends inside the ``with`` block.

    >>> with count_statements(engine) as counter:  # doctest: +SKIP
    ...     await list_heroes(session)
    >>> counter.count  # doctest: +SKIP
    1
    """
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter._record)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter._record)
