"""The API served by a real ``uvicorn`` process on 127.0.0.1: real requests, and a startup that fails cleanly."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from heroes_lib.serve import free_port, serving, start_uvicorn
from tests.api_fixtures import drop_tables, reset_tables

SECRET = "s3cr3t-pa55"


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    """A uvicorn serving the API on the scratch database, started from another folder; tables dropped after."""
    await reset_tables()
    with serving(cwd=tempfile.gettempdir()) as url:  # the API imports from any folder, as installed
        yield url
    await drop_tables()


async def test_real_requests_through_uvicorn(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        team = (await client.post("/teams/", json={"name": "Served", "headquarters": "Loopback"})).json()
        created = await client.post("/heroes/", json={"name": "Served Hero", "secret_name": "x", "team_id": team["id"]})
        assert created.status_code == 200
        hero = created.json()
        assert (await client.get(f"/heroes/{hero['id']}")).json() == {**hero, "team": team}
        assert (await client.get("/heroes/")).json() == [hero]
        assert (await client.get(f"/teams/{team['id']}")).json() == {**team, "heroes": [hero]}
        missing = await client.get(f"/teams/{team['id'] + 1000}")
        assert missing.status_code == 404 and missing.json() == {"detail": "Team not found"}
        assert (await client.post("/heroes/", json={"name": "", "secret_name": "x"})).status_code == 422
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert (await client.delete(f"/heroes/{hero['id']}")).json() == {"ok": True}
        assert (await client.delete(f"/teams/{team['id']}")).json() == {"ok": True}
        assert (await client.get("/heroes/")).json() == []


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])  # held open, unanswered, until the test ends

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        acceptor.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


@pytest.mark.parametrize(
    ("url", "reason", "shown"),
    [
        (f"postgresql+asyncpg://hero:{SECRET}@127.0.0.1:{{closed}}/heroes", "cannot connect to database", None),
        (f"mysql+aiomysql://hero:{SECRET}@127.0.0.1:{{closed}}/heroes", "cannot connect to database", None),
        # Slow by nature (the startup timeout runs out): with the reliability checks (pytest -m reliability).
        pytest.param(
            f"postgresql+asyncpg://hero:{SECRET}@127.0.0.1:{{silent}}/heroes",
            "did not answer within",
            None,
            marks=pytest.mark.reliability,
        ),
        pytest.param(
            f"mysql+aiomysql://hero:{SECRET}@127.0.0.1:{{silent}}/heroes",
            "did not answer within",
            None,
            marks=pytest.mark.reliability,
        ),
        (
            f"postgresql+asyncpg://hero@127.0.0.1:{{closed}}/heroes?password={SECRET}",
            "cannot connect to database",
            None,
        ),
        (f"mysql+pymysql://hero:{SECRET}@127.0.0.1/heroes", "with mysql use 'mysql+aiomysql'", None),
        (
            "sqlite+aiosqlite:////proc/heroes-cannot-be-here/x.db",
            "folder '/proc/heroes-cannot-be-here', which cannot be created",
            "HEROES_DATABASE_URL='sqlite+aiosqlite:////proc/heroes-cannot-be-here/x.db'",
        ),
    ],
    ids=[
        "postgresql closed port",
        "mysql closed port",
        "postgresql server that never answers",
        "mysql server that never answers",
        "password in the query",
        "unsupported driver",
        "sqlite folder that cannot be created",
    ],
)
def test_startup_failure_exits_within_ten_seconds_with_one_clear_line(url: str, reason: str, shown: str | None) -> None:
    with silent_server() as silent:
        started = time.monotonic()  # from process start: what a person starting the server waits
        server = start_uvicorn(env={"HEROES_DATABASE_URL": url.format(closed=free_port(), silent=silent)})
        with contextlib.suppress(subprocess.TimeoutExpired):  # a hang is reported below, with the output
            server.process.wait(timeout=10)
        elapsed = time.monotonic() - started
        errors = server.stop()
    assert elapsed < 10, f"still running {elapsed:.1f} s after it was started:\n{errors}"
    assert server.process.returncode != 0
    lines = [line for line in errors.splitlines() if "heroes API cannot start" in line]
    assert len(lines) == 1, errors
    assert reason in lines[0] and (shown or "hero:***@127.0.0.1") in lines[0]
    assert SECRET not in errors and "Traceback" not in errors
