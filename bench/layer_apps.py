"""The same request, ``GET /heroes/{id}`` (a hero with its team, as JSON), through one more layer each time.

Each app answers exactly what ``heroes_lib.api`` answers (404 for an unknown id aside), from a pool of the
same size, so that the layer-cost benchmark (``bench.layers``) compares only what each layer adds:

- ``floor``: Starlette, the driver's own pool (asyncpg's, aiomysql's, a queue of aiosqlite connections),
  one SQL statement with a JOIN, ``json.dumps``. No SQLAlchemy at all.
- ``core``: the same statement through SQLAlchemy Core on ``heroes_lib.db.make_engine`` (its pool,
  ``pool_pre_ping``, a transaction per connection use).
- ``orm``: an ``AsyncSession`` and ``select(Hero)`` with ``joinedload(Hero.team)``, dumped through the
  ``HeroPublicWithTeam`` read model.
- ``fastapi``: the same ORM code in FastAPI, as SQLModel's tutorial writes it: a session dependency with
  ``yield`` and ``response_model=HeroPublicWithTeam``.
- ``api_transaction``: ``heroes_lib.api`` with its reads in a transaction, as they were before its read path
  moved to autocommit on PostgreSQL (``get_read_session`` overridden): the effect of that change alone.
- ``api``: ``heroes_lib.api`` itself.
- ``api_no_pre_ping``: ``heroes_lib.api`` on an engine without ``pool_pre_ping``: what the ping costs (what it
  buys, a request that does not fail on a connection the server dropped, is lesson 06's).

``BENCH_LAYER`` names the layer and ``BENCH_LAYER_POOL_SIZE`` the pool size; the database is
``HEROES_DATABASE_URL``.

    BENCH_LAYER=floor BENCH_LAYER_POOL_SIZE=10 uvicorn bench.layer_apps:app
"""

# No "from __future__ import annotations": FastAPI resolves the annotations of fastapi_app's local dependency.
import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlalchemy.engine import URL
from sqlalchemy.orm import joinedload
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heroes_lib.api.dependencies import SessionDep, get_read_session
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.models import Hero, HeroPublicWithTeam, Team
from heroes_lib.settings import database_url

LAYERS = ("floor", "core", "orm", "fastapi", "api_transaction", "api", "api_no_pre_ping")
LAYER_ENV = "BENCH_LAYER"
POOL_SIZE_ENV = "BENCH_LAYER_POOL_SIZE"

#: The floor's one statement, in each driver's parameter style.
COLUMNS = "h.id, h.name, h.secret_name, h.age, h.team_id, t.id, t.name, t.headquarters"
FLOOR_SQL = f"SELECT {COLUMNS} FROM hero h LEFT OUTER JOIN team t ON t.id = h.team_id WHERE h.id = {{}}"
PARAMETER = {"postgresql": "$1", "mysql": "%s", "sqlite": "?"}

Fetch = Callable[[int], Awaitable[tuple[Any, ...] | None]]


def hero_json(row: tuple[Any, ...]) -> bytes:
    """The JSON ``heroes_lib.api`` answers, from the floor's row (same keys, same order)."""
    hero_id, name, secret_name, age, team_id, t_id, t_name, t_headquarters = row
    team = None if t_id is None else {"name": t_name, "headquarters": t_headquarters, "id": t_id}
    body = {"name": name, "secret_name": secret_name, "age": age, "team_id": team_id, "id": hero_id, "team": team}
    return json.dumps(body, separators=(",", ":")).encode()


def _not_found() -> Response:
    return Response(b'{"detail":"Hero not found"}', status_code=404, media_type="application/json")


def _starlette(fetch_factory: Callable[[], AbstractAsyncContextManager[Fetch]], serialize: Any) -> Starlette:
    """A Starlette app whose lifespan opens ``fetch`` (a pool) and whose one route answers with it."""
    state: dict[str, Fetch] = {}

    async def read_hero(request: Request) -> Response:
        found = await state["fetch"](int(request.path_params["hero_id"]))
        if found is None:
            return _not_found()
        return Response(serialize(found), media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with fetch_factory() as fetch:
            state["fetch"] = fetch
            yield

    return Starlette(routes=[Route("/heroes/{hero_id:int}", read_hero)], lifespan=lifespan)


async def _keep_as_is(_connection: Any) -> None:
    """asyncpg's pool resets each connection it takes back (one more round trip); the floor's one SELECT,
    in autocommit mode, leaves nothing to reset."""


@asynccontextmanager
async def _driver_pool(url: URL, size: int) -> AsyncIterator[Fetch]:
    backend = url.get_backend_name()
    sql = FLOOR_SQL.format(PARAMETER[backend])
    if backend == "postgresql":
        import asyncpg

        pool = await asyncpg.create_pool(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password,
            database=url.database, min_size=size, max_size=size, reset=_keep_as_is,
        )  # fmt: skip

        async def fetch_postgresql(hero_id: int) -> tuple[Any, ...] | None:
            async with pool.acquire() as connection:
                record = await connection.fetchrow(sql, hero_id)
            return None if record is None else tuple(record)

        try:
            yield fetch_postgresql
        finally:
            await pool.close()
    elif backend == "mysql":
        import aiomysql

        pool = await aiomysql.create_pool(
            host=url.host, port=url.port or 3306, user=url.username, password=url.password or "",
            db=url.database, minsize=size, maxsize=size, autocommit=True, charset="utf8mb4",
        )  # fmt: skip

        async def fetch_mysql(hero_id: int) -> tuple[Any, ...] | None:
            async with pool.acquire() as connection, connection.cursor() as cursor:
                await cursor.execute(sql, (hero_id,))
                return await cursor.fetchone()  # type: ignore[no-any-return]

        try:
            yield fetch_mysql
        finally:
            pool.close()
            await pool.wait_closed()
    else:
        import aiosqlite

        idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for _ in range(size):
            await idle.put(await aiosqlite.connect(url.database or ""))

        async def fetch_sqlite(hero_id: int) -> tuple[Any, ...] | None:
            connection = await idle.get()
            try:
                async with connection.execute(sql, (hero_id,)) as cursor:
                    return await cursor.fetchone()  # type: ignore[return-value]
            finally:
                idle.put_nowait(connection)

        try:
            yield fetch_sqlite
        finally:
            while not idle.empty():
                await idle.get_nowait().close()


def floor_app(url: URL, pool_size: int) -> Starlette:
    """The driver alone: its own pool, one statement, ``json.dumps``."""
    return _starlette(lambda: _driver_pool(url, pool_size), hero_json)


#: Core: the floor's statement, built by SQLAlchemy from the tables.
HERO, TEAM = Hero.__table__.c, Team.__table__.c  # type: ignore[attr-defined]
CORE_STATEMENT = (
    core_select(HERO.id, HERO.name, HERO.secret_name, HERO.age, HERO.team_id, TEAM.id, TEAM.name, TEAM.headquarters)
    .select_from(Hero.__table__.outerjoin(Team.__table__))  # type: ignore[attr-defined]
    .where(HERO.id == bindparam("hero_id"))
)


def core_app(url: URL, pool_size: int) -> Starlette:
    """SQLAlchemy Core on ``make_engine``: a connection from its pool per request, one statement."""

    @asynccontextmanager
    async def engine_fetch() -> AsyncIterator[Fetch]:
        engine = make_engine(url, pool_size=pool_size, max_overflow=0)

        async def fetch(hero_id: int) -> tuple[Any, ...] | None:
            async with engine.connect() as connection:
                row = (await connection.execute(CORE_STATEMENT, {"hero_id": hero_id})).first()
            return None if row is None else tuple(row)

        try:
            yield fetch
        finally:
            await engine.dispose()

    return _starlette(engine_fetch, hero_json)


def _orm_statement(hero_id: int) -> Any:
    return select(Hero).where(Hero.id == hero_id).options(joinedload(Hero.team))  # type: ignore[arg-type]


def orm_app(url: URL, pool_size: int) -> Starlette:
    """An ``AsyncSession`` per request, the hero and its team as ORM objects, dumped by the read model."""

    @asynccontextmanager
    async def session_fetch() -> AsyncIterator[Fetch]:
        engine = make_engine(url, pool_size=pool_size, max_overflow=0)
        sessionmaker = make_sessionmaker(engine)

        async def fetch(hero_id: int) -> Any:
            async with sessionmaker() as session:
                hero = (await session.exec(_orm_statement(hero_id))).first()
                return None if hero is None else HeroPublicWithTeam.model_validate(hero)

        try:
            yield fetch
        finally:
            await engine.dispose()

    return _starlette(session_fetch, lambda hero: hero.model_dump_json().encode())


def fastapi_app(url: URL, pool_size: int) -> FastAPI:
    """The ORM code in FastAPI, as SQLModel's tutorial has it: a ``yield`` session dependency, ``response_model``."""
    engine = make_engine(url, pool_size=pool_size, max_overflow=0)
    sessionmaker = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with sessionmaker() as session:
            yield session

    app = FastAPI(lifespan=lifespan)

    @app.get("/heroes/{hero_id}", response_model=HeroPublicWithTeam)
    async def read_hero(hero_id: int, session: Annotated[AsyncSession, Depends(get_session)]) -> Any:
        hero = (await session.exec(_orm_statement(hero_id))).first()
        if hero is None:
            raise HTTPException(status_code=404, detail="Hero not found")
        return hero

    return app


def api_app(url: URL, pool_size: int) -> FastAPI:
    """``heroes_lib.api`` itself, its pool bounded as the others'."""
    from bench.async_app import bounded_app

    return bounded_app(pool_size, url)


async def _session_in_a_transaction(session: SessionDep) -> AsyncSession:
    return session  # the plain request session: BEGIN before the read, ROLLBACK after it


def api_transaction_app(url: URL, pool_size: int) -> FastAPI:
    """``heroes_lib.api`` with every read in a transaction, as before its read path changed."""
    app = api_app(url, pool_size)
    app.dependency_overrides[get_read_session] = _session_in_a_transaction
    return app


def api_no_pre_ping_app(url: URL, pool_size: int) -> FastAPI:
    """``heroes_lib.api`` on an engine that does not ping a connection before handing it out."""
    from bench.async_app import bounded_app

    return bounded_app(pool_size, url, pool_pre_ping=False)


FACTORIES: dict[str, Callable[[URL, int], Any]] = {
    "floor": floor_app,
    "core": core_app,
    "orm": orm_app,
    "fastapi": fastapi_app,
    "api_transaction": api_transaction_app,
    "api": api_app,
    "api_no_pre_ping": api_no_pre_ping_app,
}


def make_app(layer: str, url: URL, pool_size: int) -> Any:
    """The ASGI app of ``layer`` on ``url``, with a pool of ``pool_size`` connections (none opened yet)."""
    return FACTORIES[layer](url, pool_size)


def _from_environment() -> Any:
    layer = os.environ.get(LAYER_ENV)
    if layer is None:
        return None  # imported, not served
    return make_app(layer, database_url(), int(os.environ.get(POOL_SIZE_ENV, "10")))


app = _from_environment()
