"""bench.goals judges a run from its results alone: the thresholds of the performance goals, on made-up numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.goals import GATHER_MIN_SPEEDUP, GATHER_POOL_SIZE, HTTP_ABOUT_EQUAL, LAYER_MAX_RATIO, evaluate
from heroes_lib.db import SERVER_POOL_SIZE

STORED = sorted((Path(__file__).resolve().parent.parent / "bench" / "results").glob("*.json"))

pytestmark = pytest.mark.no_database


def http_results(backend: str, async_rps: float, sync_rps: float, async_p99: float, sync_p99: float) -> dict:
    summary = [
        {"app": app, "endpoint": endpoint, "requests_per_s": rps, "p99_s": p99}
        for endpoint in ("by_id", "list")
        for app, rps, p99 in (("async", async_rps, async_p99), ("sync", sync_rps, sync_p99))
    ]
    burst = {"connections": 64, "second": {"ok": 2_000, "error_count": 0, "duration_s": 10.0}}
    stuck = {"connections": 64, "second": {"ok": 0, "error_count": 0, "duration_s": 10.0}}
    return {
        "meta": {"backend": backend},
        "http": {"summary": summary, "bursts": {"async": burst, "sync_default_pool": stuck}},
    }


def passed(results: dict[str, Any]) -> dict[str, bool | None]:
    return {goal["id"]: goal["passed"] for goal in evaluate(results)}


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(1.0, True), (0.8, True), (1.25, True), (0.79, False), (1.26, False), (1.39, False), (1 / 1.39, False)],
)
def test_sqlite_about_equal_is_a_tolerance_of_0_8_to_1_25(ratio: float, expected: bool) -> None:
    assert HTTP_ABOUT_EQUAL == (0.8, 1.25)
    goals = passed(http_results("sqlite", 100 * ratio, 100, 0.5, 0.5))
    assert goals["http_by_id"] is expected and goals["http_list"] is expected


def test_postgresql_needs_more_throughput_and_a_lower_p99() -> None:
    assert passed(http_results("postgresql", 150, 100, 0.4, 0.8))["http_list"] is True
    assert passed(http_results("postgresql", 150, 100, 0.9, 0.8))["http_list"] is False  # p99 worse
    assert passed(http_results("postgresql", 130, 100, 0.4, 0.8))["http_list"] is False  # not 1.4x
    assert passed(http_results("mysql", 150, 100, 0.4, 0.8))["http_list"] is None  # no goal set for MariaDB


def layer_results(backend: str, api_us: float, floor_us: float = 400.0) -> dict:
    rows = [
        {"layer": layer, "requests_per_s": 1e6 / us, "us_per_request": us, "ratio_to_floor": us / floor_us,
         "round_trips": None if backend == "sqlite" else trips}
        for layer, us, trips in (("floor", floor_us, 1), ("api", api_us, 4))
    ]  # fmt: skip
    return {"meta": {"backend": backend}, "layers": {"summary": rows}}


def test_the_layer_goal_is_the_api_within_3_5x_the_floor_on_postgresql() -> None:
    assert LAYER_MAX_RATIO == 3.5
    assert passed(layer_results("postgresql", 3.5 * 400))["layer_ratio"] is True
    assert passed(layer_results("postgresql", 3.6 * 400))["layer_ratio"] is False
    assert passed(layer_results("mysql", 9 * 400))["layer_ratio"] is None  # measured, judged on PostgreSQL only
    assert passed(layer_results("sqlite", 9 * 400))["layer_ratio"] is None


def test_a_second_burst_with_an_error_is_not_a_pass() -> None:
    results = http_results("sqlite", 100, 100, 0.5, 0.5)
    assert passed(results)["no_deadlock"] is True
    results["http"]["bursts"]["async"]["second"]["error_count"] = 1
    assert passed(results)["no_deadlock"] is False


def concurrency_results(backend: str, speedups: dict[int | str, float]) -> dict:
    """Gathered runs over the given pools, each with the speedup given, and a sequential run per pool."""
    runs = []
    for pool, speedup in speedups.items():
        connections = 50 if pool == "default" else pool
        runs.append({"wait_s": 0.02, "mode": "sequential", "pool": pool, "connections": 1, "median_s": 2.2})
        runs.append({"wait_s": 0.02, "mode": "gathered", "pool": pool, "connections": connections, "speedup": speedup})
    concurrency = {"runs": runs, "lookups": 100, "server_wait_s": 0.02, "budget": 50, "default_pool": "32 + 18"}
    return {"meta": {"backend": backend}, "concurrency": concurrency}


def test_gather_is_judged_at_heroes_lib_s_documented_pool_size() -> None:
    assert GATHER_POOL_SIZE == SERVER_POOL_SIZE  # the constant itself, not a copy of its value
    at_documented = {20: 10.0, SERVER_POOL_SIZE: GATHER_MIN_SPEEDUP, 50: 22.0, "default": 12.0}
    assert passed(concurrency_results("postgresql", at_documented))["gather_speedup"] is True
    # A larger pool that passes does not make up for the documented one.
    below = {**at_documented, SERVER_POOL_SIZE: GATHER_MIN_SPEEDUP - 0.1}
    assert passed(concurrency_results("postgresql", below))["gather_speedup"] is False
    assert passed(concurrency_results("mysql", below))["gather_speedup"] is None  # the goal is PostgreSQL's


def test_gather_fails_on_postgresql_when_the_documented_pool_was_not_measured() -> None:
    results = concurrency_results("postgresql", {20: 10.0, "default": 30.0})
    goal = next(goal for goal in evaluate(results) if goal["id"] == "gather_speedup")
    assert goal["passed"] is False
    assert f"pool {SERVER_POOL_SIZE} not measured" in goal["measured"]


@pytest.mark.parametrize("path", STORED, ids=[path.stem for path in STORED])
def test_the_stored_verdicts_are_those_of_the_current_goals(path: Path) -> None:
    # After a change to bench/goals.py: python -m bench --replot bench/results/*.json
    results = json.loads(path.read_text())
    assert results["goals"] == evaluate(results)
