"""PNG figures of one run's results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def write_all(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write one PNG per benchmark that ran; return their paths."""
    backend = results["meta"]["backend"]
    written = []
    for name, draw in (("insert", insert), ("load", load), ("concurrency", concurrency), ("http", http)):
        if name in results:
            figure = draw(results[name], backend)
            path = folder / f"{backend}-{name}.png"
            figure.savefig(path, dpi=100)
            plt.close(figure)
            written.append(path)
    return written


def insert(data: dict[str, Any], backend: str) -> Figure:
    """Rows per second per insert method (log scale), each bar labelled with its ratio and statements."""
    methods = data["methods"]
    figure, axes = plt.subplots(figsize=(8, 3.6), layout="constrained")
    labels = [m["label"] for m in methods]
    rates = [m["rows_per_s"] for m in methods]
    colors = ["#55a868" if m["name"] == "create_heroes_bulk" else "#4c72b0" for m in methods]
    bars = axes.barh(labels, rates, color=colors)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("rows per second (log scale)")
    axes.set_title(f"Insert {data['rows']:,} heroes ({backend}): median of {data['repetitions']}")
    for bar, method in zip(bars, methods, strict=True):
        note = f" {method['ratio_to_raw']:.1f}x raw, {method['statements']:,} stmt"
        if method["scaled"]:
            note += f" ({method['rows']} rows, scaled)"
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, note, va="center", fontsize=8)
    axes.set_xlim(min(rates) / 2, max(rates) * 30)
    return figure


def load(data: dict[str, Any], backend: str) -> Figure:
    """Statements and time per hero against N, one line per loader."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    loaders = dict.fromkeys(r["loader"] for r in data["results"])
    for loader in loaders:
        rows = sorted((r for r in data["results"] if r["loader"] == loader), key=lambda r: r["heroes"])
        sizes = [r["heroes"] for r in rows]
        label = rows[0]["label"]
        left.plot(sizes, [r["statements"] for r in rows], marker="o", label=label)
        right.plot(sizes, [r["us_per_hero"] for r in rows], marker="o", label=label)
    for axes in (left, right):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("heroes loaded (N)")
    left.set_ylabel("statements")
    left.set_title(f"Statements vs N ({backend})")
    right.set_ylabel("µs per hero")
    right.set_title("Time per hero (median)")
    right.legend(fontsize=8)
    return figure


def concurrency(data: dict[str, Any], backend: str) -> Figure:
    """Speedup of gathering over the sequential loop, per pool size; the default pool as a separate marker."""
    figure, axes = plt.subplots(figsize=(7, 3.6), layout="constrained")
    sizes: set[int] = set()
    for wait in sorted({r["wait_s"] for r in data["runs"]}):
        gathered = [r for r in data["runs"] if r["wait_s"] == wait and r["mode"] == "gathered"]
        fixed = sorted((r for r in gathered if r["pool"] != "default"), key=lambda r: r["connections"])
        default = next(r for r in gathered if r["pool"] == "default")
        label = f"{wait * 1000:.0f} ms server wait" if wait else "no wait (cheap lookup)"
        (line,) = axes.plot([r["connections"] for r in fixed], [r["speedup"] for r in fixed], marker="o", label=label)
        axes.plot(default["connections"], default["speedup"], marker="*", markersize=12, color=line.get_color())
        axes.annotate("  default pool", (default["connections"], default["speedup"]), fontsize=8, va="center")
        sizes.update(r["connections"] for r in gathered)
    axes.axhline(1, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xticks(sorted(sizes), [str(size) for size in sorted(sizes)])
    axes.minorticks_off()
    axes.set_xlabel("connections in the pool (fixed pool_size; star: the default pool)")
    axes.set_ylabel("speedup of gather over sequential")
    axes.set_title(f"{data['lookups']} lookups gathered vs one by one ({backend})")
    axes.legend(fontsize=8)
    return figure


def http(data: dict[str, Any], backend: str) -> Figure:
    """Throughput and p99 latency of both apps per endpoint."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    endpoints = ("by_id", "list")
    by_key = {(s["app"], s["endpoint"]): s for s in data["summary"]}
    width = 0.38
    for offset, app in ((-width / 2, "async"), (width / 2, "sync")):
        positions = [index + offset for index in range(len(endpoints))]
        left.bar(positions, [by_key[(app, e)]["requests_per_s"] for e in endpoints], width, label=app)
        right.bar(positions, [(by_key[(app, e)]["p99_s"] or 0) * 1000 for e in endpoints], width, label=app)
    for axes in (left, right):
        axes.set_xticks(range(len(endpoints)), ["GET /heroes/{id}", "GET /heroes/ (100)"])
        axes.legend(fontsize=8)
    left.set_ylabel("requests per second")
    left.set_title(f"{data['connections']} connections, {backend}")
    right.set_ylabel("p99 latency (ms)")
    stuck = data["bursts"]["sync_default_pool"]["second"]
    right.set_title(f"sync app, default pool, 2nd burst: {stuck['ok']} ok in {stuck['duration_s']:.0f} s")
    return figure
