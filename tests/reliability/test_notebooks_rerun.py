"""Notebooks are idempotent: each passes nbval twice in a row against the same database, and in either order.

Runs one inner ``pytest --nbval`` over every lesson: first in reverse order, last lesson first, each listed
twice; then once more in course order, so that each lesson also runs right after a lower-numbered one.
The inner run gets its own scratch database beside the outer one (the root conftest), shared by all of its
notebooks, so a lesson that depended on a fresh database, on the lessons before or after it having run or
not, or on its own earlier run would fail here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.reliability


def run_order(notebooks: list[Path]) -> list[Path]:
    """Each lesson twice in a row, last lesson first; then each once, first lesson first."""
    return [path for path in reversed(notebooks) for _ in range(2)] + notebooks


def runs_in(junit_report: Path) -> list[str]:
    """The notebooks an inner ``pytest --nbval`` ran, in order, from its JUnit report: a run begins at ``Cell 0``."""
    cases = ElementTree.parse(junit_report).iter("testcase")
    return [case.get("classname", "") for case in cases if case.get("name") == "Cell 0"]


def test_every_notebook_passes_twice_in_a_row_in_reverse_then_in_course_order(tmp_path: Path) -> None:
    assert len(NOTEBOOKS) > 1
    order = run_order(NOTEBOOKS)
    arguments = [str(path) for path in order]
    report = tmp_path / "inner-run.xml"
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
            f"--junitxml={report}",  # lists the cells run, in order
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
    # Every run listed happened, in the order listed (pytest would otherwise drop duplicates).
    assert runs_in(report) == [f"notebooks.{path.name}" for path in order]
