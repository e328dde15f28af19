"""The targets a full run is judged against, computed from its results (one function, no database).

Each goal is ``{"id", "text", "measured", "passed"}``; ``passed`` is ``None`` where the goal does not apply
to this backend. A goal whose benchmark did not run is left out.
"""

from __future__ import annotations

import math
from typing import Any

from bench.concurrency import sequential_run
from heroes_lib.db import SERVER_POOL_SIZE

#: crud.create_heroes_bulk may take at most this many times the raw driver's time.
BULK_LIMIT = {"sqlite": 4.0, "postgresql": 2.0, "mysql": 2.0}
#: The raw driver's rows/s measured when the goals were set (2 cores): a yardstick for this machine.
REFERENCE_RAW_ROWS_PER_S = {"sqlite": 474_000, "postgresql": 73_000, "mysql": 103_000}
#: The list path may be this much slower than the better ORM loader and still count as "no slower" (noise).
LIST_TOLERANCE = 1.15
#: Gathering 100 lookups that each wait 20 ms must beat doing them one by one by this much (PostgreSQL),
#: over a fixed pool of the size heroes_lib documents and make_engine uses on a server (``SERVER_POOL_SIZE``).
GATHER_MIN_SPEEDUP = 15.0
GATHER_POOL_SIZE = SERVER_POOL_SIZE
HTTP_MIN_RATIO = 1.4  # PostgreSQL: async throughput / sync throughput
#: SQLite, "about equal": async throughput between these multiples of the sync app's, both ends included.
HTTP_ABOUT_EQUAL = (0.8, 1.25)
#: PostgreSQL: heroes_lib.api's GET /heroes/{id} may take at most this many times the raw driver floor's time.
LAYER_MAX_RATIO = 3.5


def _goal(goal_id: str, text: str, measured: str, passed: bool | None) -> dict[str, Any]:
    return {"id": goal_id, "text": text, "measured": measured, "passed": passed}


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Judge every goal whose benchmark is in ``results`` (the dict ``python -m bench`` writes as JSON)."""
    backend = results["meta"]["backend"]
    goals: list[dict[str, Any]] = []
    if "insert" in results:
        goals.append(_bulk_insert(backend, results["insert"]))
    if "load" in results:
        goals.extend(_list_path(results["load"]))
    if "concurrency" in results:
        goals.append(_gather(backend, results["concurrency"]))
    if "http" in results:
        goals.extend(_http(backend, results["http"]))
    if "layers" in results:
        goals.append(_layers(backend, results["layers"]))
    return goals


def _bulk_insert(backend: str, insert: dict[str, Any]) -> dict[str, Any]:
    limit = BULK_LIMIT[backend]
    methods = {method["name"]: method for method in insert["methods"]}
    bulk, raw = methods["create_heroes_bulk"], methods["raw"]
    reference = REFERENCE_RAW_ROWS_PER_S[backend]
    return _goal(
        "bulk_insert",
        f"crud.create_heroes_bulk within {limit:g}x of the raw driver",
        f"{bulk['ratio_to_raw']:.2f}x raw ({bulk['rows_per_s']:,.0f} rows/s; raw {raw['rows_per_s']:,.0f} rows/s, "
        f"{reference / 1000:,.0f}k when the goal was set)",
        bulk["ratio_to_raw"] <= limit,
    )


def _list_path(load: dict[str, Any]) -> list[dict[str, Any]]:
    rows = load["results"]
    mine = sorted((r for r in rows if r["loader"] == "list_heroes_with_team"), key=lambda r: r["heroes"])
    counts = [r["statements"] for r in mine]
    largest = mine[-1]["heroes"]
    at_largest = {r["loader"]: r for r in rows if r["heroes"] == largest}
    better = min(("joinedload", "selectinload"), key=lambda name: at_largest[name]["median_s"])
    ratio = at_largest["list_heroes_with_team"]["median_s"] / at_largest[better]["median_s"]
    return [
        _goal(
            "list_statements",
            "crud.list_heroes_with_team: statements independent of N",
            ", ".join(f"N={r['heroes']:,}: {r['statements']}" for r in mine),
            len(set(counts)) == 1,
        ),
        _goal(
            "list_speed",
            f"crud.list_heroes_with_team no slower than the better loader (within {LIST_TOLERANCE:g}x, noise)",
            f"{ratio:.2f}x {better} at N={largest:,}",
            ratio <= LIST_TOLERANCE,
        ),
    ]


def _gather(backend: str, concurrency: dict[str, Any]) -> dict[str, Any]:
    text = (
        f"gather >= {GATHER_MIN_SPEEDUP:g}x sequential, {concurrency['server_wait_s'] * 1000:.0f} ms server wait, "
        f"pool of {GATHER_POOL_SIZE} (heroes_lib's pool_size; PostgreSQL)"
    )
    waited = [r for r in concurrency["runs"] if r["wait_s"] > 0 and r["mode"] == "gathered"]
    if not waited:
        return _goal("gather_speedup", text, "no server to wait on (SQLite)", None)
    others = ", ".join(
        f"{'default pool' if r['pool'] == 'default' else 'pool ' + str(r['pool'])}: {r['speedup']:.1f}x"
        for r in waited
        if r["pool"] != GATHER_POOL_SIZE
    )
    documented = next((r for r in waited if r["pool"] == GATHER_POOL_SIZE), None)
    if documented is None:  # the server had fewer free connections than that
        measured = f"pool {GATHER_POOL_SIZE} not measured (connection budget {concurrency['budget']}); {others}"
        return _goal("gather_speedup", text, measured, False if backend == "postgresql" else None)
    waves = math.ceil(concurrency["lookups"] / GATHER_POOL_SIZE)
    best = sequential_run(concurrency["runs"], documented)["median_s"] / (waves * documented["wait_s"])
    measured = (
        f"{documented['speedup']:.1f}x (best case {best:.0f}x: {waves} waits of {documented['wait_s'] * 1000:.0f} ms "
        f"one after another); {others} (the default pool: {concurrency['default_pool']})"
    )
    passed = documented["speedup"] >= GATHER_MIN_SPEEDUP if backend == "postgresql" else None
    return _goal("gather_speedup", text, measured, passed)


def _http(backend: str, http: dict[str, Any]) -> list[dict[str, Any]]:
    by_key = {(s["app"], s["endpoint"]): s for s in http["summary"]}
    goals = []
    for endpoint in ("by_id", "list"):
        fast, slow = by_key[("async", endpoint)], by_key[("sync", endpoint)]
        ratio = fast["requests_per_s"] / slow["requests_per_s"] if slow["requests_per_s"] else float("inf")
        p99_async, p99_sync = fast["p99_s"], slow["p99_s"]
        p99_text = f"p99 {p99_async * 1000:.0f} vs {p99_sync * 1000:.0f} ms" if p99_async and p99_sync else "p99 n/a"
        measured = f"{ratio:.2f}x sync throughput, {p99_text}"
        passed: bool | None
        if backend == "postgresql":
            passed = ratio >= HTTP_MIN_RATIO and p99_async is not None and p99_sync is not None
            passed = passed and p99_async < p99_sync
            text = f"HTTP {endpoint}: async >= {HTTP_MIN_RATIO:g}x sync throughput, lower p99 (PostgreSQL)"
        elif backend == "sqlite":
            low, high = HTTP_ABOUT_EQUAL
            passed = low <= ratio <= high
            text = f"HTTP {endpoint}: async about equal to sync ({low:g}x to {high:g}x its throughput) on SQLite"
        else:
            passed = None
            text = f"HTTP {endpoint}: async vs sync (goal set for PostgreSQL and SQLite)"
        goals.append(_goal(f"http_{endpoint}", text, measured, passed))
    bursts = http["bursts"]
    second, stuck = bursts["async"]["second"], bursts["sync_default_pool"]["second"]
    goals.append(
        _goal(
            "no_deadlock",
            f"async app keeps answering a second burst of {bursts['async']['connections']} connections "
            "(no deadlock, no error)",
            f"{second['ok']:,} ok, {second['error_count']} errors; sync app, default pool: {stuck['ok']:,} ok, "
            f"{stuck['error_count']:,} errors in {stuck['duration_s']:.0f} s",
            second["ok"] > 0 and second["error_count"] == 0,
        )
    )
    return goals


def _layers(backend: str, layers: dict[str, Any]) -> dict[str, Any]:
    rows = {row["layer"]: row for row in layers["summary"]}
    api, floor = rows["api"], rows["floor"]
    ratio = api["ratio_to_floor"]
    trips = ""
    if api["round_trips"] is not None:
        trips = f"; round trips per request {api['round_trips']:g} vs {floor['round_trips']:g}"
    measured = (
        f"{ratio:.2f}x the floor's time per request ({api['requests_per_s']:,.0f} vs "
        f"{floor['requests_per_s']:,.0f} req/s{trips})"
    )
    text = f"heroes_lib.api GET /heroes/{{id}} within {LAYER_MAX_RATIO:g}x the raw driver's time per request"
    if backend != "postgresql":
        return _goal("layer_ratio", text + " (goal set for PostgreSQL)", measured, None)
    return _goal("layer_ratio", text + " (PostgreSQL)", measured, ratio is not None and ratio <= LAYER_MAX_RATIO)
