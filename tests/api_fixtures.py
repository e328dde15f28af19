"""Fixtures and helpers for the API tests: the app with its lifespan run, a client, row snapshots.

Test modules import the fixtures they use (``from tests.api_fixtures import api_app, client``) so that
they stay out of ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.pool import NullPool

from heroes_lib.api import create_app
from heroes_lib.db import make_engine
from heroes_lib.models import Hero, Team
from heroes_lib.schema import drop_schema, reset_schema

BASE_URL = "http://heroes.test"


async def reset_tables() -> None:
    """Drop and recreate the course tables on the scratch database, so that they start empty."""
    engine = make_engine(poolclass=NullPool)
    try:
        await reset_schema(engine)
    finally:
        await engine.dispose()


async def drop_tables() -> None:
    """Drop the course tables from the scratch database, as the other test modules expect to find it."""
    engine = make_engine(poolclass=NullPool)
    try:
        await drop_schema(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def api_app() -> AsyncIterator[FastAPI]:
    """The API on the scratch database (``HEROES_DATABASE_URL``), its lifespan really run; tables dropped after."""
    await reset_tables()
    app = create_app()
    async with LifespanManager(app):
        yield app
    await drop_tables()


@pytest.fixture
async def client(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``api_app`` in-process; every row is deleted after the test."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app), base_url=BASE_URL) as client:
        yield client
    async with api_app.state.engine.begin() as connection:
        await connection.execute(delete(Hero))
        await connection.execute(delete(Team))


async def snapshot(app: FastAPI) -> list[tuple[Any, ...]]:
    """Every row of both tables in id order, to show that a rejected request changed nothing."""
    async with app.state.engine.connect() as connection:
        teams = (await connection.execute(select(Team.__table__).order_by(Team.id))).all()
        heroes = (await connection.execute(select(Hero.__table__).order_by(Hero.id))).all()
    return [("team", *row) for row in teams] + [("hero", *row) for row in heroes]
