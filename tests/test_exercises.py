"""Every lesson's exercises, proven both ways on the configured database (``pytest -m exercises -n 0``).

Each lesson with exercises is executed in a fresh kernel:

- as stored: every check says ``not solved yet`` (the learner has not written anything);
- with each ``exercise`` cell replaced by the code of the ``solution`` cell after it: every check says ``solved``;
- with each exercise's likely mistakes (``heroes_lib.exercises.lesson_NN``) swapped in: every check says
  ``not solved yet`` and gives that mistake's hint;
- with the solution of the previous exercise swapped in: not accepted.

The stored check outputs are also read without running anything (everyday suite): each says ``not solved yet``.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from heroes_lib.exercises import NOT_SOLVED, SOLVED, Exercise

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 300

EXERCISE, CHECK, SOLUTION = "exercise", "exercise-check", "solution"
_SOLUTION_CODE = re.compile(r"```python\n(.*?)\n```", re.DOTALL)
_VERDICT = re.compile(r"^Exercise (\d+): (solved|not solved yet)$", re.MULTILINE)


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


@dataclass
class Lesson:
    """A lesson's notebook with the positions of its exercise, check and solution cells, in order."""

    path: Path
    notebook: nbformat.NotebookNode
    exercise_cells: list[int]
    check_cells: list[int]
    solutions: list[str]
    exercises: tuple[Exercise, ...]

    @classmethod
    def read(cls, path: Path) -> Lesson:
        notebook = nbformat.read(path, as_version=4)
        cells = notebook.cells
        exercise_cells = [i for i, cell in enumerate(cells) if EXERCISE in _tags(cell)]
        check_cells = [i for i, cell in enumerate(cells) if CHECK in _tags(cell)]
        solution_cells = [i for i, cell in enumerate(cells) if SOLUTION in _tags(cell)]
        solutions = []
        for index in solution_cells:
            found = _SOLUTION_CODE.search(cells[index].source)
            assert found, f"{path.name} cell {index}: a solution cell holds one fenced python block"
            solutions.append(found.group(1))
        module = importlib.import_module(f"heroes_lib.exercises.lesson_{path.name[:2]}")
        return cls(path, notebook, exercise_cells, check_cells, solutions, tuple(module.EXERCISES))

    def with_cells(self, codes: list[str | None]) -> nbformat.NotebookNode:
        """A copy whose k-th exercise cell holds ``codes[k]`` (kept as stored where it is None)."""
        copy = nbformat.from_dict(self.notebook)
        for index, code in zip(self.exercise_cells, codes, strict=True):
            if code is not None:
                copy.cells[index].source = code
        return copy

    def run(self, notebook: nbformat.NotebookNode) -> list[str]:
        """Execute the notebook in a fresh kernel and return each check cell's printed text."""
        client = NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(self.path.parent)}},
        )
        try:
            client.execute()
        except CellExecutionError as error:
            pytest.fail(f"{self.path.name}: a cell failed\n{error}")
        texts = []
        for index in self.check_cells:
            outputs = notebook.cells[index].get("outputs", [])
            texts.append("".join(output.get("text", "") for output in outputs if output.get("output_type") == "stream"))
        return texts


def _lessons_with_exercises() -> list[Path]:
    return [path for path in LESSONS if any(EXERCISE in _tags(cell) for cell in nbformat.read(path, 4).cells)]


def _verdict(text: str) -> tuple[int, str]:
    found = _VERDICT.match(text)
    assert found, f"a check prints 'Exercise N: solved' or 'Exercise N: not solved yet' first, not {text!r}"
    return int(found.group(1)), found.group(2)


@pytest.mark.no_database
@pytest.mark.parametrize("path", _lessons_with_exercises(), ids=lambda path: path.name[:2])
def test_each_exercise_has_its_cells_its_check_and_a_mistake(path: Path) -> None:
    lesson = Lesson.read(path)
    count = len(lesson.exercises)
    assert len(lesson.exercise_cells) == len(lesson.check_cells) == len(lesson.solutions) == count
    assert [exercise.number for exercise in lesson.exercises] == list(range(1, count + 1))
    assert all(exercise.mistakes for exercise in lesson.exercises), "each exercise keeps its likely mistake"
    cells = lesson.notebook.cells
    for number, (exercise, check) in enumerate(zip(lesson.exercise_cells, lesson.check_cells, strict=True), 1):
        assert exercise < check, f"exercise {number}: its check comes after it"
        assert cells[check].source.strip() == f"await exercise_{number}.check()"
        assert _tags(cells[check + 1]) == [SOLUTION], f"exercise {number}: its solution follows its check"
        assert "<details><summary>Solution</summary>" in cells[check + 1].source
        # As stored, the learner has not solved it yet.
        stored = "".join(output.get("text", "") for output in cells[check].get("outputs", []))
        assert _verdict(stored) == (number, NOT_SOLVED), f"exercise {number} is stored unsolved"


EXERCISE_LESSONS = _lessons_with_exercises()


@pytest.mark.exercises
@pytest.mark.parametrize("path", EXERCISE_LESSONS, ids=lambda path: path.name[:2])
def test_as_stored_no_check_is_solved(path: Path) -> None:
    lesson = Lesson.read(path)
    texts = lesson.run(lesson.with_cells([None] * len(lesson.exercises)))
    assert [_verdict(text) for text in texts] == [(n, NOT_SOLVED) for n in range(1, len(texts) + 1)], texts


@pytest.mark.exercises
@pytest.mark.parametrize("path", EXERCISE_LESSONS, ids=lambda path: path.name[:2])
def test_with_the_solutions_every_check_is_solved(path: Path) -> None:
    lesson = Lesson.read(path)
    texts = lesson.run(lesson.with_cells(list(lesson.solutions)))
    assert [_verdict(text) for text in texts] == [(n, SOLVED) for n in range(1, len(texts) + 1)], texts


@pytest.mark.exercises
@pytest.mark.parametrize("path", EXERCISE_LESSONS, ids=lambda path: path.name[:2])
def test_each_likely_mistake_is_named_by_its_hint(path: Path) -> None:
    lesson = Lesson.read(path)
    rounds = max(len(exercise.mistakes) for exercise in lesson.exercises)
    for round_ in range(rounds):
        mistakes = [
            exercise.mistakes[round_] if round_ < len(exercise.mistakes) else None for exercise in lesson.exercises
        ]
        texts = lesson.run(lesson.with_cells([None if mistake is None else mistake.code for mistake in mistakes]))
        for number, (mistake, text) in enumerate(zip(mistakes, texts, strict=True), 1):
            if mistake is None:
                continue
            assert _verdict(text) == (number, NOT_SOLVED), text
            assert mistake.hint in text, f"exercise {number}: the hint {mistake.hint!r} is not in {text!r}"


@pytest.mark.exercises
@pytest.mark.parametrize("path", EXERCISE_LESSONS, ids=lambda path: path.name[:2])
def test_a_solution_in_the_wrong_exercise_is_not_accepted(path: Path) -> None:
    lesson = Lesson.read(path)
    if len(lesson.exercises) < 2:
        pytest.skip("one exercise: there is no other exercise to swap its solution into")
    # Exercise k gets the solution of exercise k - 1 (the first keeps its placeholder).
    texts = lesson.run(lesson.with_cells([None, *lesson.solutions[:-1]]))
    for number, text in enumerate(texts[1:], 2):
        assert _verdict(text) == (number, NOT_SOLVED), text
