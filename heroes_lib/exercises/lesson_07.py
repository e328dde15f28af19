"""Lesson 07's exercises: a fixture that hands the API the test's session, and tests put back on one event loop.

Each check runs the learner's fixtures and tests with pytest, as the lesson does, and reports what pytest
says about each test, in its words (passed, failed, error) and the learner's.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
import tempfile
import types
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from heroes_lib.exercises import Exercise, Mistake, NotSolved

#: The module the learner's names are put in, so that the test file pytest runs can import them.
LEARNER_MODULE = "heroes_exercise_07"

_SETTINGS = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = {loop_scope}
asyncio_default_test_loop_scope = {loop_scope}
"""


@dataclass(frozen=True)
class Outcome:
    """How pytest says one test ended (``passed``, ``failed`` or ``error``) and the first line of what went wrong."""

    outcome: str
    message: str = ""


class _Outcomes:
    """A pytest plugin that records each test's outcome."""

    def __init__(self) -> None:
        self.tests: dict[str, Outcome] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = report.nodeid.rpartition("::")[2]
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else report.longreprtext.strip()
            first = message.strip().splitlines()[0] if message.strip() else ""
            self.tests.setdefault(name, Outcome("failed" if report.when == "call" else "error", first))
        elif report.when == "call":
            self.tests.setdefault(name, Outcome(report.outcome))


def _run_pytest_here(tests: str, learner: Mapping[str, Any], loop_scope: str) -> dict[str, Outcome]:
    with tempfile.TemporaryDirectory(prefix="heroes-exercise-") as folder:
        root = Path(folder)
        (root / "pytest.ini").write_text(_SETTINGS.format(loop_scope=loop_scope))
        test_file = root / "test_exercise_07.py"
        test_file.write_text(f"from {LEARNER_MODULE} import *  # noqa: F403\n\n{tests}")
        module = types.ModuleType(LEARNER_MODULE)
        module.__dict__.update(learner)
        sys.modules[LEARNER_MODULE] = module
        outcomes = _Outcomes()
        arguments = [
            "-q",
            "-p",
            "no:cacheprovider",
            "--disable-plugin-autoload",
            "-p",
            "pytest_asyncio.plugin",
            "--noconftest",
            "--import-mode=importlib",
            "-c",
            str(root / "pytest.ini"),
            "--rootdir",
            str(root),
            str(test_file),
        ]
        try:
            # pytest's own report is not shown: the check says what it found in one or two lines.
            with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
                pytest.main(arguments, plugins=[outcomes])
                gc.collect()  # what a failed test leaves behind is freed here, not in a later cell
        finally:
            sys.modules.pop(LEARNER_MODULE, None)
            for name, loaded in list(sys.modules.items()):
                if str(getattr(loaded, "__file__", "") or "").startswith(folder):
                    del sys.modules[name]
    return outcomes.tests


async def run_pytest(tests: str, learner: Mapping[str, Any], loop_scope: str = "session") -> dict[str, Outcome]:
    """Run a test module's source with pytest (and pytest-asyncio), where it can import the learner's names.

    pytest runs in a worker thread: pytest-asyncio starts event loops of its own, which it cannot do inside the
    notebook's running loop. ``loop_scope`` is the settings' default loop scope for fixtures and tests.
    """
    return await asyncio.to_thread(_run_pytest_here, tests, learner, loop_scope)


def _gist(message: str) -> str:
    # A message without the reprs of the objects it names (task counters, paths, addresses differ every run).
    while re.search(r"<[^<>]*>", message):
        message = re.sub(r"<[^<>]*>", "…", message)
    return message


def _summary(tests: Mapping[str, Outcome]) -> str:
    return ", ".join(f"{name} {outcome.outcome}" for name, outcome in tests.items())


_CLIENT_TESTS = """\
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import crud
from heroes_lib.db import make_engine
from heroes_lib.schema import drop_schema, reset_schema


@pytest.fixture(scope="module")
async def engine():
    engine = make_engine()
    await reset_schema(engine)
    yield engine
    await drop_schema(engine)
    await engine.dispose()


@pytest.fixture
async def session(engine):
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        yield session
        await session.close()
        await transaction.rollback()


async def test_a_request_writes_in_the_tests_transaction(client, session):
    response = await client.post("/teams/", json={"name": "Preventers", "headquarters": "Sharp Tower"})
    assert response.status_code == 200, response.text
    assert await crud.get_team(session, response.json()["id"]) is not None


async def test_the_next_test_finds_no_team(client):
    response = await client.get("/teams/")
    assert response.status_code == 200, response.text
    assert response.json() == [], "a team from the previous test is still there"
"""


async def _verify_client(client: Any) -> str:
    tests = await run_pytest(_CLIENT_TESTS, {"client": client})
    if not tests:
        raise NotSolved("pytest ran no test: is `client` decorated with `@pytest.fixture`?")
    if all(outcome.outcome == "passed" for outcome in tests.values()):
        return (
            f"pytest with your `client`: {_summary(tests)}; each request used the test's session, "
            "and its rollback undid the team."
        )
    messages = " ".join(outcome.message for outcome in tests.values())
    if "is not a fixture" in messages or "fixture 'client' not found" in messages:
        raise NotSolved("pytest found no fixture `client`: decorate the function with `@pytest.fixture`.")
    if "'NoneType' object has no attribute" in messages or "'coroutine' object has no attribute" in messages:
        raise NotSolved(
            "pytest: your `client` fixture gave the tests None: write its body in place of the `...`, and "
            "`yield` an `httpx.AsyncClient` (a fixture that yields is set up before the test, torn down after)."
        )
    if "client has been closed" in messages:
        raise NotSolved(
            "pytest: the tests got a client that was already closed: `return` left the `async with` before the "
            "test ran. `yield client` inside it, and the `async with` ends after the test."
        )
    if "lifespan did not run" in messages:
        raise NotSolved(
            "pytest: the requests failed: the app's lifespan did not run (lesson 05): wrap the app in "
            "`LifespanManager(app)` around the client."
        )
    last = tests.get("test_the_next_test_finds_no_team")
    first_passed = tests.get("test_a_request_writes_in_the_tests_transaction") == Outcome("passed")
    if first_passed and last is not None and last.outcome == "failed" and "still there" in last.message:
        raise NotSolved(
            "pytest: test_the_next_test_finds_no_team failed: the team the first test created was committed "
            "for good. Make every request use the test's session: `app.dependency_overrides[get_session]`."
        )
    first_problem = next((name, o) for name, o in tests.items() if o.outcome != "passed")
    name, outcome = first_problem
    raise NotSolved(f"pytest: {name} {outcome.outcome}: {_gist(outcome.message)}")


exercise_1 = Exercise(
    number=1,
    names=("client",),
    verify=_verify_client,
    mistakes=(
        Mistake(
            code='''\
@pytest.fixture
async def client(engine: AsyncEngine, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the test's engine, its lifespan run, every request given the test's session."""
    app = create_app(engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://heroes.test") as client:
        yield client
''',
            hint="app.dependency_overrides[get_session]",
        ),
        Mistake(
            code='''\
@pytest.fixture
async def client(engine: AsyncEngine, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the test's engine, its lifespan run, every request given the test's session."""
    app = create_app(engine=engine)

    async def session_of_this_test() -> AsyncIterator[AsyncSession]:
        yield session

    app.dependency_overrides[get_session] = session_of_this_test
    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://heroes.test") as client:
        return client
''',
            hint="`yield client` inside it",
        ),
    ),
)


_LOOP_TESTS = ""  # the learner's fixtures and test are the whole module


async def _verify_one_loop(module_engine: Any, module_check: Any, test_module_check: Any) -> str:
    learner = {
        "module_engine": module_engine,
        "module_check": module_check,
        "test_module_check": test_module_check,
    }
    # pytest-asyncio's defaults: a new loop for every fixture and test, unless the code says otherwise.
    tests = await run_pytest(_LOOP_TESTS, learner, loop_scope="function")
    outcome = tests.get("test_module_check")
    if outcome is None:
        raise NotSolved("pytest ran no `test_module_check`: keep the test's name (and the `test_` prefix).")
    if outcome.outcome == "passed":
        return "pytest: test_module_check passed: the fixtures and the test ran on the module's one event loop."
    if "ScopeMismatch" in outcome.message:
        raise NotSolved(
            "pytest: test_module_check error: ScopeMismatch: a module-scoped fixture on a function-scoped "
            'loop. Give both fixtures `@pytest_asyncio.fixture(scope="module", loop_scope="module")`.'
        )
    if "attached to a different loop" in outcome.message:
        raise NotSolved(
            "pytest: test_module_check failed: attached to a different loop: the task was made on the module's "
            'loop and awaited on the test\'s own. Mark the test `@pytest.mark.asyncio(loop_scope="module")`.'
        )
    raise NotSolved(f"pytest: test_module_check {outcome.outcome}: {_gist(outcome.message)}")


_LOOP_HALF_FIX = '''\
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_engine() -> AsyncIterator[AsyncEngine]:
    """One engine for the module's tests."""
    engine = make_engine()
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_check(module_engine: AsyncEngine) -> asyncio.Task[None]:
    """The database check, started once for the module in the background."""
    return asyncio.create_task(check_connection(module_engine))


{marker}async def test_module_check(module_check: asyncio.Task[None]) -> None:
    await module_check
'''

#: The broken code the exercise cell starts from: the tests still run on a loop of their own.
BROKEN_LOOPS = _LOOP_HALF_FIX.format(marker="")

exercise_2 = Exercise(
    number=2,
    names=("module_engine", "module_check", "test_module_check"),
    verify=_verify_one_loop,
    mistakes=(
        Mistake(
            code=_LOOP_HALF_FIX.format(marker="@pytest.mark.asyncio\n"),
            hint='@pytest.mark.asyncio(loop_scope="module")',
        ),
        Mistake(
            code=_LOOP_HALF_FIX.replace(', loop_scope="module")', ")").format(
                marker='@pytest.mark.asyncio(loop_scope="module")\n'
            ),
            hint="ScopeMismatch",
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2)
