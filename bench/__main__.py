"""``python -m bench``: run the benchmarks, write ``<backend>.json`` and PNG plots, judge the goals."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy

from bench import concurrency, goals, http_api, insert, layers, load, loadgen, plots
from bench.common import SERVER_CONNECTIONS, BenchmarkError, Config, Context, Progress, rounded
from bench.database import scratch_database, server_version
from heroes_lib.db import make_engine
from heroes_lib.settings import DATABASE_URL_ENV, database_url, default_data_dir, display_url

BENCHMARKS = ("insert", "load", "concurrency", "http", "layers")

EPILOG = f"""\
database:
  {DATABASE_URL_ENV} names it (unset: the course's SQLite file). The run works in a scratch database
  created beside it (a temporary file for SQLite, <name>_bench_<pid> on a server) and drops it at the end;
  your data is not touched. With --in-place it uses the configured database itself and DROPS AND
  RECREATES the course's tables: everything in them is lost.

connections:
  On PostgreSQL and MariaDB the run holds at most --max-connections connections at once (default
  {SERVER_CONNECTIONS}, fewer if the server has fewer free): pools larger than that are skipped. Both HTTP
  apps of the async-vs-sync comparison get a pool of that size, on SQLite too.

A full run takes a few minutes per backend and prints one line per step. It exits with 1 if a goal
failed (the results are written first). --smoke uses tiny sizes (seconds) and judges no goal.
--only NAMES --update re-measures some benchmarks and puts them into the <backend>.json in --output.
--replot bench/results/*.json measures nothing: it judges the stored results again (after a change to
bench/goals.py) and redraws their plots (after a change to bench/plots.py).
HTTP load: wrk if installed (Debian: apt-get install wrk), else httpx in this process; --smoke uses httpx.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure inserts, relationship loading, concurrency, HTTP throughput and what each layer "
        "costs a request, for async SQLModel.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: proves it runs (seconds)")
    parser.add_argument(
        "--output",
        type=Path,
        default=default_data_dir() / "bench",
        help="folder for <backend>.json and <backend>-*.png (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(BENCHMARKS),
        metavar="NAMES",
        help=f"comma-separated benchmarks to run (default: all of {','.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--load-generator", choices=loadgen.GENERATORS, default="auto", help="HTTP load generator (default: auto)"
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=SERVER_CONNECTIONS,
        metavar="N",
        help="most connections held at once on a database server (default: %(default)s)",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="use the configured database itself: DROPS AND RECREATES the course's tables (data lost)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --only: put the benchmarks measured into the <backend>.json already in --output, keeping "
        "the others (its meta lists the update), and judge every goal again",
    )
    parser.add_argument(
        "--replot",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="measure nothing: judge the goals again and redraw the plots from results written earlier "
        "(the goals are rewritten in each file, the plots go beside it)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.max_connections < 2:
        parser.error("--max-connections must be at least 2")
    if args.update and args.replot:
        parser.error("--update measures; --replot does not: choose one")
    return args


REPORTS = {
    "insert": insert.report,
    "load": load.report,
    "concurrency": concurrency.report,
    "http": http_api.report,
    "layers": layers.report,
}


def total_steps(names: list[str], config: Config, backend: str) -> int:
    counts = {
        "insert": lambda: insert.steps(config),
        "load": lambda: load.steps(config),
        "concurrency": lambda: concurrency.steps(config, backend),
        "http": lambda: http_api.steps(config),
        "layers": lambda: layers.steps(config),
    }
    return sum(counts[name]() for name in names)


async def run(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """Run the chosen benchmarks in a scratch database and return every result, goals included."""
    configured = database_url()
    backend = configured.get_backend_name()
    generator = None
    if "http" in args.only:  # what the HTTP benchmark needs, checked before anything is measured
        http_api.require_sync_driver(backend)
    if "http" in args.only or "layers" in args.only:
        generator = loadgen.choose(args.load_generator, smoke=config.smoke)
    progress = Progress(total_steps(args.only, config, backend))
    started = time.perf_counter()
    async with scratch_database(configured, in_place=args.in_place) as url:
        context = Context(url=url, config=config, progress=progress)
        probe = make_engine(url)
        try:
            version = await server_version(probe)
        finally:
            await probe.dispose()
        progress.say(
            f"{'smoke run' if config.smoke else 'full run'} on {display_url(url)} ({backend} {version}), "
            f"{progress.total} steps"
        )
        results: dict[str, Any] = {
            "meta": {
                "backend": backend,
                "driver": url.drivername,
                "server_version": version,
                "database": display_url(url),
                "smoke": config.smoke,
                "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "sqlalchemy": sqlalchemy.__version__,
                "cpu_count": os.cpu_count(),
                "benchmarks": list(args.only),
                "max_connections": None if backend == "sqlite" else config.max_connections,
                "load_average_start": os.getloadavg()[0],  # > cpu_count: other work competed for the CPU
            }
        }
        for name in BENCHMARKS:
            if name not in args.only:
                continue
            progress.say(f"== {name} ==")
            if name == "insert":
                results["insert"] = await insert.run(context)
            elif name == "load":
                results["load"] = await load.run(context)
            elif name == "concurrency":
                results["concurrency"] = await concurrency.run(context)
            elif name == "http":
                assert generator is not None
                results["http"] = await http_api.run(context, generator)
            else:
                assert generator is not None
                results["layers"] = await layers.run(context, generator)
            for line in REPORTS[name](results[name]):
                progress.say(line)
        results["meta"]["notes"] = context.notes
    results["meta"]["seconds"] = time.perf_counter() - started
    results["meta"]["load_average_end"] = os.getloadavg()[0]
    # Judged on the numbers as stored, so that --replot on the JSON file gives the same verdicts.
    results["goals"] = goals.evaluate(rounded(results))
    return results


def print_summary(results: dict[str, Any], judged: bool) -> None:
    """The goals, each with PASS, FAIL or n/a (does not apply to this backend) and what was measured."""
    print("\n== goals ==" + ("" if judged else " (smoke run: sizes too small to judge)"))
    for goal in results["goals"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[goal["passed"]] if judged else "-"
        print(f"{verdict:>4}  {goal['text']}: {goal['measured']}")


def write_results(results: dict[str, Any], json_path: Path) -> list[Path]:
    """The results as JSON at ``json_path`` and the plots beside it (``<backend>-<name>.png``); return the files."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(rounded(results), indent=1, ensure_ascii=False) + "\n")
    return [json_path, *plots.write_all(results, json_path.parent)]


def updated(stored_path: Path, results: dict[str, Any]) -> dict[str, Any]:
    """The results stored at ``stored_path`` with the benchmarks of ``results`` put in, goals judged again.

    The stored meta stays (it describes the run that measured the rest) and gains an ``updates`` entry: the
    new run's own meta, so that each benchmark's numbers can be traced to the run that measured them.
    """
    try:
        stored = json.loads(stored_path.read_text())
    except (OSError, ValueError) as error:
        raise BenchmarkError(f"--update: cannot read {stored_path} ({error}); run without --update first") from None
    new_meta = results["meta"]
    if stored["meta"]["backend"] != new_meta["backend"] or stored["meta"]["smoke"] != new_meta["smoke"]:
        raise BenchmarkError(f"--update: {stored_path} holds another backend's results, or a smoke run's")
    for name in new_meta["benchmarks"]:
        stored[name] = results[name]
    stored["meta"]["benchmarks"] = [name for name in BENCHMARKS if name in stored]
    stored["meta"].setdefault("updates", []).append(new_meta)
    stored["goals"] = goals.evaluate(rounded(stored))
    return stored


def replot(paths: list[Path]) -> int:
    """Judge the goals again and redraw the plots of results files; exit status as for a run."""
    failed = False
    for path in paths:
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            print(f"error: cannot read {path}: {error}", file=sys.stderr)
            return 2
        results["goals"] = goals.evaluate(results)
        print(f"\n{path}: {results['meta']['backend']}, measured {results['meta']['started_utc']}")
        print_summary(results, judged=not results["meta"]["smoke"])
        written = write_results(results, path)
        print("wrote " + ", ".join(str(item) for item in written))
        failed = failed or (not results["meta"]["smoke"] and any(g["passed"] is False for g in results["goals"]))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run, write the results and plots, print the goals; exit 1 if a goal failed, 2 if the run could not go on."""
    args = parse_args(argv)
    if args.replot:
        return replot(args.replot)
    config = Config.smoke_test(args.max_connections) if args.smoke else Config.full(args.max_connections)
    json_path = args.output / f"{database_url().get_backend_name()}.json"
    if args.update and not json_path.exists():
        print(f"error: --update: there is no {json_path} to update; run without --update first", file=sys.stderr)
        return 2
    try:
        results = asyncio.run(run(args, config))
        if args.update:
            results = updated(json_path, results)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    written = write_results(results, json_path)
    print_summary(results, judged=not config.smoke)
    print("\nwrote " + ", ".join(str(path) for path in written))
    if config.smoke:
        return 0
    return 1 if any(goal["passed"] is False for goal in results["goals"]) else 0


if __name__ == "__main__":
    sys.exit(main())
