"""Every lesson runs cleanly in a real JupyterLab, cell by cell, as a learner runs it.

For each notebook: open it in JupyterLab (headless Chromium), wait for its kernel, run every code cell one by
one, and fail on an error in a cell not tagged ``raises-exception``, a tagged cell that did not raise, any
output on stderr, a code cell left unexecuted, a Mermaid diagram that did not render, or a dialog. A
screenshot of the whole notebook is stored in ``artifacts/screenshots/`` (git-ignored) for a person to look at.

    pytest tests/e2e -m e2e
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.jupyterlab import (
    JupyterLab,
    NotebookRun,
    check_outputs,
    mermaid_block_count,
    run_notebook,
    save_screenshot,
    shutdown_kernel,
)

pytestmark = pytest.mark.e2e

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def run_and_capture(page: Any, lab: JupyterLab, notebook: Path, screenshot: Path) -> NotebookRun:
    """Run ``notebook`` in ``lab``, store its screenshot, stop its kernel."""
    relative = notebook.relative_to(lab.root).as_posix()
    expected = mermaid_block_count(json.loads(notebook.read_text()))
    try:
        run = run_notebook(page, lab, relative, expected)
    except Exception:
        with contextlib.suppress(Exception):  # the harness's own error matters more than the picture
            save_screenshot(page, relative, screenshot.with_suffix(".failed.png"))
        raise
    try:
        run.screenshot_height = save_screenshot(page, relative, screenshot)
    finally:
        shutdown_kernel(page, relative)
    return run


def failure_report(run: NotebookRun, page: Any, lab: JupyterLab) -> str:
    """What went wrong, for the assertion message: the problems, the page's JavaScript errors, the server log."""
    lines = [f"{run.path}: {len(run.problems)} problem(s) a learner would see:"]
    lines += [f"  - {problem}" for problem in run.problems]
    if page.errors:
        lines.append(f"JavaScript errors in the page: {page.errors[:5]}")
    lines.append(f"JupyterLab log (tail):\n{lab.log_tail(15)}")
    return "\n".join(lines)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_cell_by_cell_in_jupyterlab(notebook: Path, lab: JupyterLab, page: Any) -> None:
    screenshot = SCREENSHOTS / f"{notebook.stem}.png"
    run = run_and_capture(page, lab, notebook, screenshot)
    print(
        f"{notebook.name}: {run.code_cells} code cells, {run.mermaid_rendered}/{run.mermaid_expected} diagrams, "
        f"{run.seconds:.1f} s; screenshot {screenshot.relative_to(ROOT)} ({run.screenshot_height} px)"
    )
    assert Path(run.kernel_prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the notebook's kernel runs in {run.kernel_prefix}, not in this environment ({sys.prefix})"
    )
    # The root conftest.py exported the scratch database; the kernel must have inherited it.
    assert run.kernel_database_url == os.environ["HEROES_DATABASE_URL"], "the kernel does not use the scratch database"
    assert not run.problems, failure_report(run, page, lab)
    # The exercises as a learner meets them: every check unsolved, every solution folded.
    cells = nbformat.read(notebook, as_version=4).cells
    checks = sum("exercise-check" in cell.metadata.get("tags", []) for cell in cells)
    solutions = sum("solution" in cell.metadata.get("tags", []) for cell in cells)
    assert run.check_verdicts == [f"Exercise {n}: not solved yet" for n in range(1, checks + 1)], run.check_verdicts
    assert (run.solutions_shown, run.solutions_open) == (solutions, 0), "each solution renders as a folded <details>"


@pytest.mark.no_database
def test_there_are_notebooks_to_drive() -> None:
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


# --- The harness itself: a notebook with one of each fault must fail with each one named --------------------


def faulty_notebook() -> nbformat.NotebookNode:
    """One of each fault the test must catch, beside cells that are fine."""
    cell = nbformat.v4.new_code_cell
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("```mermaid\nflowchart LR\n  A --> B\n```"),
            nbformat.v4.new_markdown_cell("```mermaid\nflowchart LR\n  A --> ((( B\n```"),
            cell("print('fine')"),
            cell("1 / 0"),
            cell("x = 1", metadata={"tags": ["raises-exception"]}),
            cell("import sys\n\nprint('careful', file=sys.stderr)"),
            cell("raise ValueError('expected')", metadata={"tags": ["raises-exception"]}),
            cell("print('after the errors')"),
            cell("import os\n\nos._exit(1)"),  # the kernel dies, and JupyterLab says so in a dialog
            cell("print('never runs')"),
        ]
    )
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return notebook


@pytest.mark.no_database
def test_check_outputs_names_each_fault() -> None:
    error = {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": []}
    stderr = {"output_type": "stream", "name": "stderr", "text": "careful\n"}
    assert check_outputs(3, [], [{"output_type": "stream", "name": "stdout", "text": "ok"}]) == []
    assert check_outputs(3, ["raises-exception"], [error]) == []
    assert "unexpected ZeroDivisionError" in check_outputs(3, [], [error])[0]
    assert "did not raise" in check_outputs(3, ["raises-exception"], [])[0]
    assert "stderr" in check_outputs(3, [], [stderr])[0]
    assert check_outputs(3, ["shows-warning"], [stderr]) == []
    assert "wrote nothing to stderr" in check_outputs(3, ["shows-warning"], [])[0]


@pytest.mark.no_database
def test_harness_reports_every_fault_of_a_faulty_notebook(tmp_path: Path, browser: Any) -> None:
    root = tmp_path / "course"
    root.mkdir()
    notebook = faulty_notebook()
    nbformat.write(notebook, root / "99_faulty.ipynb")
    with JupyterLab(root=root, home=tmp_path / "jupyter") as lab:
        context = browser.new_context()
        page = context.new_page()
        page.errors = []
        try:
            run = run_and_capture(page, lab, root / "99_faulty.ipynb", tmp_path / "faulty.png")
        finally:
            context.close()
    problems = "\n".join(run.problems)
    assert "cell 3 `1 / 0`: unexpected ZeroDivisionError" in problems
    assert "cell 4 [raises-exception] `x = 1`: tagged raises-exception but did not raise" in problems
    assert "cell 5 `import sys`: wrote to stderr: 'careful'" in problems
    assert "Mermaid diagram failed to render" in problems
    assert "1 of 2 Mermaid diagrams rendered" in problems
    assert "cell 8 `import os`: a dialog opened" in problems
    assert "cell 8 `import os`: left unexecuted" in problems  # it never finished
    assert "cell 9 `print('never runs')`: left unexecuted" in problems
    assert len(run.problems) == 8, problems
    assert run.code_cells == 8
    assert (tmp_path / "faulty.png").stat().st_size > 10_000
