"""Re-execute the course notebooks and store their outputs, deterministically.

    python scripts/regenerate_notebooks.py               # every notebook in notebooks/
    python scripts/regenerate_notebooks.py notebooks/03_async_crud.ipynb

Runs each notebook top to bottom in a fresh kernel (nbclient), in the notebook's folder, on a fresh SQLite
database in a temporary folder (``HEROES_DATABASE_URL`` is ignored: the stored outputs are the SQLite
ones, and the course's own database is left alone), and
writes it back without volatile metadata (no execution timestamps), so that an unchanged notebook
produces an unchanged file. Cells tagged ``raises-exception`` may raise; any other error stops the run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 600


def kernel_environment(database_folder: Path) -> None:
    """Settings that keep outputs stable; the kernel inherits them from this process."""
    os.environ["HEROES_DATABASE_URL"] = f"sqlite+aiosqlite:///{database_folder / 'heroes.db'}"
    # Warnings name the cell as <IPY-INPUT> instead of a temporary ipykernel_<pid>/ path.
    os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"


def clean(notebook: nbformat.NotebookNode) -> None:
    """Drop metadata that changes from run to run, and store each cell's printed text as one piece.

    How a cell's prints arrive split into stream messages depends on timing; merged, the same output is
    stored the same way on every run (nbval merges them too before comparing).
    """
    CoalesceStreamsPreprocessor().preprocess(notebook, {})
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)


def regenerate(path: Path) -> float:
    """Execute one notebook in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    client.execute()
    clean(notebook)
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all)")
    args = parser.parse_args(argv)
    paths = [path.resolve() for path in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for number, path in enumerate(paths, 1):
        print(f"[{number}/{len(paths)}] {path.relative_to(ROOT)} ...", end=" ", flush=True)
        # A fixed folder per notebook: the database path a lesson may print is the same on every run.
        folder = Path(tempfile.gettempdir()) / "heroes-course-regenerate" / path.stem
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            kernel_environment(folder)
            seconds = regenerate(path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"done in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
