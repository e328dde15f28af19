"""Create and drop a throw-away database next to the configured one, on any of the three backends."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from heroes_lib.db import DatabaseUnavailableError, check_connection, make_engine
from heroes_lib.settings import database_url, display_url

CONNECT_TIMEOUT = 10


class ScratchDatabaseUnavailable(RuntimeError):
    """The configured database server could not be reached (message: one line, password masked)."""


@dataclass
class ScratchDatabase:
    """A database created for one test session: its URL, and how to drop it."""

    url: URL
    admin_url: URL | None  # the configured database, used to drop a server-side scratch database
    folder: Path | None  # the temporary folder of a SQLite scratch file

    @property
    def url_text(self) -> str:
        return self.url.render_as_string(hide_password=False)

    @property
    def display(self) -> str:
        return display_url(self.url)

    @classmethod
    def create(cls, suffix: str) -> ScratchDatabase:
        """Create an empty scratch database for the configured backend."""
        configured = database_url()
        if configured.get_backend_name() == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="heroes-test-"))
            return cls(configured.set(database=str(folder / "heroes.db")), None, folder)
        # The process id keeps concurrent runs against one server apart.
        name = f"{configured.database}_heroes_{suffix}_{os.getpid()}".replace("-", "_")
        asyncio.run(_run_admin(configured, [_drop_statement(configured, name), f"CREATE DATABASE {name}"]))
        return cls(configured.set(database=name), configured, None)

    def drop(self) -> None:
        """Remove the scratch database and everything in it."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.admin_url is not None:
            asyncio.run(_run_admin(self.admin_url, [_drop_statement(self.admin_url, self.url.database or "")]))


def _drop_statement(url: URL, name: str) -> str:
    if url.get_backend_name() == "postgresql":
        return f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    return f"DROP DATABASE IF EXISTS {name}"


async def _run_admin(url: URL, statements: list[str]) -> None:
    engine = make_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        await check_connection(engine, timeout=CONNECT_TIMEOUT)
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    except DatabaseUnavailableError as exc:
        raise ScratchDatabaseUnavailable(str(exc)) from None
    finally:
        await engine.dispose()
