"""bench.goals judges a run from its results alone: the thresholds of the performance goals, on made-up numbers."""

from __future__ import annotations

from typing import Any

import pytest

from bench.goals import GATHER_MIN_SPEEDUP, HTTP_MIN_RATIO, evaluate

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
    [(1.0, True), (1.3, True), (1 / 1.3, True), (HTTP_MIN_RATIO + 0.01, False), (1 / (HTTP_MIN_RATIO + 0.01), False)],
)
def test_sqlite_about_equal_means_neither_app_wins_by_the_postgresql_margin(ratio: float, expected: bool) -> None:
    goals = passed(http_results("sqlite", 100 * ratio, 100, 0.5, 0.5))
    assert goals["http_by_id"] is expected and goals["http_list"] is expected


def test_postgresql_needs_more_throughput_and_a_lower_p99() -> None:
    assert passed(http_results("postgresql", 150, 100, 0.4, 0.8))["http_list"] is True
    assert passed(http_results("postgresql", 150, 100, 0.9, 0.8))["http_list"] is False  # p99 worse
    assert passed(http_results("postgresql", 130, 100, 0.4, 0.8))["http_list"] is False  # not 1.4x
    assert passed(http_results("mysql", 150, 100, 0.4, 0.8))["http_list"] is None  # no goal set for MariaDB


def test_a_second_burst_with_an_error_is_not_a_pass() -> None:
    results = http_results("sqlite", 100, 100, 0.5, 0.5)
    assert passed(results)["no_deadlock"] is True
    results["http"]["bursts"]["async"]["second"]["error_count"] = 1
    assert passed(results)["no_deadlock"] is False


def concurrency_results(backend: str, speedup_at_50: float) -> dict:
    runs = [
        {"wait_s": 0.02, "mode": "sequential", "pool": None, "connections": 1, "speedup": 1.0},
        {"wait_s": 0.02, "mode": "gathered", "pool": 20, "connections": 20, "speedup": 10.0},
        {"wait_s": 0.02, "mode": "gathered", "pool": 50, "connections": 50, "speedup": speedup_at_50},
        {"wait_s": 0.02, "mode": "gathered", "pool": "default", "connections": 50, "speedup": 12.0},
    ]
    return {"meta": {"backend": backend}, "concurrency": {"runs": runs, "default_pool": "pool_size 32 + ..."}}


def test_gather_is_judged_on_postgresql_over_the_largest_fixed_pool() -> None:
    assert passed(concurrency_results("postgresql", GATHER_MIN_SPEEDUP))["gather_speedup"] is True
    assert passed(concurrency_results("postgresql", GATHER_MIN_SPEEDUP - 0.1))["gather_speedup"] is False
    assert passed(concurrency_results("mysql", 5.0))["gather_speedup"] is None
