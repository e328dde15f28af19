"""Alembic's environment for the course: the models' metadata, and an async engine on ``HEROES_DATABASE_URL``.

Three ways in, one place where migrations run (``do_run_migrations``, on a synchronous ``Connection``):

- the ``alembic`` command line: no event loop is running, so ``asyncio.run`` starts one for an async engine
  (Alembic's async template);
- Alembic's Python API from async code (a notebook cell, an async test): the caller passes a connection in
  ``config.attributes["connection"]`` from ``await async_connection.run_sync(...)`` (Alembic's cookbook,
  "connection sharing"), or runs the command in a thread with ``await asyncio.to_thread(...)``;
- offline mode (``alembic upgrade head --sql``): SQL is written out instead of run.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import heroes_lib.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from heroes_lib.db import DatabaseUnavailableError, check_connection, make_engine
from heroes_lib.settings import DatabaseURLError, database_url

config = context.config

# The command line logs what it does; programs that call the API pass attributes["configure_logger"] = False
# to keep their own logging (Alembic's cookbook).
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# The models' tables: what autogenerate and ``alembic check`` compare the database with. Code calling the API may
# compare with another MetaData instead (lesson 08 does, to show a model change without editing heroes_lib).
target_metadata = config.attributes.get("target_metadata", SQLModel.metadata)

CONNECT_TIMEOUT = 10


def configured_url() -> URL:
    """``HEROES_DATABASE_URL`` (or the course's SQLite file), checked; a bad URL fails with a readable message."""
    try:
        return database_url()
    except DatabaseURLError as exc:  # the message already masks any password
        raise CommandError(str(exc)) from None


CONFIGURE_OPTIONS = {
    "target_metadata": target_metadata,
    # SQLite cannot ALTER most of a table: batch operations ("with op.batch_alter_table(...)") recreate the table
    # with the change there, and are plain ALTER TABLE statements on PostgreSQL and MySQL/MariaDB. Revisions are
    # written in batch form whichever database they are generated on, so every revision runs on all three.
    "render_as_batch": True,
    # Report changed column types (VARCHAR(100) -> VARCHAR(200)) as differences, not only new or removed columns.
    "compare_type": True,
}


def run_migrations_offline() -> None:
    """Write the migrations' SQL to standard output instead of running it (``alembic upgrade head --sql``)."""
    url = configured_url()
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        context.configure(connection=connection, **CONFIGURE_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    # SQLite: all revisions in one transaction (heroes_lib's engine really begins one, so SQLite's DDL can be
    # rolled back: a failed upgrade leaves nothing half done), with foreign keys off (see below) and checked at the end.
    context.configure(connection=connection, transactional_ddl=True, **CONFIGURE_OPTIONS)
    with sqlite_foreign_keys_off(connection), context.begin_transaction():
        context.run_migrations()
        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if violations:  # raising here rolls the migration back
            raise CommandError(f"the migration left rows that break a foreign key: {violations[:5]}")


def _set_sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # Sent on the driver's connection: through SQLAlchemy it would begin a transaction, where SQLite ignores it.
    cursor = connection.connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


@contextmanager
def sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Switch SQLite's foreign keys off while migrations run, as Alembic's docs advise for batch operations.

    A batch operation rebuilds a table: copy, drop the original, rename the copy. With foreign keys on (heroes_lib
    switches them on), dropping ``hero`` would first delete the rows of ``hero_power`` that point to it (ON DELETE
    CASCADE). SQLite can only switch them off outside a transaction.
    """
    if connection.in_transaction():
        if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise CommandError(
                "on SQLite, Alembic needs a connection outside a transaction (engine.connect(), not engine.begin()) "
                "to switch foreign keys off while it rebuilds tables"
            )
        yield  # the caller switched them off already
        return
    _set_sqlite_foreign_keys(connection, on=False)
    try:
        yield
    finally:
        if connection.in_transaction():  # only reads can be left: the migration committed or rolled back
            connection.rollback()
        _set_sqlite_foreign_keys(connection, on=True)


async def run_async_migrations() -> None:
    """Connect with an async engine and run the migrations through ``run_sync`` (Alembic's async template)."""
    # NullPool: a one-off command keeps no connection open after it finishes.
    engine = make_engine(configured_url(), poolclass=NullPool)
    try:
        try:
            await check_connection(engine, timeout=CONNECT_TIMEOUT)
        except DatabaseUnavailableError as exc:  # one line, password masked
            raise CommandError(str(exc)) from None
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, AsyncConnection):
        raise CommandError(
            'config.attributes["connection"] must be a synchronous Connection: pass the one that '
            "`await async_connection.run_sync(function)` gives to function"
        )
    if connection is not None:
        do_run_migrations(connection)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no event loop running: the command line, or a synchronous program
        asyncio.run(run_async_migrations())
        return
    raise CommandError(
        "asyncio.run() cannot be called from a running event loop: Alembic was called from async code. "
        'Run the command in a thread, `await asyncio.to_thread(command.upgrade, config, "head")`, or pass a '
        'connection in config.attributes["connection"] from `await async_connection.run_sync(...)`.'
    )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
