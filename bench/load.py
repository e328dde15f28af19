"""Load N heroes with their team: a raw JOIN, ``selectinload``, ``joinedload``, N+1 and heroes_lib's list path.

Every hero has a team of its own, so the N+1 loop really sends one query per hero (a team already in the
session's identity map would be taken from there without a query: N+1 is 1 + the number of distinct
teams). Each load runs in a fresh session; the result is the median time and the statements counted.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import select

from bench.common import Config, Context, median, plural, rotated, seconds_text, timed
from bench.database import add_heroes, driver_connection, driver_fetchall, fresh_tables
from heroes_lib import crud
from heroes_lib.counter import count_statements
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.models import Hero
from heroes_lib.sample_data import generate_heroes

#: SQLAlchemy's selectinload puts at most this many keys in one ``IN (...)``.
SELECTIN_BATCH = 500

JOIN_SQL = (
    "SELECT hero.id, hero.name, hero.secret_name, hero.age, hero.team_id, team.id, team.name, team.headquarters "
    "FROM hero LEFT OUTER JOIN team ON team.id = hero.team_id ORDER BY hero.id"
)


@dataclass(frozen=True)
class Loader:
    name: str
    label: str
    run: Callable[[AsyncEngine, int], Awaitable[list[tuple[int, str | None]]]]

    def expected_statements(self, heroes: int, distinct_teams: int) -> int:
        return {
            "raw_join": 1,
            "joinedload": 1,
            "list_heroes_with_team": 1,
            "selectinload": 1 + math.ceil(distinct_teams / SELECTIN_BATCH),
            "n_plus_1": 1 + distinct_teams,
        }[self.name]


def _pairs(heroes: list[Hero]) -> list[tuple[int, str | None]]:
    return [(hero.id or 0, hero.team.name if hero.team else None) for hero in heroes]


async def raw_join(engine: AsyncEngine, size: int) -> list[tuple[int, str | None]]:
    async with engine.connect() as connection:
        rows = await driver_fetchall(engine.url.get_backend_name(), await driver_connection(connection), JOIN_SQL)
    return [(row[0], row[6]) for row in rows]


async def with_selectinload(engine: AsyncEngine, size: int) -> list[tuple[int, str | None]]:
    async with make_sessionmaker(engine)() as session:
        heroes = (await session.exec(select(Hero).options(selectinload(Hero.team)).order_by(Hero.id))).all()
        return _pairs(list(heroes))


async def with_joinedload(engine: AsyncEngine, size: int) -> list[tuple[int, str | None]]:
    async with make_sessionmaker(engine)() as session:
        heroes = (await session.exec(select(Hero).options(joinedload(Hero.team)).order_by(Hero.id))).all()
        return _pairs(list(heroes))


async def n_plus_1(engine: AsyncEngine, size: int) -> list[tuple[int, str | None]]:
    async with make_sessionmaker(engine)() as session:
        heroes = (await session.exec(select(Hero).order_by(Hero.id))).all()
        for hero in heroes:
            await hero.awaitable_attrs.team  # one SELECT per team not yet in the session
        return _pairs(list(heroes))


async def heroes_lib_list(engine: AsyncEngine, size: int) -> list[tuple[int, str | None]]:
    async with make_sessionmaker(engine)() as session:
        return _pairs(list(await crud.list_heroes_with_team(session, offset=0, limit=size)))


LOADERS = (
    Loader("raw_join", "raw JOIN (driver)", raw_join),
    Loader("joinedload", "joinedload", with_joinedload),
    Loader("selectinload", "selectinload", with_selectinload),
    Loader("list_heroes_with_team", "crud.list_heroes_with_team", heroes_lib_list),
    Loader("n_plus_1", "N+1 (awaitable_attrs per hero)", n_plus_1),
)


def steps(config: Config) -> int:
    """Progress steps this benchmark will announce."""
    return len(config.load_sizes) * len(LOADERS) * (config.repetitions + config.warmup)


async def run(context: Context) -> dict[str, Any]:
    """Load N heroes with their teams every way, for each N, and record times and statement counts."""
    config = context.config
    engine = make_engine(context.url)
    results = []
    try:
        for size in config.load_sizes:
            team_ids = await fresh_tables(engine, size)
            await add_heroes(engine, list(generate_heroes(size, team_ids)))
            context.progress.say(f"load: {size:,} heroes, each with a team of its own")
            seconds: dict[str, list[float]] = {loader.name: [] for loader in LOADERS}
            statements: dict[str, int] = {}
            reference: list[tuple[int, str | None]] | None = None
            for repetition in range(0 if config.warmup else 1, config.repetitions + 1):
                warmup = repetition == 0
                for loader in rotated(LOADERS, repetition):
                    round_name = "warm-up" if warmup else f"rep {repetition}/{config.repetitions}"
                    context.progress.start(f"load: {loader.label}, N={size:,}, {round_name}")
                    with count_statements(engine) as counter:
                        elapsed, loaded = await timed(functools.partial(loader.run, engine, size))
                    if reference is None:
                        reference = loaded
                    if loaded != reference or len(loaded) != size:
                        raise AssertionError(f"{loader.name} loaded different heroes or teams than the others")
                    # The raw JOIN goes straight to the driver, past the engine's counter: one query string, sent once.
                    statements[loader.name] = 1 if loader.name == "raw_join" else counter.count
                    if not warmup:
                        seconds[loader.name].append(elapsed)
                    sent = plural(statements[loader.name], "statement")
                    context.progress.finish(f"{seconds_text(elapsed)}, {elapsed / size * 1e6:.1f} µs/hero, {sent}")
            for loader in LOADERS:
                results.append(
                    {
                        "loader": loader.name,
                        "label": loader.label,
                        "heroes": size,
                        "distinct_teams": size,
                        "seconds": seconds[loader.name],
                        "median_s": median(seconds[loader.name]),
                        "us_per_hero": median(seconds[loader.name]) / size * 1e6,
                        "statements": statements[loader.name],
                        "expected_statements": loader.expected_statements(size, size),
                    }
                )
    finally:
        await engine.dispose()
    return {"sizes": list(config.load_sizes), "repetitions": config.repetitions, "results": results}


def report(summary: dict[str, Any]) -> list[str]:
    """One line per loader at the largest N: time per hero and statements sent."""
    largest = max(summary["sizes"])
    lines = []
    for row in (row for row in summary["results"] if row["heroes"] == largest):
        sent = plural(row["statements"], "statement")
        lines.append(f"{row['label']:<32} N={largest:,}: {row['us_per_hero']:>8.1f} µs/hero {sent:>17}")
    return lines
