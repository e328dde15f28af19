"""heroes_lib.db_errors: what a driver's error means, from the real drivers' real exceptions.

Outages are made for real where that disturbs no one (a closed port, a connection killed from another one);
a server that is starting up or full is played by a small server that refuses every client with that error
(tests/refusing_servers.py), so the real driver raises what it raises against a real server.
"""

from __future__ import annotations

import errno
import socket
import sqlite3

import asyncpg
import pymysql
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.db import DatabaseUnavailableError, make_engine
from heroes_lib.db_errors import describe, is_unreachable, violated_constraint
from heroes_lib.models import Hero, Team
from heroes_lib.serve import free_port
from tests.refusing_servers import refusing_mysql, refusing_postgresql

offline = pytest.mark.no_database


def pymysql_form(error: pymysql.err.Error) -> sa_exc.DBAPIError:
    """``error`` as SQLAlchemy raises it from aiomysql."""
    return sa_exc.DBAPIError.instance("SELECT 1", {}, error, pymysql.err.Error)


def sqlite_form(error: sqlite3.Error) -> sa_exc.DBAPIError:
    """``error`` as SQLAlchemy raises it from aiosqlite."""
    return sa_exc.DBAPIError.instance("SELECT 1", {}, error, sqlite3.Error)


UNREACHABLE = {
    "asyncpg starting up (57P03), unwrapped": asyncpg.CannotConnectNowError("the database system is starting up"),
    "asyncpg too many connections (53300), unwrapped": asyncpg.TooManyConnectionsError("sorry, too many clients"),
    "asyncpg connection gone (08003), unwrapped": asyncpg.ConnectionDoesNotExistError("connection was closed"),
    "asyncpg refused": ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
    "no route to the host": OSError(errno.EHOSTUNREACH, "Connect call failed"),
    "unknown host name": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    "aiomysql refused (2003)": pymysql_form(pymysql.err.OperationalError(2003, "Can't connect to MySQL server")),
    "aiomysql too many connections (1040)": pymysql_form(pymysql.err.OperationalError(1040, "Too many connections")),
    "aiomysql user limit (1226, SQLSTATE 42000)": pymysql_form(
        pymysql.err.OperationalError(1226, "max_user_connections", sqlstate="42000")
    ),
    "aiomysql server shutdown (1053)": pymysql_form(pymysql.err.OperationalError(1053, "Server shutdown in progress")),
    "aiomysql gone away (2006)": pymysql_form(pymysql.err.OperationalError(2006, "MySQL server has gone away")),
    "aiomysql lost (2013)": pymysql_form(pymysql.err.OperationalError(2013, "Lost connection to MySQL server")),
    "connection lost, as SQLAlchemy detects it": sa_exc.DBAPIError.instance(
        "SELECT 1", {}, sqlite3.DatabaseError("x"), sqlite3.Error, connection_invalidated=True
    ),
    "pool timeout": sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    "connect timeout": TimeoutError(),
    "a failed connection check": DatabaseUnavailableError("cannot connect to database"),
}
NOT_UNREACHABLE = {
    "asyncpg unique violation, unwrapped": asyncpg.UniqueViolationError("duplicate key value"),
    "asyncpg statement timeout (57014), unwrapped": asyncpg.QueryCanceledError("canceling statement"),
    "asyncpg undefined table (42P01), unwrapped": asyncpg.UndefinedTableError('relation "hero" does not exist'),
    "aiomysql unknown column (1054, SQLSTATE 42S22)": pymysql_form(
        pymysql.err.OperationalError(1054, "Unknown column 'x'", sqlstate="42S22")
    ),
    "aiomysql deadlock (1213)": pymysql_form(pymysql.err.OperationalError(1213, "Deadlock found")),
    "aiomysql no such table (1146)": pymysql_form(pymysql.err.ProgrammingError(1146, "Table 'hero' doesn't exist")),
    "aiomysql syntax error (1064)": pymysql_form(pymysql.err.ProgrammingError(1064, "You have an error")),
    "aiomysql duplicate (1062)": pymysql_form(pymysql.err.IntegrityError(1062, "Duplicate entry")),
    "aiosqlite no such table": sqlite_form(sqlite3.OperationalError("no such table: hero")),
    "aiosqlite no such column": sqlite_form(sqlite3.OperationalError("no such column: hero.age")),
    "aiosqlite unique": sqlite_form(sqlite3.IntegrityError("UNIQUE constraint failed")),
    "a file that is not there": FileNotFoundError(errno.ENOENT, "No such file or directory"),
    "a bug": ZeroDivisionError(),
}


@offline
@pytest.mark.parametrize("error", UNREACHABLE.values(), ids=UNREACHABLE)
def test_outages_are_recognised_in_every_driver_form(error: Exception) -> None:
    assert is_unreachable(error)


@offline
@pytest.mark.parametrize("error", NOT_UNREACHABLE.values(), ids=NOT_UNREACHABLE)
def test_errors_of_a_statement_or_the_schema_are_not_outages(error: Exception) -> None:
    assert not is_unreachable(error)


async def connect_error(engine: AsyncEngine) -> Exception:
    """What connecting with ``engine`` raises (the engine is disposed)."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        return error
    finally:
        await engine.dispose()
    raise AssertionError("connected")  # pragma: no cover


@offline
@pytest.mark.parametrize(
    ("sqlstate", "unreachable"),
    [("57P03", True), ("53300", True), ("57P01", True), ("08006", True), ("42P01", False), ("28P01", False)],
)
async def test_postgresql_refusals_are_read_from_the_sqlstate(sqlstate: str, unreachable: bool) -> None:
    # A plain engine (not make_engine, which flags every failure to connect as a lost connection): only the
    # SQLSTATE that SQLAlchemy's asyncpg adapter keeps says what happened.
    async with refusing_postgresql(sqlstate, "refused on purpose") as port:
        plain = create_async_engine(f"postgresql+asyncpg://u@127.0.0.1:{port}/db", poolclass=NullPool)
        error = await connect_error(plain)
    assert isinstance(error, sa_exc.DBAPIError) and not error.connection_invalidated, repr(error)
    assert is_unreachable(error) is unreachable


@offline
@pytest.mark.parametrize(("number", "unreachable"), [(1040, True), (1226, True), (1053, True), (1045, False)])
async def test_mysql_refusals_are_read_from_the_error_number(number: int, unreachable: bool) -> None:
    async with refusing_mysql(number, "refused on purpose") as port:
        plain = create_async_engine(f"mysql+aiomysql://u@127.0.0.1:{port}/db", poolclass=NullPool)
        error = await connect_error(plain)
    assert isinstance(error, sa_exc.DBAPIError) and not error.connection_invalidated, repr(error)
    assert is_unreachable(error) is unreachable


@offline
@pytest.mark.parametrize("driver", ["postgresql+asyncpg", "mysql+aiomysql"])
async def test_a_refused_connection_is_unreachable(driver: str) -> None:
    error = await connect_error(make_engine(f"{driver}://u:s3cr3t@127.0.0.1:{free_port()}/db", poolclass=NullPool))
    assert is_unreachable(error), repr(error)


async def test_a_missing_table_or_column_is_not_an_outage(engine: AsyncEngine) -> None:
    for statement in ("SELECT * FROM no_such_table", "SELECT no_such_column FROM team"):
        with pytest.raises(sa_exc.DBAPIError) as raised:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        assert not is_unreachable(raised.value), repr(raised.value)


async def test_a_connection_killed_by_the_server_is_unreachable(engine: AsyncEngine) -> None:
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        pytest.skip("SQLite has no server to end a connection")
    admin = make_engine(engine.url, poolclass=NullPool)
    try:
        async with engine.connect() as victim:
            own_id = "SELECT pg_backend_pid()" if backend == "postgresql" else "SELECT CONNECTION_ID()"
            victim_id = (await victim.execute(text(own_id))).scalar_one()
            async with admin.connect() as killer:
                kill = f"SELECT pg_terminate_backend({victim_id})" if backend == "postgresql" else f"KILL {victim_id}"
                await killer.execute(text(kill))
            with pytest.raises(sa_exc.DBAPIError) as raised:
                await victim.execute(text("SELECT 1"))
    finally:
        await admin.dispose()
    assert is_unreachable(raised.value), repr(raised.value)


@offline
def test_describe_gives_the_type_and_the_first_line_with_the_password_masked() -> None:
    error = RuntimeError("cannot reach postgresql://hero:s3cr3t@db.example/heroes\nmore detail")
    assert describe(error) == "RuntimeError: cannot reach postgresql://hero:***@db.example/heroes"
    assert describe(TimeoutError()) == "TimeoutError"


async def test_violated_constraint_names_the_kind_on_every_backend(engine: AsyncEngine, session: AsyncSession) -> None:
    # Table models skip validation, so each row below reaches the database and breaks one kind of constraint.
    team = Team(name="Taken", headquarters="HQ")
    session.add(team)
    await session.flush()
    refused = {
        "foreign key": Hero(name="Orphan", secret_name="x", team_id=987654),
        "unique": Team(name="Taken", headquarters="Elsewhere"),
        "check": Hero(name="", secret_name="x"),
        "not null": Hero(name=None, secret_name="x"),  # type: ignore[arg-type]  # a NULL the database must refuse
    }
    for kind, row in refused.items():
        savepoint = await session.begin_nested()
        session.add(row)
        with pytest.raises(sa_exc.IntegrityError) as raised:
            await session.flush()
        await savepoint.rollback()
        assert violated_constraint(raised.value) == kind, f"{engine.url.get_backend_name()}: {raised.value.orig!r}"
