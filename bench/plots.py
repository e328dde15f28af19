"""PNG figures of one run's results (matplotlib, Agg backend: no display needed).

Each figure is drawn from the results dict alone, so ``python -m bench --replot`` redraws them from a stored
JSON file. The ``compare_*`` functions draw lesson 10's figures, the three backends side by side, as pictures a
notebook shows. Readable at the size lesson 10 shows them: short tick labels, one legend per figure, lines that
coincide told apart by marker and style, axes limited to the data.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

from bench.common import median
from bench.goals import gather_bound
from bench.insert import statements_text
from heroes_lib.db import SERVER_POOL_SIZE

ASYNC_COLOR, SYNC_COLOR, HIGHLIGHT, PLAIN = "#4c72b0", "#dd8452", "#55a868", "#8da0cb"
#: Loader styles: the three one-statement loaders coincide on the statements plot, so each has its own
#: marker size and line style (the biggest drawn first) and stays visible behind the others.
LOADER_STYLES = {
    "raw_join": {"marker": "o", "markersize": 11, "linestyle": "-", "fillstyle": "none"},
    "joinedload": {"marker": "s", "markersize": 7, "linestyle": "--"},
    "list_heroes_with_team": {"marker": "x", "markersize": 9, "linestyle": ":", "markeredgewidth": 2},
    "selectinload": {"marker": "^", "markersize": 7, "linestyle": "-"},
    "n_plus_1": {"marker": "D", "markersize": 6, "linestyle": "-"},
}
ENDPOINT_LABELS = {"by_id": "GET /heroes/{id}", "list": "GET /heroes/ (100)"}


def write_all(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write one PNG per benchmark that ran; return their paths."""
    backend = results["meta"]["backend"]
    written = []
    drawings = (("insert", insert), ("load", load), ("concurrency", concurrency), ("http", http), ("layers", layers))
    for name, draw in drawings:
        if name in results:
            figure = draw(results[name], backend)
            path = folder / f"{backend}-{name}.png"
            figure.savefig(path, dpi=100)
            plt.close(figure)
            written.append(path)
    return written


def count_text(value: float, _position: object = None) -> str:
    """A tick label for a count on a log axis: ``1k``, ``10k``, ``1M`` rather than ``10^3``."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def ratio_text(ratio: float) -> str:
    """``2.3x``, ``15x``, ``669x``: one decimal only where it tells something."""
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def log_limits(values: list[float], margin: float = 1.6) -> tuple[float, float]:
    """Limits of a log axis that hold ``values`` and a little room, not whole empty decades."""
    low, high = min(values), max(values)
    return 10 ** math.floor(math.log10(low / margin)), high * margin


def insert(data: dict[str, Any], backend: str) -> Figure:
    """Rows per second per insert method (log scale); beside each bar, its ratio to raw and what it sent."""
    methods = data["methods"]
    figure, axes = plt.subplots(figsize=(9, 3.8), layout="constrained")
    positions = list(range(len(methods)))
    rates = [m["rows_per_s"] for m in methods]
    colors = [HIGHLIGHT if m["name"] == "create_heroes_bulk" else PLAIN for m in methods]
    axes.barh(positions, rates, color=colors)
    axes.set_yticks(positions, [m["label"] for m in methods])
    axes.set_xscale("log")
    axes.set_xlim(*log_limits(rates))
    axes.xaxis.set_major_formatter(FuncFormatter(count_text))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.grid(axis="x", alpha=0.3)
    axes.set_xlabel("rows per second (log scale)")
    axes.set_title(f"Insert {data['rows']:,} heroes ({backend}): median of {data['repetitions']}")
    # The notes go in a column of their own on the right, not into empty decades of the log axis.
    notes = axes.twinx()
    notes.set_ylim(axes.get_ylim())
    notes.set_yticks(
        positions,
        [
            f"{ratio_text(m['ratio_to_raw'])} raw · {statements_text(m, data['rows'])}"
            + (" (rate scaled)" if m["scaled"] else "")
            for m in methods
        ],
        fontsize=8,
    )
    notes.tick_params(axis="y", length=0)
    axes.invert_yaxis()
    notes.invert_yaxis()
    return figure


def _loader_rows(data: dict[str, Any], loader: str) -> list[dict[str, Any]]:
    return sorted((r for r in data["results"] if r["loader"] == loader), key=lambda r: r["heroes"])


def _size_ticks(axes: Axes, sizes: list[int]) -> None:
    axes.set_xscale("log")
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.xaxis.set_minor_locator(NullLocator())


def load(data: dict[str, Any], backend: str) -> Figure:
    """Statements and time per hero against N, one line per loader, one legend for both panels."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    loaders = sorted(dict.fromkeys(r["loader"] for r in data["results"]), key=list(LOADER_STYLES).index)
    sizes = sorted(data["sizes"])
    for loader in loaders:
        rows = _loader_rows(data, loader)
        style = LOADER_STYLES[loader]
        left.plot([r["heroes"] for r in rows], [r["statements"] for r in rows], label=rows[0]["label"], **style)
        right.plot([r["heroes"] for r in rows], [r["us_per_hero"] for r in rows], **style)
    for axes in (left, right):
        _size_ticks(axes, sizes)
        axes.set_yscale("log")
        axes.yaxis.set_major_formatter(FuncFormatter(count_text))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.grid(alpha=0.3)
        axes.set_xlabel("heroes loaded (N)")
    ones = [r["label"] for r in data["results"] if r["heroes"] == sizes[-1] and r["statements"] == 1]
    if len(ones) > 1:
        left.annotate(
            f"1 statement at every N:\n{', '.join(ones)}",
            (sizes[0], 1),
            xytext=(0, -10),
            textcoords="offset points",
            fontsize=8,
            va="top",
        )
    left.set_ylim(0.25, max(r["statements"] for r in data["results"]) * 3)
    left.set_ylabel("statements (log scale)")
    left.set_title(f"Statements vs N ({backend})")
    right.set_ylabel("µs per hero (log scale)")
    right.set_title("Time per hero (median)")
    figure.legend(loc="outside lower center", ncols=3, fontsize=8)
    return figure


def concurrency(data: dict[str, Any], backend: str) -> Figure:
    """Speedup of gathering over the sequential loop, per pool size; the default pool as a star."""
    figure, axes = plt.subplots(figsize=(8, 4.2), layout="constrained")
    sizes: set[int] = set()
    for wait in sorted({r["wait_s"] for r in data["runs"]}, reverse=True):
        gathered = [r for r in data["runs"] if r["wait_s"] == wait and r["mode"] == "gathered"]
        fixed = sorted((r for r in gathered if r["pool"] != "default"), key=lambda r: r["connections"])
        default = next(r for r in gathered if r["pool"] == "default")
        label = f"{wait * 1000:.0f} ms server wait" if wait else "no wait (cheap lookup)"
        (line,) = axes.plot([r["connections"] for r in fixed], [r["speedup"] for r in fixed], marker="o", label=label)
        axes.plot(
            default["connections"],
            default["speedup"],
            marker="*",
            markersize=14,
            linestyle="none",
            color=line.get_color(),
            label=f"{label}, default pool",
        )
        axes.annotate(
            f"{default['speedup']:.1f}x",
            (default["connections"], default["speedup"]),
            xytext=(8, -3),
            textcoords="offset points",
            fontsize=8,
            color=line.get_color(),
        )
        if wait:
            sequential_s = median(
                [r["median_s"] for r in data["runs"] if r["wait_s"] == wait and r["mode"] == "sequential"]
            )
            best = [sequential_s / gather_bound(data, r) for r in fixed]
            axes.plot(
                [r["connections"] for r in fixed],
                best,
                color=line.get_color(),
                linestyle=":",
                linewidth=1,
                label="best case: one wait per round of lookups, or the work with no wait",
            )
        sizes.update(r["connections"] for r in gathered)
    axes.axhline(1, color="grey", linewidth=0.8)
    if backend != "sqlite":  # make_engine's pool_size is for servers; SQLite keeps SQLAlchemy's default
        axes.axvline(SERVER_POOL_SIZE, color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(
            f"heroes_lib's\npool_size ({SERVER_POOL_SIZE})",
            (SERVER_POOL_SIZE, 1),
            xycoords=("data", "axes fraction"),
            xytext=(-3, -3),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=8,
            color="grey",
        )
    _size_ticks(axes, sorted(sizes))
    axes.set_xlim(min(sizes) / 1.2, max(sizes) * 1.4)  # room for the stars' labels
    axes.set_xlabel(f"connections in the pool (pool_size, no overflow)\nstar: the default pool, {data['default_pool']}")
    axes.set_ylabel("speedup of gather over sequential")
    axes.set_title(f"{data['lookups']} lookups gathered vs one by one ({backend})")
    axes.legend(fontsize=8)
    return figure


def http(data: dict[str, Any], backend: str) -> Figure:
    """Throughput, then p50 and p99 latency, of both apps per endpoint; then the two bursts, on their own."""
    figure, (rate, latency, bursts) = plt.subplots(
        1, 3, figsize=(13, 4.2), layout="constrained", gridspec_kw={"width_ratios": [1, 1.3, 0.9]}
    )
    endpoints = [e for e in ENDPOINT_LABELS if any(s["endpoint"] == e for s in data["summary"])]
    by_key = {(s["app"], s["endpoint"]): s for s in data["summary"]}
    labels = {s["app"]: s["label"] for s in data["summary"]}
    width = 0.38
    for offset, app, color in ((-width / 2, "async", ASYNC_COLOR), (width / 2, "sync", SYNC_COLOR)):
        positions = [index + offset for index in range(len(endpoints))]
        rate.bar(
            positions, [by_key[(app, e)]["requests_per_s"] for e in endpoints], width, color=color, label=labels[app]
        )
        p99 = [(by_key[(app, e)]["p99_s"] or 0) * 1000 for e in endpoints]
        p50 = [(by_key[(app, e)]["p50_s"] or 0) * 1000 for e in endpoints]
        latency.bar(positions, p99, width, color=color, alpha=0.35, label=f"{app}: p99")
        latency.bar(positions, p50, width * 0.6, color=color, label=f"{app}: p50")
    for axes in (rate, latency):
        axes.set_xticks(range(len(endpoints)), [ENDPOINT_LABELS[e] for e in endpoints], fontsize=9)
        axes.grid(axis="y", alpha=0.3)
    rate.set_ylabel("requests per second")
    rate.set_title(f"Throughput, {data['connections']} connections ({backend})", fontsize=10)
    rate.legend(fontsize=8, loc="upper right")
    latency.set_ylabel("latency (ms)")
    latency.set_title("Latency: p50 (narrow) and p99 (wide, light)", fontsize=10)
    latency.legend(fontsize=8, ncols=2, loc="upper left")

    second = {name: burst["second"] for name, burst in data["bursts"].items()}
    names = [name for name in ("sync_default_pool", "async") if name in second]
    answered = [second[name]["ok"] for name in names]
    colors = [SYNC_COLOR if name.startswith("sync") else ASYNC_COLOR for name in names]
    bursts.bar(range(len(names)), answered, 0.6, color=colors)
    bursts.set_xticks(range(len(names)), [data["bursts"][name]["label"].replace(", ", ",\n", 1) for name in names])
    bursts.tick_params(axis="x", labelsize=9)
    for index, name in enumerate(names):
        note = f"{second[name]['ok']:,} answered"
        if second[name]["ok"] == 0:
            note += "\n(deadlocked)"
        if second[name]["error_count"]:
            note += f"\n{second[name]['error_count']:,} errors"
        bursts.annotate(note, (index, second[name]["ok"]), xytext=(0, 4), textcoords="offset points", ha="center")
    bursts.set_ylim(0, max([*answered, 1]) * 1.3)
    bursts.set_ylabel("requests answered")
    duration = max(second[name]["duration_s"] for name in names)
    connections = next(iter(data["bursts"].values()))["connections"]
    bursts.set_title(f"Second burst: {connections} connections, {duration:.0f} s", fontsize=10)
    return figure


def layers(data: dict[str, Any], backend: str) -> Figure:
    """Time per request through each layer, its ratio to the floor beside each bar; round trips on the right."""
    figure, (time_axes, trips_axes) = plt.subplots(
        1, 2, figsize=(11, 3.6), layout="constrained", gridspec_kw={"width_ratios": [2, 1]}
    )
    rows = data["summary"]
    positions = list(range(len(rows)))
    values = [row["us_per_request"] for row in rows]
    colors = [HIGHLIGHT if row["layer"] == "api" else PLAIN for row in rows]
    time_axes.barh(positions, values, color=colors)
    for position, row in zip(positions, rows, strict=True):
        time_axes.annotate(
            ratio_text(row["ratio_to_floor"]), (row["us_per_request"], position), xytext=(3, 0),
            textcoords="offset points", va="center", fontsize=8,
        )  # fmt: skip
    time_axes.set_yticks(positions, [row["label"] for row in rows])
    time_axes.invert_yaxis()
    time_axes.set_xlim(0, max(values) * 1.2)
    time_axes.set_xlabel(f"µs per request ({data['connections']} connections, median of {data['repetitions']})")
    time_axes.set_title(f"GET /heroes/{{id}} through each layer ({backend})")
    time_axes.grid(axis="x", alpha=0.3)
    trips = [row["round_trips"] or 0 for row in rows]
    trips_axes.barh(positions, trips, color=colors)
    trips_axes.set_yticks(positions, [])
    trips_axes.invert_yaxis()
    trips_axes.set_xlabel("round trips per request (on the wire)")
    trips_axes.set_title("none on SQLite (in-process)" if rows[0]["round_trips"] is None else "Round trips")
    trips_axes.grid(axis="x", alpha=0.3)
    return figure


# Lesson 10's figures: the stored results of the three backends side by side, one call per figure.

#: The backends in the order lesson 10 shows them, with the names it uses (only MariaDB is measured as "mysql").
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
#: One colour per backend in the figures that show several (the same in every panel).
BACKEND_COLORS = {"sqlite": "C0", "postgresql": "C1", "mysql": "C2"}
#: Resolution of the pictures a notebook stores: sharp enough on screen, small enough in the file.
LESSON_DPI = 72
SHORT_LOADER_LABELS = {
    "raw_join": "raw JOIN",
    "joinedload": "joinedload",
    "selectinload": "selectinload",
    "list_heroes_with_team": "list path",
    "n_plus_1": "N+1",
}


@dataclass(frozen=True)
class Picture:
    """A figure drawn as PNG: a notebook shows it as an image when it is a cell's last value."""

    title: str
    png: bytes

    def _repr_png_(self) -> bytes:
        # IPython's display protocol: the image itself.
        return self.png

    def __repr__(self) -> str:
        # The text form (also stored in the notebook): stable, no memory address.
        return f"<figure: {self.title}>"


def picture(figure: Figure, title: str, dpi: int = LESSON_DPI) -> Picture:
    """Render ``figure`` as PNG at ``dpi`` and close it, so it is neither kept in memory nor shown twice."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return Picture(title, buffer.getvalue())


def _backends(results: Mapping[str, dict[str, Any]]) -> list[str]:
    return [backend for backend in BACKEND_NAMES if backend in results]


def _offsets(count: int, width: float) -> list[float]:
    """Bar offsets that centre ``count`` bars of ``width`` on each position."""
    return [(index - (count - 1) / 2) * width for index in range(count)]


def compare_inserts(results: Mapping[str, dict[str, Any]]) -> Picture:
    """Rows per second of each insert method, one bar per backend (log scale)."""
    backends = _backends(results)
    methods = results[backends[0]]["insert"]["methods"]
    names = [method["name"] for method in methods]
    figure, axes = plt.subplots(figsize=(9, 4.2), layout="constrained")
    width = 0.8 / len(backends)
    rates: list[float] = []
    for offset, backend in zip(_offsets(len(backends), width), backends, strict=True):
        by_name = {method["name"]: method["rows_per_s"] for method in results[backend]["insert"]["methods"]}
        values = [by_name[name] for name in names]
        rates.extend(values)
        axes.barh([index + offset for index in range(len(names))], values, width, label=BACKEND_NAMES[backend])
    axes.set_yticks(range(len(names)), [method["label"] for method in methods])
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlim(*log_limits(rates))
    axes.xaxis.set_major_formatter(FuncFormatter(count_text))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlabel("rows per second (log scale)")
    rows = results[backends[0]]["insert"]["rows"]
    title = f"Insert {rows:,} heroes: median rows per second"
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right")
    return picture(figure, title)


def compare_loaders(results: Mapping[str, dict[str, Any]]) -> Picture:
    """Statements against N (the same on every backend), and time per hero at the largest N per backend."""
    backends = _backends(results)
    data = results[backends[0]]["load"]
    sizes = sorted(data["sizes"])
    loaders = sorted(dict.fromkeys(r["loader"] for r in data["results"]), key=list(LOADER_STYLES).index)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for loader in loaders:
        rows = _loader_rows(data, loader)
        left.plot(
            [r["heroes"] for r in rows],
            [r["statements"] for r in rows],
            label=rows[0]["label"],
            **LOADER_STYLES[loader],
        )
    ones = [
        SHORT_LOADER_LABELS[r["loader"]] for r in data["results"] if r["heroes"] == sizes[-1] and r["statements"] == 1
    ]
    left.annotate(
        f"1 statement at every N:\n{', '.join(ones)}",
        (sizes[0], 1),
        xytext=(0, -10),
        textcoords="offset points",
        va="top",
        fontsize=8,
    )
    _size_ticks(left, sizes)
    left.set_yscale("log")
    left.yaxis.set_major_formatter(FuncFormatter(count_text))
    left.set_ylim(0.25, 3 * max(r["statements"] for r in data["results"]))
    left.set_xlabel("heroes loaded (N)")
    left.set_ylabel("statements (log scale)")
    left.set_title("Statements vs N (every backend)")
    left.legend(fontsize=8, loc="upper left")
    height = 0.8 / len(backends)
    for offset, backend in zip(_offsets(len(backends), height), backends, strict=True):
        at_largest = {r["loader"]: r for r in results[backend]["load"]["results"] if r["heroes"] == sizes[-1]}
        values = [at_largest[loader]["us_per_hero"] for loader in loaders]
        right.barh([index + offset for index in range(len(loaders))], values, height, label=BACKEND_NAMES[backend])
    right.set_yticks(range(len(loaders)), [SHORT_LOADER_LABELS[loader] for loader in loaders])
    right.invert_yaxis()
    right.set_xscale("log")
    right.xaxis.set_major_formatter(FuncFormatter(count_text))
    right.set_xlabel("µs per hero (log scale)")
    right.set_title(f"Time per hero, N={sizes[-1]:,}")
    right.grid(axis="x", alpha=0.3)
    right.legend(fontsize=8, loc="upper right")
    return picture(figure, "Loading heroes with their team: statements and time per hero")


def compare_gathering(results: Mapping[str, dict[str, Any]]) -> Picture:
    """Speedup of gathering over one by one per pool size, per backend and wait; the default pool as a star."""
    figure, axes = plt.subplots(figsize=(9, 4.5), layout="constrained")
    sizes: set[int] = set()
    for color, backend in zip(("C0", "C1", "C2"), _backends(results), strict=False):
        data = results[backend]["concurrency"]
        for wait in sorted({r["wait_s"] for r in data["runs"]}, reverse=True):
            gathered = [r for r in data["runs"] if r["wait_s"] == wait and r["mode"] == "gathered"]
            fixed = sorted((r for r in gathered if r["pool"] != "default"), key=lambda r: r["connections"])
            label = f"{BACKEND_NAMES[backend]}, {f'{wait * 1000:.0f} ms wait' if wait else 'no wait'}"
            style = "-" if wait else ":"
            axes.plot(
                [r["connections"] for r in fixed],
                [r["speedup"] for r in fixed],
                style,
                marker="o",
                color=color,
                label=label,
            )
            for default in (r for r in gathered if r["pool"] == "default"):
                axes.plot(default["connections"], default["speedup"], "*", markersize=14, color=color)
            sizes.update(r["connections"] for r in gathered)
    axes.plot([], [], "*", markersize=14, color="grey", label="star: the default pool")
    axes.axhline(1, color="grey", linewidth=0.8)
    _size_ticks(axes, sorted(sizes))
    axes.set_xlabel("connections in the pool")
    axes.set_ylabel("speedup of gather over one by one")
    title = "Lookups gathered vs one by one"
    axes.set_title(title)
    axes.legend(fontsize=8)
    return picture(figure, title)


def compare_http(results: Mapping[str, dict[str, Any]]) -> Picture:
    """Requests per second (top) and p50 / p99 latency (bottom) of both apps, per endpoint and backend."""
    backends = _backends(results)
    figure, grid = plt.subplots(2, 2, figsize=(11, 6.8), layout="constrained")
    width = 0.38
    for column, (endpoint, endpoint_label) in enumerate(ENDPOINT_LABELS.items()):
        rate, latency = grid[0][column], grid[1][column]
        for offset, app, color in ((-width / 2, "async", ASYNC_COLOR), (width / 2, "sync", SYNC_COLOR)):
            summaries = [
                next(s for s in results[b]["http"]["summary"] if s["app"] == app and s["endpoint"] == endpoint)
                for b in backends
            ]
            positions = [index + offset for index in range(len(backends))]
            rate.bar(positions, [s["requests_per_s"] for s in summaries], width, color=color, label=f"{app} app")
            p99 = [(s["p99_s"] or 0) * 1000 for s in summaries]
            p50 = [(s["p50_s"] or 0) * 1000 for s in summaries]
            latency.bar(positions, p99, width, color=color, alpha=0.35, label=f"{app}: p99")
            latency.bar(positions, p50, width * 0.55, color=color, label=f"{app}: p50")
        rate.set_title(f"{endpoint_label}: requests per second")
        latency.set_title(f"{endpoint_label}: latency in ms (p50 narrow, p99 wide)")
        for axes in (rate, latency):
            axes.set_xticks(range(len(backends)), [BACKEND_NAMES[b] for b in backends])
            axes.grid(axis="y", alpha=0.3)
            axes.legend(fontsize=8, ncols=2 if axes is latency else 1)
    title = f"Async vs sync over HTTP, {results[backends[0]]['http']['connections']} client connections"
    figure.suptitle(title)
    return picture(figure, title)


def compare_layers(results: Mapping[str, dict[str, Any]]) -> Picture:
    """µs per request through each layer, one bar per backend, with its ratio to that backend's floor;
    round trips per request on the right (the servers only)."""
    backends = _backends(results)
    layer_rows = {backend: results[backend]["layers"]["summary"] for backend in backends}
    labels = [row["label"] for row in layer_rows[backends[0]]]
    figure, (time_axes, trips_axes) = plt.subplots(
        1, 2, figsize=(11, 4.4), layout="constrained", gridspec_kw={"width_ratios": [2, 1]}
    )
    height = 0.8 / len(backends)
    longest = 0.0
    for offset, backend in zip(_offsets(len(backends), height), backends, strict=True):
        rows = layer_rows[backend]
        color = BACKEND_COLORS[backend]
        positions = [index + offset for index in range(len(rows))]
        values = [row["us_per_request"] for row in rows]
        longest = max(longest, *values)
        time_axes.barh(positions, values, height, color=color, label=BACKEND_NAMES[backend])
        for position, row in zip(positions, rows, strict=True):
            time_axes.annotate(
                ratio_text(row["ratio_to_floor"]), (row["us_per_request"], position), xytext=(2, 0),
                textcoords="offset points", va="center", fontsize=7,
            )  # fmt: skip
        if rows[0]["round_trips"] is not None:
            trips = [row["round_trips"] for row in rows]
            trips_axes.barh(positions, trips, height, color=color, label=BACKEND_NAMES[backend])
    for axes in (time_axes, trips_axes):
        axes.set_yticks(range(len(labels)), labels if axes is time_axes else [])
        axes.invert_yaxis()
        axes.grid(axis="x", alpha=0.3)
    time_axes.set_xlim(0, longest * 1.15)
    time_axes.set_xlabel("µs per request (beside each bar: times the floor of its backend)")
    time_axes.legend(fontsize=8, loc="upper right")
    trips_axes.set_xlabel("round trips per request, on the wire")
    trips_axes.legend(fontsize=8, loc="upper right")
    connections = results[backends[0]]["layers"]["connections"]
    title = f"GET /heroes/{{id}} through each layer, {connections} client connections"
    figure.suptitle(title)
    return picture(figure, title)
