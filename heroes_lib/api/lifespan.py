"""Startup and shutdown: the engine is built and checked before the first request and disposed after the last.

A lifespan (one async context manager) replaces FastAPI's deprecated ``@app.on_event("startup")`` and
``("shutdown")`` pair: what startup builds, shutdown tears down, in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heroes_lib.db import DatabaseUnavailableError, check_connection, make_engine, make_sessionmaker
from heroes_lib.schema import SchemaLockTimeoutError, create_schema
from heroes_lib.settings import DatabaseURLError, PoolSettingError

#: Seconds startup waits for the database before giving up (it cuts the servers' 5 s connect timeout short; a
#: database that answers at all does so in milliseconds). Importing the app takes 2-5 s on a busy 2-core
#: machine, so a server whose database never answers still exits within 10 s of being started.
STARTUP_TIMEOUT = 3


class StartupError(RuntimeError):
    """The API cannot start; the message is one line saying why, with any password masked."""


def make_lifespan(
    url: str | URL | None = None, engine: AsyncEngine | None = None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan for an app on ``url`` (or on ``engine``, which then stays the caller's to dispose).

    At startup it builds the engine and session factory (``app.state.engine``, ``app.state.sessionmaker``),
    checks the database answers and creates missing tables; at shutdown it disposes the engine it built.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            active = make_engine(url) if engine is None else engine
        except (DatabaseURLError, PoolSettingError) as error:
            # The message lists the accepted forms on several lines: one line for the server log.
            raise StartupError(" ".join(str(error).split())) from None
        try:
            await check_connection(active, timeout=STARTUP_TIMEOUT)
            await create_schema(active)  # missing tables only, one worker at a time: existing data is kept
        except (DatabaseUnavailableError, SchemaLockTimeoutError) as error:
            if engine is None:
                await active.dispose()
            raise StartupError(str(error)) from None
        app.state.engine = active
        app.state.sessionmaker = make_sessionmaker(active)
        try:
            yield
        finally:
            if engine is None:
                await active.dispose()

    return lifespan


class OneLineStartupFailure:
    """ASGI middleware: report a ``StartupError`` to the server as its one-line message.

    Starlette reports a failed startup with the whole traceback as the message, and servers print it;
    for a database that is down, the reason fits on one line and the traceback only buries it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: Message | None = None

        async def hold_startup_failure(message: Message) -> None:
            nonlocal held
            if message["type"] == "lifespan.startup.failed":
                held = message  # sent below, once the exception says what failed
                return
            await send(message)

        try:
            await self.app(scope, receive, hold_startup_failure)
        except StartupError as error:
            if held is not None:
                held = {**held, "message": f"heroes API cannot start: {error}"}
            raise  # after startup.failed the server stays quiet about it; test clients re-raise it
        finally:
            if held is not None:
                await send(held)
