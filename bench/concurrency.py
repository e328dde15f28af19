"""100 hero lookups, one after the other or gathered, with and without a 20 ms wait in the database.

Each lookup is a task with a session of its own (a session must never be shared between tasks):
optionally ``SELECT pg_sleep(0.02)`` (PostgreSQL) or ``SELECT SLEEP(0.02)`` (MariaDB), then
``session.get(Hero, id)``. Gathered, the lookups share the engine's pool: explicit sizes (no overflow) and
the pool ``make_engine`` builds by default. On a server no pool is larger than the run's connection budget
(``--max-connections``, 50 by default): larger sizes are skipped and the default pool's overflow is cut.
SQLite has no server to wait on: the wait variant is skipped there, and the cheap lookups only show what
threads can overlap inside one process.

Both modes run on the same engine, side by side: its pooled connections are all opened first (and each runs
the lookup's statements once), then every repetition times the sequential loop and the gathered lookups, in
alternating order. The speedup over a pool is the ratio of the two medians on that pool. The CPU time the
process spent during each gathered run is recorded too: one event loop does every lookup's Python work
(session, checkout, statements, rollback) one after another, and no pool overlaps that.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.common import Config, Context, median, seconds_text, timed
from bench.database import add_heroes, connection_budget, fresh_tables
from heroes_lib.db import DEFAULT_POOL as DEFAULT_SERVER_POOL
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.models import Hero
from heroes_lib.sample_data import generate_heroes
from heroes_lib.settings import pool_settings

WAIT_SQL = {"postgresql": "SELECT pg_sleep({seconds})", "mysql": "SELECT SLEEP({seconds})"}
HEROES = 1_000
DEFAULT_POOL = "default"


def wait_statement(backend: str, seconds: float) -> str | None:
    """The statement that makes the server wait, or ``None`` where there is no server (SQLite)."""
    template = WAIT_SQL.get(backend)
    return template.format(seconds=seconds) if template else None


def variants(backend: str, config: Config) -> list[float]:
    """The server waits measured: none, and ``server_wait`` where there is a server to wait on."""
    return [0.0, config.server_wait] if backend in WAIT_SQL else [0.0]


def pool_labels(config: Config) -> list[int | str]:
    return [*config.pool_sizes, DEFAULT_POOL]


def steps(config: Config, backend: str) -> int:
    """Progress steps this benchmark will announce (an upper bound: pools over the budget are skipped)."""
    per_variant = 2 * len(pool_labels(config))  # sequential and gathered, side by side on each pool
    return len(variants(backend, config)) * per_variant * config.repetitions


async def lookup(sessionmaker: async_sessionmaker[AsyncSession], hero_id: int, wait_sql: str | None) -> int:
    """One task's work: its own session, the optional server wait, then ``session.get``."""
    async with sessionmaker() as session:
        if wait_sql is not None:
            await session.execute(text(wait_sql))
        hero = await session.get(Hero, hero_id)
        assert hero is not None
        return hero.id or 0


async def sequential(sessionmaker: async_sessionmaker[AsyncSession], ids: list[int], wait_sql: str | None) -> None:
    """The lookups one after the other."""
    for hero_id in ids:
        await lookup(sessionmaker, hero_id, wait_sql)


async def gathered(sessionmaker: async_sessionmaker[AsyncSession], ids: list[int], wait_sql: str | None) -> None:
    """The lookups all at once, each a task with a session of its own, sharing the engine's pool."""
    await asyncio.gather(*(lookup(sessionmaker, hero_id, wait_sql) for hero_id in ids))


@dataclass(frozen=True)
class Pool:
    """A pool to gather over: ``label`` is its size, or ``"default"`` for the engine ``make_engine`` builds."""

    label: int | str
    pool_size: int
    max_overflow: int

    @property
    def connections(self) -> int:
        return self.pool_size + self.max_overflow


def default_pool(backend: str, budget: int | None) -> Pool:
    """The pool ``make_engine`` builds on a server (10 + 5 unless HEROES_POOL_SIZE / HEROES_MAX_OVERFLOW say
    otherwise; cut to the budget); SQLAlchemy's 5 + 10 on SQLite."""
    if backend == "sqlite":
        return Pool(DEFAULT_POOL, 5, 10)
    configured = pool_settings(DEFAULT_SERVER_POOL)
    pool_size = configured.pool_size if budget is None else min(configured.pool_size, budget)
    overflow = configured.max_overflow if budget is None else min(configured.max_overflow, budget - pool_size)
    return Pool(DEFAULT_POOL, pool_size, overflow)


def default_pool_text(pool: Pool, backend: str) -> str:
    if backend == "sqlite":
        return "pool_size 5 + max_overflow 10 (SQLAlchemy's default)"
    configured = pool_settings(DEFAULT_SERVER_POOL)
    source = "heroes_lib.db" if configured == DEFAULT_SERVER_POOL else "HEROES_POOL_SIZE / HEROES_MAX_OVERFLOW"
    capped = "" if pool.max_overflow == configured.max_overflow else f", overflow cut from {configured.max_overflow}"
    return f"pool_size {pool.pool_size} + max_overflow {pool.max_overflow} ({source}{capped})"


def _engine(context: Context, pool: Pool) -> AsyncEngine:
    if pool.label == DEFAULT_POOL and context.backend == "sqlite":
        return make_engine(context.url)  # exactly what a learner gets
    return make_engine(context.url, pool_size=pool.pool_size, max_overflow=pool.max_overflow)


async def _budget(context: Context, engine: AsyncEngine) -> int | None:
    """Connections this benchmark may hold at once: ``max_connections``, or fewer if the server is busy now."""
    free = await connection_budget(engine)
    if free is None:
        return None
    if free < context.config.max_connections:
        context.note(f"concurrency: the server accepts only {free} more connections now; pools capped at that")
    return min(context.config.max_connections, free)


async def warm_up(
    sessionmaker: async_sessionmaker[AsyncSession], pool: Pool, ids: list[int], wait_sql: str | None
) -> None:
    """Open every pooled connection at once and run the lookup's statements on each (not timed).

    The sessions wait for each other before they close, so each holds a connection of its own: afterwards
    the pool holds ``pool_size`` open connections that have all prepared the statements. Overflow
    connections are not kept by a pool (closed when they come back), so they are not warmed.
    """
    everyone_in = asyncio.Barrier(pool.pool_size)

    async def hold(hero_id: int) -> None:
        async with sessionmaker() as session:
            if wait_sql is not None:
                await session.execute(text(wait_sql))
            await session.get(Hero, hero_id)
            await everyone_in.wait()

    async with asyncio.TaskGroup() as group:  # one failing session cancels the others (none waits forever)
        for number in range(pool.pool_size):
            group.create_task(hold(ids[number % len(ids)]))


async def gathered_with_cpu(
    sessionmaker: async_sessionmaker[AsyncSession], ids: list[int], wait_sql: str | None
) -> float:
    """``gathered``, returning the CPU seconds this process spent meanwhile (every thread, the event loop's too)."""
    started = time.process_time()
    await gathered(sessionmaker, ids, wait_sql)
    return time.process_time() - started


async def run(context: Context) -> dict[str, Any]:
    """Time the lookups sequentially and gathered over each pool, side by side, with and without a server wait."""
    config = context.config
    setup = make_engine(context.url)
    try:
        await fresh_tables(setup, 0)
        await add_heroes(setup, list(generate_heroes(HEROES)))
        budget = await _budget(context, setup)
    finally:
        await setup.dispose()
    ids = [1 + (number * 37) % HEROES for number in range(config.lookups)]
    pools = []
    for size in config.pool_sizes:
        if budget is not None and size > budget:
            context.note(f"concurrency: pool {size} skipped (over the budget of {budget} connections)")
            continue
        pools.append(Pool(size, size, 0))
    default = default_pool(context.backend, budget)
    pools.append(default)
    if context.backend not in WAIT_SQL:
        context.note("concurrency: SQLite has no server to wait on; only cheap lookups are measured")

    runs: list[dict[str, Any]] = []
    for wait in variants(context.backend, config):
        wait_sql = wait_statement(context.backend, wait) if wait else None
        what = f"{config.lookups} lookups, {'wait ' + str(round(wait * 1000)) + ' ms' if wait else 'no wait'}"
        for pool in pools:
            engine = _engine(context, pool)
            sessionmaker = make_sessionmaker(engine)
            modes = {
                "sequential": functools.partial(sequential, sessionmaker, ids, wait_sql),
                "gathered": functools.partial(gathered_with_cpu, sessionmaker, ids, wait_sql),
            }
            seconds: dict[str, list[float]] = {mode: [] for mode in modes}
            cpu_seconds: list[float] = []
            try:
                await warm_up(sessionmaker, pool, ids, wait_sql)
                for repetition in range(1, config.repetitions + 1):
                    order = list(modes) if repetition % 2 else list(modes)[::-1]
                    for mode in order:
                        context.progress.start(
                            f"concurrency: {what}, {mode}, pool {pool.label} ({pool.connections} connections), "
                            f"rep {repetition}/{config.repetitions}"
                        )
                        elapsed, cpu = await timed(modes[mode])  # cpu: None for the sequential loop
                        seconds[mode].append(elapsed)
                        if cpu is not None:
                            cpu_seconds.append(cpu)
                        context.progress.finish(seconds_text(elapsed))
            finally:
                await engine.dispose()
            common = {
                "wait_s": wait,
                "pool": pool.label,
                "pool_size": pool.pool_size,
                "max_overflow": pool.max_overflow,
            }
            runs.append({**common, "mode": "sequential", "connections": 1, "seconds": seconds["sequential"]})
            runs.append(
                {
                    **common,
                    "mode": "gathered",
                    "connections": pool.connections,
                    "seconds": seconds["gathered"],
                    "cpu_seconds": cpu_seconds,
                }
            )
        context.progress.skip((len(config.pool_sizes) + 1 - len(pools)) * 2 * config.repetitions)

    for entry in runs:
        entry["median_s"] = median(entry["seconds"])
        if "cpu_seconds" in entry:
            entry["median_cpu_s"] = median(entry["cpu_seconds"])
    for entry in runs:
        entry["speedup"] = sequential_run(runs, entry)["median_s"] / entry["median_s"]
    return {
        "lookups": config.lookups,
        "server_wait_s": config.server_wait,
        "wait_statement": wait_statement(context.backend, config.server_wait),
        "budget": budget,
        "default_pool_connections": default.connections,
        "default_pool": default_pool_text(default, context.backend),
        "repetitions": config.repetitions,
        "side_by_side": True,
        "runs": runs,
    }


def sequential_run(runs: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """The sequential run ``entry`` is compared with: the one on the same pool and wait."""
    return next(
        run
        for run in runs
        if run["mode"] == "sequential" and run["wait_s"] == entry["wait_s"] and run["pool"] == entry["pool"]
    )


def report(summary: dict[str, Any]) -> list[str]:
    """One line per server wait: sequential time, and the speedup of gathering over each pool."""
    lines = []
    for wait in sorted({run["wait_s"] for run in summary["runs"]}):
        runs = [run for run in summary["runs"] if run["wait_s"] == wait]
        sequential_s = median([run["median_s"] for run in runs if run["mode"] == "sequential"])
        speedups = ", ".join(f"{run['pool']}: {run['speedup']:.1f}x" for run in runs if run["mode"] == "gathered")
        what = f"wait {wait * 1000:.0f} ms" if wait else "no wait"
        lines.append(f"{what:<12} sequential {seconds_text(sequential_s)}; gathered over pool {speedups}")
    return lines
