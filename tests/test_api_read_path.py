"""The API's read path, counted on the wire: what ``get_read_session`` saves, and what it keeps.

A ``GET /heroes/{id}`` goes through a TCP proxy that counts the round trips between the app and the server
(``bench.round_trips``, as the layer-cost benchmark counts them). On PostgreSQL the read runs in autocommit
mode: no ``BEGIN``, no ``ROLLBACK``; the pool's pre-ping stays. Elsewhere nothing changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.round_trips import CountingProxy
from heroes_lib.api import create_app
from heroes_lib.api.dependencies import SessionDep, get_read_session
from heroes_lib.db import make_engine
from heroes_lib.settings import database_url
from tests.api_fixtures import BASE_URL, drop_tables, reset_tables

pytestmark = pytest.mark.skipif(
    database_url().get_backend_name() == "sqlite", reason="SQLite runs in the app's process: no round trips"
)
READS = 5


async def in_a_transaction(session: SessionDep) -> AsyncSession:
    return session


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, CountingProxy]]:
    """The API on one pooled connection through a counting proxy, with one hero to read."""
    await reset_tables()
    url = database_url()
    default_port = 5432 if url.get_backend_name() == "postgresql" else 3306
    async with CountingProxy(url.host or "127.0.0.1", url.port or default_port) as proxy:
        engine = make_engine(proxy.url_for(url), pool_size=1, max_overflow=0)
        app = create_app(engine=engine)
        try:
            async with (
                LifespanManager(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
            ):
                team = (await client.post("/teams/", json={"name": "T", "headquarters": "H"})).json()
                hero = {"name": "Reader", "secret_name": "R", "team_id": team["id"]}
                assert (await client.post("/heroes/", json=hero)).status_code == 200
                yield app, client, proxy
        finally:
            await engine.dispose()
            await drop_tables()


async def round_trips_per_read(client: httpx.AsyncClient, proxy: CountingProxy) -> float:
    assert (await client.get("/heroes/1")).status_code == 200  # the statement prepared, the connection warm
    proxy.reset()
    for _ in range(READS):
        response = await client.get("/heroes/1")
        assert response.status_code == 200 and response.json()["team"]["name"] == "T"
    return proxy.round_trips / READS


async def test_a_read_saves_begin_and_rollback_on_postgresql_only(
    proxied: tuple[FastAPI, httpx.AsyncClient, CountingProxy],
) -> None:
    app, client, proxy = proxied
    autocommit = await round_trips_per_read(client, proxy)
    app.dependency_overrides[get_read_session] = in_a_transaction
    try:
        transaction = await round_trips_per_read(client, proxy)
    finally:
        app.dependency_overrides.clear()
    if database_url().get_backend_name() == "postgresql":
        # pre-ping (BEGIN, an empty query, ROLLBACK) and the SELECT; BEGIN and ROLLBACK around it are gone
        assert (autocommit, transaction) == (4, 6)
    else:
        assert autocommit == transaction  # aiomysql would pay SET autocommit there and back: left as it was
