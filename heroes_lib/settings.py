"""Which database the course uses, read from ``HEROES_DATABASE_URL`` and checked before use."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DATABASE_URL_ENV = "HEROES_DATABASE_URL"

#: The async drivers the course supports, by SQLAlchemy backend name.
SUPPORTED_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
}

ACCEPTED_FORMS = (
    "sqlite+aiosqlite:///path/to/file.db",
    "postgresql+asyncpg://user:password@host:5432/dbname",
    "mysql+aiomysql://user:password@host:3306/dbname",
)

_PASSWORD_IN_TEXT = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


class DatabaseURLError(ValueError):
    """The database URL is malformed or names a driver the course does not support."""


def default_data_dir() -> Path:
    """Where the default SQLite database lives.

    In a source checkout this is ``.data/`` beside ``pyproject.toml`` (git-ignored), so the notebooks, the
    tests and ``uvicorn`` started from any folder share one file. An installed copy uses the user's data
    folder instead (``$XDG_DATA_HOME/heroes_course``), which is always writable.
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and os.access(checkout, os.W_OK):
        return checkout / ".data"
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "heroes_course"


def default_database_url() -> URL:
    """The SQLite file used when ``HEROES_DATABASE_URL`` is not set."""
    return URL.create("sqlite+aiosqlite", database=str(default_data_dir() / "heroes.db"))


def mask_password(text: str) -> str:
    """Replace any password inside URL-like text with ``***`` (for text that may not parse as a URL)."""
    return _PASSWORD_IN_TEXT.sub(r"\1***@", text)


def display_url(url: str | URL) -> str:
    """The URL as it may be shown to a person: the password, if any, replaced by ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return mask_password(url)


def _invalid(url_text: str, problem: str) -> DatabaseURLError:
    forms = "\n  ".join(ACCEPTED_FORMS)
    return DatabaseURLError(f"{DATABASE_URL_ENV}={mask_password(url_text)!r} {problem}. Accepted forms:\n  {forms}")


def parse_database_url(url: str | URL) -> URL:
    """Parse and check a database URL: it must use one of the supported async drivers.

    Raises ``DatabaseURLError`` (naming ``HEROES_DATABASE_URL`` and the accepted forms, with any
    password masked) for a malformed URL or an unsupported driver.
    """
    text = url.render_as_string(hide_password=True) if isinstance(url, URL) else url.strip()
    if isinstance(url, URL):
        parsed = url
    else:
        if not text:
            raise _invalid(text, "is empty")
        try:
            parsed = make_url(text)
        except (ArgumentError, ValueError):
            raise _invalid(text, "is not a valid database URL") from None
    backend = parsed.get_backend_name()
    expected = SUPPORTED_DRIVERS.get(backend)
    if expected is None:
        raise _invalid(text, f"uses the unsupported database {backend!r}")
    if parsed.drivername != expected:
        raise _invalid(text, f"uses the driver {parsed.drivername!r}; with {backend} use {expected!r}")
    if backend != "sqlite" and not parsed.database:
        raise _invalid(text, "names no database")
    return parsed


def database_url() -> URL:
    """The course database: ``HEROES_DATABASE_URL`` if set, otherwise the default SQLite file."""
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured is None or not configured.strip():
        return default_database_url()
    return parse_database_url(configured)
