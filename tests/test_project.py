"""The install is reproducible and the notebooks are stored executed.

- pip (README, pyproject.toml), conda (environment.yml) and CI install from one lock file, and the
  versions installed here are exactly the locked ones (stored outputs are compared text-for-text).
- Every notebook is stored as one top-to-bottom run: no unexecuted cell, no stray error, no volatile
  metadata. Whether the stored outputs are current is checked by nbval, which re-runs each notebook.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.no_database

ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = "requirements.lock"
#: What a learner installs (README's quickstart, environment.yml) and what the project's own checks install.
INSTALL_COMMAND = f'pip install -c {LOCK_FILE} -e ".[course]"'
TEST_INSTALL_COMMAND = f'pip install -c {LOCK_FILE} -e ".[dev]"'
#: The project's own tools: the learner's install leaves them out.
DEVELOPER_TOOLS = ("playwright", "schemathesis", "ruff", "mypy", "psycopg", "beautifulsoup4", "nbconvert")
TEST_COMMAND = "pytest"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED_ERROR_TAGS = {"raises-exception"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared_requirements() -> list[Requirement]:
    project = pyproject()["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["course"]]


def locked_requirements() -> dict[str, Requirement]:
    locked = {}
    for line in (ROOT / LOCK_FILE).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            locked[canonicalize_name(requirement.name)] = requirement
    return locked


def pinned_version(requirement: Requirement) -> Version:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==", f"{requirement} is not pinned with =="
    return Version(specifier.version)


def test_every_declared_dependency_is_pinned_in_the_lock() -> None:
    locked = locked_requirements()
    assert locked, f"{LOCK_FILE} is empty"
    for requirement in declared_requirements():
        pinned = locked.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is declared in pyproject.toml but not locked"
        assert requirement.specifier.contains(pinned_version(pinned), prereleases=True), (
            f"{LOCK_FILE} pins {pinned}, outside pyproject.toml's {requirement}"
        )
    assert "greenlet" in locked, "sqlalchemy[asyncio] needs greenlet, which SQLAlchemy 2.1 no longer installs"


def test_installed_versions_are_exactly_the_locked_ones() -> None:
    environment = default_environment()
    mismatches = []
    for name, requirement in locked_requirements().items():
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            mismatches.append(f"{name}: not installed")
            continue
        if installed != pinned_version(requirement):
            mismatches.append(f"{name}: installed {installed}, locked {pinned_version(requirement)}")
    assert not mismatches, f"reinstall with `{TEST_INSTALL_COMMAND}`:\n" + "\n".join(mismatches)


def test_conda_environment_installs_the_same_pins_and_python() -> None:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    (pip_section,) = [entry["pip"] for entry in dependencies if isinstance(entry, dict)]
    assert pip_section == [f"-c {LOCK_FILE}", "-e .[course]"], "environment.yml must install what pip does"
    (python,) = [entry for entry in dependencies if isinstance(entry, str) and entry.startswith("python=")]
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(python.removeprefix("python="))
    assert "pip" in dependencies


def test_readme_and_ci_use_the_same_install_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert INSTALL_COMMAND in readme, "README's quickstart installs the learner's extra"
    assert TEST_INSTALL_COMMAND in readme and TEST_INSTALL_COMMAND in ci
    assert "bash scripts/start_databases.sh" in readme and "bash scripts/start_databases.sh" in ci
    assert re.search(rf"^{TEST_COMMAND}$", readme, re.MULTILINE), "README gives the test command on a line of its own"
    assert re.search(rf"\b{TEST_COMMAND}\b", ci)
    assert "conda env create -f environment.yml" in readme


def test_the_learners_install_leaves_out_the_projects_own_tools() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    learner = {canonicalize_name(Requirement(text).name) for text in extras["course"]}
    assert learner.isdisjoint(DEVELOPER_TOOLS), sorted(learner & set(DEVELOPER_TOOLS))
    assert "heroes-course[course]" in extras["dev"], "the checks install everything a learner has, and more"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_is_stored_as_one_clean_top_to_bottom_run(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    assert code_cells, "a lesson without code"
    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{path.name} was not stored from one top-to-bottom run (execution counts {counts}); "
        "run scripts/regenerate_notebooks.py"
    )
    for number, cell in enumerate(code_cells, 1):
        assert "execution" not in cell.metadata, f"cell {number}: volatile timing metadata"
        tagged = EXPECTED_ERROR_TAGS & set(cell.metadata.get("tags", []))
        errors = [output for output in cell.outputs if output.output_type == "error"]
        if tagged:
            assert errors, f"cell {number} is tagged raises-exception but stored no error"
        else:
            assert not errors, f"cell {number} stored an unexpected {errors[0].ename}"
