"""What a request brings to a path operation: a database session and checked parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
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

# Ids are INTEGER columns: a larger number could never match, and some backends raise on it instead
# of finding nothing, so it is refused (422) before any query.
HeroId = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The hero's id")]
TeamId = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The team's id")]

#: Paging as in SQLModel's tutorial (``limit`` defaults to 100, at most 100), with the bounds it leaves out.
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER, description="How many rows to skip")]
Limit = Annotated[int, Query(ge=1, le=DEFAULT_LIMIT, description="How many rows to return at most")]
