"""The API served by a real ``uvicorn`` process on 127.0.0.1: real requests, and a startup that fails cleanly."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api_fixtures import drop_tables, reset_tables
from tests.uvicorn_server import free_port, running_api, start_uvicorn, stop

SECRET = "s3cr3t-pa55"


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    """A uvicorn serving the API on the scratch database, started from another folder; tables dropped after."""
    await reset_tables()
    with running_api() as url:
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


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgresql+asyncpg://hero:{SECRET}@127.0.0.1:{{port}}/heroes", "cannot connect to database"),
        (f"mysql+aiomysql://hero:{SECRET}@127.0.0.1:{{port}}/heroes", "cannot connect to database"),
        (f"mysql+pymysql://hero:{SECRET}@127.0.0.1/heroes", "with mysql use 'mysql+aiomysql'"),
    ],
    ids=["postgresql closed port", "mysql closed port", "unsupported driver"],
)
def test_startup_failure_exits_within_ten_seconds_with_one_clear_line(url: str, reason: str) -> None:
    process = start_uvicorn(free_port(), {"HEROES_DATABASE_URL": url.format(port=free_port())})
    # Timed from the moment uvicorn starts the app's lifespan: importing Python packages before that takes
    # a second on a quiet machine and several on a loaded one, and is not what could hang.
    startup_began = threading.Event()
    error_lines: list[str] = []

    def read_errors() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            error_lines.append(line)
            if "Waiting for application startup" in line:
                startup_began.set()

    reader = threading.Thread(target=read_errors, daemon=True)
    reader.start()
    assert startup_began.wait(timeout=60), "uvicorn never started the app:\n" + "".join(error_lines)
    started = time.monotonic()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a hang is reported below, with the output
        process.wait(timeout=10)
    elapsed = time.monotonic() - started
    if process.poll() is None:
        stop(process)
    reader.join(timeout=10)
    errors = "".join(error_lines)
    assert elapsed < 10, f"still running {elapsed:.1f} s after startup began"
    assert process.returncode != 0
    lines = [line for line in errors.splitlines() if "heroes API cannot start" in line]
    assert len(lines) == 1, errors
    assert reason in lines[0] and "hero:***@127.0.0.1" in lines[0]
    assert SECRET not in errors and "Traceback" not in errors
