"""heroes_lib.pagination: keyset pages that match offset pages and survive deletes; streaming in bounded batches."""

from __future__ import annotations

from contextlib import aclosing

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import crud
from heroes_lib.counter import count_statements
from heroes_lib.models import Hero
from heroes_lib.pagination import Page, keyset_page, keyset_pages, stream_hero_batches
from heroes_lib.sample_data import generate_heroes


async def add_heroes(session: AsyncSession, count: int) -> list[int]:
    await crud.create_heroes_bulk(session, generate_heroes(count))
    return list((await session.exec(select(Hero.id).order_by(Hero.id))).all())


async def test_an_empty_table_is_one_empty_last_page(session: AsyncSession) -> None:
    assert await keyset_page(session) == Page(items=[], next_after_id=None)
    assert [page async for page in keyset_pages(session)] == [Page(items=[], next_after_id=None)]


async def test_keyset_pages_match_offset_pages(session: AsyncSession) -> None:
    ids = await add_heroes(session, 25)
    pages = [page async for page in keyset_pages(session, limit=10)]
    assert [[hero.id for hero in page.items] for page in pages] == [ids[0:10], ids[10:20], ids[20:25]]
    assert [page.next_after_id for page in pages] == [ids[9], ids[19], None]
    for number, page in enumerate(pages):
        offset_page = await crud.list_heroes(session, offset=10 * number, limit=10)
        assert [hero.id for hero in page.items] == [hero.id for hero in offset_page]


async def test_a_full_last_page_says_it_is_the_last(session: AsyncSession, engine: AsyncEngine) -> None:
    ids = await add_heroes(session, 20)
    with count_statements(engine) as counter:
        pages = [page async for page in keyset_pages(session, limit=10)]
    assert [len(page.items) for page in pages] == [10, 10]  # no empty third page
    assert pages[-1].next_after_id is None and counter.count == 2
    assert (await keyset_page(session, after_id=ids[-1])).items == []


async def test_a_delete_between_pages_skips_nothing(session: AsyncSession) -> None:
    ids = await add_heroes(session, 6)
    first = await keyset_page(session, limit=3)
    offset_first = await crud.list_heroes(session, offset=0, limit=3)
    assert await crud.delete_hero(session, ids[0])  # a row of the first page disappears meanwhile
    second = await keyset_page(session, after_id=first.next_after_id, limit=3)
    offset_second = await crud.list_heroes(session, offset=3, limit=3)
    assert [hero.id for hero in second.items] == ids[3:6]
    assert [hero.id for hero in offset_first + offset_second] == ids[0:3] + ids[4:6]  # offset skipped ids[3]


async def test_page_sizes_below_one_are_refused(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await keyset_page(session, limit=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        async for _ in stream_hero_batches(session, batch_size=0):
            pass


async def test_stream_batches_cover_every_hero_in_order(session: AsyncSession) -> None:
    ids = await add_heroes(session, 250)
    batches = [batch async for batch in stream_hero_batches(session, batch_size=100)]
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert [hero.id for batch in batches for hero in batch] == ids


async def test_streaming_keeps_one_batch_of_objects_in_memory(session: AsyncSession) -> None:
    await add_heroes(session, 300)
    session.expunge_all()
    most = 0
    async for batch in stream_hero_batches(session, batch_size=50):
        most = max(most, len(session.identity_map))
        del batch  # the loop variable would keep the last batch alive into the next
    assert most == 50


async def test_stopping_a_stream_early_leaves_the_session_usable(session: AsyncSession) -> None:
    await add_heroes(session, 500)
    async with aclosing(stream_hero_batches(session, batch_size=100)) as batches:
        async for batch in batches:
            assert len(batch) == 100
            break
    # On MySQL/MariaDB an unread unbuffered result would disturb this query; the stream was closed first.
    assert (await session.exec(select(func.count()).select_from(Hero))).one() == 500
