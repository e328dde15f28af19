"""The app factory: routers, error handlers and the lifespan put together."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib import __version__
from heroes_lib.api.errors import install_error_handlers
from heroes_lib.api.lifespan import OneLineStartupFailure, make_lifespan
from heroes_lib.api.openapi import document_model_rules
from heroes_lib.api.routers import heroes, teams


def create_app(url: str | URL | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Build the API for ``url`` (default: ``HEROES_DATABASE_URL``, else the course's SQLite file).

    Or pass an ``engine`` you made yourself: the app uses it and leaves disposing it to you. Nothing is
    checked or contacted until the lifespan starts; a bad URL or an unreachable database then stops the
    startup with one line that says why (password masked).
    """
    if url is not None and engine is not None:
        raise ValueError("pass a database url or an engine, not both")
    app = FastAPI(
        title="Heroes API",
        summary="The heroes and teams API of SQLModel's FastAPI tutorial, async.",
        version=__version__,
        lifespan=make_lifespan(url, engine),
    )
    app.include_router(heroes.router)
    app.include_router(teams.router)
    install_error_handlers(app)
    document_model_rules(app)
    app.add_middleware(OneLineStartupFailure)
    return app
