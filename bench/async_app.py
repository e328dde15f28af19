"""The heroes API (``heroes_lib.api``) as the HTTP benchmark serves it: the same app, its pool bounded.

``heroes_lib.api:app`` may open 50 + 14 connections; on a shared server the benchmark keeps within its
connection budget instead. ``BENCH_ASYNC_POOL_SIZE`` set: the app from ``heroes_lib.api.create_app`` on an
engine with that many connections (no overflow), disposed at shutdown. Unset: ``heroes_lib.api.app`` itself.

    BENCH_ASYNC_POOL_SIZE=50 uvicorn bench.async_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import URL

import heroes_lib.api
from bench.app_settings import ASYNC_POOL_SIZE_ENV as POOL_SIZE_ENV
from heroes_lib.api import create_app
from heroes_lib.db import make_engine


def bounded_app(pool_size: int, url: URL | None = None, **engine_options: Any) -> FastAPI:
    """The heroes API on ``url`` (default ``HEROES_DATABASE_URL``) with ``pool_size`` connections, no overflow;
    ``engine_options`` go to ``make_engine`` too."""
    engine = make_engine(
        url, pool_size=pool_size, max_overflow=0, **engine_options
    )  # connects only when the lifespan starts
    app = create_app(engine=engine)
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # create_app leaves an engine it was given to its owner: dispose of it after the app's own shutdown.
        try:
            async with startup(app):
                yield
        finally:
            await engine.dispose()

    app.router.lifespan_context = lifespan
    return app


def _from_environment() -> FastAPI:
    pool_size = os.environ.get(POOL_SIZE_ENV)
    return bounded_app(int(pool_size)) if pool_size else heroes_lib.api.app


app = _from_environment()
