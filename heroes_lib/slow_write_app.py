"""The course API plus a route whose transaction writes, waits, writes again and commits (lesson 11).

It gives a client something to give up on in the middle of a transaction. ``POST /demo/write-wait-write``
inserts a first hero and sends it to the database, waits (``wait=database``: a slow query holding the
connection, ``heroes_lib.concurrency.wait_in_database``; ``wait=task``: an ``asyncio.sleep``, as a call to
another service would), then inserts a second hero and commits both. ``GET /demo/progress`` lists how far
such requests got and how many pooled connections are checked out, so that a test sees it from outside a
uvicorn process too: ``heroes_lib.serve.serving(SLOW_WRITE_APP)`` serves it. The reliability tests use it as well.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import FastAPI, Request

from heroes_lib.api import create_app
from heroes_lib.api.dependencies import SessionDep
from heroes_lib.concurrency import wait_in_database
from heroes_lib.models import Hero

FIRST_HERO = "First of two"
SECOND_HERO = "Second of two"
# Milestones of a write-wait-write request, appended to app.state.progress as it reaches them.
FIRST_SENT = "first hero sent"
CLIENT_GONE = "client disconnected before the commit"
COMMITTED = "committed"
CANCELLED = "cancelled"


def create_slow_write_app() -> FastAPI:
    """The API on ``HEROES_DATABASE_URL`` (its own lifespan and error handlers) with the two ``/demo`` routes."""
    app = create_app()
    app.state.progress = []

    @app.post("/demo/write-wait-write")
    async def write_wait_write(
        request: Request, session: SessionDep, seconds: float, wait: Literal["database", "task"] = "database"
    ) -> dict[str, bool]:
        try:
            session.add(Hero(name=FIRST_HERO, secret_name="x"))
            await session.flush()  # the INSERT is sent: the transaction has written
            app.state.progress.append(FIRST_SENT)
            if wait == "database":
                await wait_in_database(session, seconds)
            else:
                await asyncio.sleep(seconds)
            if await request.is_disconnected():
                app.state.progress.append(CLIENT_GONE)
            session.add(Hero(name=SECOND_HERO, secret_name="x"))
            await session.commit()
        except asyncio.CancelledError:
            app.state.progress.append(CANCELLED)
            raise
        app.state.progress.append(COMMITTED)
        return {"ok": True}

    @app.get("/demo/progress")
    async def progress(request: Request) -> dict[str, list[str] | int]:
        return {"progress": request.app.state.progress, "checked_out": request.app.state.engine.pool.checkedout()}

    return app


#: What ``uvicorn heroes_lib.slow_write_app:app`` serves.
app = create_slow_write_app()
SLOW_WRITE_APP = f"{__name__}:app"
