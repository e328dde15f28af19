"""Create and drop a throw-away database next to the configured one, on any of the three backends."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import URL

from heroes_lib.db import DatabaseUnavailableError, create_database, drop_database
from heroes_lib.settings import database_url, display_url

CONNECT_TIMEOUT = 10
T = TypeVar("T")


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
        return cls(_on_server(create_database(configured, name, CONNECT_TIMEOUT)), configured, None)

    def drop(self) -> None:
        """Remove the scratch database and everything in it."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.admin_url is not None:
            _on_server(drop_database(self.admin_url, self.url.database or "", CONNECT_TIMEOUT))


def _on_server(operation: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(operation)
    except DatabaseUnavailableError as exc:
        raise ScratchDatabaseUnavailable(str(exc)) from None
