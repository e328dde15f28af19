"""The API deployed as an operator would: ``uvicorn heroes_lib.api:app --workers 4`` on the scratch database.

Four workers start together on an empty database, again and again, and all come up (they create the schema one at
a time). Under 200 concurrent client connections of mixed reads and writes for 30 s, every answer is 2xx, every
write reads back afterwards, and the server still accepts a client of its own: 4 workers x (10 + 5) connections
fit PostgreSQL's default max_connections (100) and MariaDB's (151). Loopback only; each test is bounded in time.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import TextClause, select, text
from sqlalchemy.pool import NullPool

from heroes_lib.db import SERVER_MAX_OVERFLOW, SERVER_POOL_SIZE, make_engine
from heroes_lib.models import Hero
from heroes_lib.schema import table_names
from heroes_lib.serve import serving
from heroes_lib.settings import database_url
from tests.api_fixtures import drop_tables

pytestmark = pytest.mark.reliability

WORKERS = 4
#: What the launcher adds to uvicorn's environment: its --workers (uvicorn reads WEB_CONCURRENCY, as gunicorn
#: does) and no access log (one line per request would fill the captured output under load).
DEPLOYMENT = {"WEB_CONCURRENCY": str(WORKERS), "UVICORN_ACCESS_LOG": "false"}
STARTUPS = 3
STARTUP_BOUND = 60  # seconds for four workers to import the app and start on a busy 2-core machine
CLIENTS = 200
LOAD_SECONDS = 30
CLIENT_TIMEOUT = 30  # as long as a request may wait for a pooled connection (pool_timeout): a 503 would come first
PROBE_EVERY = 2  # seconds between the separate client's connections during the load
ALL_TABLES = ["hero", "hero_power", "power", "team"]
T = TypeVar("T")


def backend() -> str:
    return database_url().get_backend_name()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from these synchronous tests (uvicorn runs in a process of its own)."""
    return asyncio.run(coroutine)


def connections_query() -> TextClause:
    """Connections to the scratch database now, the one asking included (PostgreSQL and MariaDB)."""
    if backend() == "postgresql":
        return text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
    return text("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE()")


async def server_connections() -> int:
    """Connections to the scratch database now, this one included."""
    engine = make_engine(poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(connections_query())).scalar_one())
    finally:
        await engine.dispose()


def processes_with_file_open(path: Path) -> int:
    """How many processes hold ``path`` open (Linux ``/proc``): a started worker keeps its SQLite file open."""
    holders = set()
    for descriptor in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(descriptor) == str(path):
                holders.add(descriptor.parent.parent.name)
        except OSError:
            continue  # gone meanwhile, or another user's
    return len(holders)


class WorkersDidNotStart(RuntimeError):
    """Fewer than ``WORKERS`` workers came up; the message says what was seen."""


def wait_for_every_worker(api: str, timeout: float = STARTUP_BOUND) -> None:
    """Wait until all workers have connected (each keeps its startup connection pooled), at most ``timeout`` s.

    uvicorn stops altogether when a worker fails to start: the app no longer answering ends the wait at once.
    """
    if backend() == "sqlite":
        database = Path(database_url().database or "")

        def started() -> int:
            return processes_with_file_open(database)
    else:

        def started() -> int:
            return run(server_connections()) - 1  # not the one counting

    deadline = time.monotonic() + timeout
    while started() < WORKERS:
        try:
            httpx.get(f"{api}/openapi.json", timeout=5)
        except httpx.TransportError:
            raise WorkersDidNotStart("uvicorn stopped answering while its workers started") from None
        if time.monotonic() > deadline:
            raise WorkersDidNotStart(f"fewer than {WORKERS} workers connected within {timeout} s")
        time.sleep(0.25)
    time.sleep(1)  # the last one to connect has its startup's last statements to run


def startup_lines(log: list[str]) -> Counter[str]:
    wanted = ("Application startup complete.", "Application startup failed", "failed to start", "died")
    return Counter(marker for line in log for marker in wanted if marker in line)


@pytest.mark.parametrize("attempt", range(1, STARTUPS + 1))
def test_four_workers_start_together_on_an_empty_database(attempt: int) -> None:
    run(drop_tables())
    log: list[str] = []
    failure = None
    with serving(env=DEPLOYMENT, log=log, timeout=STARTUP_BOUND) as api:
        try:
            wait_for_every_worker(api)
        except WorkersDidNotStart as error:
            failure = str(error)  # the server's log, read once it has stopped, says why
        else:
            with httpx.Client(base_url=api, timeout=10) as client:
                created = client.post("/heroes/", json={"name": f"Start {attempt}", "secret_name": "x"})
                assert created.status_code == 200, created.text
                assert client.get(f"/heroes/{created.json()['id']}").status_code == 200
    started = startup_lines(log)
    assert (failure, started) == (None, Counter({"Application startup complete.": WORKERS})), "\n".join(log)
    engine = make_engine(poolclass=NullPool)
    try:
        assert run(table_names(engine)) == ALL_TABLES
    finally:
        run(engine.dispose())
    run(drop_tables())


@dataclass
class Load:
    """What the load's clients saw: answers by status, failures, and the rows they expect to read back."""

    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    expected: dict[int, tuple[str, int]] = field(default_factory=dict)  # hero id -> (name, age) last written
    probes: list[float] = field(default_factory=list)  # seconds the separate client took to connect and query
    probe_failures: list[str] = field(default_factory=list)
    peak_connections: int = 0

    def answer(self, what: str, response: httpx.Response) -> bool:
        self.statuses[f"{what} {response.status_code}"] += 1
        if not response.is_success:
            self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")
        return response.is_success


async def one_client(client: httpx.AsyncClient, number: int, deadline: float, load: Load) -> None:
    """Create a hero, read it, rename its age, read a page of the list; again until the deadline."""
    round_number = 0
    while time.monotonic() < deadline:
        round_number += 1
        name = f"Load {number}-{round_number}"
        try:
            created = await client.post("/heroes/", json={"name": name, "secret_name": "x", "age": 1})
            if not load.answer("POST /heroes/", created):
                continue
            hero_id = created.json()["id"]
            load.expected[hero_id] = (name, 1)
            read = await client.get(f"/heroes/{hero_id}")
            if load.answer("GET /heroes/{id}", read) and read.json()["name"] != name:
                load.failures.append(f"GET /heroes/{hero_id} read {read.json()['name']!r}, not {name!r}")
            patched = await client.patch(f"/heroes/{hero_id}", json={"age": round_number + 1})
            if load.answer("PATCH /heroes/{id}", patched):
                load.expected[hero_id] = (name, round_number + 1)
            load.answer("GET /heroes/", await client.get("/heroes/", params={"offset": number, "limit": 10}))
        except httpx.HTTPError as error:
            load.statuses["no answer"] += 1
            load.failures.append(f"{type(error).__name__}: {error}")


async def probe(deadline: float, load: Load) -> None:
    """A separate client: a new driver connection every few seconds while the load runs (must be accepted)."""
    while time.monotonic() < deadline:
        engine = make_engine(poolclass=NullPool)
        started = time.monotonic()
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                load.probes.append(time.monotonic() - started)
                connections = int((await connection.execute(connections_query())).scalar_one())
            load.peak_connections = max(load.peak_connections, connections)
        except Exception as error:  # any refusal is the failure this test looks for
            load.probe_failures.append(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
        finally:
            await engine.dispose()
        await asyncio.sleep(PROBE_EVERY)


async def apply_load(api: str) -> Load:
    load = Load()
    # Idle connections are dropped by the client well before uvicorn's keep-alive timeout (5 s) closes them: a
    # request sent on a connection the server is closing at that moment fails with no answer, on any server.
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS, keepalive_expiry=1)
    deadline = time.monotonic() + LOAD_SECONDS
    # The separate client has an event loop of its own: on the clients' busy loop its timings would be theirs.
    separate = threading.Thread(target=lambda: asyncio.run(probe(deadline, load)))
    separate.start()
    try:
        async with httpx.AsyncClient(base_url=api, timeout=CLIENT_TIMEOUT, limits=limits) as client:
            await asyncio.gather(*(one_client(client, n, deadline, load) for n in range(CLIENTS)))
    finally:
        separate.join()
    return load


async def stored_heroes() -> dict[int, tuple[str, int]]:
    engine = make_engine(poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(Hero.id, Hero.name, Hero.age))
            return {row.id: (row.name, row.age) for row in rows}
    finally:
        await engine.dispose()


@pytest.mark.skipif(
    backend() == "sqlite", reason="SQLite is one file on one machine: four worker processes writing it is not a server"
)
def test_four_workers_serve_two_hundred_connections_of_reads_and_writes_for_thirty_seconds() -> None:
    run(drop_tables())
    started = time.monotonic()
    log: list[str] = []
    with serving(env=DEPLOYMENT, log=log, timeout=STARTUP_BOUND) as api:
        wait_for_every_worker(api)
        load = run(apply_load(api))
    seconds = time.monotonic() - started
    answered = sum(count for status, count in load.statuses.items() if status != "no answer")
    print(
        f"\n{backend()}: {answered:,} answers in {LOAD_SECONDS} s ({answered / LOAD_SECONDS:,.0f}/s), "
        f"{dict(sorted(load.statuses.items()))}; separate client connected {len(load.probes)} times "
        f"(slowest {max(load.probes, default=0):.2f} s); peak {load.peak_connections} connections to the database "
        f"(budget {WORKERS} x ({SERVER_POOL_SIZE} + {SERVER_MAX_OVERFLOW}) + 1); whole test {seconds:.0f} s"
    )
    assert not load.failures, (load.failures[:5], log[-20:])
    assert not load.probe_failures, load.probe_failures[:5]
    assert len(load.probes) >= LOAD_SECONDS // PROBE_EVERY // 3
    assert load.peak_connections <= WORKERS * (SERVER_POOL_SIZE + SERVER_MAX_OVERFLOW) + 1
    stored = run(stored_heroes())
    assert len(load.expected) > CLIENTS
    missing = {hero_id: row for hero_id, row in load.expected.items() if stored.get(hero_id) != row}
    assert not missing, list(missing.items())[:5]
    run(drop_tables())
