"""A password in HEROES_DATABASE_URL appears in no notebook output, including the outputs nbval ignores.

Every lesson is executed with a URL whose password is a marker string; every output it produces (streams,
rich data, error names, messages and tracebacks) is searched for it. PostgreSQL here trusts loopback
connections, so any password is accepted; on MariaDB a user with that password is created for the run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from heroes_lib.db import make_engine
from heroes_lib.settings import DATABASE_URL_ENV, database_url

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SECRET = "Pa55-w0rd-that-must-never-show"
MARIADB_USER = "heroes_secret_test"

pytestmark = pytest.mark.reliability


async def _execute_admin(url: URL, statements: list[str]) -> None:
    engine = make_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def url_with_password() -> Iterator[str]:
    """The scratch database's URL with a password in it that the server accepts."""
    configured = database_url()
    backend = configured.get_backend_name()
    if backend == "sqlite":
        pytest.skip("a SQLite URL has no password")
    if backend == "postgresql":
        yield configured.set(password=SECRET).render_as_string(hide_password=False)
        return
    grant = [
        f"DROP USER IF EXISTS '{MARIADB_USER}'@'%'",
        f"CREATE USER '{MARIADB_USER}'@'%' IDENTIFIED BY '{SECRET}'",
        f"GRANT ALL PRIVILEGES ON `{configured.database}`.* TO '{MARIADB_USER}'@'%'",
    ]
    asyncio.run(_execute_admin(configured, grant))
    try:
        yield configured.set(username=MARIADB_USER, password=SECRET).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute_admin(configured, [f"DROP USER IF EXISTS '{MARIADB_USER}'@'%'"]))


def all_output_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook's code cells printed, displayed or raised, as one string."""
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_no_output_shows_the_password(path: Path, url_with_password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, url_with_password)
    monkeypatch.setenv("IPYKERNEL_CELL_NAME", "<IPY-INPUT>")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    outputs = all_output_text(notebook)
    assert os.environ[DATABASE_URL_ENV] == url_with_password
    assert outputs, "the notebook produced no output at all"
    assert SECRET not in outputs
