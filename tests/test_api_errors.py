"""The API's answer to a database error: 503 only when the database cannot be reached, else a 500, and a log
line that says why.

A 503 (with ``Retry-After``) tells clients and load balancers to wait and retry; a missing table or column is a
bug that no retry fixes, so it is a 500 whose log line carries the error's message and its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.api.dependencies import get_session
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.schema import reset_schema
from heroes_lib.serve import free_port
from tests.api_fixtures import api_app, client
from tests.refusing_servers import refusing_mysql, refusing_postgresql

__all__ = ["api_app", "client"]  # fixtures, used by name

SECRET = "s3cr3t-pa55"
UNAVAILABLE = {"detail": "Database unavailable"}
INTERNAL = {"detail": "Internal server error"}


def api_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "heroes_lib.api"]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503 and response.json() == UNAVAILABLE, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert SECRET not in response.text and "127.0.0.1" not in response.text


def assert_logged_why(caplog: pytest.LogCaptureFixture, *words: str) -> None:
    """One warning per 503, naming the request and, in the exception's own words, why (password masked)."""
    records = api_log(caplog)
    assert records, "nothing logged"
    for record in records:
        line = record.getMessage()
        assert record.levelno == logging.WARNING and line.startswith("database unreachable during "), line
        assert all(word in line for word in words), line
        assert SECRET not in line and "\n" not in line and record.exc_info is None


@contextmanager
def sessions_from(app: FastAPI, engine: AsyncEngine) -> Iterator[None]:
    """Serve the app's requests from ``engine`` for the duration of the block."""
    working = app.state.sessionmaker
    app.state.sessionmaker = make_sessionmaker(engine)
    try:
        yield
    finally:
        app.state.sessionmaker = working


# Not an outage: 500, the message and the traceback in the log


@asynccontextmanager
async def schema_broken_by(engine: AsyncEngine, *statements: str) -> AsyncIterator[None]:
    """Run ``statements`` (a DROP, an ALTER) on the app's database; the tables are recreated afterwards."""
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    try:
        yield
    finally:
        await reset_schema(engine)


@pytest.mark.parametrize(
    ("statements", "path", "named"),
    [
        (("DROP TABLE hero_power", "DROP TABLE hero"), "/heroes/", "hero"),
        (("ALTER TABLE team DROP COLUMN headquarters",), "/teams/", "headquarters"),
    ],
    ids=["missing table", "missing column"],
)
async def test_a_missing_table_or_column_is_a_500_with_the_message_and_traceback_in_the_log(
    api_app: FastAPI,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    statements: tuple[str, ...],
    path: str,
    named: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="heroes_lib.api")
    async with schema_broken_by(api_app.state.engine, *statements):
        response = await client.get(path)
    assert response.status_code == 500 and response.json() == INTERNAL, response.text
    assert "Retry-After" not in response.headers and named not in response.text
    [record] = api_log(caplog)
    line = record.getMessage()
    assert record.levelno == logging.ERROR and line.startswith(f"error during GET {path}: "), line
    assert named in line, line  # the table or column, in the driver's own words
    assert record.exc_info is not None and record.exc_info[1] is not None  # the traceback
    assert "Traceback (most recent call last)" in caplog.text


# The database out of reach: 503 with Retry-After, the reason in the log


def unopenable_sqlite(tmp_path: Path) -> str:
    (tmp_path / "a-folder.db").mkdir()  # a folder where the file should be: SQLite cannot open it
    return f"sqlite+aiosqlite:///{tmp_path / 'a-folder.db'}"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"postgresql+asyncpg://hero:{SECRET}@127.0.0.1:{{port}}/heroes", "ConnectionRefusedError"),
        (f"mysql+aiomysql://hero:{SECRET}@127.0.0.1:{{port}}/heroes", "Can't connect to MySQL server"),
        ("{sqlite}", "unable to open database file"),
    ],
    ids=["postgresql", "mariadb", "sqlite"],
)
async def test_a_refused_connection_is_503_with_the_reason_in_the_log(
    api_app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, tmp_path: Path, url: str, why: str
) -> None:
    caplog.set_level(logging.WARNING, logger="heroes_lib.api")
    unreachable = make_engine(url.format(port=free_port(), sqlite=unopenable_sqlite(tmp_path)), poolclass=NullPool)
    try:
        with sessions_from(api_app, unreachable):
            responses = [
                await client.get("/heroes/"),
                await client.get("/teams/1"),
                await client.post("/teams/", json={"name": "T", "headquarters": "H"}),
            ]
    finally:
        await unreachable.dispose()
    for response in responses:
        assert_unavailable(response)
    assert_logged_why(caplog, why)
    assert len(api_log(caplog)) == 3


async def test_a_connection_killed_by_the_server_is_503_and_the_next_request_is_served(
    api_app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    engine: AsyncEngine = api_app.state.engine
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        pytest.skip("SQLite has no server to end a connection")
    caplog.set_level(logging.WARNING, logger="heroes_lib.api")
    admin = make_engine(engine.url, poolclass=NullPool)

    async def session_whose_connection_is_killed() -> AsyncIterator[AsyncSession]:
        # The request's connection is checked out (and pinged), then the server ends it, as an administrator
        # (pg_terminate_backend, KILL) or a server restart would, before the request's first statement.
        async with api_app.state.sessionmaker() as session:
            own_id = "SELECT pg_backend_pid()" if backend == "postgresql" else "SELECT CONNECTION_ID()"
            victim = (await session.exec(text(own_id))).scalar_one()
            async with admin.connect() as killer:
                kill = f"SELECT pg_terminate_backend({victim})" if backend == "postgresql" else f"KILL {victim}"
                await killer.execute(text(kill))
            await asyncio.sleep(0.1)  # the server has closed the connection
            yield session

    api_app.dependency_overrides[get_session] = session_whose_connection_is_killed
    try:
        killed = await client.get("/heroes/")
    finally:
        api_app.dependency_overrides.clear()
        await admin.dispose()
    assert_unavailable(killed)
    assert_logged_why(caplog, "GET /heroes/", "connection" if backend == "postgresql" else "Lost connection")
    assert (await client.get("/heroes/")).status_code == 200  # the pool replaced the dead connection


@asynccontextmanager
async def account_limited_to_one_connection(admin_url: URL) -> AsyncIterator[URL]:
    """A login on the configured server allowed a single connection at a time; the URL to log in with."""
    backend = admin_url.get_backend_name()
    name, password = f"heroes_limited_{os.getpid()}", "limited-pw"
    admin = make_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    if backend == "postgresql":
        create = [f"CREATE ROLE {name} LOGIN PASSWORD '{password}' CONNECTION LIMIT 1"]
        drop = [f"DROP ROLE IF EXISTS {name}"]
    else:
        create = [
            f"CREATE USER {name}@'%' IDENTIFIED BY '{password}' WITH MAX_USER_CONNECTIONS 1",
            f"GRANT SELECT ON {admin_url.database}.* TO {name}@'%'",
        ]
        drop = [f"DROP USER IF EXISTS {name}@'%'"]
    try:
        async with admin.connect() as connection:
            for statement in drop + create:
                await connection.execute(text(statement))
        yield admin_url.set(username=name, password=password)
    finally:
        async with admin.connect() as connection:
            for statement in drop:
                await connection.execute(text(statement))
        await admin.dispose()


async def test_too_many_clients_is_503_with_the_reason_in_the_log(
    api_app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The server's own refusal, for real: an account allowed one connection, which another client holds.
    # PostgreSQL answers SQLSTATE 53300 (as for max_connections), MariaDB 1226 (its max_connections gives 1040,
    # played below by a refusing server).
    engine: AsyncEngine = api_app.state.engine
    if engine.url.get_backend_name() == "sqlite":
        pytest.skip("SQLite has no server to refuse clients")
    caplog.set_level(logging.WARNING, logger="heroes_lib.api")
    async with account_limited_to_one_connection(engine.url) as limited_url:
        holder = make_engine(limited_url, poolclass=NullPool)
        refused = make_engine(limited_url, poolclass=NullPool)
        try:
            async with holder.connect() as held:
                await held.execute(text("SELECT 1"))
                with sessions_from(api_app, refused):
                    response = await client.get("/heroes/")
        finally:
            await holder.dispose()
            await refused.dispose()
    assert_unavailable(response)
    assert_logged_why(caplog, "too many connections" if engine.url.get_backend_name() == "postgresql" else "1226")


@pytest.mark.parametrize(
    ("refusing", "driver", "why"),
    [
        (lambda: refusing_postgresql("53300", "sorry, too many clients already"), "postgresql+asyncpg", "too many"),
        (lambda: refusing_postgresql("57P03", "the database system is starting up"), "postgresql+asyncpg", "starting"),
        (lambda: refusing_mysql(1040, "Too many connections"), "mysql+aiomysql", "1040"),
    ],
    ids=["postgresql too many clients (53300)", "postgresql starting up (57P03)", "mariadb too many (1040)"],
)
async def test_a_server_that_refuses_new_clients_is_503(
    api_app: FastAPI,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    refusing: Callable[[], AbstractAsyncContextManager[int]],
    driver: str,
    why: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="heroes_lib.api")
    async with refusing() as port:
        engine = make_engine(f"{driver}://hero:{SECRET}@127.0.0.1:{port}/heroes", poolclass=NullPool)
        try:
            with sessions_from(api_app, engine):
                response = await client.get("/heroes/")
        finally:
            await engine.dispose()
    assert_unavailable(response)
    assert_logged_why(caplog, why)


async def test_a_request_that_waits_past_the_pool_timeout_is_503_and_the_next_one_is_served(
    api_app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="heroes_lib.api")
    small = make_engine(pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with sessions_from(api_app, small):
            async with small.connect() as held:  # another request holds the only connection
                await held.execute(text("SELECT 1"))
                refused = await client.get("/teams/")
            served = await client.get("/teams/")
    finally:
        await small.dispose()
    assert_unavailable(refused)
    assert_logged_why(caplog, "TimeoutError", "QueuePool limit")
    assert served.status_code == 200
