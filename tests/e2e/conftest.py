"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per test session.

The tests here are marked ``e2e``: they need Debian's ``chromium`` and Playwright for Python, so a plain
``pytest`` leaves them out (pyproject's addopts) and ``pytest -m e2e -n 0`` (CI) runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.jupyterlab import CHROMIUM, VIEWPORT, JupyterLab, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium for the whole session (Debian's package; ``playwright install`` is not needed)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright  # imported here: a plain `pytest` run does not need it

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in a context of its own; ``page.errors`` collects the page's JavaScript errors."""
    context = browser.new_context(viewport=dict(VIEWPORT))
    page = context.new_page()
    page.errors = []  # JavaScript errors, shown when a test fails
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def files_under(folder: Path) -> set[Path]:
    """Every file and folder below ``folder``, relative to the repository."""
    return {path.relative_to(ROOT) for path in folder.rglob("*")}


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab serving the repository, as a learner starts it; kernels inherit the scratch database.

    The kernels run in ``notebooks/`` and JupyterLab writes its checkpoints there: at the end, nothing new may
    be left in that folder.
    """
    before = files_under(NOTEBOOKS)
    with JupyterLab(root=ROOT, home=tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server
    left = sorted(str(path) for path in files_under(NOTEBOOKS) - before)
    assert not left, f"the notebooks left files in the repository: {left}"
