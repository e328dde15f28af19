"""What each layer costs a request: ``GET /heroes/{id}`` through the raw driver, Core, the ORM, FastAPI and
``heroes_lib.api``, side by side in one run (``bench.layer_apps`` has the five apps).

Same data (100 heroes, 10 teams), same pool size, same client: each app is served alone by its own uvicorn
process (one worker) on 127.0.0.1, started for its load and stopped after it, the order rotated per repetition,
each load after a warm-up and followed by a pause. Medians of the repetitions. Three passes
beside the load, each in this process:

- the answers: every layer must answer the same JSON as ``heroes_lib.api`` for the same hero;
- round trips per request, counted on the wire by a TCP proxy between the app and the server
  (``bench.round_trips``), requests one after another (none on SQLite: no server, no wire);
- a profile (cProfile) of ``heroes_lib.api`` served by uvicorn in this process, requests one after
  another from a thread (not profiled), summarised as time per request by package and the top functions.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from bench.common import Config, Context, median, rotated
from bench.database import add_heroes, connection_budget, fresh_tables
from bench.http_api import App, Serving
from bench.layer_apps import LAYER_ENV, LAYERS, POOL_SIZE_ENV, make_app
from bench.loadgen import run_load
from bench.round_trips import CountingProxy
from heroes_lib.db import make_engine
from heroes_lib.sample_data import generate_heroes
from heroes_lib.settings import DATABASE_URL_ENV

HEROES = 100
TEAMS = 10
#: Connections in each app's pool: heroes_lib's default pool_size on a server (fewer if the budget is short).
POOL_SIZE = 10
LABELS = {
    "floor": "raw driver (floor)",
    "core": "+ SQLAlchemy Core",
    "orm": "+ ORM session",
    "fastapi": "+ FastAPI",
    "api_transaction": "heroes_lib.api, read in a transaction",
    "api": "heroes_lib.api",
    "api_no_pre_ping": "heroes_lib.api, no pre-ping",
}
PROFILE_TOP = 12
#: The event loop's wait for sockets to become ready: idle time, kept apart from the work a request costs.
IDLE = "<method 'poll' of 'select.epoll' objects>"
#: Hero 1 has a team; the last hero of generate_heroes(…, [None, …]) pattern may not: both are compared.
SAMPLE_IDS = (1, 2, 3, HEROES)


def steps(config: Config) -> int:
    """Progress steps: the answers, the round trips, the profile, then each layer once per repetition."""
    return 3 + config.layer_repetitions * len(LAYERS)


async def _answers(context: Context, pool: int) -> bool:
    """Whether every layer answers the same JSON as heroes_lib.api for the sample heroes."""
    context.progress.start("layers: the same answers from every layer")
    answers: dict[str, list[Any]] = {}
    for layer in LAYERS:
        app = make_app(layer, context.url, min(pool, 2))
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://layer") as client,
        ):
            answers[layer] = [(await client.get(f"/heroes/{hero_id}")).json() for hero_id in SAMPLE_IDS]
    same = all(answer == answers["api"] for answer in answers.values())
    context.progress.finish("same JSON" if same else "DIFFERENT answers: " + repr(answers)[:300])
    return same


async def _round_trips(context: Context, requests: int) -> dict[str, float] | None:
    """Round trips per request of each layer, seen on the wire between the app and the server."""
    context.progress.start(f"layers: round trips per request, {requests} requests one after another")
    url = context.url
    if url.get_backend_name() == "sqlite":
        context.progress.finish("none: SQLite runs in the app's process")
        return None
    counted: dict[str, float] = {}
    default_port = 5432 if url.get_backend_name() == "postgresql" else 3306
    async with CountingProxy(url.host or "127.0.0.1", url.port or default_port) as proxy:
        for layer in LAYERS:
            app = make_app(layer, proxy.url_for(url), 1)  # one connection: opened once, then reused
            async with (
                LifespanManager(app) as manager,
                httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://layer") as client,
            ):
                for hero_id in range(1, 4):  # warm-up: connection opened, statements prepared
                    assert (await client.get(f"/heroes/{hero_id}")).status_code == 200
                proxy.reset()
                for number in range(requests):
                    assert (await client.get(f"/heroes/{1 + number % HEROES}")).status_code == 200
                counted[layer] = proxy.round_trips / requests
    context.progress.finish(", ".join(f"{layer} {count:g}" for layer, count in counted.items()))
    return counted


def _package(filename: str) -> str:
    """Where a profiled function lives: a package, ``heroes_lib``, ``asyncio``, ``python`` or ``C built-ins``."""
    if filename == "~" or filename.startswith("<"):
        return "C calls (sockets, greenlet, ...)"
    path = Path(filename)
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1].removesuffix(".py")
    if "heroes_lib" in path.parts:
        return "heroes_lib"
    if "bench" in path.parts:
        return "bench"
    return "asyncio" if "asyncio" in path.parts else "python (other)"


def summarise_profile(profile: cProfile.Profile, requests: int) -> dict[str, Any]:
    """Own time per request by package, and the functions with the most own time."""
    stats = pstats.Stats(profile)
    by_package: dict[str, float] = defaultdict(float)
    functions = []
    idle = 0.0
    for (filename, _line, name), (_calls, calls, own, _cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name == IDLE:
            idle += own  # the event loop waiting for the client or the database: not work done
            continue
        package = _package(filename)
        by_package[package] += own
        where = name if filename == "~" else f"{package}: {Path(filename).stem}.{name}"
        per_request = {"us_per_request": own / requests * 1e6, "calls_per_request": calls / requests}
        functions.append({"function": where, **per_request})
    total = sum(by_package.values())
    return {
        "requests": requests,
        "us_per_request": total / requests * 1e6,
        "idle_us_per_request": idle / requests * 1e6,
        "by_package": [
            {"package": package, "us_per_request": own / requests * 1e6, "share": own / total}
            for package, own in sorted(by_package.items(), key=lambda item: -item[1])
        ],
        "top": sorted(functions, key=lambda row: -row["us_per_request"])[:PROFILE_TOP],
    }


async def _profile(context: Context, requests: int) -> dict[str, Any]:
    """heroes_lib.api under uvicorn in this process, profiled while a thread sends requests one at a time."""
    import uvicorn

    context.progress.start(f"layers: profile of heroes_lib.api, {requests} requests one after another")
    app = make_app("api", context.url, 2)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    profile = cProfile.Profile()
    try:
        await asyncio.to_thread(_requests, port, 20)  # warm-up, not profiled
        # cProfile sees only the thread that enables it: this one, the event loop's, where uvicorn and the app
        # run. The client sends from a thread of its own, so its work stays out of the profile.
        profile.enable()
        await asyncio.to_thread(_requests, port, requests)
        profile.disable()
    finally:
        server.should_exit = True
        await serving
    summary = summarise_profile(profile, requests)
    top = summary["by_package"][:3]
    context.progress.finish(
        f"{summary['us_per_request']:,.0f} µs of work per request: "
        + ", ".join(f"{row['package']} {row['share']:.0%}" for row in top)
    )
    return summary


def _requests(port: int, count: int) -> None:
    rng = random.Random(1)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as session:
        for _ in range(count):
            session.get(f"/heroes/{rng.randint(1, HEROES)}").raise_for_status()


def _apps(context: Context, pool: int) -> list[App]:
    env = {DATABASE_URL_ENV: context.url.render_as_string(hide_password=False), POOL_SIZE_ENV: str(pool)}
    return [
        App(layer, "bench.layer_apps:app", {**env, LAYER_ENV: layer}, LABELS[layer], ready_path="/heroes/1")
        for layer in LAYERS
    ]


async def run(context: Context, generator: str) -> dict[str, Any]:
    """Measure the five layers side by side; count their round trips; profile heroes_lib.api."""
    config = context.config
    setup = make_engine(context.url)
    try:
        team_ids = await fresh_tables(setup, TEAMS)
        await add_heroes(setup, list(generate_heroes(HEROES, [None, *team_ids])))
        budget = await connection_budget(setup)
    finally:
        await setup.dispose()
    pool = POOL_SIZE if budget is None else max(1, min(POOL_SIZE, budget))
    if pool < POOL_SIZE:
        context.note(f"layers: the server accepts only {budget} more connections now; each app's pool is {pool}")
    same = await _answers(context, pool)
    round_trips = await _round_trips(context, config.layer_count_requests)
    profile = await _profile(context, config.layer_profile_requests)
    runs: list[dict[str, Any]] = []
    apps = _apps(context, pool)
    for repetition in range(1, config.layer_repetitions + 1):
        for app in rotated(apps, repetition - 1):
            async with Serving([app], config) as (server,):
                if config.http_warmup:
                    await _load(server.base_url, generator, config, config.http_warmup)
                context.progress.start(
                    f"layers: {server.app.label}, {config.http_connections} connections, "
                    f"{config.http_duration:g} s, rep {repetition}/{config.layer_repetitions}"
                )
                result = await _load(server.base_url, generator, config, config.http_duration)
                context.progress.finish(
                    f"{result.requests_per_s:,.0f} req/s, {sum(result.errors.values())} errors "
                    f"(load {os.getloadavg()[0]:.1f})"
                )
                runs.append({"layer": server.app.name, "repetition": repetition, **result.as_dict(),
                             "load_average": os.getloadavg()[0]})  # fmt: skip
                await asyncio.sleep(config.http_pause)
    return {
        "generator": generator,
        "connections": config.http_connections,
        "duration_s": config.http_duration,
        "repetitions": config.layer_repetitions,
        "heroes": HEROES,
        "pool_size": pool,
        "same_responses": same,
        "round_trip_method": "a TCP proxy between app and server counts the turns of each conversation",
        "profile": profile,
        "runs": runs,
        "summary": summary(runs, round_trips),
    }


async def _load(base_url: str, generator: str, config: Config, duration: float) -> Any:
    return await run_load(generator, base_url, "by_id", HEROES, config.http_connections, duration, config.http_timeout)


def summary(runs: list[dict[str, Any]], round_trips: dict[str, float] | None) -> list[dict[str, Any]]:
    """Medians per layer, time per request and its ratio to the floor's."""
    rows = []
    for layer in LAYERS:
        mine = [run for run in runs if run["layer"] == layer]
        rate = median([run["requests_per_s"] for run in mine])
        p99s = [run["p99_s"] for run in mine if run["p99_s"] is not None]
        rows.append(
            {
                "layer": layer,
                "label": LABELS[layer],
                "requests_per_s": rate,
                "us_per_request": 1e6 / rate if rate else None,
                "p99_s": median(p99s) if p99s else None,
                "errors": sum(run["error_count"] for run in mine),
                "round_trips": None if round_trips is None else round_trips[layer],
            }
        )
    floor = rows[0]["us_per_request"]
    for row in rows:
        row["ratio_to_floor"] = row["us_per_request"] / floor if floor and row["us_per_request"] else None
    return rows


def report(data: dict[str, Any]) -> list[str]:
    """One line per layer: requests per second, time per request, ratio to the floor, round trips."""
    lines = []
    for row in data["summary"]:
        trips = "-" if row["round_trips"] is None else f"{row['round_trips']:g}"
        ratio = "-" if row["ratio_to_floor"] is None else f"{row['ratio_to_floor']:.2f}x"
        lines.append(
            f"{row['label']:<22} {row['requests_per_s']:>7,.0f} req/s {row['us_per_request'] or 0:>7,.0f} µs/request "
            f"{ratio:>6} floor, {trips} round trips, {row['errors']} errors"
        )
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it through python -m bench --only layers")
