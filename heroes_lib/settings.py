"""Which database the course uses and how many connections a process may hold, read from the environment.

``HEROES_DATABASE_URL`` names the database; ``HEROES_POOL_SIZE``, ``HEROES_MAX_OVERFLOW`` and
``HEROES_POOL_TIMEOUT`` size a server engine's pool per deployment. Each is checked before use.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
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

PASSWORD_MASK = "***"

# "scheme://user:password@host" in free text. The password runs to the last "@" before a space: an unescaped
# "@" may be part of it, and masking too much is harmless where masking too little is not.
_PASSWORD_IN_TEXT = re.compile(r"(://[^:/\s]*:)\S*@")
# "?password=..." or "&password=..." (asyncpg and aiomysql take a password there too) in free text, up to the
# next parameter or space.
_PASSWORD_IN_QUERY_TEXT = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)
# The same in a text that is one URL: the value runs to the next parameter, spaces and "#" included.
_PASSWORD_IN_QUERY = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


class DatabaseURLError(ValueError):
    """The database URL is malformed, names a driver the course does not support, or a file it cannot create."""


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
    """Replace any password inside URL-like text with ``***`` (for text that may not parse as a URL).

    Both forms are masked: ``user:password@`` (up to the last ``@`` of the URL) and a ``password=`` query
    parameter.
    """
    masked = _PASSWORD_IN_TEXT.sub(rf"\1{PASSWORD_MASK}@", text)
    return _PASSWORD_IN_QUERY_TEXT.sub(rf"\1{PASSWORD_MASK}", masked)


def _mask_url_text(text: str) -> str:
    # Text that is a single URL, valid or not: everything between "scheme://user:" and the last "@" is the
    # password, whatever it contains (a space, an unescaped "@"), and so is a password= query value.
    scheme_end = text.find("://")
    at = text.rfind("@")
    if 0 <= scheme_end < at:
        colon = text.find(":", scheme_end + len("://"), at)
        if colon >= 0:
            text = f"{text[: colon + 1]}{PASSWORD_MASK}{text[at:]}"
    return _PASSWORD_IN_QUERY.sub(rf"\1{PASSWORD_MASK}", text)


def display_url(url: str | URL) -> str:
    """The URL as it may be shown to a person: its password (``user:password@``, ``?password=``) shown as ``***``."""
    if isinstance(url, URL):
        # Rendered query values are %-escaped, so the value ends exactly at the next "&".
        return _PASSWORD_IN_QUERY.sub(rf"\1{PASSWORD_MASK}", url.render_as_string(hide_password=True))
    return _mask_url_text(url)


def _invalid(url_text: str, problem: str) -> DatabaseURLError:
    forms = "\n  ".join(ACCEPTED_FORMS)
    return DatabaseURLError(f"{DATABASE_URL_ENV}={_mask_url_text(url_text)!r} {problem}. Accepted forms:\n  {forms}")


def _password_out_of_query(url: URL) -> URL:
    # The drivers take ?password= as they take user:password@ (the query one wins when both are given). Moved
    # into the URL's password field, it is hidden wherever SQLAlchemy shows the URL (its repr, engine logs).
    password = url.query.get("password")
    if not isinstance(password, str):
        return url
    return url.difference_update_query(["password"]).set(password=password)


def parse_database_url(url: str | URL) -> URL:
    """Parse and check a database URL: it must use one of the supported async drivers.

    Raises ``DatabaseURLError`` (naming ``HEROES_DATABASE_URL`` and the accepted forms, with any
    password masked) for a malformed URL or an unsupported driver. A server URL's ``?password=`` is
    returned as the URL's password (what the drivers do with it), so that every display of the URL hides it.
    """
    text = display_url(url) if isinstance(url, URL) else url.strip()
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
    if backend == "sqlite":
        return parsed
    if not parsed.database:
        raise _invalid(text, "names no database")
    if "@" in (parsed.host or ""):
        # "user:pass@word@host" parses with the host "word@host", which would show part of the password.
        raise _invalid(text, "has an '@' in its host name; write an '@' in the password as %40")
    return _password_out_of_query(parsed)


def database_url() -> URL:
    """The course database: ``HEROES_DATABASE_URL`` if set, otherwise the default SQLite file."""
    configured = os.environ.get(DATABASE_URL_ENV)
    if configured is None or not configured.strip():
        return default_database_url()
    return parse_database_url(configured)


# Sizing the pool of a server engine per deployment (heroes_lib.db holds the defaults)

POOL_SIZE_ENV = "HEROES_POOL_SIZE"
MAX_OVERFLOW_ENV = "HEROES_MAX_OVERFLOW"
POOL_TIMEOUT_ENV = "HEROES_POOL_TIMEOUT"


class PoolSettingError(ValueError):
    """A pool variable (``HEROES_POOL_SIZE``, ...) holds a value the pool cannot use; the message says which."""


@dataclass(frozen=True)
class PoolSettings:
    """How a server engine's pool is sized: connections kept open, extra ones under a peak, seconds to wait."""

    pool_size: int
    max_overflow: int
    pool_timeout: float


def _whole_number(name: str, minimum: int, accepted: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise PoolSettingError(f"{name}={raw!r} is not a whole number; accepted: {accepted}") from None
    if value < minimum:
        raise PoolSettingError(f"{name}={raw!r} is too small; accepted: {accepted}")
    return value


def _seconds(name: str, accepted: str) -> float | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise PoolSettingError(f"{name}={raw!r} is not a number of seconds; accepted: {accepted}") from None
    if not math.isfinite(value) or value <= 0:
        raise PoolSettingError(f"{name}={raw!r} is out of range; accepted: {accepted}")
    return value


def pool_settings(defaults: PoolSettings) -> PoolSettings:
    """The pool sizing from ``HEROES_POOL_SIZE``, ``HEROES_MAX_OVERFLOW`` and ``HEROES_POOL_TIMEOUT``.

    A variable that is unset or empty keeps its value from ``defaults``. Raises ``PoolSettingError`` (naming
    the variable and what it accepts) for a value that is not a number, or is out of range: the pool size must be
    at least 1, the overflow at least 0, the timeout a number of seconds above 0.
    """
    size = _whole_number(POOL_SIZE_ENV, 1, "a whole number of connections, 1 or more")
    overflow = _whole_number(MAX_OVERFLOW_ENV, 0, "a whole number of connections, 0 or more")
    timeout = _seconds(POOL_TIMEOUT_ENV, "a number of seconds above 0, such as 30 or 2.5")
    return PoolSettings(
        pool_size=defaults.pool_size if size is None else size,
        max_overflow=defaults.max_overflow if overflow is None else overflow,
        pool_timeout=defaults.pool_timeout if timeout is None else timeout,
    )
