"""The API under load and faults, through a real uvicorn on 127.0.0.1: nothing lost, clear answers, recovery.

Load, dropped connections, a database restart, transactions cancelled half-way (in-process, through
uvicorn, and a bulk insert) and passwords in the URL. Disruptive: the restart test stops and starts the
database server itself (PostgreSQL or MariaDB), so these tests run only when asked for
(``pytest -m reliability``), as CI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from heroes_lib import crud
from heroes_lib.db import make_engine, make_sessionmaker
from heroes_lib.models import Hero, HeroCreate
from heroes_lib.sample_data import generate_heroes
from heroes_lib.schema import drop_schema, reset_schema
from heroes_lib.serve import ServerError, free_port, serving
from heroes_lib.settings import DATABASE_URL_ENV, database_url
from heroes_lib.slow_write_app import (
    CANCELLED,
    CLIENT_GONE,
    COMMITTED,
    FIRST_HERO,
    FIRST_SENT,
    SECOND_HERO,
    SLOW_WRITE_APP,
    create_slow_write_app,
)
from tests.api_fixtures import BASE_URL, drop_tables, reset_tables
from tests.reliability.passwords import PASSWORD_FORMS, PasswordForm, url_with_password

pytestmark = pytest.mark.reliability

#: The checkout, from which uvicorn imports the tests' own app.
ROOT = Path(__file__).resolve().parents[2]

SECRET = "Pa55-w0rd-in-the-url"
T = TypeVar("T")


def backend() -> str:
    return database_url().get_backend_name()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from these synchronous tests (each uvicorn test drives a separate process)."""
    return asyncio.run(coroutine)


async def count_heroes() -> int:
    engine = make_engine(poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(select(func.count()).select_from(Hero))).scalar_one()
    finally:
        await engine.dispose()


@pytest.fixture
def api() -> Iterator[str]:
    run(reset_tables())
    with serving() as base_url:
        yield base_url
    run(drop_tables())


def test_two_hundred_concurrent_creates_all_land(api: str) -> None:
    async def create_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=api, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(client.post("/heroes/", json={"name": f"Load {n}", "secret_name": "x"}) for n in range(200))
            )

    responses = run(create_all())
    statuses = sorted({response.status_code for response in responses})
    assert statuses == [200], [r.text for r in responses if r.status_code != 200][:3]
    assert run(count_heroes()) == 200


async def kill_other_connections() -> int:
    """Make the server drop every connection to the scratch database but this one; return how many."""
    engine = make_engine(poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if backend() == "postgresql":
                result = await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                return len(result.all())
            ids = (
                await connection.execute(
                    text(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
                    )
                )
            ).scalars()
            killed = 0
            for connection_id in ids:
                await connection.execute(text(f"KILL {int(connection_id)}"))
                killed += 1
            return killed
    finally:
        await engine.dispose()


@pytest.mark.skipif(backend() == "sqlite", reason="SQLite has no server that could drop connections")
def test_the_next_request_succeeds_after_the_server_drops_every_connection(api: str) -> None:
    with httpx.Client(base_url=api, timeout=30) as client:
        # Fill the pool with several connections first.
        async def burst() -> None:
            async with httpx.AsyncClient(base_url=api, timeout=30) as burst_client:
                await asyncio.gather(*(burst_client.get("/heroes/") for _ in range(20)))

        run(burst())
        assert run(kill_other_connections()) >= 1
        response = client.post("/heroes/", json={"name": "After the drop", "secret_name": "x"})
        assert response.status_code == 200, response.text
        assert client.get("/heroes/").status_code == 200


def _server_commands() -> tuple[list[str], list[str], list[str], list[str]]:
    """Stop, still-running check, start and ready check for the configured server.

    Skips (one line saying why) where this machine cannot restart it: a server elsewhere, no Debian cluster tools
    for PostgreSQL or no local MariaDB daemon, or not root.
    """
    url = make_url(os.environ["HEROES_DATABASE_URL"])
    if url.host not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"the database server {url.host} is not on this machine: it cannot be restarted from here")
    if os.geteuid() != 0:
        pytest.skip("restarting the database server needs root")
    if backend() == "postgresql":
        if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
            pytest.skip("no Debian PostgreSQL cluster tools (pg_lsclusters, pg_ctlcluster) to restart the server with")
        port = str(url.port or 5432)
        listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
        clusters = [line.split() for line in listing.stdout.splitlines() if len(line.split()) >= 3]
        matching = [fields[:2] for fields in clusters if fields[2] == port]
        if not matching:
            pytest.skip(f"no local PostgreSQL cluster listens on port {port}")
        version, name = matching[0]
        cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name]
        ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", port]
        return [*cluster, "stop", "-m", "fast"], [*cluster, "status"], [*cluster, "start"], ready
    if shutil.which("mariadb-admin") is None or not Path("/usr/sbin/mariadbd").exists():
        pytest.skip("no local MariaDB server (/usr/sbin/mariadbd) and client tools to restart it with")
    return (
        ["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "shutdown"],
        ["pgrep", "-x", "mariadbd"],
        ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
        ["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "ping"],
    )


def _wait_until(check: list[str], ready: bool, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while (subprocess.run(check, capture_output=True, check=False).returncode == 0) != ready:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{check} did not become {'ready' if ready else 'unavailable'}")
        time.sleep(0.25)


#: Longest a request may take while the database restarts (the connect timeout is 5 s): longer is a hang.
RESTART_ANSWER_BOUND = 10
UNAVAILABLE = {"detail": "Database unavailable"}


@dataclass(frozen=True)
class Answer:
    """One request of a ``RequestStream``: when it was sent, how long it took and what came back."""

    sent: float  # time.monotonic()
    seconds: float
    hero: str | None  # the name a POST tried to create; None for a GET
    status: int | None  # None: no HTTP answer at all (the body then names the error)
    body: str

    @property
    def is_clear_503(self) -> bool:
        if self.status != 503:
            return False
        try:
            return json.loads(self.body) == UNAVAILABLE
        except ValueError:
            return False


class RequestStream:
    """Requests sent one after another from a thread, a listing then a create, until the block ends."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send_until_stopped, daemon=True)

    def __enter__(self) -> RequestStream:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=4 * RESTART_ANSWER_BOUND)

    def _send_until_stopped(self) -> None:
        # A client timeout well above the bound, so that a hang is measured rather than cut short.
        with httpx.Client(base_url=self.base_url, timeout=3 * RESTART_ANSWER_BOUND) as client:
            for number in itertools.count():
                if self._stop.is_set():
                    return
                hero = f"During {number}" if number % 2 else None
                sent = time.monotonic()
                try:
                    if hero is None:
                        response = client.get("/heroes/", params={"limit": 1})
                    else:
                        response = client.post("/heroes/", json={"name": hero, "secret_name": "x"})
                    status, body = response.status_code, response.text
                except httpx.HTTPError as error:
                    status, body = None, f"{type(error).__name__}: {error}"
                self.answers.append(Answer(sent, time.monotonic() - sent, hero, status, body))
                self._stop.wait(0.05)  # a steady stream, not a flood

    def wait_for_answers(self, sent_after: float, count: int = 4, timeout: float = 60) -> None:
        """Wait until ``count`` requests sent after ``sent_after`` (``time.monotonic()``) have been answered."""
        deadline = time.monotonic() + timeout
        while sum(answer.sent >= sent_after for answer in self.answers) < count:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise TimeoutError(f"fewer than {count} requests answered in {timeout} s")
            time.sleep(0.05)


async def hero_names() -> list[str]:
    engine = make_engine(poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(select(Hero.name).order_by(Hero.id))).scalars())
    finally:
        await engine.dispose()


@pytest.mark.skipif(backend() == "sqlite", reason="SQLite is a file, not a server that can restart")
def test_requests_during_a_database_restart_get_503_then_succeed_without_restarting_the_api(api: str) -> None:
    """Requests keep coming while the server stops, is down, starts and is up again.

    Every one gets 200 or a 503 that says the database is unavailable, within a bound: never a 500 (as
    when a server that is starting up or shutting down refuses a connection with its own error), never a
    hang. While the server is down every answer is 503; once it is ready every answer is 200 again, from
    the same API process. No create that got its 200 is lost.
    """
    stop, running, start, ready = _server_commands()
    with httpx.Client(base_url=api, timeout=30) as client:
        assert client.post("/heroes/", json={"name": "Before", "secret_name": "x"}).status_code == 200
    with RequestStream(api) as stream:
        stream.wait_for_answers(sent_after=time.monotonic())
        subprocess.run(stop, check=True, capture_output=True)
        try:
            _wait_until(ready, ready=False)
            down = time.monotonic()
            stream.wait_for_answers(sent_after=down)
        finally:
            _wait_until(running, ready=False)  # a server still shutting down would ignore the start
            starting = time.monotonic()
            subprocess.run(start, check=True, capture_output=True)
            _wait_until(ready, ready=True)
        up = time.monotonic()
        stream.wait_for_answers(sent_after=up)
    answers = stream.answers

    unclear = [answer for answer in answers if answer.status != 200 and not answer.is_clear_503]
    assert not unclear, unclear[:5]
    slow = [answer for answer in answers if answer.seconds > RESTART_ANSWER_BOUND]
    assert not slow, slow[:5]
    while_down = [answer for answer in answers if down <= answer.sent < starting]
    assert while_down and all(answer.is_clear_503 for answer in while_down), while_down[:5]
    once_up = [answer for answer in answers if answer.sent >= up]
    assert once_up and all(answer.status == 200 for answer in once_up), once_up[:5]

    with httpx.Client(base_url=api, timeout=30) as client:
        after = client.post("/heroes/", json={"name": "After", "secret_name": "x"})
        assert after.status_code == 200, after.text
    names = run(hero_names())
    acknowledged = {"Before", "After"} | {answer.hero for answer in answers if answer.hero and answer.status == 200}
    # A create answered 503 may still have committed (its answer was lost, not its row): either way is fine.
    attempted = acknowledged | {answer.hero for answer in answers if answer.hero}
    assert acknowledged <= set(names) <= attempted
    assert len(names) == len(set(names))


# Atomicity: a transaction cancelled half-way leaves no row behind and no connection checked out.


def _includes(parameters: object, value: str) -> bool:
    """Whether a statement's parameters (a set of them, a list of sets, or flattened values) include ``value``."""
    if isinstance(parameters, dict):
        return value in parameters.values()
    if isinstance(parameters, list | tuple):
        return any(
            item == value or _includes(item, value)
            for item in parameters
            if isinstance(item, str | list | tuple | dict)
        )
    return False


async def test_a_bulk_insert_cancelled_while_its_insert_runs_leaves_nothing_half_written() -> None:
    """Cancel ``crud.create_heroes_bulk`` of 20,000 heroes once the INSERT carrying the last one is sent.

    That is the last statement before the commit: an insert that committed in batches would have committed
    all the other rows by then. The task ends cancelled with no commit ever sent; afterwards the
    table is empty, the pool has every connection back and the engine writes again.
    """
    heroes = list(generate_heroes(20_000))  # built first: building them blocks the event loop for a while
    last_name = heroes[-1].name
    engine = make_engine()
    await reset_schema(engine)
    last_row_sent = asyncio.Event()
    commits: list[object] = []

    def watch_statements(_connection: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if statement.startswith("INSERT INTO hero ") and _includes(parameters, last_name):
            last_row_sent.set()

    event.listen(engine.sync_engine, "before_cursor_execute", watch_statements)
    event.listen(engine.sync_engine, "commit", commits.append)

    async def create_in_a_session_of_its_own() -> int:
        async with make_sessionmaker(engine)() as session:
            return await crud.create_heroes_bulk(session, heroes)

    bulk = asyncio.create_task(create_in_a_session_of_its_own())
    sent = asyncio.create_task(last_row_sent.wait())
    try:
        await asyncio.wait({bulk, sent}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        assert last_row_sent.is_set(), "the INSERT of the last hero was never sent"
        assert not bulk.done(), "the bulk insert ended before it could be cancelled"
        bulk.cancel()
        with pytest.raises(asyncio.CancelledError):
            await bulk
        assert commits == []  # cancelled inside the transaction
        assert engine.pool.checkedout() == 0
        assert await count_heroes() == 0
        # Nothing holds the database any more: the engine writes again (on SQLite, once the abandoned
        # INSERT, still running in aiosqlite's thread, has been rolled back).
        async with make_sessionmaker(engine)() as session:
            await crud.create_hero(session, HeroCreate(name="After the cancel", secret_name="x"))
        assert await count_heroes() == 1
    finally:
        sent.cancel()
        bulk.cancel()
        await drop_schema(engine)
        await engine.dispose()


#: How long the clients below wait for an answer before giving up, and how long the route's transaction waits.
CLIENT_PATIENCE = 1
TRANSACTION_WAIT = 5


@pytest.mark.parametrize("wait", ["database", "task"], ids=["during a slow query", "during an await elsewhere"])
async def test_a_request_cancelled_by_a_client_timeout_leaves_nothing_half_written(wait: str) -> None:
    """A client timeout cancels the request while its transaction, one hero inserted, waits: nothing is stored.

    In-process, ``httpx.ASGITransport`` runs the app in the client's own task, so the timeout really cancels
    the handler. Neither hero is stored, every connection is back in the pool and the API goes on answering.
    """
    await reset_tables()
    app = create_slow_write_app()
    transport = httpx.ASGITransport(app=app)
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(CLIENT_PATIENCE):
                    await client.post("/demo/write-wait-write", params={"seconds": TRANSACTION_WAIT, "wait": wait})
            assert app.state.progress == [FIRST_SENT, CANCELLED]
            assert app.state.engine.pool.checkedout() == 0
            listed = await client.get("/heroes/")
            assert listed.status_code == 200 and listed.json() == []
    finally:
        await drop_tables()


async def _poll_progress(
    watcher: httpx.AsyncClient, until: Callable[[list[str]], bool], seconds: float = 30
) -> dict[str, Any]:
    """Ask the server how far its write-wait-write requests got, every 50 ms, until ``until`` holds."""
    for _ in range(int(seconds / 0.05)):
        state = (await watcher.get("/demo/progress")).json()
        if until(state["progress"]):
            return state
        await asyncio.sleep(0.05)
    raise TimeoutError(f"still {state} after {seconds} s")


async def _disconnect_while_the_transaction_waits(base_url: str) -> tuple[dict[str, Any], list[str]]:
    """Send a write-wait-write request, disconnect once its first hero is sent; return the end state and names."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as watcher:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as impatient:
            request = asyncio.create_task(
                impatient.post("/demo/write-wait-write", params={"seconds": TRANSACTION_WAIT / 2})
            )
            await _poll_progress(watcher, lambda progress: FIRST_SENT in progress)
            request.cancel()  # the client gives up: it closes its connection
            with contextlib.suppress(asyncio.CancelledError):
                await request
        state = await _poll_progress(watcher, lambda progress: bool({COMMITTED, CANCELLED} & set(progress)))
        names = [hero["name"] for hero in (await watcher.get("/heroes/")).json()]
    return state, names


def test_a_client_that_disconnects_from_uvicorn_mid_request_gets_its_transaction_whole() -> None:
    """Through a real uvicorn, the client disconnects while the transaction (one hero inserted) waits.

    uvicorn does not cancel a handler whose client went away: the handler sees the disconnect, its
    transaction runs to its end and commits both heroes (the answer goes nowhere). So the request's
    writes are all there, none half-written, and no connection stays checked out.
    """
    run(reset_tables())
    try:
        with serving(SLOW_WRITE_APP) as base_url:
            state, names = run(_disconnect_while_the_transaction_waits(base_url))
    finally:
        run(drop_tables())
    assert state["progress"] == [FIRST_SENT, CLIENT_GONE, COMMITTED]
    assert state["checked_out"] == 0
    assert names == [FIRST_HERO, SECOND_HERO]


# Secrets


@pytest.mark.parametrize("form", PASSWORD_FORMS)
def test_a_password_in_the_url_shows_in_no_log_line_or_response(form: PasswordForm) -> None:
    """The API on a URL with a password (as ``user:password@`` or ``?password=``) that the server accepts.

    Answers of every kind (created, conflict, not found, invalid) and the server's log show no password;
    nor does the one line of a startup refused because nothing listens at the URL's port.
    """
    with url_with_password(SECRET, form) as url:
        run(reset_tables())
        log: list[str] = []
        with serving(env={DATABASE_URL_ENV: url}, log=log) as base_url, httpx.Client(base_url=base_url) as client:
            responses = [
                client.post("/heroes/", json={"name": "Secretive", "secret_name": "x"}),
                client.post("/heroes/", json={"name": "Bad", "secret_name": "x", "team_id": 424242}),
                client.get("/heroes/424242"),
                client.post("/heroes/", content=b"{broken"),
            ]
        run(drop_tables())
        nobody_listens = make_url(url).set(port=free_port()).render_as_string(hide_password=False)
        with pytest.raises(ServerError) as refused, serving(env={DATABASE_URL_ENV: nobody_listens}):
            pass
    for response in responses:
        assert SECRET not in response.text
    assert [response.status_code for response in responses] == [200, 409, 404, 422]
    assert any("POST /heroes/" in line for line in log), log  # the log was captured
    assert not [line for line in log if SECRET in line]
    refusal = str(refused.value)
    assert "heroes API cannot start: cannot connect to database" in refusal, refusal
    assert "***" in refusal, refusal  # the URL is shown, its password masked
    assert SECRET not in refusal
