"""heroes_lib.api.connection_queue: sessions are admitted in arrival order, as many as the pool holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import NullPool

from heroes_lib.api import create_app
from heroes_lib.api.connection_queue import ConnectionQueue
from heroes_lib.db import make_engine
from tests.api_fixtures import BASE_URL, drop_tables

offline = pytest.mark.no_database


@offline
async def test_a_newcomer_never_overtakes_a_request_already_waiting() -> None:
    queue = ConnectionQueue(capacity=2, timeout=5)
    admitted: list[str] = []
    release = {name: asyncio.Event() for name in ("a", "b", "c", "d", "e")}

    async def request(name: str) -> None:
        async with queue.turn():
            admitted.append(name)
            await release[name].wait()

    first = [asyncio.create_task(request(name)) for name in ("a", "b", "c", "d")]
    await asyncio.sleep(0.01)
    assert admitted == ["a", "b"] and queue.waiting == 2  # c and d wait, in that order
    release["a"].set()
    newcomer = asyncio.create_task(request("e"))  # arrives as a's slot comes free: c's turn, not e's
    await asyncio.sleep(0.01)
    assert admitted == ["a", "b", "c"]
    for name in ("b", "c", "d", "e"):
        release[name].set()
    await asyncio.gather(*first, newcomer)
    assert admitted == ["a", "b", "c", "d", "e"] and queue.waiting == 0


@offline
async def test_waiting_longer_than_the_pool_would_is_the_pool_timeout_error() -> None:
    queue = ConnectionQueue(capacity=1, timeout=0.05)
    async with queue.turn():
        with pytest.raises(sa_exc.TimeoutError, match=r"within 0.05 s \(pool of 1\)"):
            async with queue.turn():
                pass
    async with queue.turn():  # the timed-out request took no slot with it
        assert queue.waiting == 0


@offline
async def test_the_queue_is_as_large_as_the_pool_or_absent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sized.db'}"
    engines = {
        "fixed": make_engine(url, pool_size=3, max_overflow=2, pool_timeout=7),
        "default": make_engine(url),  # a file: SQLAlchemy's 5 + 10
        "unbounded": make_engine(url, pool_size=3, max_overflow=-1),
        "null": make_engine(url, poolclass=NullPool),
        "memory": make_engine("sqlite+aiosqlite://"),  # one shared connection
    }
    queues = {name: ConnectionQueue.for_engine(engine) for name, engine in engines.items()}
    for engine in engines.values():
        await engine.dispose()
    fixed, default = queues.pop("fixed"), queues.pop("default")
    assert fixed is not None and (fixed.capacity, fixed.timeout) == (5, 7)
    assert default is not None and default.capacity == 15
    assert queues == {"unbounded": None, "null": None, "memory": None}
    with pytest.raises(ValueError, match="at least 1"):
        ConnectionQueue(capacity=0, timeout=1)


async def test_a_request_that_waits_past_the_pool_timeout_is_503_and_the_next_one_is_served() -> None:
    engine = make_engine(pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(engine=engine)
    try:
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
        ):
            queue = app.state.connection_queue
            assert (queue.capacity, queue.timeout) == (1, 0.2)
            async with queue.turn():  # another request holds the only connection
                refused = await client.get("/teams/")
            served = await client.get("/teams/")
    finally:
        await engine.dispose()
        await drop_tables()
    assert refused.status_code == 503 and refused.json() == {"detail": "Database unavailable"}
    assert served.status_code == 200
