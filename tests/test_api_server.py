"""The API served by a real uvicorn process: requests, schema fuzzing, and a startup that fails cleanly."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from heroes_lib.db import drop_schema, make_engine
from tests.uvicorn_server import free_port, running_api, start_uvicorn

SECRET = "s3cr3t-pa55"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_api() as url:
        yield url

    async def drop() -> None:
        engine = make_engine()
        await drop_schema(engine)
        await engine.dispose()

    asyncio.run(drop())


def test_real_requests_through_uvicorn(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        team = client.post("/teams/", json={"name": "Served Team", "headquarters": "Loopback"}).json()
        hero = client.post("/heroes/", json={"name": "Served", "secret_name": "Hero", "team_id": team["id"]})
        assert hero.status_code == 200
        read = client.get(f"/heroes/{hero.json()['id']}").json()
        assert read["team"] == team
        assert client.get("/docs").status_code == 200
        assert client.delete(f"/teams/{team['id']}").json() == {"ok": True}


@pytest.fixture(scope="module")
def openapi_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


FUZZ_CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.negative_data_rejection,
]


def test_fuzzed_requests_get_no_server_error_and_match_the_schema(openapi_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in openapi_schema.get_all_operations()]
    assert len(operations) == 10
    for operation, mode in itertools.product(operations, [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]):

        @given(case=operation.as_strategy(generation_mode=mode))
        # derandomize: the same examples on every run, so CI is reproducible; raise max_examples to explore.
        @settings(
            max_examples=20, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def request_is_handled(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=FUZZ_CHECKS, timeout=10)

        request_is_handled()


def test_unreachable_database_stops_startup_within_ten_seconds_with_one_line() -> None:
    closed = free_port()
    started = time.monotonic()
    process = start_uvicorn(
        free_port(), {"HEROES_DATABASE_URL": f"postgresql+asyncpg://hero:{SECRET}@127.0.0.1:{closed}/db"}
    )
    output, _ = process.communicate(timeout=15)
    assert time.monotonic() - started < 10
    assert process.returncode != 0
    errors = [line for line in output.splitlines() if "heroes API cannot start" in line]
    assert len(errors) == 1, output
    assert "cannot connect to database postgresql+asyncpg://hero:***@127.0.0.1" in errors[0]
    assert SECRET not in output and "Traceback" not in output


def test_unsupported_driver_stops_startup_naming_the_variable_and_forms() -> None:
    process = start_uvicorn(free_port(), {"HEROES_DATABASE_URL": f"mysql+pymysql://root:{SECRET}@127.0.0.1/test"})
    output, _ = process.communicate(timeout=15)
    assert process.returncode != 0
    (error,) = [line for line in output.splitlines() if "heroes API cannot start" in line]
    assert "HEROES_DATABASE_URL=" in error and "mysql+aiomysql://user:password@host:3306/dbname" in error
    assert SECRET not in output and "Traceback" not in output
