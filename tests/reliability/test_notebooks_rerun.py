"""Notebooks are idempotent: each passes nbval twice in a row against the same database, in reverse order.

Runs an inner ``pytest --nbval`` over every lesson, last lesson first, each listed twice. The inner run
gets its own scratch database beside the outer one (the root conftest), shared by all of its notebooks,
so a lesson that depended on a fresh database, on another lesson having run first, or on its own earlier
run would fail here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.reliability


def test_every_notebook_passes_twice_in_a_row_in_reverse_order() -> None:
    assert NOTEBOOKS
    arguments = [str(path) for path in reversed(NOTEBOOKS) for _ in range(2)]
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--keep-duplicates",
            "-o",
            "addopts=",
            "--nbval",
            "--nbval-current-env",
            "--nbval-cell-timeout=120",
            *arguments,
        ],
        cwd=ROOT,
        env={**os.environ, "HEROES_REQUIRE_DATABASE": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr[-2000:]
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
