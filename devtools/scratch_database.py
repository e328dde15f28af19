"""Throw-away databases beside the configured one, for test runs and benchmarks (never for the course itself).

A scratch database lives on the same server as the database ``HEROES_DATABASE_URL`` names, with the same
driver and account (``<name>_<label>_<pid>``), or for SQLite in a file in a temporary folder, so a run never
touches the course's own data. It is dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from heroes_lib.db import check_connection, make_engine
from heroes_lib.settings import display_url

#: Seconds to wait for the server when creating or dropping a database.
ADMIN_TIMEOUT = 10


@dataclass(frozen=True)
class ScratchDatabase:
    """A database made for one run: its URL, and what ``drop`` needs to remove it."""

    url: URL
    admin_url: URL | None  # the configured database, used to drop a server-side scratch database
    folder: Path | None  # the temporary folder of a SQLite scratch file

    @property
    def url_text(self) -> str:
        """The URL as text, password included (for ``HEROES_DATABASE_URL`` in a child process)."""
        return self.url.render_as_string(hide_password=False)

    @property
    def display(self) -> str:
        """The URL as it may be shown to a person (password masked)."""
        return display_url(self.url)

    @classmethod
    async def create(cls, configured: URL, label: str, timeout: float = ADMIN_TIMEOUT) -> ScratchDatabase:
        """Create an empty scratch database beside ``configured``; ``label`` (letters, digits) names it.

        Raises ``heroes_lib.db.DatabaseUnavailableError`` when the server cannot be reached.
        """
        if configured.get_backend_name() == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix=f"heroes-{label}-"))
            return cls(configured.set(database=str(folder / "heroes.db")), None, folder)
        # The process id keeps concurrent runs against one server apart.
        name = f"{configured.database}_{label}_{os.getpid()}".replace("-", "_")
        return cls(await create_database(configured, name, timeout), configured, None)

    async def drop(self, timeout: float = ADMIN_TIMEOUT) -> None:
        """Remove the scratch database and everything in it."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.admin_url is not None:
            await drop_database(self.admin_url, self.url.database or "", timeout)


@asynccontextmanager
async def scratch_database(configured: URL, label: str) -> AsyncIterator[URL]:
    """Yield the URL of an empty scratch database beside ``configured``; drop it afterwards."""
    scratch = await ScratchDatabase.create(configured, label)
    try:
        yield scratch.url
    finally:
        await scratch.drop()


async def create_database(server_url: URL, name: str, timeout: float = ADMIN_TIMEOUT) -> URL:
    """Create an empty database ``name`` on the server ``server_url`` points at, and return its URL.

    A database of that name is dropped first, so a run that crashed cannot leave stale tables behind.
    PostgreSQL and MySQL/MariaDB only: a SQLite database is a file, made by connecting to it. Raises
    ``DatabaseUnavailableError`` when the server cannot be reached within ``timeout`` seconds.
    """
    await _run_server_statements(server_url, [_drop_database_sql(server_url, name), f"CREATE DATABASE {name}"], timeout)
    return server_url.set(database=name)


async def drop_database(server_url: URL, name: str, timeout: float = ADMIN_TIMEOUT) -> None:
    """Drop the database ``name`` (and close its connections on PostgreSQL) if it exists."""
    await _run_server_statements(server_url, [_drop_database_sql(server_url, name)], timeout)


def _drop_database_sql(server_url: URL, name: str) -> str:
    if server_url.get_backend_name() == "postgresql":
        return f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"  # other sessions would otherwise block it
    return f"DROP DATABASE IF EXISTS {name}"


async def _run_server_statements(server_url: URL, statements: list[str], timeout: float) -> None:
    if server_url.get_backend_name() == "sqlite":
        raise ValueError("SQLite has no server to create databases on: a SQLite database is a file")
    # AUTOCOMMIT: CREATE and DROP DATABASE cannot run inside a transaction on PostgreSQL.
    engine = make_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        await check_connection(engine, timeout=timeout)
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
