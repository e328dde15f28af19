"""What a database error means, read from the driver's own codes: the one place that reads them.

Drivers say what went wrong by a code (sqlite3's error name, PostgreSQL's SQLSTATE, the MySQL error number);
their messages differ per backend and version, so nothing here reads a message.

- ``is_unreachable``: the database cannot be reached or cannot serve a session now (refused, lost, too many
  clients, starting or stopping, no pooled connection free in time). Anything else is a mistake in a
  statement or in the schema, not an outage.
- ``violated_constraint``: which kind of constraint refused a change.
- ``lost_a_race``: a transaction the database rolled back because it collided with another (worth running again).
- ``is_stale_sqlite_snapshot``, ``is_mysql_check_violation``: two driver quirks the package works around.
- ``describe``: one line for a log, password masked.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from typing import Literal

from sqlalchemy import exc as sa_exc

from heroes_lib.settings import mask_password


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached (the message shows the URL with its password masked)."""


#: The kind of constraint a database refused a change for (see ``violated_constraint``).
ConstraintKind = Literal["foreign key", "unique", "check", "not null"]

# Each driver names the constraint that failed by a code of its own; the text around it differs per backend.
_SQLITE_CONSTRAINTS: dict[str, ConstraintKind] = {
    "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign key",
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "SQLITE_CONSTRAINT_CHECK": "check",
    "SQLITE_CONSTRAINT_NOTNULL": "not null",
}
_POSTGRESQL_CONSTRAINTS: dict[str, ConstraintKind] = {  # SQLSTATE
    "23503": "foreign key",
    "23505": "unique",
    "23514": "check",
    "23502": "not null",
}
_MYSQL_CONSTRAINTS: dict[int, ConstraintKind] = {  # error number (MySQL and MariaDB share them)
    1216: "foreign key",
    1217: "foreign key",
    1451: "foreign key",
    1452: "foreign key",
    1062: "unique",
    1586: "unique",
    3819: "check",
    4025: "check",
    1048: "not null",
}

#: MariaDB (4025) and MySQL (3819) report a failed CHECK constraint as OperationalError, not IntegrityError.
MYSQL_CHECK_VIOLATIONS = frozenset({3819, 4025})

#: SQLSTATEs of a PostgreSQL server that cannot serve a session now, besides class 08 (connection exceptions).
UNREACHABLE_SQLSTATES = frozenset(
    {
        "53300",  # too_many_connections (the server's max_connections, or a role's CONNECTION LIMIT)
        "57P01",  # admin_shutdown: the server is stopping, or pg_terminate_backend ended the session
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up, shutting down or in recovery
        "57P04",  # database_dropped: the session's database is gone
        "57P05",  # idle_session_timeout: the server closed an idle session
    }
)

#: MySQL/MariaDB error numbers of a server that cannot be reached or cannot take this client now.
UNREACHABLE_MYSQL_ERRORS = frozenset(
    {
        1040,  # ER_CON_COUNT_ERROR: too many connections (the server's max_connections)
        1203,  # ER_TOO_MANY_USER_CONNECTIONS: the server-wide max_user_connections
        1226,  # ER_USER_LIMIT_REACHED: the account's own MAX_USER_CONNECTIONS (or another resource limit)
        1053,  # ER_SERVER_SHUTDOWN: the server is stopping
        1927,  # ER_CONNECTION_KILLED (MariaDB): KILL ended the connection
        2002,  # CR_CONNECTION_ERROR: cannot connect (socket)
        2003,  # CR_CONN_HOST_ERROR: cannot connect (TCP)
        2006,  # CR_SERVER_GONE_ERROR: the server closed the connection
        2013,  # CR_SERVER_LOST: the connection was lost during a query
    }
)

#: Network failures that ``OSError`` reports by number only (refused, reset and timed out have subclasses).
_NETWORK_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN})


def _driver_errors(error: BaseException) -> Iterator[BaseException]:
    """``error``, the driver's exception SQLAlchemy wrapped (``.orig``), and what that one wraps in turn.

    SQLAlchemy's asyncpg adapter translates asyncpg's exception into a DBAPI one that keeps the SQLSTATE,
    with asyncpg's own as its ``__cause__``.
    """
    yield error
    original = error.orig if isinstance(error, sa_exc.DBAPIError) else None
    if original is not None:
        yield original
        if original.__cause__ is not None:
            yield original.__cause__


def _from_pymysql(error: BaseException) -> bool:
    return type(error).__module__.startswith("pymysql")


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE (``"23505"``) ``error`` carries, wrapped or not; ``None`` if it has none.

    PyMySQL's errors may carry a SQLSTATE too, but MySQL's are coarse (``"HY000"`` for most): they are read by
    their error number instead (``mysql_error_number``).
    """
    for candidate in _driver_errors(error):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str) and not _from_pymysql(candidate):
            return state
    return None


def mysql_error_number(error: BaseException) -> int | None:
    """The MySQL/MariaDB error number (``1062``) ``error`` carries, wrapped or not; ``None`` if it has none.

    PyMySQL (under aiomysql) raises its errors with ``args == (number, message)``.
    """
    for candidate in _driver_errors(error):
        if _from_pymysql(candidate) and candidate.args:
            number = candidate.args[0]
            if isinstance(number, int):
                return number
    return None


def sqlite_error_name(error: BaseException) -> str | None:
    """The sqlite3 error name (``"SQLITE_CONSTRAINT_UNIQUE"``) ``error`` carries, wrapped or not."""
    for candidate in _driver_errors(error):
        name = getattr(candidate, "sqlite_errorname", None)
        if isinstance(name, str):
            return name
    return None


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached now, rather than that a statement was wrong.

    True for: a connection refused, lost or not made (SQLAlchemy's disconnect detection sets
    ``connection_invalidated``; engines from ``heroes_lib.db.make_engine`` flag every failure to connect), a
    server that refuses more clients or is starting or stopping (PostgreSQL SQLSTATE class 08 and
    ``UNREACHABLE_SQLSTATES``, MySQL/MariaDB ``UNREACHABLE_MYSQL_ERRORS``), no pooled connection free within
    the pool timeout, a connect timeout, and ``DatabaseUnavailableError``. A missing table or column, a
    syntax error, a deadlock or a constraint is not: that is a bug or a conflict, and retrying will not help.
    """
    if isinstance(error, DatabaseUnavailableError | sa_exc.TimeoutError | ConnectionError | TimeoutError):
        return True  # sa_exc.TimeoutError: the pool timeout; TimeoutError: a connect timeout
    if isinstance(error, socket.gaierror) or (isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS):
        return True  # the host name does not resolve, or no route to it
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    state = sqlstate(error)
    if state is not None:
        return state.startswith("08") or state in UNREACHABLE_SQLSTATES
    return mysql_error_number(error) in UNREACHABLE_MYSQL_ERRORS


def violated_constraint(error: sa_exc.IntegrityError) -> ConstraintKind | None:
    """Which kind of constraint the database refused a change for, from the driver's error code.

    ``None`` when the driver does not say. The driver's message is not read: it differs per backend.
    """
    sqlite_name = sqlite_error_name(error)
    if sqlite_name is not None:
        return _SQLITE_CONSTRAINTS.get(sqlite_name)
    state = sqlstate(error)
    if state is not None:
        return _POSTGRESQL_CONSTRAINTS.get(state)
    number = mysql_error_number(error)
    return _MYSQL_CONSTRAINTS.get(number) if number is not None else None


#: A transaction rolled back because it lost a race with another one: PostgreSQL's serialization failure and
#: deadlock, the MySQL/MariaDB deadlock, and SQLite's "database is locked".
_POSTGRESQL_LOST_RACE = frozenset({"40001", "40P01"})
_MYSQL_LOST_RACE = frozenset({1213})
_SQLITE_LOST_RACE = frozenset({"SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT"})


def lost_a_race(error: BaseException) -> bool:
    """Whether ``error`` means the transaction lost a race with another one and may succeed if run again."""
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    sqlite_name = sqlite_error_name(error)
    if sqlite_name is not None:
        return sqlite_name in _SQLITE_LOST_RACE
    state = sqlstate(error)
    if state is not None:
        return state in _POSTGRESQL_LOST_RACE
    return mysql_error_number(error) in _MYSQL_LOST_RACE


def is_mysql_check_violation(error: BaseException) -> bool:
    """Whether ``error`` is MySQL/MariaDB refusing a CHECK constraint (which PyMySQL raises as OperationalError)."""
    return mysql_error_number(error) in MYSQL_CHECK_VIOLATIONS


def is_stale_sqlite_snapshot(error: BaseException) -> bool:
    """Whether ``error`` is SQLite refusing a write because another writer committed since this transaction read.

    SQLite lets a transaction write only if no other writer committed since it first read: otherwise the
    write fails at once with SQLITE_BUSY_SNAPSHOT ("database is locked"). The servers lock rows instead.
    """
    return sqlite_error_name(error) == "SQLITE_BUSY_SNAPSHOT"


def describe(error: BaseException) -> str:
    """``error`` in one line for a log: its type and the first line of its message, any password masked."""
    lines = str(error).strip().splitlines()
    first_line = mask_password(lines[0]) if lines else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
