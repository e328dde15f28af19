"""Exercises the learner does: a check that says plainly whether the code is right, and why not.

Each lesson's module (``heroes_lib.exercises.lesson_04``, ...) defines its ``Exercise`` objects. The learner writes
code in a notebook cell (stored with a runnable placeholder), then runs the check cell below it,
``await exercise_1.check()``. It reads the names the exercise asks for from the notebook, runs the exercise's
``verify`` on them and prints one verdict line, ``Exercise 1: solved`` or ``Exercise 1: not solved yet``, followed by
one or two lines saying why, in the learner's terms. A check never raises: an error from the learner's code is shown
in one line. Each exercise also keeps its most likely wrong answers (``Mistake``) as code, so the test suite can
prove that the check recognises them and names them in its hint.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib.db import is_missing_greenlet, make_engine, make_sessionmaker
from heroes_lib.notebook import discarding_unawaited_coroutines
from heroes_lib.sample_data import add_sample_data
from heroes_lib.schema import reset_schema

SOLVED = "solved"
NOT_SOLVED = "not solved yet"

# A memory address in a repr ("at 0x7f3a..."): it differs on every run, so it is never shown.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class NotSolved(Exception):
    """Raised by a ``verify`` function: the code runs but is not right yet; the message (one or two lines) says why."""


@dataclass(frozen=True)
class Mistake:
    """A likely wrong answer: the exercise cell as a learner might write it, and what the check must say about it.

    ``code`` replaces the exercise cell in the test suite; the check's output must then be "not solved yet" and
    contain ``hint``.
    """

    code: str
    hint: str


@dataclass(frozen=True)
class Verdict:
    """What a check found: solved or not, and the lines that say why."""

    number: int
    solved: bool
    reasons: tuple[str, ...]

    def text(self) -> str:
        """The printed form: ``Exercise N: solved`` or ``Exercise N: not solved yet``, then the reasons."""
        first = f"Exercise {self.number}: {SOLVED if self.solved else NOT_SOLVED}"
        return "\n".join((first, *self.reasons))


def describe_error(error: BaseException) -> str:
    """An exception in one line, the same on every backend: its type and the first line of its message.

    SQLAlchemy's refusal of implicit IO reads the same whether it comes bare (``MissingGreenlet``) or wrapped in a
    ``StatementError`` (which form depends on the driver and on where the first IO happened).
    """
    if is_missing_greenlet(error):
        return (
            "MissingGreenlet: the code read an attribute that had to be loaded from the database "
            "(no await, so no IO allowed)"
        )
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    message = _ADDRESS.sub("", message)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _reasons(text: str) -> tuple[str, ...]:
    lines = tuple(line for line in text.strip().splitlines() if line.strip())
    return lines or ("(no reason given)",)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: the names its cell defines, how to verify them, and its likely mistakes.

    ``verify`` is called with the names as keyword arguments (``verify(teams_with_heroes=...)``). It returns one line
    saying why the answer is right, or raises ``NotSolved`` with one or two lines naming what is wrong. Any other
    exception is the learner's code failing, and is shown in one line.
    """

    number: int
    names: tuple[str, ...]
    verify: Callable[..., Awaitable[str]]
    mistakes: tuple[Mistake, ...] = field(default=())

    async def evaluate(self, namespace: Mapping[str, Any]) -> Verdict:
        """Verify the names as ``namespace`` holds them, without printing anything."""
        missing = [name for name in self.names if name not in namespace]
        if missing:
            return Verdict(
                self.number, False, (f"`{missing[0]}` is not defined yet: run the exercise cell above first.",)
            )
        try:
            with discarding_unawaited_coroutines():
                why = await self.verify(**{name: namespace[name] for name in self.names})
        except NotSolved as not_solved:
            return Verdict(self.number, False, _reasons(str(not_solved)))
        except Exception as error:  # the learner's code failed: say how, in one line, and never stop Run All
            return Verdict(self.number, False, (f"Your code raised {describe_error(error)}",))
        return Verdict(self.number, True, _reasons(why))

    async def check(self, namespace: Mapping[str, Any] | None = None) -> None:
        """Print the verdict on the learner's code (read from the notebook's namespace unless one is given)."""
        verdict = await self.evaluate(_notebook_namespace() if namespace is None else namespace)
        print(verdict.text())


def _notebook_namespace() -> Mapping[str, Any]:
    """The running notebook's variables (IPython's user namespace)."""
    from IPython import get_ipython  # only in a notebook; the rest of the module works without IPython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("check() reads the notebook's variables; outside a notebook pass namespace=...")
    namespace: Mapping[str, Any] = shell.user_ns
    return namespace


@asynccontextmanager
async def fresh_tables(*, sample_data: bool = False) -> AsyncIterator[AsyncEngine]:
    """An engine on the notebook's database (``HEROES_DATABASE_URL``) with the course's tables emptied.

    With ``sample_data`` they hold the tutorial's 2 teams and 7 heroes (ids 1-7 on every backend). The engine is
    disposed at the end. Checks run at the end of a lesson, before its clean-up, so resetting the tables is safe.
    """
    engine = make_engine()
    try:
        await reset_schema(engine)
        if sample_data:
            async with make_sessionmaker(engine)() as session:
                await add_sample_data(session)
        yield engine
    finally:
        await engine.dispose()


def returned_nothing(name: str) -> NotSolved:
    """The verdict for a placeholder that still returns ``None``: ``raise returned_nothing("teams_with_heroes")``."""
    return NotSolved(f"`{name}` returned None: write its body in place of the `...`.")
