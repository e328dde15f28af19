"""``python -m bench --smoke`` still runs end to end on the configured backend and writes complete results.

It runs as a subprocess (as a user would run it), on the scratch database the root conftest exported; the
benchmark makes its own scratch database beside that one and drops it. Tiny sizes: this proves the code
works, it measures nothing (the timings of a smoke run are not judged).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import Config
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
    assert any(line.endswith(" µs/hero, 1 statement") for line in steps)  # one statement, in the singular
    assert not re.search(r"\b1 statements\b", completed.stdout)
    assert "== goals ==" in completed.stdout


def test_every_benchmark_wrote_results_and_a_plot(
    results: dict, smoke_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    _, output = smoke_run
    backend = results["meta"]["backend"]
    assert results["meta"]["smoke"] is True
    assert set(results) == {"meta", "insert", "load", "concurrency", "http", "layers", "goals"}
    for name in ("insert", "load", "concurrency", "http", "layers"):
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
    assert methods["raw"]["statements"] is None  # the driver's own executemany: SQLAlchemy cannot count it
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


def test_concurrency_times_both_modes_side_by_side_on_each_pool(results: dict) -> None:
    concurrency = results["concurrency"]
    runs = concurrency["runs"]
    waits = {run["wait_s"] for run in runs}
    backend = results["meta"]["backend"]
    assert waits == ({0.0} if backend == "sqlite" else {0.0, concurrency["server_wait_s"]})
    assert concurrency["side_by_side"] is True
    for wait in waits:
        gathered = {run["pool"]: run for run in runs if run["wait_s"] == wait and run["mode"] == "gathered"}
        sequential = {run["pool"]: run for run in runs if run["wait_s"] == wait and run["mode"] == "sequential"}
        assert "default" in gathered
        assert set(sequential) == set(gathered)  # the sequential loop ran on every pool the lookups were gathered on
        for pool, run in gathered.items():
            assert len(run["seconds"]) == len(sequential[pool]["seconds"]) == concurrency["repetitions"]
            assert len(run["cpu_seconds"]) == concurrency["repetitions"] and all(cpu > 0 for cpu in run["cpu_seconds"])
            assert run["speedup"] == pytest.approx(sequential[pool]["median_s"] / run["median_s"], rel=1e-3)
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
    pool = http["comparison_pool"]  # the same for both apps, on every backend
    assert http["apps"]["async"] == f"async app, pool {pool}" and http["apps"]["sync"] == f"sync app, pool {pool}"
    assert pool == (Config.smoke_test().max_connections if http["pool_budget"] is None else http["pool_budget"])
    assert set(http["bursts"]) == {"sync_default_pool", "async"}
    assert all(burst["connections"] == 64 for burst in http["bursts"].values())  # more than 15 connections + 40 threads
    assert http["bursts"]["async"]["second"]["ok"] > 0  # the async app keeps answering
    assert all(run["ok"] > 0 for run in http["runs"])


def test_layers_measure_the_same_request_through_each_layer(results: dict) -> None:
    layers = results["layers"]
    assert layers["same_responses"] is True  # every layer answers the JSON heroes_lib.api answers
    names = [row["layer"] for row in layers["summary"]]
    assert names == ["floor", "core", "orm", "fastapi", "api_transaction", "api", "api_no_pre_ping"]
    assert all(run["ok"] > 0 and run["error_count"] == 0 for run in layers["runs"])
    assert layers["summary"][0]["ratio_to_floor"] == 1
    trips = {row["layer"]: row["round_trips"] for row in layers["summary"]}
    backend = results["meta"]["backend"]
    if backend == "sqlite":
        assert set(trips.values()) == {None}  # no server, no wire
    else:
        assert trips["floor"] == 1  # the driver's pool: the query and nothing else
        # ping, (BEGIN,) the query, ROLLBACK; on MariaDB the ORM session's close adds a second ROLLBACK
        assert trips["orm"] == trips["fastapi"] == trips["api_transaction"]
        assert trips["core"] == (trips["orm"] if backend == "postgresql" else trips["orm"] - 1)
        # The read path's autocommit saves BEGIN and ROLLBACK where the driver switches for free (asyncpg).
        assert trips["api"] == (trips["api_transaction"] - 2 if backend == "postgresql" else trips["api_transaction"])
        # the pre-ping: BEGIN, an empty query and ROLLBACK on asyncpg, one COM_PING on aiomysql
        assert trips["api"] - trips["api_no_pre_ping"] == (3 if backend == "postgresql" else 1)
    profile = layers["profile"]
    assert profile["requests"] > 0 and profile["top"] and profile["by_package"]
    assert abs(sum(row["share"] for row in profile["by_package"]) - 1) < 0.01


def test_goals_are_evaluated_from_the_stored_results(results: dict) -> None:
    ids = [goal["id"] for goal in results["goals"]]
    expected = ["bulk_insert", "list_statements", "list_speed", "gather_bound", "http_by_id", "http_list"]
    assert ids == [*expected, "no_deadlock", "layer_ratio"]
    assert [goal["id"] for goal in evaluate(results)] == ids  # the stored JSON is enough to judge a run again
    statements_goal = next(goal for goal in results["goals"] if goal["id"] == "list_statements")
    assert statements_goal["passed"] is True


def test_replot_judges_and_draws_again_from_the_stored_json(
    results: dict, smoke_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, output = smoke_run
    backend = results["meta"]["backend"]
    stored = tmp_path / f"{backend}.json"
    shutil.copy(output / f"{backend}.json", stored)
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--replot", str(stored)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert json.loads(stored.read_text()) == results  # nothing measured, nothing changed: same verdicts
    for name in ("insert", "load", "concurrency", "http", "layers"):
        assert (tmp_path / f"{backend}-{name}.png").read_bytes().startswith(b"\x89PNG")


def test_update_replaces_only_the_benchmarks_measured_again(
    results: dict, smoke_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, output = smoke_run
    backend = results["meta"]["backend"]
    shutil.copy(output / f"{backend}.json", tmp_path / f"{backend}.json")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "insert", "--update", "--output", str(tmp_path)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    merged = json.loads((tmp_path / f"{backend}.json").read_text())
    assert {name: merged[name] for name in ("load", "concurrency", "http", "layers")} == {
        name: results[name] for name in ("load", "concurrency", "http", "layers")
    }
    assert merged["insert"] != results["insert"]  # measured again: other timings
    assert merged["meta"]["started_utc"] == results["meta"]["started_utc"]
    (update,) = merged["meta"]["updates"]
    assert update["benchmarks"] == ["insert"]
    assert [goal["id"] for goal in merged["goals"]] == [goal["id"] for goal in results["goals"]]
