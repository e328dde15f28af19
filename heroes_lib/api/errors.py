"""Error responses: a client mistake is a 4xx with a short message, a database outage a 503, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from heroes_lib.crud import ConflictError
from heroes_lib.db import DatabaseUnavailableError

logger = logging.getLogger("heroes_lib.api")

#: What a lost or unreachable database raises, depending on the driver and on where it failed.
DATABASE_UNAVAILABLE = (
    DatabaseUnavailableError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # no pooled connection became free in time
    ConnectionError,
    TimeoutError,
    OSError,
)


async def conflict(_request: Request, error: Exception) -> JSONResponse:
    message = str(error) if isinstance(error, ConflictError) else "the change conflicts with existing data"
    return JSONResponse(status_code=409, content={"detail": message})


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The exception text can name hosts and SQL: it goes to the log (type only), not to the client.
    logger.warning("database unavailable during %s %s: %s", request.method, request.url.path, type(error).__name__)
    return JSONResponse(status_code=503, content={"detail": "Database unavailable, try again later"})


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, DATABASE_UNAVAILABLE) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        return await database_unavailable(request, error)
    logger.error("unexpected %s during %s %s", type(error).__name__, request.method, request.url.path)
    return JSONResponse(status_code=500, content={"detail": "Internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    """Map domain and database errors to responses that show no SQL, traceback or credential."""
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(sa_exc.IntegrityError, conflict)  # a constraint crud did not anticipate
    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, database_unavailable)
    app.add_exception_handler(Exception, unexpected)
