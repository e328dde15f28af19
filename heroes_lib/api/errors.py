"""Error responses: a client mistake is a 4xx with a short message, a database outage a 503, never a traceback.

Handlers answer with ``{"detail": "..."}`` (FastAPI's own shape). What the exception says may name hosts,
SQL or parameters: it goes to the server log, not to the client.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from heroes_lib.crud import ConflictError
from heroes_lib.db_errors import DatabaseUnavailableError, describe, is_unreachable

logger = logging.getLogger("heroes_lib.api")

_TEMPLATE = re.compile(r"(\{[^}]*\})")  # splits "/heroes/{hero_id}" around its parameters

DATABASE_UNAVAILABLE_DETAIL = "Database unavailable"
INTERNAL_ERROR_DETAIL = "Internal server error"

#: Seconds a client is asked to wait before retrying after a 503 (``Retry-After``): about what a database
#: restart or a burst that filled the pool takes to pass.
RETRY_AFTER_SECONDS = 5

#: Errors that reach the database handler; ``is_unreachable`` decides between 503 and 500. Besides the
#: driver's errors: the pool timeout, a failed connection check, and what a driver raises unwrapped while
#: connecting (asyncpg: ``ConnectionRefusedError``, a connect timeout).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    DatabaseUnavailableError,
    OSError,
    TimeoutError,
)


class ErrorMessage(BaseModel):
    """The body of every error response except 422: ``{"detail": "..."}``."""

    detail: str


def not_found(kind: str) -> HTTPException:
    """The tutorial's 404, e.g. ``{"detail": "Hero not found"}``."""
    return HTTPException(status_code=404, detail=f"{kind} not found")


# Documented responses (besides 200 and 422), so the OpenAPI schema says what a client can get.
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorMessage, "description": "No row has this id"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorMessage, "description": "Conflicts with existing data (a duplicate name, an unknown team)"},
    # FastAPI answers 400 when a body cannot even be decoded as text; 422 when it is not valid JSON.
    400: {"model": ErrorMessage, "description": "The body could not be read (not UTF-8)"},
}


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity: shown as the text a client would have sent (1e400 is read as infinity).
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class EchoSafeJSONResponse(JSONResponse):
    """A JSON response that can echo any value a client sent, even a lone surrogate (``"\\ud800"``) or ``NaN``.

    JSON may escape a lone surrogate, but UTF-8 cannot encode it: FastAPI's own 422 response, which quotes the
    invalid input, would then fail to render and become a 500. Escaping the body to ASCII keeps the same JSON.
    Python's JSON parser accepts ``NaN``, ``Infinity`` and numbers too large for a float (``1e400``), which
    JSON cannot write back: such an input is echoed as a string (``"Infinity"``).
    """

    def render(self, content: Any) -> bytes:
        content = _finite(content)
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
    """422 with FastAPI's usual body (each invalid field, why, and the input), renderable whatever the input."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    return EchoSafeJSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


def allowed_methods(request: Request) -> list[str]:
    """The methods the API's OpenAPI schema documents for the requested path, e.g. ``["GET", "POST"]``."""
    for template, operations in request.app.openapi()["paths"].items():
        # "/heroes/{hero_id}" -> one path segment for each parameter
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in _TEMPLATE.split(template))
        if re.fullmatch(pattern, request.url.path):
            return sorted(method.upper() for method in operations)
    return []


async def http_error(request: Request, error: Exception) -> Response:
    """FastAPI's own handler, with a 405's ``Allow`` header listing every method the path accepts.

    The router stops at the first route whose path matches, so its 405 for ``OPTIONS /heroes/`` would say
    ``Allow: POST`` though ``GET`` works there too.
    """
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 405:
        error.headers = {**(error.headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return await http_exception_handler(request, error)


async def conflict(_request: Request, error: Exception) -> JSONResponse:
    """409: the database refused the change; crud rolled it back and says why in its own words."""
    message = str(error) if isinstance(error, ConflictError) else "the change conflicts with existing data"
    return JSONResponse(status_code=409, content={"detail": message})


async def database_error(request: Request, error: Exception) -> JSONResponse:
    """503 (with ``Retry-After``) when the database cannot be reached, otherwise a generic 500.

    The details go to the log only: for a 503, why the database is out of reach (one line); for anything
    else, the error's message and its traceback, since it is a bug to fix (a missing table or column, a
    statement the database refuses), not an outage to wait out.
    """
    where = f"{request.method} {request.url.path}"
    if is_unreachable(error):
        logger.warning("database unreachable during %s: %s", where, describe(error))
        return JSONResponse(
            status_code=503,
            content={"detail": DATABASE_UNAVAILABLE_DETAIL},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    logger.error("error during %s: %s", where, describe(error), exc_info=error)
    return JSONResponse(status_code=500, content={"detail": INTERNAL_ERROR_DETAIL})


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """The last resort for anything else: a generic 500 (the server logs the traceback)."""
    if is_unreachable(error):
        return await database_error(request, error)
    logger.error("unexpected %s during %s %s", type(error).__name__, request.method, request.url.path)
    return JSONResponse(status_code=500, content={"detail": INTERNAL_ERROR_DETAIL})


def install_error_handlers(app: FastAPI) -> None:
    """Map domain and database errors to responses that show no SQL, traceback or credential."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(sa_exc.IntegrityError, conflict)  # a constraint crud did not anticipate
    for error_type in DATABASE_ERRORS:
        app.add_exception_handler(error_type, database_error)
    app.add_exception_handler(Exception, internal_error)
