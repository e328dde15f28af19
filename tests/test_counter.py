"""heroes_lib.counter: counts statements inside the block only, an executemany once."""

from __future__ import annotations

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib.counter import StatementCounter, count_statements
from heroes_lib.models import Team


async def test_counts_each_statement_inside_the_block(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with count_statements(engine) as counter:
            await connection.execute(text("SELECT 1"))
            await connection.execute(text("SELECT 2"))
        await connection.execute(text("SELECT 3"))  # after the block: not counted
        await connection.rollback()
    assert counter.count == 2
    assert counter.statements == ["SELECT 1", "SELECT 2"]
    assert repr(counter) == "StatementCounter(count=2)"


async def test_executemany_counts_once_and_transactions_add_nothing(engine: AsyncEngine) -> None:
    rows = [{"name": f"Team {n}", "headquarters": "HQ"} for n in range(50)]
    with count_statements(engine) as counter:
        async with engine.begin() as connection:
            await connection.execute(insert(Team), rows)
            await connection.execute(text("DELETE FROM team"))
    assert counter.count == 2  # no BEGIN/COMMIT counted, on any backend


async def test_counters_nest_independently(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with count_statements(engine) as outer:
            await connection.execute(text("SELECT 1"))
            with count_statements(engine) as inner:
                await connection.execute(text("SELECT 2"))
        await connection.rollback()
    assert (outer.count, inner.count) == (2, 1)


def test_a_new_counter_is_empty() -> None:
    assert StatementCounter().count == 0
