"""The async heroes API against the sync tutorial-style app, both served by uvicorn on 127.0.0.1.

Two endpoints: ``GET /heroes/{id}`` (a random hero with its team) and ``GET /heroes/?limit=100`` (a page),
under 64 client connections from a bounded load generator (``bench.loadgen``), one uvicorn process each.

1. The deadlock: the sync app with SQLAlchemy's default pool (5 + 10), as the tutorial has it, gets two bursts
   of load back to back; it stops answering (its requests time out). The async app gets the same two bursts.
2. The fair comparison: both apps with the same pool, of ``--max-connections`` connections (50 by default;
   fewer on a server that has fewer free) and no overflow, on every backend, each load after a warm-up and
   followed by a pause so that abandoned requests finish first (with more requests in flight than
   connections + threads, even a large pool deadlocks), one server at a time, the apps alternating per
   repetition. Medians of the repetitions.

A smoke run serves both apps at once (the sync app with its default pool), with 8 client connections for
the comparison and the bursts at the end: every step runs, in seconds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.app_settings import ASYNC_POOL_SIZE_ENV, SYNC_DATABASE_URL_ENV, SYNC_POOL_SIZE_ENV, sync_url
from bench.common import BenchmarkError, Config, Context, median
from bench.database import add_heroes, connection_budget, fresh_tables
from bench.loadgen import LoadResult, run_load
from heroes_lib.db import make_engine
from heroes_lib.sample_data import generate_heroes
from heroes_lib.serve import ServerError, UvicornProcess, start_uvicorn, wait_until_answering
from heroes_lib.settings import DATABASE_URL_ENV as HEROES_URL_ENV

ROOT = Path(__file__).resolve().parent.parent
TEAMS = 10
ENDPOINTS = ("by_id", "list")
ASYNC_APP = "bench.async_app:app"
SYNC_APP = "bench.sync_app:app"
STARTUP_TIMEOUT = 60  # uvicorn imports FastAPI, SQLAlchemy and the app: seconds on a busy 2-core machine
SYNC_DRIVER_MODULES = {"sqlite": "sqlite3", "postgresql": "psycopg", "mysql": "pymysql"}
SYNC_DRIVER_PACKAGES = {"sqlite": "", "postgresql": "psycopg[binary]", "mysql": "pymysql"}
#: Responses compared between the two apps: they must be the same JSON.
SAMPLE_PATHS = {"by_id": "/heroes/1", "list": "/heroes/?offset=0&limit=100"}


def require_sync_driver(backend: str) -> None:
    """Stop at once, before any measurement, if the sync app's driver is not installed."""
    module = SYNC_DRIVER_MODULES[backend]
    if importlib.util.find_spec(module) is None:
        raise BenchmarkError(
            f"the sync app needs the driver {module!r} for {backend}: pip install "
            f"{SYNC_DRIVER_PACKAGES[backend]!r} (or run without the HTTP benchmark: --only insert,load,concurrency)"
        )


def steps(config: Config) -> int:
    """Progress steps this benchmark will announce: two bursts per app, then both apps per endpoint."""
    return 2 + config.http_repetitions * 2 * len(ENDPOINTS)


@dataclass(frozen=True)
class App:
    """An app to serve: ``name`` is ``async``, ``sync`` or ``sync_default_pool``."""

    name: str
    module: str
    env: dict[str, str]
    label: str
    #: A path the app answers with 200 once it is up (the layer apps have no OpenAPI schema).
    ready_path: str = "/openapi.json"


@dataclass
class Server:
    """A uvicorn process serving one app on a free port of 127.0.0.1 (``heroes_lib.serve``)."""

    app: App
    stop_timeout: float
    process: UvicornProcess | None = None
    killed: bool = False  # it did not exit within stop_timeout of SIGTERM (a deadlocked sync app may not)

    @property
    def base_url(self) -> str:
        assert self.process is not None, "start() first"
        return self.process.base_url

    async def start(self) -> None:
        """Start uvicorn and return once it answers (its lifespan has finished)."""
        options = ["--app-dir", str(ROOT), "--no-access-log", "--log-level", "warning"]
        options += ["--timeout-graceful-shutdown", "1"]
        self.process = start_uvicorn(self.app.module, env=self.app.env, options=options)
        try:  # in a thread: the event loop stays free, and servers started together come up side by side
            await asyncio.to_thread(
                wait_until_answering, self.process, path=self.app.ready_path, timeout=STARTUP_TIMEOUT
            )
        except ServerError as error:
            raise BenchmarkError(str(error)) from None

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``stop_timeout``."""
        if self.process is not None:
            await asyncio.to_thread(self.process.stop, self.stop_timeout)
            self.killed = self.process.killed


class Serving:
    """``async with Serving(apps, config) as servers``: the apps served together, stopped at the end."""

    def __init__(self, apps: list[App], config: Config) -> None:
        self.servers = [Server(app, config.stop_timeout) for app in apps]

    async def __aenter__(self) -> list[Server]:
        results = await asyncio.gather(*(server.start() for server in self.servers), return_exceptions=True)
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            await self._stop_all()
            raise errors[0]
        return self.servers

    async def __aexit__(self, *_exc: object) -> None:
        await self._stop_all()

    async def _stop_all(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers))


async def sample_responses(base_url: str) -> dict[str, Any]:
    """The JSON each endpoint answers for a fixed request, to check that both apps serve the same data."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return {endpoint: (await client.get(path)).json() for endpoint, path in SAMPLE_PATHS.items()}


def _result_text(result: LoadResult) -> str:
    p99 = f"{result.p99_s * 1000:.0f} ms" if result.p99_s is not None else "-"
    errors = sum(result.errors.values())
    load = os.getloadavg()[0]
    return f"{result.requests_per_s:,.0f} req/s, p99 {p99}, {result.ok:,} ok, {errors:,} errors (load {load:.1f})"


async def _budget(context: Context) -> int | None:
    """Connections one app may hold on a server: ``max_connections``, fewer if the server is busy now."""
    setup = make_engine(context.url)
    try:
        team_ids = await fresh_tables(setup, TEAMS)
        await add_heroes(setup, list(generate_heroes(context.config.http_heroes, [None, *team_ids])))
        free = await connection_budget(setup)
    finally:
        await setup.dispose()
    if free is None:
        return None
    if free < context.config.max_connections:
        context.note(f"http: the server accepts only {free} more connections now; each app's pool is capped at that")
    return min(context.config.max_connections, free)


def comparison_pool(config: Config, budget: int | None) -> int:
    """Connections each app of the fair comparison gets: the server's budget, or ``max_connections`` on SQLite."""
    return config.max_connections if budget is None else budget


def apps(context: Context, budget: int | None) -> dict[str, App]:
    """The three apps: the tutorial's sync app as it is, and the async and sync apps with the same pool."""
    pool = comparison_pool(context.config, budget)
    async_env = {
        HEROES_URL_ENV: context.url.render_as_string(hide_password=False),
        ASYNC_POOL_SIZE_ENV: str(pool),
    }
    sync_env = {SYNC_DATABASE_URL_ENV: sync_url(context.url).render_as_string(hide_password=False)}
    return {
        "sync_default_pool": App("sync_default_pool", SYNC_APP, sync_env, "sync app, default pool (5 + 10)"),
        "async": App("async", ASYNC_APP, async_env, f"async app, pool {pool}"),
        "sync": App("sync", SYNC_APP, {**sync_env, SYNC_POOL_SIZE_ENV: str(pool)}, f"sync app, pool {pool}"),
    }


class HttpBenchmark:
    """One run of the HTTP benchmark: its loads, bursts and results."""

    def __init__(self, context: Context, generator: str) -> None:
        self.context = context
        self.config = context.config
        self.generator = generator
        self.runs: list[dict[str, Any]] = []
        self.bursts: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, dict[str, Any]] = {}

    async def load(self, server: Server, endpoint: str, duration: float, connections: int) -> LoadResult:
        return await run_load(
            self.generator,
            server.base_url,
            endpoint,
            self.config.http_heroes,
            connections,
            duration,
            self.config.http_timeout,
        )

    async def two_bursts(self, server: Server) -> None:
        """Two bursts back to back, as a client that gives up on slow requests (or a restarted load balancer)
        sends them: the first burst's abandoned requests are still in flight when the second arrives."""
        config, connections = self.config, self.config.burst_connections
        self.context.progress.start(
            f"http: {server.app.label}, two bursts of {connections} connections "
            f"({config.first_burst:g} s, then {config.second_burst:g} s)"
        )
        first = await self.load(server, "by_id", config.first_burst, connections)
        second = await self.load(server, "by_id", config.second_burst, connections)
        self.context.progress.finish(
            f"first {first.ok:,} ok; second {second.ok:,} ok, {sum(second.errors.values()):,} errors"
        )
        self.bursts[server.app.name] = {
            "label": server.app.label,
            "endpoint": "by_id",
            "connections": connections,
            "first": first.as_dict(),
            "second": second.as_dict(),
        }

    async def measure(self, server: Server, endpoint: str, repetition: int) -> None:
        """One measured load of ``endpoint`` (after a warm-up, with a pause after each)."""
        config = self.config
        if server.app.name not in self.responses:
            self.responses[server.app.name] = await sample_responses(server.base_url)
        if config.http_warmup:
            await self.load(server, endpoint, config.http_warmup, config.http_connections)
            await asyncio.sleep(config.http_pause)
        self.context.progress.start(
            f"http: {server.app.label}, {endpoint}, {config.http_connections} connections, "
            f"{config.http_duration:g} s, rep {repetition}/{config.http_repetitions}"
        )
        result = await self.load(server, endpoint, config.http_duration, config.http_connections)
        self.context.progress.finish(_result_text(result))
        await asyncio.sleep(config.http_pause)
        self.runs.append(
            {
                "app": "sync" if server.app.name.startswith("sync") else "async",
                "label": server.app.label,
                "endpoint": endpoint,
                "repetition": repetition,
                **result.as_dict(),
                "load_average": os.getloadavg()[0],  # other work on the machine skews a run
            }
        )

    async def full(self, served: dict[str, App]) -> None:
        """The deadlock first, then the fair comparison, one server at a time."""
        async with Serving([served["sync_default_pool"]], self.config) as (server,):
            await self.two_bursts(server)
        self.bursts["sync_default_pool"]["killed"] = server.killed
        for repetition in range(1, self.config.http_repetitions + 1):
            pair = [served["async"], served["sync"]]
            for app in pair if repetition % 2 else pair[::-1]:
                async with Serving([app], self.config) as (server,):
                    if app.name == "async" and "async" not in self.bursts:
                        await self.two_bursts(server)  # also warms the async app up
                        await asyncio.sleep(self.config.http_pause)
                    for endpoint in ENDPOINTS:
                        await self.measure(server, endpoint, repetition)
                if app.name == "async":
                    self.bursts["async"].setdefault("killed", server.killed)

    async def smoke(self, served: dict[str, App]) -> None:
        """Both apps at once (the sync one with its default pool), small loads, then the bursts."""
        async with Serving([served["async"], served["sync_default_pool"]], self.config) as servers:
            for endpoint in ENDPOINTS:
                for server in servers:
                    await self.measure(server, endpoint, 1)
            for server in servers:
                await self.two_bursts(server)
        for server in servers:
            self.bursts[server.app.name]["killed"] = server.killed

    def summary(self) -> list[dict[str, Any]]:
        """Medians per app and endpoint."""
        rows = []
        for name in ("async", "sync"):
            for endpoint in ENDPOINTS:
                mine = [run for run in self.runs if run["app"] == name and run["endpoint"] == endpoint]
                p50s = [run["p50_s"] for run in mine if run["p50_s"] is not None]
                p99s = [run["p99_s"] for run in mine if run["p99_s"] is not None]
                rows.append(
                    {
                        "app": name,
                        "label": mine[0]["label"],
                        "endpoint": endpoint,
                        "requests_per_s": median([run["requests_per_s"] for run in mine]),
                        "p50_s": median(p50s) if p50s else None,
                        "p99_s": median(p99s) if p99s else None,
                        "errors": sum(run["error_count"] for run in mine),
                    }
                )
        return rows


async def run(context: Context, generator: str) -> dict[str, Any]:
    """Serve both apps, measure them under load, and show the sync app's deadlock."""
    budget = await _budget(context)
    served = apps(context, budget)
    benchmark = HttpBenchmark(context, generator)
    if context.config.smoke:
        await benchmark.smoke(served)
    else:
        await benchmark.full(served)
    answers = list(benchmark.responses.values())
    return {
        "generator": generator,
        "connections": context.config.http_connections,
        "duration_s": context.config.http_duration,
        "heroes": context.config.http_heroes,
        "repetitions": context.config.http_repetitions,
        "pool_budget": budget,
        "comparison_pool": comparison_pool(context.config, budget),  # each app's, in the fair comparison
        "apps": {name: app.label for name, app in served.items()},
        "sync_driver": sync_url(context.url).drivername,
        "same_responses": len(answers) == 2 and answers[0] == answers[1],
        "bursts": benchmark.bursts,
        "runs": benchmark.runs,
        "summary": benchmark.summary(),
    }


def report(summary: dict[str, Any]) -> list[str]:
    """One line per app and endpoint, then what the bursts got."""
    lines = [
        f"{row['label']:<32} {row['endpoint']:<6} {row['requests_per_s']:>7,.0f} req/s, "
        f"p50 {_ms(row['p50_s'])}, p99 {_ms(row['p99_s'])}, {row['errors']} errors"
        for row in summary["summary"]
    ]
    for burst in summary["bursts"].values():
        second = burst["second"]
        lines.append(
            f"{burst['label']:<32} second burst: {second['ok']:,} ok, {second['error_count']:,} errors"
            + (" (killed: it did not stop)" if burst.get("killed") else "")
        )
    return lines


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
