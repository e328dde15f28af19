"""What every benchmark shares: its settings, a progress line per step, timing and medians."""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from sqlalchemy.engine import URL

from heroes_lib.db import SERVER_POOL_SIZE

T = TypeVar("T")


class BenchmarkError(RuntimeError):
    """The run cannot go on; the message says why and what to do (shown as one line, no traceback)."""


#: On a database server the benchmark never holds more connections than this at once (``--max-connections``):
#: half of PostgreSQL's default ``max_connections`` (100), so a run leaves room for everyone else's.
SERVER_CONNECTIONS = 50


@dataclass(frozen=True)
class Config:
    """Sizes and repetitions of one run: ``full()`` for the real measurement, ``smoke_test()`` to prove it runs."""

    smoke: bool
    warmup: bool  # one unmeasured round first (connections opened, statements cached)
    repetitions: int
    insert_rows: int
    per_row_rows: int  # add + commit + refresh per row is slow: measured on fewer rows, then scaled
    load_sizes: tuple[int, ...]
    lookups: int
    server_wait: float
    pool_sizes: tuple[int, ...]
    max_connections: int  # connections a run may hold at once on a server
    http_heroes: int
    http_connections: int  # client connections of the async-vs-sync comparison
    burst_connections: int  # client connections of the two bursts (the deadlock needs more than 15 + 40)
    http_duration: float
    http_warmup: float
    http_repetitions: int
    http_pause: float
    first_burst: float
    second_burst: float
    http_timeout: float
    stop_timeout: float  # seconds a server gets to exit after SIGTERM before it is killed
    layer_repetitions: int  # loads of each layer in the layer-cost benchmark
    layer_count_requests: int  # requests one after another while round trips are counted
    layer_profile_requests: int  # requests one after another while heroes_lib.api is profiled

    @classmethod
    def full(cls, max_connections: int = SERVER_CONNECTIONS) -> Config:
        return cls(
            smoke=False,
            warmup=True,
            repetitions=5,
            insert_rows=10_000,
            per_row_rows=500,
            load_sizes=(100, 1_000, 10_000),
            lookups=100,
            server_wait=0.02,
            pool_sizes=tuple(sorted({5, 10, 20, SERVER_POOL_SIZE, 50, 100})),  # heroes_lib's own pool_size among them
            max_connections=max_connections,
            http_heroes=1_000,
            http_connections=64,
            burst_connections=64,
            http_duration=8,
            http_warmup=2,
            http_repetitions=5,
            http_pause=2,
            first_burst=2,
            second_burst=10,
            http_timeout=5,
            stop_timeout=2,
            layer_repetitions=3,
            layer_count_requests=50,
            layer_profile_requests=500,
        )

    @classmethod
    def smoke_test(cls, max_connections: int = SERVER_CONNECTIONS) -> Config:
        """Tiny sizes, one round, every code path: seconds, not minutes. Its timings mean nothing."""
        return cls(
            smoke=True,
            warmup=False,
            repetitions=1,
            insert_rows=200,
            per_row_rows=20,
            load_sizes=(10, 50),
            lookups=10,
            server_wait=0.02,
            pool_sizes=(2, 5),
            max_connections=min(max_connections, 10),
            http_heroes=50,
            http_connections=8,
            burst_connections=64,
            http_duration=0.3,
            http_warmup=0,
            http_repetitions=1,
            http_pause=0,
            first_burst=0.3,
            second_burst=0.3,
            http_timeout=0.75,
            stop_timeout=0.5,
            layer_repetitions=1,
            layer_count_requests=5,
            layer_profile_requests=10,
        )


@dataclass
class Context:
    """What a benchmark receives: the scratch database, the settings and the progress printer."""

    url: URL
    config: Config
    progress: Progress
    notes: list[str] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def note(self, text: str) -> None:
        """Record a remark for the results file and show it at once."""
        self.notes.append(text)
        self.progress.say(f"note: {text}")


class Progress:
    """One line per step: ``[ 12/140  0:34] insert: raw executemany, rep 2/5 ... 0.021 s``."""

    def __init__(self, total: int, out: TextIO = sys.stdout) -> None:
        self.total = total
        self.done = 0
        self.out = out
        self.started = time.perf_counter()

    def _clock(self) -> str:
        seconds = int(time.perf_counter() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def start(self, what: str) -> None:
        """Announce a step; ``finish`` completes its line with what it measured."""
        self.done += 1
        width = len(str(self.total))
        print(f"[{self.done:{width}d}/{self.total} {self._clock():>5}] {what} ...", end=" ", file=self.out, flush=True)

    def finish(self, result: str) -> None:
        """Complete the line ``start`` began."""
        print(result, file=self.out, flush=True)

    def skip(self, steps: int) -> None:
        """Steps counted in ``total`` that will not run after all (a pool over the connection budget)."""
        self.total -= steps

    def say(self, text: str) -> None:
        """A line that is not a step (a section heading, a note)."""
        print(f"{'':{2 * len(str(self.total)) + 10}}{text}", file=self.out, flush=True)


async def timed(action: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """Seconds ``await action()`` took (wall clock), and what it returned.

    A full garbage collection first, outside the timing: otherwise the garbage the previous candidate left
    behind is collected during this one, and whichever runs after the heaviest pays for it (measured: 15%).
    """
    gc.collect()
    started = time.perf_counter()
    result = await action()
    return time.perf_counter() - started, result


def median(values: Sequence[float]) -> float:
    """The median: robust to the odd repetition slowed down by other work on the machine."""
    return statistics.median(values)


def rotated(items: Sequence[T], turn: int) -> list[T]:
    """``items`` starting at position ``turn``: each repetition runs the candidates in a different order,
    so none is always measured first (cold) or last (after the others warmed the database)."""
    if not items:
        return []
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


def plural(count: int, noun: str) -> str:
    """``plural(1, "statement")`` -> ``"1 statement"``, ``plural(1000, "statement")`` -> ``"1,000 statements"``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def seconds_text(seconds: float) -> str:
    """``0.0123`` -> ``"12.3 ms"``: a duration in the unit that suits it."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded to ``digits`` significant digits, recursively, so the JSON stays readable."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    return value
