"""Reading many heroes: keyset pagination, and streaming in batches.

- ``keyset_page`` returns the heroes after a given id (``WHERE id > :after_id ORDER BY id LIMIT n``). Unlike
  ``LIMIT ... OFFSET``, the database jumps to the first row through the primary key index instead of reading
  and discarding every row before it, so the last page costs what the first one does; and a row inserted or
  deleted meanwhile does not shift the pages, so none is skipped or shown twice.
- ``stream_hero_batches`` reads all heroes over one connection in batches of ``batch_size`` (a server-side
  cursor where the driver has one), so at most one batch of ``Hero`` objects is in memory at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.models import Hero

DEFAULT_PAGE_SIZE = 100
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Page:
    """One page of heroes, in id order, and where the next one starts.

    ``next_after_id`` is the ``after_id`` to ask for the next page, or ``None`` on the last page.
    """

    items: Sequence[Hero]
    next_after_id: int | None


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


async def keyset_page(session: AsyncSession, after_id: int | None = None, limit: int = DEFAULT_PAGE_SIZE) -> Page:
    """Up to ``limit`` heroes with ``id > after_id`` (from the first hero if ``after_id`` is ``None``).

    Reads one row more than it returns, to know whether another page follows without asking for it.
    """
    _check_positive("limit", limit)
    statement = select(Hero).order_by(col(Hero.id)).limit(limit + 1)
    if after_id is not None:
        statement = statement.where(col(Hero.id) > after_id)
    rows = (await session.exec(statement)).all()
    items = rows[:limit]
    next_after_id = items[-1].id if len(rows) > limit else None
    return Page(items=items, next_after_id=next_after_id)


async def keyset_pages(session: AsyncSession, limit: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Page]:
    """Every page, first to last, each read by its own query (``keyset_page``)."""
    page = await keyset_page(session, limit=limit)
    yield page
    while page.next_after_id is not None:
        page = await keyset_page(session, after_id=page.next_after_id, limit=limit)
        yield page


async def stream_hero_batches(
    session: AsyncSession, batch_size: int = DEFAULT_BATCH_SIZE
) -> AsyncIterator[Sequence[Hero]]:
    """All heroes in id order, ``batch_size`` at a time, streamed over one connection.

    ``yield_per`` makes the driver fetch and the ORM build ``batch_size`` rows at a time (without it the
    ORM builds every object of the result before the first one is handed out). To stop early, iterate
    inside ``contextlib.aclosing(...)`` so the cursor is closed at once. Finish or close the iteration
    before sending another query on this session: on MySQL/MariaDB an unbuffered result still being read
    is cut short by the next query on the same connection.
    """
    _check_positive("batch_size", batch_size)
    statement = select(Hero).order_by(col(Hero.id)).execution_options(yield_per=batch_size)
    result = await session.stream_scalars(statement)
    try:
        async for batch in result.partitions():
            yield batch
    finally:
        await result.close()
