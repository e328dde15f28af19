"""Bounded HTTP load against a server on 127.0.0.1: a fixed number of connections for a fixed duration.

Two generators, same measure (successful responses per second, p50 and p99 latency, errors):

- ``wrk`` (Debian's package ``wrk``), a C load generator, used when it is on ``PATH``: it needs so little CPU
  that the server, not the generator, sets the pace on a 2-core machine.
- ``httpx``: an ``httpx.AsyncClient`` with one task per connection, in this process (no extra install).
  Its own CPU use caps what it can measure at roughly 1-2 thousand requests per second.

Each stops by itself: wrk after ``duration``, the httpx tasks at the first request that would start after it
(each request has a timeout, so the run ends by ``duration + timeout``).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import BenchmarkError

GENERATORS = ("auto", "wrk", "httpx")


@dataclass
class LoadResult:
    """What one load got: successful responses, errors by kind, and the latency of the successful ones."""

    generator: str
    connections: int
    duration_s: float
    ok: int  # 2xx responses
    errors: dict[str, int] = field(default_factory=dict)
    p50_s: float | None = None
    p99_s: float | None = None

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "connections": self.connections,
            "duration_s": self.duration_s,
            "ok": self.ok,
            "requests_per_s": self.requests_per_s,
            "p50_s": self.p50_s,
            "p99_s": self.p99_s,
            "errors": self.errors,
            "error_count": sum(self.errors.values()),
        }


def choose(generator: str, smoke: bool = False) -> str:
    """``auto`` means wrk if it is installed, else httpx; httpx for a smoke run (wrk counts whole seconds)."""
    if generator == "auto":
        return "wrk" if shutil.which("wrk") and not smoke else "httpx"
    if generator == "wrk" and not shutil.which("wrk"):
        raise BenchmarkError("wrk is not installed (Debian: apt-get install wrk); use --load-generator httpx")
    return generator


def path_for(endpoint: str, rng: random.Random, max_id: int) -> str:
    """``by_id``: one random hero with its team; ``list``: the first page of 100 heroes."""
    if endpoint == "by_id":
        return f"/heroes/{rng.randint(1, max_id)}"
    return "/heroes/?offset=0&limit=100"


async def run_load(
    generator: str, base_url: str, endpoint: str, max_id: int, connections: int, duration: float, timeout: float
) -> LoadResult:
    """Load ``endpoint`` from ``connections`` connections for ``duration`` seconds (each request at most
    ``timeout``) and return what was answered."""
    if generator == "wrk":
        return await _run_wrk(base_url, endpoint, max_id, connections, duration, timeout)
    return await _run_httpx(base_url, endpoint, max_id, connections, duration, timeout)


async def _run_httpx(
    base_url: str, endpoint: str, max_id: int, connections: int, duration: float, timeout: float
) -> LoadResult:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    started = time.perf_counter()
    deadline = started + duration

    async def connection_task(number: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(number)
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                response = await client.get(path_for(endpoint, rng, max_id))
            except httpx.TimeoutException:
                errors["timeout"] += 1
                continue
            except httpx.HTTPError as error:  # named, so that a run's errors say what went wrong
                errors[type(error).__name__] += 1
                continue
            if response.status_code == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors[f"status_{response.status_code}"] += 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        await asyncio.gather(*(connection_task(number, client) for number in range(connections)))
    # Requests still in flight at the deadline are waited for: the rate counts them over the whole time.
    elapsed = time.perf_counter() - started
    return LoadResult("httpx", connections, elapsed, len(latencies), dict(errors), *_percentiles(latencies))


def _percentiles(latencies: list[float]) -> tuple[float | None, float | None]:
    if not latencies:
        return None, None
    ordered = sorted(latencies)
    return ordered[int(0.50 * (len(ordered) - 1))], ordered[int(0.99 * (len(ordered) - 1))]


WRK_SCRIPT = """
local endpoint = "{endpoint}"
local max_id = {max_id}
local thread_number = 0

setup = function(thread)
  thread_number = thread_number + 1
  thread:set("seed", thread_number)
end

init = function(args)
  math.randomseed(seed)
end

request = function()
  if endpoint == "by_id" then
    return wrk.format("GET", "/heroes/" .. math.random(1, max_id))
  end
  return wrk.format("GET", "/heroes/?offset=0&limit=100")
end

done = function(summary, latency, requests)
  local p50, p99 = -1, -1
  if summary.requests > summary.errors.status then
    p50 = latency:percentile(50)
    p99 = latency:percentile(99)
  end
  io.write(string.format(
    'BENCH_JSON {{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, p50, p99))
end
"""


async def _run_wrk(
    base_url: str, endpoint: str, max_id: int, connections: int, duration: float, timeout: float
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="heroes-bench-wrk-") as folder:
        script = Path(folder) / "heroes.lua"
        script.write_text(WRK_SCRIPT.format(endpoint=endpoint, max_id=max_id))
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{max(1, round(duration))}s",
            "--timeout",
            f"{max(1, round(timeout))}s",
            "--script",
            str(script),
            base_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        output, errors_text = await asyncio.wait_for(process.communicate(), timeout=duration + timeout + 30)
    lines = [line for line in output.decode().splitlines() if line.startswith("BENCH_JSON ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {errors_text.decode().strip() or output.decode()}")
    data = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    errors = {name: data[name] for name in ("connect", "read", "write", "status", "timeout") if data[name]}
    ok = data["requests"] - data["status"]
    p50 = data["p50_us"] / 1e6 if data["p50_us"] >= 0 and ok else None
    p99 = data["p99_us"] / 1e6 if data["p99_us"] >= 0 and ok else None
    return LoadResult("wrk", connections, data["duration_us"] / 1e6, ok, errors, p50, p99)
