"""The exercise framework: verdicts, hints, errors in one line, names not yet defined."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import MissingGreenlet, StatementError

from heroes_lib.exercises import Exercise, Mistake, NotSolved, Verdict, describe_error, returned_nothing

pytestmark = pytest.mark.no_database


async def _verify_double(double: object) -> str:
    assert callable(double)
    value = double(21)
    if value is None:
        raise returned_nothing("double")
    if value == 441:
        raise NotSolved("double(21) gave 441: that squares it.\nMultiply by two instead.")
    return "double(21) is 42."


EXERCISE = Exercise(3, ("double",), _verify_double, (Mistake("def double(x):\n    return x * x", "squares it"),))


async def test_a_right_answer_is_solved_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    await EXERCISE.check({"double": lambda x: 2 * x})
    assert capsys.readouterr().out == "Exercise 3: solved\ndouble(21) is 42.\n"


async def test_a_wrong_answer_is_not_solved_and_its_hint_is_printed_on_two_lines() -> None:
    verdict = await EXERCISE.evaluate({"double": lambda x: x * x})
    assert verdict == Verdict(3, False, ("double(21) gave 441: that squares it.", "Multiply by two instead."))
    assert verdict.text().splitlines()[0] == "Exercise 3: not solved yet"


async def test_a_placeholder_is_told_to_write_the_body() -> None:
    verdict = await EXERCISE.evaluate({"double": lambda x: None})
    assert verdict.reasons == ("`double` returned None: write its body in place of the `...`.",)


async def test_a_name_not_defined_yet_asks_to_run_the_exercise_cell() -> None:
    verdict = await EXERCISE.evaluate({})
    assert not verdict.solved
    assert verdict.reasons == ("`double` is not defined yet: run the exercise cell above first.",)


async def test_an_error_in_the_learners_code_is_one_line_without_a_traceback() -> None:
    def double(x: int) -> int:
        raise KeyError(f"no {x}")

    verdict = await EXERCISE.evaluate({"double": double})
    assert verdict.reasons == ("Your code raised KeyError: 'no 21'",)


def test_missing_greenlet_reads_the_same_bare_or_wrapped() -> None:
    bare = MissingGreenlet("greenlet_spawn has not been called")
    wrapped = StatementError("(sqlalchemy.exc.MissingGreenlet) ...", "SELECT 1", {}, bare)
    assert describe_error(bare) == describe_error(wrapped)
    assert describe_error(bare).startswith("MissingGreenlet: ")


def test_an_error_without_a_message_is_its_type() -> None:
    assert describe_error(ValueError()) == "ValueError"
