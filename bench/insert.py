"""Insert 10,000 heroes (every other one without an age) seven ways, side by side.

Every method starts from the same list of validated ``HeroCreate`` models, as an API has them, and its time
includes turning them into what it sends and the commit. Each repetition starts from empty tables and
runs the methods in a rotated order; the result is the median per method.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Config, Context, median, plural, rotated, seconds_text, timed
from bench.database import driver_connection, driver_executemany, fresh_tables, placeholders
from heroes_lib import crud
from heroes_lib.counter import count_statements
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.models import Hero, HeroCreate
from heroes_lib.sample_data import generate_heroes

TEAMS = 10
COLUMNS = ("name", "secret_name", "age", "team_id")


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    run: Callable[[AsyncEngine, list[HeroCreate]], Awaitable[Any]]
    per_row: bool = False  # measured on ``per_row_rows`` rows only


async def raw_executemany(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    backend = engine.url.get_backend_name()
    sql = f"INSERT INTO hero ({', '.join(COLUMNS)}) VALUES ({placeholders(backend, len(COLUMNS))})"
    rows = [(hero.name, hero.secret_name, hero.age, hero.team_id) for hero in heroes]
    async with engine.connect() as connection:
        await driver_executemany(backend, await driver_connection(connection), sql, rows)


async def core_insert(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(Hero.__table__), [hero.model_dump() for hero in heroes])


async def orm_bulk(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    # session.exec(insert(Hero), params=rows) is SQLModel's spelling of session.execute(insert(Hero), rows):
    # an ORM bulk INSERT, which leaves out the None values and so groups rows by the keys they have.
    async with make_sessionmaker(engine)() as session:
        await session.exec(insert(Hero), params=[hero.model_dump() for hero in heroes])
        await session.commit()


async def orm_bulk_render_nulls(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    async with make_sessionmaker(engine)() as session:
        statement = insert(Hero).execution_options(render_nulls=True)
        await session.exec(statement, params=[hero.model_dump() for hero in heroes])
        await session.commit()


async def create_heroes_bulk(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    async with make_sessionmaker(engine)() as session:
        await crud.create_heroes_bulk(session, heroes)


async def add_all(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    async with make_sessionmaker(engine)() as session:
        session.add_all([Hero.model_validate(hero) for hero in heroes])
        await session.commit()


async def add_commit_refresh(engine: AsyncEngine, heroes: list[HeroCreate]) -> None:
    async with make_sessionmaker(engine)() as session:
        for hero in heroes:
            row = Hero.model_validate(hero)
            session.add(row)
            await session.commit()
            await session.refresh(row)


METHODS = (
    Method("raw", "raw driver executemany", raw_executemany),
    Method("core", "one Core insert", core_insert),
    Method("create_heroes_bulk", "crud.create_heroes_bulk", create_heroes_bulk),
    Method("orm_bulk_render_nulls", "ORM bulk insert, render_nulls", orm_bulk_render_nulls),
    Method("orm_bulk", "ORM bulk insert", orm_bulk),
    Method("add_all", "add_all + commit", add_all),
    Method("per_row", "add + commit + refresh per row", add_commit_refresh, per_row=True),
)


def steps(config: Config) -> int:
    """Progress steps this benchmark will announce."""
    return len(METHODS) * (config.repetitions + config.warmup)


async def run(context: Context) -> dict[str, Any]:
    """Insert the heroes every way, ``repetitions`` times each, and summarize rows/s and statements."""
    config = context.config
    engine = make_engine(context.url)
    heroes_by_method: dict[str, list[HeroCreate]] = {}
    seconds: dict[str, list[float]] = {method.name: [] for method in METHODS}
    statements: dict[str, int] = {}
    try:
        team_ids = list(range(1, TEAMS + 1))
        all_heroes = list(generate_heroes(config.insert_rows, [None, *team_ids]))
        for method in METHODS:
            heroes_by_method[method.name] = all_heroes[: config.per_row_rows] if method.per_row else all_heroes
        context.progress.say(
            f"insert: {config.insert_rows:,} heroes ({sum(hero.age is None for hero in all_heroes):,} without age); "
            f"add + commit + refresh per row on {config.per_row_rows:,} and scaled"
        )
        for repetition in range(0 if config.warmup else 1, config.repetitions + 1):
            warmup = repetition == 0
            for method in rotated(METHODS, repetition):
                heroes = heroes_by_method[method.name]
                round_name = "warm-up" if warmup else f"rep {repetition}/{config.repetitions}"
                context.progress.start(f"insert: {method.label}, {len(heroes):,} rows, {round_name}")
                await fresh_tables(engine, TEAMS)
                with count_statements(engine) as counter:
                    elapsed, _ = await timed(functools.partial(method.run, engine, heroes))
                await _check_count(engine, len(heroes))
                statements[method.name] = counter.count
                if not warmup:
                    seconds[method.name].append(elapsed)
                context.progress.finish(f"{seconds_text(elapsed)}, {len(heroes) / elapsed:,.0f} rows/s")
    finally:
        await engine.dispose()
    return summarize(config.insert_rows, config.per_row_rows, config.repetitions, seconds, statements)


async def _check_count(engine: AsyncEngine, expected: int) -> None:
    async with engine.connect() as connection:
        inserted = (await connection.execute(select(func.count()).select_from(Hero.__table__))).scalar_one()
    if inserted != expected:
        raise AssertionError(f"expected {expected} heroes after the insert, found {inserted}")


def summarize(
    rows: int, per_row_rows: int, repetitions: int, seconds: dict[str, list[float]], statements: dict[str, int]
) -> dict[str, Any]:
    raw_rate = rows / median(seconds["raw"])
    methods = []
    for method in METHODS:
        measured_rows = per_row_rows if method.per_row else rows
        rate = measured_rows / median(seconds[method.name])
        methods.append(
            {
                "name": method.name,
                "label": method.label,
                "rows": measured_rows,
                "seconds": seconds[method.name],
                "median_s": median(seconds[method.name]),
                "rows_per_s": rate,
                "ratio_to_raw": raw_rate / rate,
                # The raw driver bypasses SQLAlchemy: the engine's event does not see it, and what the driver
                # sends for one executemany call differs (asyncpg: one prepared statement, executed per row).
                "statements": None if method.name == "raw" else statements[method.name],
                "scaled": method.per_row,
            }
        )
    return {"rows": rows, "per_row_rows": per_row_rows, "teams": TEAMS, "repetitions": repetitions, "methods": methods}


def statements_text(method: dict[str, Any], rows: int) -> str:
    """What a method sent, for a table of ``rows`` rows: ``"1 statement"``, ``"1,000 per 500 rows"``, ...

    The raw driver's statements are not counted (it bypasses SQLAlchemy): it is one ``executemany`` call.
    """
    if method["name"] == "raw":
        return "1 executemany call"
    if method["rows"] != rows:
        return f"{method['statements']:,} per {method['rows']:,} rows"
    return plural(method["statements"], "statement")


def report(summary: dict[str, Any]) -> list[str]:
    """One line per method: median rows/s, how many times slower than the raw driver, statements sent."""
    lines = []
    for method in summary["methods"]:
        scaled = " (rate scaled)" if method["scaled"] else ""
        lines.append(
            f"{method['label']:<32} {method['rows_per_s']:>10,.0f} rows/s {method['ratio_to_raw']:>7.1f}x raw "
            f"{statements_text(method, summary['rows']):>22}{scaled}"
        )
    return lines
