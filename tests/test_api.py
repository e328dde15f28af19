"""heroes_lib.api in-process, with its lifespan really run (asgi-lifespan), on the configured backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from heroes_lib.api import create_app
from heroes_lib.api.dependencies import get_session
from heroes_lib.db import drop_schema
from heroes_lib.models import NAME_MAX_LENGTH, Hero, Team


@pytest.fixture(scope="module")
async def app() -> AsyncIterator[Any]:
    app = create_app()
    async with LifespanManager(app):
        yield app
    # The lifespan disposed its engine; drop the tables with a fresh one.
    from heroes_lib.db import make_engine

    engine = make_engine()
    await drop_schema(engine)
    await engine.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://heroes.test") as client:
        yield client
    async with app.state.engine.begin() as connection:  # every test starts from empty tables
        await connection.execute(delete(Hero))
        await connection.execute(delete(Team))


async def snapshot(app: Any) -> list[tuple[Any, ...]]:
    """Every row of both tables, to prove a rejected request changed nothing."""
    async with app.state.engine.connect() as connection:
        teams = (await connection.execute(select(Team.__table__).order_by(Team.id))).all()
        heroes = (await connection.execute(select(Hero.__table__).order_by(Hero.id))).all()
    return [tuple(row) for row in [*teams, *heroes]]


async def create_team(client: httpx.AsyncClient, name: str = "Preventers") -> dict[str, Any]:
    response = await client.post("/teams/", json={"name": name, "headquarters": "Sharp Tower"})
    assert response.status_code == 200, response.text
    return response.json()


async def create_hero(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson", **fields})
    assert response.status_code == 200, response.text
    return response.json()


async def test_lifespan_builds_the_engine_and_disposes_it() -> None:
    app = create_app()
    assert not hasattr(app.state, "engine")
    async with LifespanManager(app):
        engine = app.state.engine
        async with app.state.sessionmaker() as session:
            assert (await session.exec(select(1))).one() == (1,)
    assert engine.pool.checkedout() == 0


async def test_hero_lifecycle_matches_the_tutorial(client: httpx.AsyncClient) -> None:
    team = await create_team(client)
    hero = await create_hero(client, age=30, team_id=team["id"])
    assert hero == {
        "name": "Deadpond",
        "secret_name": "Dive Wilson",
        "age": 30,
        "team_id": team["id"],
        "id": hero["id"],
    }

    read = await client.get(f"/heroes/{hero['id']}")
    assert read.status_code == 200
    assert read.json() == {**hero, "team": team}

    patched = await client.patch(f"/heroes/{hero['id']}", json={"age": 31})
    assert patched.status_code == 200 and patched.json() == {**hero, "age": 31}  # nothing else changed
    cleared = await client.patch(f"/heroes/{hero['id']}", json={"team_id": None})
    assert cleared.json()["team_id"] is None and cleared.json()["age"] == 31

    deleted = await client.delete(f"/heroes/{hero['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"ok": True}
    for response in (
        await client.get(f"/heroes/{hero['id']}"),
        await client.patch(f"/heroes/{hero['id']}", json={"age": 1}),
        await client.delete(f"/heroes/{hero['id']}"),
    ):
        assert response.status_code == 404 and response.json() == {"detail": "Hero not found"}


async def test_team_lifecycle_with_eager_loaded_heroes(client: httpx.AsyncClient) -> None:
    team = await create_team(client)
    first = await create_hero(client, name="Rusty-Man", team_id=team["id"])
    second = await create_hero(client, name="Tarantula", team_id=team["id"])
    read = await client.get(f"/teams/{team['id']}")
    assert read.status_code == 200
    assert read.json() == {**team, "heroes": [first, second]}
    patched = await client.patch(f"/teams/{team['id']}", json={"headquarters": "Tower"})
    assert patched.json() == {**team, "headquarters": "Tower"}
    assert (await client.delete(f"/teams/{team['id']}")).json() == {"ok": True}
    assert (await client.get(f"/teams/{team['id']}")).json() == {"detail": "Team not found"}
    orphan = await client.get(f"/heroes/{first['id']}")
    assert orphan.json()["team_id"] is None and orphan.json()["team"] is None


async def test_lists_are_arrays_in_id_order_with_the_tutorials_paging(client: httpx.AsyncClient) -> None:
    names = [f"Hero {n:03d}" for n in range(105)]
    for name in names:
        await create_hero(client, name=name)
    default = await client.get("/heroes/")
    assert default.status_code == 200
    assert [hero["name"] for hero in default.json()] == names[:100]  # limit defaults to 100
    page = await client.get("/heroes/", params={"offset": 100, "limit": 100})
    assert [hero["name"] for hero in page.json()] == names[100:]
    ids = [hero["id"] for hero in default.json()]
    assert ids == sorted(ids)
    teams = await client.get("/teams/")
    assert teams.status_code == 200 and teams.json() == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/heroes/", {"name": "", "secret_name": "x"}),
        ("POST", "/heroes/", {"name": "x", "secret_name": "y", "age": -1}),
        ("POST", "/heroes/", {"name": "x", "secret_name": "y", "age": "old"}),
        ("POST", "/heroes/", {"name": "x" * (NAME_MAX_LENGTH + 1), "secret_name": "y"}),
        ("POST", "/heroes/", {"name": "x", "secret_name": "y", "team_id": 2**40}),
        ("POST", "/heroes/", {"name": "nul\x00", "secret_name": "y"}),
        ("POST", "/heroes/", {"secret_name": "no name"}),
        ("POST", "/heroes/", [1, 2, 3]),
        ("POST", "/heroes/", "{not json"),
        ("POST", "/teams/", {"name": "", "headquarters": "x"}),
        ("POST", "/teams/", {"name": "T"}),
        ("PATCH", "/heroes/{hero}", {"name": None}),
        ("PATCH", "/heroes/{hero}", {"age": -5}),
        ("PATCH", "/teams/{team}", {"headquarters": None}),
        ("GET", "/heroes/?limit=0", None),
        ("GET", "/heroes/?limit=101", None),
        ("GET", "/heroes/?offset=-1", None),
        ("GET", "/heroes/?offset=abc", None),
        ("GET", "/teams/?limit=1000", None),
        ("GET", "/heroes/abc", None),
    ],
)
async def test_invalid_requests_are_422_and_change_nothing(
    app: Any, client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    team = await create_team(client)
    hero = await create_hero(client, team_id=team["id"])
    before = await snapshot(app)
    url = path.format(hero=hero["id"], team=team["id"])
    if isinstance(body, str):
        response = await client.request(method, url, content=body, headers={"content-type": "application/json"})
    else:
        response = await client.request(method, url, json=body)
    assert response.status_code == 422, response.text
    assert await snapshot(app) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/teams/", {"name": "Preventers", "headquarters": "Elsewhere"}),
        ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": 424242}),
        ("PATCH", "/heroes/{hero}", {"team_id": 424242, "age": 99}),
        ("PATCH", "/teams/{other}", {"name": "Preventers"}),
    ],
)
async def test_conflicts_are_409_and_change_nothing(
    app: Any, client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    team = await create_team(client)
    other = await create_team(client, "Z-Force")
    hero = await create_hero(client, team_id=team["id"])
    before = await snapshot(app)
    response = await client.request(method, path.format(hero=hero["id"], other=other["id"]), json=body)
    assert response.status_code == 409, response.text
    assert set(response.json()) == {"detail"}
    assert await snapshot(app) == before


@pytest.mark.parametrize("path", ["/heroes/424242", "/teams/424242", "/heroes/99999999999999999999", "/heroes/-1"])
async def test_missing_ids_are_404(client: httpx.AsyncClient, path: str) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, path)
        assert response.status_code == 404
    response = await client.patch(path, json={"name": "x"} if "heroes" in path else {"headquarters": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE hero;--",
        "\"double\" and 'single' quotes",
        "1 OR 1=1; SELECT * FROM team",
        "🦸‍♀️ Wonder 🦸🏽 Emoji",
        "Ünïcödé ñame, 中文, עברית",
        "%s %(name)s {0} \\ backslash",
        "x" * NAME_MAX_LENGTH,
    ],
)
async def test_strings_are_stored_and_returned_verbatim(client: httpx.AsyncClient, name: str) -> None:
    team = await create_team(client, name)
    hero = await create_hero(client, name=name, secret_name=name, team_id=team["id"])
    read = (await client.get(f"/heroes/{hero['id']}")).json()
    assert read["name"] == read["secret_name"] == read["team"]["name"] == name
    assert (await client.get(f"/teams/{team['id']}")).json()["name"] == name


async def test_one_hundred_concurrent_creates_all_land(app: Any, client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(client.post("/heroes/", json={"name": f"Concurrent {n}", "secret_name": "x"}) for n in range(100))
    )
    assert [response.status_code for response in responses] == [200] * 100
    assert len({response.json()["id"] for response in responses}) == 100
    listed = (await client.get("/heroes/", params={"limit": 100})).json()
    assert sorted(hero["name"] for hero in listed) == sorted(f"Concurrent {n}" for n in range(100))


async def test_database_failures_are_503_and_bugs_are_500_without_details(app: Any, client: httpx.AsyncClient) -> None:
    async def broken_database() -> AsyncIterator[None]:
        raise OperationalError("SELECT secret FROM hero", {}, ConnectionRefusedError("password=hunter2"))
        yield  # pragma: no cover

    async def buggy() -> AsyncIterator[None]:
        raise RuntimeError("SELECT * FROM hero WHERE password = 'hunter2'")
        yield  # pragma: no cover

    try:
        app.dependency_overrides[get_session] = broken_database
        unavailable = await client.get("/heroes/")
        app.dependency_overrides[get_session] = buggy
        raw = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=raw, base_url="http://heroes.test") as lenient:
            crashed = await lenient.get("/heroes/")
    finally:
        app.dependency_overrides.clear()
    assert unavailable.status_code == 503
    assert unavailable.json() == {"detail": "Database unavailable, try again later"}
    assert crashed.status_code == 500 and crashed.json() == {"detail": "Internal server error"}
    for response in (unavailable, crashed):
        assert "SELECT" not in response.text and "hunter2" not in response.text and "Traceback" not in response.text


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert {"/heroes/", "/heroes/{hero_id}", "/teams/", "/teams/{team_id}"} <= set(schema["paths"])
