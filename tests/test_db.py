"""heroes_lib.db: engines with the right per-backend defaults, sessions, schema helpers, connection checks."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, MissingGreenlet, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import db
from heroes_lib.db import (
    DatabaseUnavailableError,
    check_connection,
    engine_options,
    is_missing_greenlet,
    make_engine,
    make_sessionmaker,
)
from heroes_lib.models import Hero, Team
from heroes_lib.notebook import discarding_unawaited_coroutines
from heroes_lib.schema import create_schema, drop_schema, reset_schema, table_names
from heroes_lib.serve import free_port
from heroes_lib.settings import (
    MAX_OVERFLOW_ENV,
    POOL_SIZE_ENV,
    POOL_TIMEOUT_ENV,
    DatabaseURLError,
    PoolSettingError,
    database_url,
    parse_database_url,
)

SECRET = "s3cr3t-pa55"
ALL_TABLES = ["hero", "hero_power", "power", "team"]


SERVER_URLS = ("postgresql+asyncpg://u@h/db", "mysql+aiomysql://u@h/db")
POOL_VARIABLES = (POOL_SIZE_ENV, MAX_OVERFLOW_ENV, POOL_TIMEOUT_ENV)


@pytest.fixture
def no_pool_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in POOL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.no_database
def test_server_engines_get_a_pool_four_workers_can_share(no_pool_variables: pytest.MonkeyPatch) -> None:
    for url in SERVER_URLS:
        options = engine_options(parse_database_url(url))
        assert options["pool_pre_ping"] is True
        assert (options["pool_size"], options["max_overflow"]) == (db.SERVER_POOL_SIZE, db.SERVER_MAX_OVERFLOW)
        assert options["pool_timeout"] == db.POOL_TIMEOUT
        assert options["connect_args"]
    # 4 workers with room to spare under PostgreSQL's default max_connections (100) and MariaDB's (151).
    assert 4 * (db.SERVER_POOL_SIZE + db.SERVER_MAX_OVERFLOW) <= 60
    assert engine_options(parse_database_url("mysql+aiomysql://u@h/db"))["connect_args"]["charset"] == "utf8mb4"


@pytest.mark.no_database
def test_the_environment_sizes_a_server_pool_per_deployment(no_pool_variables: pytest.MonkeyPatch) -> None:
    no_pool_variables.setenv(POOL_SIZE_ENV, "4")
    no_pool_variables.setenv(MAX_OVERFLOW_ENV, "0")
    no_pool_variables.setenv(POOL_TIMEOUT_ENV, "2.5")
    for url in SERVER_URLS:
        options = engine_options(parse_database_url(url))
        assert (options["pool_size"], options["max_overflow"], options["pool_timeout"]) == (4, 0, 2.5)
    # SQLite keeps its own options: the variables size a server's pool.
    assert "pool_size" not in engine_options(parse_database_url("sqlite+aiosqlite:///x.db"))


@pytest.mark.no_database
async def test_make_engine_builds_the_pool_the_environment_asks_for(no_pool_variables: pytest.MonkeyPatch) -> None:
    no_pool_variables.setenv(POOL_SIZE_ENV, "3")
    no_pool_variables.setenv(MAX_OVERFLOW_ENV, "2")
    no_pool_variables.setenv(POOL_TIMEOUT_ENV, "7")
    engine = make_engine("postgresql+asyncpg://u@h/db")
    try:
        assert (engine.pool.size(), engine.pool.timeout()) == (3, 7)
        assert "Overflow: -3" in engine.pool.status()  # overflow counts up from -pool_size
    finally:
        await engine.dispose()


@pytest.mark.no_database
async def test_keyword_overrides_win_over_the_environment(no_pool_variables: pytest.MonkeyPatch) -> None:
    no_pool_variables.setenv(POOL_SIZE_ENV, "3")
    no_pool_variables.setenv(POOL_TIMEOUT_ENV, "7")
    engine = make_engine("postgresql+asyncpg://u@h/db", pool_size=6, pool_timeout=1)
    try:
        assert (engine.pool.size(), engine.pool.timeout()) == (6, 1)
    finally:
        await engine.dispose()
    null = make_engine("postgresql+asyncpg://u@h/db", poolclass=NullPool)  # no sizing options for a NullPool
    await null.dispose()


@pytest.mark.no_database
@pytest.mark.parametrize(("name", "value"), [(POOL_SIZE_ENV, "0"), (MAX_OVERFLOW_ENV, "-1"), (POOL_TIMEOUT_ENV, "x")])
def test_a_bad_pool_variable_stops_make_engine_naming_it(
    no_pool_variables: pytest.MonkeyPatch, name: str, value: str
) -> None:
    no_pool_variables.setenv(name, value)
    with pytest.raises(PoolSettingError, match=name):
        make_engine("postgresql+asyncpg://u@h/db")


@pytest.mark.no_database
def test_sqlite_file_engines_wait_for_locks_and_memory_engines_get_no_options() -> None:
    assert engine_options(parse_database_url("sqlite+aiosqlite:///x.db"))["connect_args"]["timeout"] > 0
    assert engine_options(parse_database_url("sqlite+aiosqlite://")) == {}


@pytest.mark.no_database
async def test_make_engine_rejects_bad_urls_before_connecting() -> None:
    with pytest.raises(DatabaseURLError, match="HEROES_DATABASE_URL"):
        make_engine(f"postgresql://u:{SECRET}@h/db")


class _ConnectAttempted(Exception):
    pass


async def connect_arguments(engine: AsyncEngine) -> dict[str, object]:
    """The keyword arguments ``engine`` passes to its driver's ``connect`` (caught before it is called)."""
    seen: dict[str, object] = {}

    @event.listens_for(engine.sync_engine, "do_connect")
    def _capture(_dialect: object, _record: object, _args: object, kwargs: dict[str, object]) -> None:
        seen.update(kwargs)
        raise _ConnectAttempted

    with pytest.raises(_ConnectAttempted):
        async with engine.connect():
            pass  # pragma: no cover
    return seen


@pytest.mark.no_database
@pytest.mark.parametrize(
    ("url", "defaults"),
    [
        ("postgresql+asyncpg://u@h/db", {"timeout": db.CONNECT_TIMEOUT}),
        ("mysql+aiomysql://u@h/db", {"connect_timeout": db.CONNECT_TIMEOUT, "charset": "utf8mb4"}),
        ("sqlite+aiosqlite:///{tmp}/x.db", {"timeout": db.SQLITE_BUSY_TIMEOUT}),
    ],
)
async def test_connect_args_are_merged_with_the_defaults(tmp_path: Path, url: str, defaults: dict[str, int]) -> None:
    url = url.format(tmp=tmp_path)
    added = make_engine(url, connect_args={"ssl": False})
    first_default = next(iter(defaults))
    overriding = make_engine(url, connect_args={first_default: 1})
    try:
        assert (await connect_arguments(added)).items() >= {**defaults, "ssl": False}.items()
        # The caller's value wins; the other defaults stay.
        assert (await connect_arguments(overriding)).items() >= {**defaults, first_default: 1}.items()
    finally:
        await added.dispose()
        await overriding.dispose()


@pytest.mark.no_database
async def test_make_engine_accepts_overrides_and_null_pool() -> None:
    engine = make_engine("postgresql+asyncpg://u@127.0.0.1/db", poolclass=NullPool, echo=True)
    try:
        assert isinstance(engine.pool, NullPool)
        assert engine.echo is True
    finally:
        await engine.dispose()


@pytest.mark.no_database
async def test_sqlite_file_engine_turns_on_foreign_keys_wal_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == db.SQLITE_BUSY_TIMEOUT * 1000
        assert (tmp_path / "sub" / "x.db").exists()  # the folder was created
    finally:
        await engine.dispose()


@pytest.mark.no_database
@pytest.mark.parametrize("folder", ["/proc/heroes-cannot-be-here", "{tmp}/a-file/sub"])
def test_a_sqlite_folder_that_cannot_be_created_is_a_clear_url_error(tmp_path: Path, folder: str) -> None:
    # /proc refuses new folders even to root; a folder inside a plain file cannot exist either.
    (tmp_path / "a-file").write_text("")
    folder = folder.format(tmp=tmp_path)
    url = f"sqlite+aiosqlite:///{folder}/x.db"
    with pytest.raises(DatabaseURLError) as raised:
        make_engine(url)
    message = str(raised.value)
    assert message.startswith(f"HEROES_DATABASE_URL={url!r} names a SQLite file in the folder {folder!r}, ")
    assert "which cannot be created (" in message and "\n" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.no_database
async def test_sqlite_savepoint_rolls_back_only_the_inner_work(tmp_path: Path) -> None:
    # Without the real BEGIN that heroes_lib emits, sqlite3 would break SAVEPOINT semantics.
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        await create_schema(engine)
        async with make_sessionmaker(engine)() as session, session.begin():
            session.add(Team(name="Outer", headquarters="A"))
            nested = await session.begin_nested()
            session.add(Team(name="Inner", headquarters="B"))
            await session.flush()
            await nested.rollback()
        async with engine.connect() as connection:
            names = (await connection.execute(text("SELECT name FROM team"))).scalars().all()
        assert names == ["Outer"]
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced_on_every_backend(session: AsyncSession) -> None:
    session.add(Hero(name="Orphan", secret_name="Nobody", team_id=987654))
    with pytest.raises(IntegrityError):
        await session.flush()


@pytest.mark.parametrize("bad", [{"age": -1}, {"name": ""}, {"secret_name": ""}])
async def test_check_constraints_hold_even_when_validation_is_bypassed(
    session: AsyncSession, bad: dict[str, object]
) -> None:
    # Table models do not validate on construction; the database is the last line of defence.
    session.add(Hero(**{"name": "Valid", "secret_name": "Valid", **bad}))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_sessions_keep_objects_readable_after_commit(engine: AsyncEngine) -> None:
    factory = make_sessionmaker(engine)
    assert factory.kw["expire_on_commit"] is False
    async with factory() as session:
        assert isinstance(session, AsyncSession)
        team = Team(name="Readable", headquarters="Here")
        session.add(team)
        await session.commit()
        assert team.name == "Readable"  # no refresh, no lazy load
        await session.delete(team)
        await session.commit()


async def test_schema_helpers_create_drop_and_reset(engine: AsyncEngine) -> None:
    await reset_schema(engine)
    assert await table_names(engine) == ALL_TABLES
    await drop_schema(engine)
    assert await table_names(engine) == []
    await create_schema(engine)
    await create_schema(engine)  # idempotent
    assert await table_names(engine) == ALL_TABLES


async def test_reset_schema_restarts_ids(engine: AsyncEngine) -> None:
    factory = make_sessionmaker(engine)
    for _ in range(2):
        await reset_schema(engine)
        async with factory() as session:
            team = Team(name="First", headquarters="HQ")
            session.add(team)
            await session.commit()
            assert team.id == 1
    await reset_schema(engine)


async def test_check_connection_succeeds(engine: AsyncEngine) -> None:
    await check_connection(engine)


@pytest.mark.no_database
@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "mysql+aiomysql"])
async def test_check_connection_fails_fast_and_masks_the_password(scheme: str) -> None:
    engine = make_engine(f"{scheme}://hero:{SECRET}@127.0.0.1:{free_port()}/db")
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnavailableError) as raised:
            await check_connection(engine, timeout=5)
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 6
    message = str(raised.value)
    assert "cannot connect to database" in message and "hero:***@" in message
    assert SECRET not in message and "\n" not in message


@pytest.mark.no_database
async def test_check_connection_times_out() -> None:
    # A listening socket that never answers the handshake: the check gives up after its timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+asyncpg://u:{SECRET}@127.0.0.1:{port}/db")
        started = time.monotonic()
        try:
            with pytest.raises(DatabaseUnavailableError, match=r"did not answer within 0\.5 s") as raised:
                await check_connection(engine, timeout=0.5)
        finally:
            await engine.dispose()
    assert time.monotonic() - started < 3
    assert SECRET not in str(raised.value)


@pytest.mark.no_database
def test_is_missing_greenlet_recognises_both_forms() -> None:
    bare = MissingGreenlet("greenlet_spawn has not been called")
    wrapped = StatementError("(sqlalchemy.exc.MissingGreenlet) ...", "SELECT 1", {}, bare)
    assert is_missing_greenlet(bare) and is_missing_greenlet(wrapped)
    assert not is_missing_greenlet(StatementError("other", "SELECT 1", {}, ValueError("x")))
    assert not is_missing_greenlet(ValueError("x"))


async def test_lazy_load_outside_the_bridge_is_recognised(engine: AsyncEngine) -> None:
    factory = make_sessionmaker(engine)
    async with factory() as session:
        session.add(Hero(name="Lazy", secret_name="Loader", team=Team(name="Lazy Team", headquarters="HQ")))
        await session.commit()
    async with factory() as session:
        hero = (await session.exec(select(Hero).where(Hero.name == "Lazy"))).one()
        # The refused load leaves the driver's coroutine behind, never awaited: closed on the way out, as the
        # lessons do, so the suite's "never awaited is an error" rule still holds for every other statement.
        with pytest.raises(Exception) as raised, discarding_unawaited_coroutines():
            _ = hero.team
        assert is_missing_greenlet(raised.value)
        await session.delete(hero)
        await session.commit()
    await reset_schema(engine)


async def test_a_failure_to_connect_is_flagged_as_a_lost_connection(tmp_path: Path) -> None:
    # The same server (or a SQLite file that cannot be opened), a database that does not exist: the driver's
    # error says so in its own terms (asyncpg: a plain DBAPIError); the engine flags it as connection trouble.
    configured = database_url()
    if configured.get_backend_name() == "sqlite":
        (tmp_path / "a-folder.db").mkdir()
        missing = configured.set(database=str(tmp_path / "a-folder.db"))
    else:
        missing = configured.set(database=f"{configured.database}_missing_{os.getpid()}")
    engine = make_engine(missing, poolclass=NullPool)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with engine.connect():
                pass  # pragma: no cover
    finally:
        await engine.dispose()
    assert raised.value.connection_invalidated, repr(raised.value)


async def test_a_statement_cancelled_on_sqlite_leaves_the_database_unlocked(tmp_path: Path) -> None:
    """A task cancelled while its transaction has written and a statement runs: the write lock is released at once.

    aiosqlite runs the statement in a thread of its own, so it goes on after the cancel, and the connection is
    then closed. On a SQLite file whatever the configured backend.
    """
    path = tmp_path / "cancelled.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    slow_statement_sent = asyncio.Event()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _watch(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("WITH RECURSIVE"):
            slow_statement_sent.set()

    async def write_then_query_slowly() -> None:
        async with make_sessionmaker(engine)() as session:
            session.add(Hero(name="Never committed", secret_name="x"))
            await session.flush()  # the transaction holds SQLite's write lock from here
            await session.exec(text(SLOW_SQLITE_QUERY))

    task = asyncio.create_task(write_then_query_slowly())
    await asyncio.wait_for(slow_statement_sent.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    try:
        probe = sqlite3.connect(path, timeout=0)  # does not wait for a lock: fails if one is held
        try:
            probe.execute("BEGIN IMMEDIATE")
            assert probe.execute("SELECT count(*) FROM hero").fetchone() == (0,)
            probe.execute("ROLLBACK")
        finally:
            probe.close()
        assert engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


#: Counts to five million in SQLite itself: a statement that runs for a good fraction of a second.
SLOW_SQLITE_QUERY = (
    "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 5000000) "
    "SELECT count(*) FROM numbers"
)
