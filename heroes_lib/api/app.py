"""The app factory and its lifespan: the engine is built at startup and disposed at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import URL

from heroes_lib.api import heroes, teams
from heroes_lib.api.errors import install_error_handlers
from heroes_lib.db import DatabaseUnavailableError, check_connection, create_schema, make_engine, make_sessionmaker
from heroes_lib.settings import DatabaseURLError

#: Startup gives up on an unreachable database after this many seconds (connect timeouts are shorter).
STARTUP_TIMEOUT = 8


class HeroesAPI(FastAPI):
    """FastAPI, with a failed startup reported as one clear line instead of a traceback."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await super().__call__(scope, receive, send)
            return

        async def send_one_line(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.failed" and getattr(self.state, "startup_error", None):
                message = {**message, "message": f"heroes API cannot start: {self.state.startup_error}"}
            await send(message)

        # Already reported to the server as startup.failed, in one line: no traceback on top.
        with suppress(DatabaseUnavailableError, DatabaseURLError):
            await super().__call__(scope, receive, send_one_line)


def create_app(url: str | URL | None = None) -> HeroesAPI:
    """Build the API for ``url`` (default: ``HEROES_DATABASE_URL``, else the course's SQLite file).

    Nothing is checked or contacted until startup: a bad URL or an unreachable database then stops the
    server with one line that says why (password masked).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            engine = make_engine(url)
        except DatabaseURLError as error:
            app.state.startup_error = " ".join(str(error).split())
            raise
        try:
            await check_connection(engine, timeout=STARTUP_TIMEOUT)
            await create_schema(engine)  # missing tables only; existing data is kept
        except DatabaseUnavailableError as error:
            await engine.dispose()
            app.state.startup_error = str(error)
            raise
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = HeroesAPI(
        title="Heroes API",
        summary="The heroes and teams API of SQLModel's FastAPI tutorial, async.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(heroes.router)
    app.include_router(teams.router)
    install_error_handlers(app)
    return app
