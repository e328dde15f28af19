"""The API under load and faults, through a real uvicorn on 127.0.0.1: nothing lost, clear answers, recovery.

Disruptive: the restart test stops and starts the database server itself (PostgreSQL or MariaDB), so these
tests run only when asked for (``pytest -m reliability``), as CI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from heroes_lib import crud
from heroes_lib.db import drop_schema, make_engine, make_sessionmaker, reset_schema
from heroes_lib.models import Hero
from heroes_lib.sample_data import generate_heroes
from heroes_lib.settings import database_url
from tests.uvicorn_server import running_api

pytestmark = pytest.mark.reliability

SECRET = "Pa55-w0rd-in-the-url"
T = TypeVar("T")


def backend() -> str:
    return database_url().get_backend_name()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from these synchronous tests (each uvicorn test drives a separate process)."""
    return asyncio.run(coroutine)


async def count_heroes(url: URL | None = None) -> int:
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(select(func.count()).select_from(Hero))).scalar_one()
    finally:
        await engine.dispose()


async def reset() -> None:
    engine = make_engine(poolclass=NullPool)
    await reset_schema(engine)
    await engine.dispose()


async def drop() -> None:
    engine = make_engine(poolclass=NullPool)
    await drop_schema(engine)
    await engine.dispose()


@pytest.fixture
def api() -> Iterator[str]:
    run(reset())
    with running_api() as base_url:
        yield base_url
    run(drop())


def test_two_hundred_concurrent_creates_all_land(api: str) -> None:
    async def create_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=api, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(client.post("/heroes/", json={"name": f"Load {n}", "secret_name": "x"}) for n in range(200))
            )

    responses = run(create_all())
    statuses = sorted({response.status_code for response in responses})
    assert statuses == [200], [r.text for r in responses if r.status_code != 200][:3]
    assert run(count_heroes()) == 200


async def kill_other_connections() -> int:
    """Make the server drop every connection to the scratch database but this one; return how many."""
    engine = make_engine(poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if backend() == "postgresql":
                result = await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                return len(result.all())
            ids = (
                await connection.execute(
                    text(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
                    )
                )
            ).scalars()
            killed = 0
            for connection_id in ids:
                await connection.execute(text(f"KILL {int(connection_id)}"))
                killed += 1
            return killed
    finally:
        await engine.dispose()


@pytest.mark.skipif(backend() == "sqlite", reason="SQLite has no server that could drop connections")
def test_the_next_request_succeeds_after_the_server_drops_every_connection(api: str) -> None:
    with httpx.Client(base_url=api, timeout=30) as client:
        # Fill the pool with several connections first.
        async def burst() -> None:
            async with httpx.AsyncClient(base_url=api, timeout=30) as burst_client:
                await asyncio.gather(*(burst_client.get("/heroes/") for _ in range(20)))

        run(burst())
        assert run(kill_other_connections()) >= 1
        response = client.post("/heroes/", json={"name": "After the drop", "secret_name": "x"})
        assert response.status_code == 200, response.text
        assert client.get("/heroes/").status_code == 200


def _server_commands() -> tuple[list[str], list[str], list[str], list[str]]:
    """Stop, still-running check, start and ready check for the configured server."""
    if backend() == "postgresql":
        version = sorted(Path("/etc/postgresql").iterdir())[0].name
        cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
        ready = ["pg_isready", "-q", "-h", "127.0.0.1"]
        return [*cluster, "stop", "-m", "fast"], [*cluster, "status"], [*cluster, "start"], ready
    return (
        ["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "shutdown"],
        ["pgrep", "-x", "mariadbd"],
        ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
        ["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "ping"],
    )


def _wait_until(check: list[str], ready: bool, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while (subprocess.run(check, capture_output=True, check=False).returncode == 0) != ready:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{check} did not become {'ready' if ready else 'unavailable'}")
        time.sleep(0.25)


@pytest.mark.skipif(backend() == "sqlite", reason="SQLite is a file, not a server that can restart")
def test_requests_during_a_database_restart_get_503_then_succeed_without_restarting_the_api(api: str) -> None:
    stop, running, start, ready = _server_commands()
    with httpx.Client(base_url=api, timeout=30) as client:
        assert client.post("/heroes/", json={"name": "Before", "secret_name": "x"}).status_code == 200
        subprocess.run(stop, check=True, capture_output=True)
        try:
            _wait_until(ready, ready=False)
            started = time.monotonic()
            during = [client.get("/heroes/"), client.post("/heroes/", json={"name": "During", "secret_name": "x"})]
            assert time.monotonic() - started < 20  # a clear answer, not a hang
        finally:
            _wait_until(running, ready=False)  # a server still shutting down would ignore the start
            subprocess.run(start, check=True, capture_output=True)
            _wait_until(ready, ready=True)
        for response in during:
            assert response.status_code == 503, response.text
            assert response.json() == {"detail": "Database unavailable"}
        after = client.post("/heroes/", json={"name": "After", "secret_name": "x"})
        assert after.status_code == 200, after.text
        names = [hero["name"] for hero in client.get("/heroes/").json()]
        assert names == ["Before", "After"]


def test_a_cancelled_bulk_insert_leaves_nothing_half_written() -> None:
    async def cancel_midway() -> tuple[int, bool]:
        engine = make_engine()
        await reset_schema(engine)
        try:
            async with make_sessionmaker(engine)() as session:
                task = asyncio.create_task(crud.create_heroes_bulk(session, generate_heroes(20_000)))
                await asyncio.sleep(0.05)
                task.cancel()
                cancelled = False
                try:
                    await task
                except asyncio.CancelledError:
                    cancelled = True
            return await count_heroes(), cancelled
        finally:
            await drop_schema(engine)
            await engine.dispose()

    stored, cancelled = run(cancel_midway())
    assert stored in (0, 20_000)  # all or nothing, never a part
    if cancelled:
        assert stored == 0


def test_a_client_that_gives_up_mid_request_leaves_nothing_half_written(api: str) -> None:
    async def impatient() -> None:
        async with httpx.AsyncClient(base_url=api, timeout=0.001) as client:
            for n in range(30):
                with contextlib.suppress(httpx.TimeoutException):
                    await client.post("/heroes/", json={"name": f"Impatient {n}", "secret_name": "x"})

    run(impatient())
    time.sleep(1)  # let the server finish or abandon what it was doing
    with httpx.Client(base_url=api, timeout=30) as client:
        heroes = client.get("/heroes/").json()
    assert all(hero["secret_name"] == "x" and hero["name"].startswith("Impatient") for hero in heroes)
    assert len({hero["name"] for hero in heroes}) == len(heroes)  # each request landed once or not at all


@pytest.mark.skipif(
    backend() != "postgresql",
    reason="needs a server that accepts any password; of the three, only PostgreSQL trusts loopback",
)
def test_a_password_in_the_url_shows_in_no_log_line_or_response() -> None:
    url = database_url().set(password=SECRET).render_as_string(hide_password=False)
    run(reset())
    log: list[str] = []
    with running_api({"HEROES_DATABASE_URL": url}, log=log) as base_url, httpx.Client(base_url=base_url) as client:
        responses = [
            client.post("/heroes/", json={"name": "Secretive", "secret_name": "x"}),
            client.post("/heroes/", json={"name": "Bad", "secret_name": "x", "team_id": 424242}),
            client.get("/heroes/424242"),
            client.post("/heroes/", content=b"{broken"),
        ]
    run(drop())
    for response in responses:
        assert SECRET not in response.text
    assert [response.status_code for response in responses] == [200, 409, 404, 422]
    assert any("POST /heroes/" in line for line in log), log  # the log was captured
    assert not [line for line in log if SECRET in line]
