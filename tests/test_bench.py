"""``python -m bench --smoke`` still runs end to end on the configured backend and writes complete results.

It runs as a subprocess (as a user would run it), on the scratch database the root conftest exported; the
benchmark makes its own scratch database beside that one and drops it. Tiny sizes: this proves the code
works, it measures nothing (the timings of a smoke run are not judged).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.goals import evaluate
from heroes_lib.settings import database_url

pytestmark = pytest.mark.bench  # 15 s: run with pytest -m bench -n 0 (CI does, on every backend)

ROOT = Path(__file__).resolve().parent.parent
SMOKE_TIMEOUT = 120


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    output = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    return completed, output


@pytest.fixture(scope="module")
def results(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> dict:
    completed, output = smoke_run
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    backend = database_url().get_backend_name()
    return json.loads((output / f"{backend}.json").read_text())


def test_progress_is_one_numbered_line_per_step(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    completed, _ = smoke_run
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    steps = [line for line in completed.stdout.splitlines() if line.startswith("[")]
    numbers = [int(line[1:].split("/")[0]) for line in steps]
    assert numbers == list(range(1, len(steps) + 1))
    total = int(steps[-1].split("/")[1].split()[0])  # the total may drop when a pool is over the budget
    assert len(steps) == total
    assert all(line.split(" ... ", 1)[1].strip() for line in steps)  # each step's line ends with what it measured
    assert "scaled" in completed.stdout  # the per-row insert runs on fewer rows, and the output says so
    assert "== goals ==" in completed.stdout


def test_every_benchmark_wrote_results_and_a_plot(
    results: dict, smoke_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    _, output = smoke_run
    backend = results["meta"]["backend"]
    assert results["meta"]["smoke"] is True
    assert set(results) == {"meta", "insert", "load", "concurrency", "http", "goals"}
    for name in ("insert", "load", "concurrency", "http"):
        assert (output / f"{backend}-{name}.png").stat().st_size > 0


def test_insert_measures_every_method_with_its_statement_count(results: dict) -> None:
    insert = results["insert"]
    methods = {method["name"]: method for method in insert["methods"]}
    assert list(methods) == [
        "raw",
        "core",
        "create_heroes_bulk",
        "orm_bulk_render_nulls",
        "orm_bulk",
        "add_all",
        "per_row",
    ]
    for method in methods.values():
        assert len(method["seconds"]) == insert["repetitions"]
        assert method["rows_per_s"] > 0
    assert methods["raw"]["ratio_to_raw"] == 1
    assert methods["core"]["statements"] == 1
    assert methods["create_heroes_bulk"]["statements"] == 1
    assert methods["orm_bulk_render_nulls"]["statements"] == 1
    # Without render_nulls the ORM groups rows by the keys they set: every other hero has no age.
    assert methods["orm_bulk"]["statements"] > insert["rows"] // 4
    assert methods["per_row"]["rows"] == insert["per_row_rows"]
    assert methods["per_row"]["statements"] >= 2 * insert["per_row_rows"]  # INSERT + refresh SELECT per row


def test_load_counts_statements_as_documented(results: dict) -> None:
    load = results["load"]
    rows = load["results"]
    assert {row["loader"] for row in rows} == {
        "raw_join",
        "joinedload",
        "selectinload",
        "list_heroes_with_team",
        "n_plus_1",
    }
    assert len(rows) == 5 * len(load["sizes"])
    for row in rows:
        assert row["statements"] == row["expected_statements"], row
    largest = max(load["sizes"])
    n_plus_1 = next(row for row in rows if row["loader"] == "n_plus_1" and row["heroes"] == largest)
    assert n_plus_1["statements"] == 1 + largest


def test_concurrency_compares_sequential_and_gathered(results: dict) -> None:
    concurrency = results["concurrency"]
    runs = concurrency["runs"]
    waits = {run["wait_s"] for run in runs}
    backend = results["meta"]["backend"]
    assert waits == ({0.0} if backend == "sqlite" else {0.0, concurrency["server_wait_s"]})
    for wait in waits:
        modes = [run for run in runs if run["wait_s"] == wait]
        assert sum(run["mode"] == "sequential" for run in modes) == 1
        assert {run["pool"] for run in modes if run["mode"] == "gathered"} >= {"default"}
    assert all(run["speedup"] > 0 for run in runs)
    if backend != "sqlite":  # the run keeps within its connection budget on a server
        assert all(run["connections"] <= concurrency["budget"] <= results["meta"]["max_connections"] for run in runs)


def test_http_compares_both_apps_on_both_endpoints(results: dict) -> None:
    http = results["http"]
    assert {(row["app"], row["endpoint"]) for row in http["summary"]} == {
        ("async", "by_id"),
        ("async", "list"),
        ("sync", "by_id"),
        ("sync", "list"),
    }
    assert http["same_responses"] is True  # the sync app is an equivalent app: same JSON for the same request
    assert set(http["bursts"]) == {"sync_default_pool", "async"}
    assert all(burst["connections"] == 64 for burst in http["bursts"].values())  # more than 15 connections + 40 threads
    assert http["bursts"]["async"]["second"]["ok"] > 0  # the async app keeps answering
    assert all(run["ok"] > 0 for run in http["runs"])


def test_goals_are_evaluated_from_the_stored_results(results: dict) -> None:
    ids = [goal["id"] for goal in results["goals"]]
    expected = ["bulk_insert", "list_statements", "list_speed", "gather_speedup", "http_by_id", "http_list"]
    assert ids == [*expected, "no_deadlock"]
    assert [goal["id"] for goal in evaluate(results)] == ids  # the stored JSON is enough to judge a run again
    statements_goal = next(goal for goal in results["goals"] if goal["id"] == "list_statements")
    assert statements_goal["passed"] is True
