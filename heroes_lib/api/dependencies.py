"""The request-scoped database session, as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.models import MAX_INTEGER


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, from the factory the lifespan stored on ``app.state``; closed afterwards."""
    async with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def not_found(kind: str) -> HTTPException:
    """The tutorial's 404: ``{"detail": "Hero not found"}``."""
    return HTTPException(status_code=404, detail=f"{kind} not found")


def storable_id(row_id: int, kind: str) -> int:
    """``row_id``, or a 404 when no row can have it (beyond an INTEGER column, the database would refuse it)."""
    if not -MAX_INTEGER <= row_id <= MAX_INTEGER:
        raise not_found(kind)
    return row_id


class ErrorMessage(BaseModel):
    """The body of every error response except 422: ``{"detail": "..."}``."""

    detail: str


NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorMessage, "description": "No row has this id"}}
#: FastAPI answers 400 when a body cannot even be read as text (invalid UTF-8); 422 when it is not valid JSON.
UNREADABLE_BODY: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorMessage, "description": "The body could not be parsed (not UTF-8 text)"}
}
CONFLICT: dict[int | str, dict[str, object]] = {
    **UNREADABLE_BODY,
    409: {"model": ErrorMessage, "description": "Conflicts with existing data (a duplicate name, an unknown team)"}
}
