"""A password in HEROES_DATABASE_URL appears in no notebook output, including the outputs nbval ignores.

Every lesson is executed with a URL whose password is a marker string; every output it produces (streams,
rich data, error names, messages and tracebacks) is searched for it. PostgreSQL here trusts loopback
connections, so any password is accepted; on MariaDB a user with that password is created for the run
(``tests/reliability/passwords.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from heroes_lib.settings import DATABASE_URL_ENV
from tests.reliability import passwords

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SECRET = "Pa55-w0rd-that-must-never-show"

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def url_with_password() -> Iterator[str]:
    """The scratch database's URL with a password in it that the server accepts (skipped on SQLite)."""
    with passwords.url_with_password(SECRET) as url:
        yield url


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
