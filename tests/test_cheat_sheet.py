"""The cheat sheet's sync column is a real program: run against SQLite, it prints what the async column printed.

The async column (the code cells tagged ``async-column``) runs under nbval on every backend like any lesson. Here the
sync column (the Python block of each Markdown cell tagged ``sync-column``), after the shared models (the code cell
tagged ``models``), runs as one script in a fresh interpreter on a new SQLite file; its output must equal the stored
output of the async column, row by row.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CHEAT_SHEET = Path(__file__).resolve().parent.parent / "notebooks" / "12_sync_to_async_cheat_sheet.ipynb"
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)

pytestmark = pytest.mark.no_database


def _tagged(notebook: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if tag in cell.get("metadata", {}).get("tags", [])]


def _printed(cell: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "") for output in cell.get("outputs", []) if output.get("output_type") == "stream"
    )


def test_every_row_has_a_sync_and_an_async_column() -> None:
    notebook = nbformat.read(CHEAT_SHEET, as_version=4)
    sync_rows = _tagged(notebook, "sync-column")
    async_rows = _tagged(notebook, "async-column")
    assert len(sync_rows) == len(async_rows) >= 12
    for markdown in sync_rows:
        assert len(_PYTHON_BLOCK.findall(markdown.source)) == 1, markdown.source[:80]
        assert "**The difference:**" in markdown.source
    for cell in async_rows:
        assert _printed(cell), f"an async row prints what it did: {cell.source[:60]!r}"


def test_the_sync_column_prints_what_the_async_column_printed(tmp_path: Path) -> None:
    notebook = nbformat.read(CHEAT_SHEET, as_version=4)
    (models,) = _tagged(notebook, "models")
    blocks = [_PYTHON_BLOCK.search(cell.source).group(1) for cell in _tagged(notebook, "sync-column")]  # type: ignore[union-attr]
    script = tmp_path / "sync_tutorial.py"
    script.write_text("\n\n\n".join([models.source, *blocks]) + "\n")
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    expected = "".join(_printed(cell) for cell in _tagged(notebook, "async-column"))
    assert run.stdout.splitlines() == expected.splitlines()
