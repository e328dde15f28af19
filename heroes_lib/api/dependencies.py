"""What a request brings to a path operation: a database session and checked parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.crud import DEFAULT_LIMIT
from heroes_lib.models import MAX_INTEGER


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, from the factory the lifespan stored on ``app.state``; closed afterwards."""
    sessionmaker = getattr(request.app.state, "sessionmaker", None)
    if sessionmaker is None:
        raise RuntimeError(
            "app.state has no sessionmaker: the app's lifespan did not run "
            "(serve it with uvicorn, or wrap it in asgi_lifespan.LifespanManager)"
        )
    async with sessionmaker() as session:
        yield session


#: A path operation parameter ``session: SessionDep`` receives the request's session.
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_read_session(session: SessionDep) -> AsyncSession:
    """The request's session, for a path operation that runs one ``SELECT`` and changes nothing.

    On PostgreSQL its connection runs in autocommit mode: no ``BEGIN`` before the query, no ``ROLLBACK``
    after it, two round trips fewer per request (lesson 10). One statement sees one consistent snapshot
    either way; a read of several statements would give that up, so it keeps ``SessionDep``. asyncpg
    switches the mode in Python, for free; aiomysql would send ``SET autocommit`` there and back, more
    round trips than it saves, and SQLite has no round trips to save. A session that already has a
    connection (a test's override bound to its own transaction) is left as it is.
    """
    bind = session.bind
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session


#: ``session: ReadSessionDep``: the request's session, for one ``SELECT`` (autocommit on PostgreSQL).
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]

# Any integer, as in SQLModel's tutorial: an id that names no row is 404 (crud answers ids outside the
# INTEGER range without a query), a path that is not an integer 422.
HeroId = Annotated[int, Path(description="The hero's id")]
TeamId = Annotated[int, Path(description="The team's id")]

#: Paging as in SQLModel's tutorial (``limit`` defaults to 100, at most 100), with the bounds it leaves out.
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER, description="How many rows to skip")]
Limit = Annotated[int, Query(ge=1, le=DEFAULT_LIMIT, description="How many rows to return at most")]
