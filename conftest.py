"""Point every test and notebook run by pytest at a scratch database of its own.

The scratch database lives beside the one ``HEROES_DATABASE_URL`` names (same server, same driver; for
SQLite a file in a temporary folder), so a run never touches the course's own data and "leaves the
database as it found it". It is created when the session starts, exported as ``HEROES_DATABASE_URL``
(notebook kernels inherit it) and dropped at the end. Each pytest-xdist worker gets its own.

If the server cannot be reached, the database tests and notebooks are skipped with a one-line reason,
or fail when ``HEROES_REQUIRE_DATABASE=1``.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from devtools.scratch_database import ScratchDatabase
from heroes_lib.db import DatabaseUnavailableError
from heroes_lib.settings import DatabaseURLError, database_url

REQUIRE_ENV = "HEROES_REQUIRE_DATABASE"

_scratch: ScratchDatabase | None = None
_unavailable: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _scratch, _unavailable
    # Warnings in notebook outputs name the cell <IPY-INPUT> rather than a temporary path (see GUIDE).
    os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    if config.option.collectonly or _scratch is not None:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        _scratch = asyncio.run(ScratchDatabase.create(database_url(), label=f"tests_{worker}"))
    except DatabaseURLError as exc:
        # A mistake in HEROES_DATABASE_URL stops the run with its own message (which lists the accepted forms).
        raise pytest.UsageError(str(exc)) from None
    except DatabaseUnavailableError as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            raise pytest.UsageError(f"{REQUIRE_ENV}=1 but the database is unavailable: {exc}") from None
        _unavailable = str(exc)
        return
    os.environ["HEROES_DATABASE_URL"] = _scratch.url_text


def pytest_unconfigure(config: pytest.Config) -> None:
    global _scratch
    if _scratch is not None:
        asyncio.run(_scratch.drop())
        _scratch = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _unavailable is None:
        return
    skip = pytest.mark.skip(reason=f"database unavailable: {_unavailable}")
    for item in items:
        if "no_database" not in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str:
    if _scratch is not None:
        return f"database: {_scratch.display} (scratch, dropped at exit)"
    return f"database: unavailable ({_unavailable})"
