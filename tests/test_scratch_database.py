"""devtools.scratch_database: throw-away databases beside the configured one, for test runs and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from devtools.scratch_database import ScratchDatabase, create_database, drop_database, scratch_database
from heroes_lib.db import DatabaseUnavailableError, check_connection, make_engine
from heroes_lib.schema import table_names
from heroes_lib.settings import database_url

on_a_server = pytest.mark.skipif(
    database_url().get_backend_name() == "sqlite", reason="SQLite has no server to create databases on"
)


@pytest.mark.no_database
async def test_create_database_refuses_sqlite(tmp_path: Path) -> None:
    url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="SQLite has no server"):
        await create_database(url, "never_made")
    with pytest.raises(ValueError, match="SQLite has no server"):
        await drop_database(url, "never_made")


@on_a_server
async def test_create_database_makes_an_empty_database_beside_the_configured_one_and_drop_removes_it() -> None:
    configured = database_url()
    name = f"{configured.database}_created_{os.getpid()}"
    created = await create_database(configured, name)
    assert created.database == name and created.host == configured.host
    engine = make_engine(created, poolclass=NullPool)
    try:
        assert await table_names(engine) == []
    finally:
        await engine.dispose()
    await drop_database(configured, name)
    await drop_database(configured, name)  # dropping a database that is gone is not an error
    await assert_gone(created)


async def assert_gone(url: URL) -> None:
    gone = make_engine(url, poolclass=NullPool)
    try:
        with pytest.raises(DatabaseUnavailableError):
            await check_connection(gone, timeout=5)
    finally:
        await gone.dispose()


@pytest.mark.no_database
async def test_a_sqlite_scratch_database_is_a_file_in_a_temporary_folder_removed_at_the_end(tmp_path: Path) -> None:
    configured = make_url(f"sqlite+aiosqlite:///{tmp_path / 'course.db'}")
    async with scratch_database(configured, label="check") as url:
        folder = Path(url.database or "").parent
        assert folder.name.startswith("heroes-check-") and folder != tmp_path
        engine = make_engine(url)
        try:
            assert await table_names(engine) == []
        finally:
            await engine.dispose()
    assert not folder.exists() and not (tmp_path / "course.db").exists()


@on_a_server
async def test_a_server_scratch_database_is_named_after_the_configured_one_and_dropped_at_the_end() -> None:
    configured = database_url()
    scratch = await ScratchDatabase.create(configured, label="check")
    try:
        assert scratch.url.database == f"{configured.database}_check_{os.getpid()}"
        assert scratch.url.host == configured.host and scratch.folder is None
    finally:
        await scratch.drop()
    await assert_gone(scratch.url)
