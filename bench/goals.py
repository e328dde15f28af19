"""The targets a full run is judged against, computed from its results (one function, no database).

Each goal is ``{"id", "text", "measured", "passed"}``; ``passed`` is ``None`` where the goal does not apply
to this backend. A goal whose benchmark did not run is left out.
"""

from __future__ import annotations

import math
from typing import Any

#: crud.create_heroes_bulk may take at most this many times the raw driver's time.
BULK_LIMIT = {"sqlite": 4.0, "postgresql": 2.0, "mysql": 2.0}
#: The raw driver's rows/s measured when the goals were set (2 cores): a yardstick for this machine.
REFERENCE_RAW_ROWS_PER_S = {"sqlite": 474_000, "postgresql": 73_000, "mysql": 103_000}
#: The list path may be this much slower than the better ORM loader and still count as "no slower" (noise).
LIST_TOLERANCE = 1.15
#: Gathering lookups that each wait in the server must come within this factor of the physical bound, over every
#: pool measured (PostgreSQL and MariaDB). The bound of a pool of C connections is the larger of
#: ceil(lookups / C) waits one after another and the same gather with no wait (the event loop's own work).
GATHER_BOUND_FACTOR = 1.5
GATHER_BACKENDS = ("postgresql", "mysql")
HTTP_MIN_RATIO = 1.4  # PostgreSQL: async throughput / sync throughput
#: SQLite: the async API at least this multiple of the sync app's throughput (no slower, within noise).
HTTP_SQLITE_MIN_RATIO = 0.9
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


def gather_bound(concurrency: dict[str, Any], gathered_run: dict[str, Any]) -> float:
    """Seconds no gather over ``gathered_run``'s pool can beat: its waits in waves, or its work with no wait."""
    waves = math.ceil(concurrency["lookups"] / gathered_run["connections"])
    unwaited = next(
        run
        for run in concurrency["runs"]
        if run["mode"] == "gathered" and run["wait_s"] == 0 and run["pool"] == gathered_run["pool"]
    )
    return max(waves * gathered_run["wait_s"], unwaited["median_s"])


def _gather(backend: str, concurrency: dict[str, Any]) -> dict[str, Any]:
    wait_ms = concurrency["server_wait_s"] * 1000
    text = (
        f"gather within {GATHER_BOUND_FACTOR:g}x of its bound at every pool, {wait_ms:.0f} ms server wait (bound: "
        "ceil(lookups / connections) waits or the same gather with no wait, whichever is longer; PostgreSQL, MariaDB)"
    )
    waited = [r for r in concurrency["runs"] if r["wait_s"] > 0 and r["mode"] == "gathered"]
    if not waited:
        return _goal("gather_bound", text, "no server to wait on (SQLite)", None)
    ratios = {run["pool"]: run["median_s"] / gather_bound(concurrency, run) for run in waited}
    measured = ", ".join(
        f"{'default pool' if pool == 'default' else 'pool ' + str(pool)}: {ratio:.2f}x"
        for pool, ratio in ratios.items()
    )
    measured += f" (the default pool: {concurrency['default_pool']})"
    passed = max(ratios.values()) <= GATHER_BOUND_FACTOR if backend in GATHER_BACKENDS else None
    return _goal("gather_bound", text, measured, passed)


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
            passed = ratio >= HTTP_SQLITE_MIN_RATIO
            text = (
                f"HTTP {endpoint}: async no slower than sync (>= {HTTP_SQLITE_MIN_RATIO:g}x its throughput) on SQLite"
            )
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
