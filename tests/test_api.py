"""heroes_lib.api in-process through httpx, with its lifespan really run (asgi-lifespan), on the configured backend."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib import crud
from heroes_lib.api import create_app
from heroes_lib.api.dependencies import get_session
from heroes_lib.api.lifespan import StartupError
from heroes_lib.db import SERVER_MAX_OVERFLOW, SERVER_POOL_SIZE, make_engine
from heroes_lib.models import MAX_INTEGER, NAME_MAX_LENGTH
from heroes_lib.sample_data import generate_heroes
from heroes_lib.schema import table_names
from heroes_lib.serve import free_port
from tests.api_fixtures import BASE_URL, api_app, client, snapshot

__all__ = ["api_app", "client"]  # fixtures, used by name

SECRET = "s3cr3t-pa55"


async def create_team(client: httpx.AsyncClient, name: str = "Preventers", headquarters: str = "Sharp Tower") -> Any:
    response = await client.post("/teams/", json={"name": name, "headquarters": headquarters})
    assert response.status_code == 200, response.text
    return response.json()


async def create_hero(client: httpx.AsyncClient, **fields: Any) -> Any:
    response = await client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson", **fields})
    assert response.status_code == 200, response.text
    return response.json()


# The lifespan


async def test_lifespan_builds_the_engine_creates_tables_and_disposes_the_engine(api_app: FastAPI) -> None:
    app = create_app()
    assert not hasattr(app.state, "engine")  # nothing is contacted before startup
    async with LifespanManager(app):
        engine = app.state.engine
        assert {"hero", "team"} <= set(await table_names(engine))
        async with app.state.sessionmaker() as session:
            assert (await session.exec(text("SELECT 1"))).one() == (1,)
        assert engine.pool.checkedin() >= 1
    assert engine.pool.checkedout() == 0 and engine.pool.checkedin() == 0  # disposed


async def test_an_engine_passed_in_is_used_and_left_to_its_owner(api_app: FastAPI) -> None:
    engine = make_engine()
    try:
        app = create_app(engine=engine)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c,
        ):
            assert app.state.engine is engine
            assert (await c.get("/teams/")).status_code == 200
        assert engine.pool.checkedin() >= 1  # the pooled connection is still open: not disposed
    finally:
        await engine.dispose()
    with pytest.raises(ValueError, match="not both"):
        create_app("sqlite+aiosqlite:///x.db", engine=engine)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql+asyncpg://hero:{SECRET}@127.0.0.1:{{port}}/heroes", "hero:***@127.0.0.1"),
        (f"mysql+aiomysql://hero:{SECRET}@127.0.0.1:{{port}}/heroes", "hero:***@127.0.0.1"),
        (f"mysql+pymysql://hero:{SECRET}@127.0.0.1/heroes", "hero:***@127.0.0.1"),
        (f"postgresql+asyncpg://hero@127.0.0.1:{{port}}/heroes?password={SECRET}", "hero:***@127.0.0.1"),
        (f"mysql+aiomysql://hero@127.0.0.1:{{port}}/heroes?password={SECRET}", "hero:***@127.0.0.1"),
        ("sqlite+aiosqlite:////proc/heroes-cannot-be-here/x.db", "folder '/proc/heroes-cannot-be-here'"),
    ],
)
async def test_startup_fails_fast_with_one_line_and_no_password(url: str, shown: str) -> None:
    app = create_app(url.format(port=free_port()))
    started = time.monotonic()
    with pytest.raises(StartupError) as raised:
        async with LifespanManager(app, startup_timeout=15):
            pass  # pragma: no cover
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "\n" not in message and SECRET not in message and shown in message
    assert not hasattr(app.state, "sessionmaker")


async def test_a_bad_pool_variable_stops_startup_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEROES_POOL_SIZE", "0")
    app = create_app(f"postgresql+asyncpg://hero@127.0.0.1:{free_port()}/heroes")
    with pytest.raises(StartupError) as raised:
        async with LifespanManager(app, startup_timeout=15):
            pass  # pragma: no cover
    message = str(raised.value)
    assert "\n" not in message and message.startswith("HEROES_POOL_SIZE='0'")


async def test_requests_without_the_lifespan_fail_clearly() -> None:
    app = create_app()  # never started: plain ASGITransport does not run the lifespan
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        with pytest.raises(RuntimeError, match="lifespan did not run"):
            await c.get("/heroes/")


# The endpoints, as in SQLModel's tutorial


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
    assert read.status_code == 200 and read.json() == {**hero, "team": team}

    patched = await client.patch(f"/heroes/{hero['id']}", json={"age": 31})
    assert patched.status_code == 200 and patched.json() == {**hero, "age": 31}  # nothing else changed
    cleared = await client.patch(f"/heroes/{hero['id']}", json={"team_id": None})
    assert cleared.json() == {**hero, "age": 31, "team_id": None}
    unchanged = await client.patch(f"/heroes/{hero['id']}", json={})
    assert unchanged.json() == cleared.json()

    deleted = await client.delete(f"/heroes/{hero['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"ok": True}
    for response in (
        await client.get(f"/heroes/{hero['id']}"),
        await client.patch(f"/heroes/{hero['id']}", json={"age": 1}),
        await client.delete(f"/heroes/{hero['id']}"),
    ):
        assert response.status_code == 404 and response.json() == {"detail": "Hero not found"}


async def test_team_lifecycle_with_its_heroes_eager_loaded(client: httpx.AsyncClient) -> None:
    team = await create_team(client)
    second = await create_hero(client, name="Rusty-Man", team_id=team["id"])
    first = await create_hero(client, name="Tarantula", team_id=team["id"])
    await create_hero(client, name="Spider-Boy")  # no team
    read = await client.get(f"/teams/{team['id']}")
    assert read.status_code == 200 and read.json() == {**team, "heroes": [second, first]}  # in id order

    patched = await client.patch(f"/teams/{team['id']}", json={"headquarters": "Tower"})
    assert patched.json() == {**team, "headquarters": "Tower"}
    assert (await client.delete(f"/teams/{team['id']}")).json() == {"ok": True}
    for response in (
        await client.get(f"/teams/{team['id']}"),
        await client.patch(f"/teams/{team['id']}", json={"name": "X"}),
        await client.delete(f"/teams/{team['id']}"),
    ):
        assert response.status_code == 404 and response.json() == {"detail": "Team not found"}
    orphan = (await client.get(f"/heroes/{first['id']}")).json()
    assert orphan["team_id"] is None and orphan["team"] is None  # ON DELETE SET NULL


async def test_lists_are_json_arrays_in_id_order_paged_like_the_tutorial(
    api_app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/heroes/")).json() == [] and (await client.get("/teams/")).json() == []
    async with api_app.state.sessionmaker() as session:
        await crud.create_heroes_bulk(session, generate_heroes(105))
    default = (await client.get("/heroes/")).json()
    assert len(default) == 100  # limit defaults to 100
    ids = [hero["id"] for hero in default]
    assert ids == sorted(ids) and [hero["name"] for hero in default] == [f"Hero {n:05d}" for n in range(1, 101)]
    rest = (await client.get("/heroes/", params={"offset": 100, "limit": 100})).json()
    assert [hero["name"] for hero in rest] == [f"Hero {n:05d}" for n in range(101, 106)]
    page = (await client.get("/heroes/", params={"offset": 10, "limit": 3})).json()
    assert page == default[10:13]
    assert (await client.get("/heroes/", params={"offset": MAX_INTEGER})).json() == []


# Client mistakes: 4xx, and nothing changes


def _json(body: Any) -> dict[str, Any]:
    return {"json": body}


def _raw(content: bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {"content": content, "headers": {"content-type": content_type}}


HERO = {"name": "x", "secret_name": "y"}

INVALID_REQUESTS = {
    # bodies
    "empty name": ("POST", "/heroes/", _json({"name": "", "secret_name": "x"})),
    "empty secret name": ("POST", "/heroes/", _json({"name": "x", "secret_name": ""})),
    "name too long": ("POST", "/heroes/", _json({**HERO, "name": "x" * (NAME_MAX_LENGTH + 1)})),
    "negative age": ("POST", "/heroes/", _json({**HERO, "age": -1})),
    "age beyond INTEGER": ("POST", "/heroes/", _json({**HERO, "age": 2**31})),
    "age not a number": ("POST", "/heroes/", _json({**HERO, "age": "old"})),
    "age a fraction": ("POST", "/heroes/", _json({**HERO, "age": 1.5})),
    # Python's JSON parser reads these (1e400 as infinity); JSON cannot write them back in the 422 body.
    "age 1e400": ("POST", "/heroes/", _raw(b'{"name":"a","secret_name":"b","age":1e400}')),
    "age -1e400": ("POST", "/heroes/", _raw(b'{"name":"a","secret_name":"b","age":-1e400}')),
    "age NaN": ("POST", "/heroes/", _raw(b'{"name":"a","secret_name":"b","age":NaN}')),
    "age Infinity": ("POST", "/heroes/", _raw(b'{"name":"a","secret_name":"b","age":Infinity}')),
    "team_id -Infinity": ("POST", "/heroes/", _raw(b'{"name":"a","secret_name":"b","team_id":-Infinity}')),
    "team_id NaN": ("POST", "/heroes/", _raw(b'{"name":"a","secret_name":"b","team_id":NaN}')),
    "name NaN": ("POST", "/heroes/", _raw(b'{"name":NaN,"secret_name":"b"}')),
    "body NaN": ("POST", "/heroes/", _raw(b"NaN")),
    "body Infinity": ("POST", "/teams/", _raw(b"Infinity")),
    "team name Infinity": ("POST", "/teams/", _raw(b'{"name":Infinity,"headquarters":"x"}')),
    "team_id not a number": ("POST", "/heroes/", _json({**HERO, "team_id": "one"})),
    "NUL in name": ("POST", "/heroes/", _json({**HERO, "name": "nul\x00"})),
    "lone surrogate": ("POST", "/heroes/", _raw(b'{"name": "\\ud800", "secret_name": "y"}')),
    "name missing": ("POST", "/heroes/", _json({"secret_name": "no name"})),
    "name null": ("POST", "/heroes/", _json({"name": None, "secret_name": "x"})),
    "body an array": ("POST", "/heroes/", _json([1, 2, 3])),
    "body missing": ("POST", "/heroes/", {}),
    "malformed JSON": ("POST", "/heroes/", _raw(b'{"name": "x",')),
    "not UTF-8": ("POST", "/heroes/", _raw(b'{"name": "\xff\xfe", "secret_name": "y"}')),
    "not JSON": ("POST", "/teams/", _raw(b"name=x&headquarters=y", "application/x-www-form-urlencoded")),
    "team without headquarters": ("POST", "/teams/", _json({"name": "T"})),
    "team empty name": ("POST", "/teams/", _json({"name": "", "headquarters": "x"})),
    "NUL in headquarters": ("POST", "/teams/", _json({"name": "T", "headquarters": "\x00"})),
    "headquarters too long": ("POST", "/teams/", _json({"name": "T", "headquarters": "h" * 201})),
    "PATCH name null": ("PATCH", "/heroes/{hero}", _json({"name": None})),
    "PATCH secret name null": ("PATCH", "/heroes/{hero}", _json({"secret_name": None})),
    "PATCH negative age": ("PATCH", "/heroes/{hero}", _json({"age": -5})),
    "PATCH age NaN": ("PATCH", "/heroes/{hero}", _raw(b'{"age":NaN}')),
    "PATCH age 1e400": ("PATCH", "/heroes/{hero}", _raw(b'{"age":1e400}')),
    "PATCH team_id Infinity": ("PATCH", "/heroes/{hero}", _raw(b'{"team_id":Infinity}')),
    "PATCH body NaN": ("PATCH", "/heroes/{hero}", _raw(b"NaN")),
    "PATCH team name empty": ("PATCH", "/teams/{team}", _json({"name": ""})),
    "PATCH headquarters null": ("PATCH", "/teams/{team}", _json({"headquarters": None})),
    "PATCH headquarters -Infinity": ("PATCH", "/teams/{team}", _raw(b'{"headquarters":-Infinity}')),
    # query and path parameters
    "limit 0": ("GET", "/heroes/?limit=0", {}),
    "limit 101": ("GET", "/heroes/?limit=101", {}),
    "limit huge": ("GET", "/teams/?limit=99999999999999999999", {}),
    "limit NaN": ("GET", "/teams/?limit=NaN", {}),
    "offset negative": ("GET", "/heroes/?offset=-1", {}),
    "offset beyond INTEGER": ("GET", f"/heroes/?offset={2**63}", {}),
    "offset not a number": ("GET", "/teams/?offset=abc", {}),
    "id not a number": ("GET", "/heroes/abc", {}),
    "id a fraction": ("PATCH", "/teams/1.5", _json({"name": "x"})),
}


@pytest.mark.parametrize(("method", "path", "request_options"), INVALID_REQUESTS.values(), ids=INVALID_REQUESTS)
async def test_invalid_requests_are_4xx_and_change_nothing(
    api_app: FastAPI, client: httpx.AsyncClient, method: str, path: str, request_options: dict[str, Any]
) -> None:
    team = await create_team(client)
    hero = await create_hero(client, team_id=team["id"])
    before = await snapshot(api_app)
    response = await client.request(method, path.format(hero=hero["id"], team=team["id"]), **request_options)
    # FastAPI answers 400 for a body it cannot decode as text, 422 for anything it can read but refuses.
    expected = 400 if b"\xff" in request_options.get("content", b"") else 422
    assert response.status_code == expected, response.text
    assert "detail" in strict_json(response)
    assert await snapshot(api_app) == before


def strict_json(response: httpx.Response) -> Any:
    """The body parsed as standard JSON, which has no NaN or Infinity (Python's parser would accept them)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant} in {response.text}")

    return json.loads(response.text, parse_constant=refuse)


async def test_a_number_too_large_for_a_float_is_422_saying_so(client: httpx.AsyncClient) -> None:
    response = await client.post("/heroes/", **_raw(b'{"name":"a","secret_name":"b","age":1e400}'))
    assert response.status_code == 422, response.text
    (problem,) = strict_json(response)["detail"]
    assert problem["loc"] == ["body", "age"] and problem["msg"] == "Input should be a finite number"
    assert problem["input"] == "Infinity"
    nan = await client.post("/heroes/", **_raw(b"NaN"))
    assert nan.status_code == 422 and strict_json(nan)["detail"][0]["input"] == "NaN"


CONFLICTS = {
    "duplicate team name": ("POST", "/teams/", {"name": "Preventers", "headquarters": "Elsewhere"}),
    "unknown team_id": ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": MAX_INTEGER}),
    "negative team_id": ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": -1}),
    "PATCH to unknown team_id": ("PATCH", "/heroes/{hero}", {"team_id": MAX_INTEGER, "age": 99}),
    "PATCH to a taken name": ("PATCH", "/teams/{other}", {"name": "Preventers", "headquarters": "Moved"}),
    # As with path ids, any integer is a team_id: one outside the INTEGER range names no team either.
    "team_id beyond INTEGER": ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": 99999999999}),
    "team_id 2**63": ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": 2**63}),
    "team_id -2**31": ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": -(2**31)}),
    "team_id below INTEGER": ("POST", "/heroes/", {"name": "Lost", "secret_name": "x", "team_id": -(2**31) - 1}),
    "PATCH team_id beyond INTEGER": ("PATCH", "/heroes/{hero}", {"team_id": 99999999999}),
    "PATCH team_id -2**63": ("PATCH", "/heroes/{hero}", {"team_id": -(2**63), "age": 5}),
}


@pytest.mark.parametrize(("method", "path", "body"), CONFLICTS.values(), ids=CONFLICTS)
async def test_conflicts_are_409_and_change_nothing(
    api_app: FastAPI, client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    team = await create_team(client)
    other = await create_team(client, "Z-Force")
    hero = await create_hero(client, team_id=team["id"])
    before = await snapshot(api_app)
    response = await client.request(method, path.format(hero=hero["id"], other=other["id"]), json=body)
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail.startswith(("team_id", "a team named")) and "INSERT" not in detail and "UPDATE" not in detail
    if "team_id" in body:
        assert detail == f"team_id {body['team_id']} does not name an existing team"
    assert await snapshot(api_app) == before


@pytest.mark.parametrize("path", ["/heroes/{missing}", "/teams/{missing}"])
# As in SQLModel's tutorial, any integer is an id: one that names no row is 404, whatever its size.
@pytest.mark.parametrize("missing", ["next", 0, -1, 2**31, -(2**31) - 1, 2**63], ids=str)
async def test_missing_ids_are_404_and_change_nothing(
    api_app: FastAPI, client: httpx.AsyncClient, path: str, missing: str | int
) -> None:
    team = await create_team(client)
    await create_hero(client, team_id=team["id"])
    before = await snapshot(api_app)
    url = path.format(missing=team["id"] + 1000 if missing == "next" else missing)
    kind = "Hero" if "heroes" in path else "Team"
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await client.request(method, url, json=body)
        assert response.status_code == 404 and response.json() == {"detail": f"{kind} not found"}
    assert await snapshot(api_app) == before


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE hero;--",
        "\"double\" and 'single' quotes",
        "1 OR 1=1; SELECT * FROM team",
        "🦸‍♀️ Wonder 🦸🏽 Emoji",
        "Ünïcödé ñame, 中文, עברית",
        "%s %(name)s {0} :name ? \\ backslash",
        "  spaces around  ",
        "new\nline\ttab",
        "x" * NAME_MAX_LENGTH,
        "🦸" * NAME_MAX_LENGTH,
    ],
)
async def test_strings_are_stored_and_returned_verbatim(client: httpx.AsyncClient, name: str) -> None:
    team = await create_team(client, name, headquarters=name)
    hero = await create_hero(client, name=name, secret_name=name, team_id=team["id"])
    read = (await client.get(f"/heroes/{hero['id']}")).json()
    assert read["name"] == read["secret_name"] == read["team"]["name"] == read["team"]["headquarters"] == name
    assert (await client.get(f"/teams/{team['id']}")).json()["heroes"][0]["name"] == name
    renamed = await client.patch(f"/heroes/{hero['id']}", json={"name": name[::-1]})
    assert renamed.json()["name"] == name[::-1]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/heroes/", "GET, POST"),
        ("PUT", "/heroes/1", "DELETE, GET, PATCH"),
        ("POST", "/teams/1", "DELETE, GET, PATCH"),
    ],
)
async def test_a_method_the_path_does_not_take_is_405_naming_every_method_it_does(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405 and response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == allowed


# Concurrency, outages, bugs


async def test_one_hundred_concurrent_creates_all_land(api_app: FastAPI, client: httpx.AsyncClient) -> None:
    names = [f"Concurrent {n:03d}" for n in range(100)]
    responses = await asyncio.gather(
        *(client.post("/heroes/", json={"name": name, "secret_name": "x"}) for name in names)
    )
    assert [response.status_code for response in responses] == [200] * 100
    assert len({response.json()["id"] for response in responses}) == 100
    listed = (await client.get("/heroes/", params={"limit": 100})).json()
    assert sorted(hero["name"] for hero in listed) == names


async def test_64_requests_holding_a_connection_take_turns_in_the_pool(
    api_app: FastAPI, client: httpx.AsyncClient
) -> None:
    engine = api_app.state.engine
    # A server's pool (10 + 5) lets 15 hold a connection at once, and all 15 do before any lets go; the other
    # requests take turns, without timing out. On SQLite they take turns from the first.
    together = SERVER_POOL_SIZE + SERVER_MAX_OVERFLOW if engine.url.get_backend_name() != "sqlite" else 1
    holding = 0
    all_holding = asyncio.Event()

    async def session_held_until_all_hold_one() -> AsyncIterator[AsyncSession]:
        nonlocal holding
        async with api_app.state.sessionmaker() as session:
            await session.connection()  # check a connection out of the pool and keep it
            holding += 1
            if holding >= together:
                all_holding.set()
            await asyncio.wait_for(all_holding.wait(), timeout=10)
            yield session

    api_app.dependency_overrides[get_session] = session_held_until_all_hold_one
    try:
        responses = await asyncio.gather(*(client.get("/teams/") for _ in range(64)))
    finally:
        api_app.dependency_overrides.clear()
    assert [response.status_code for response in responses] == [200] * 64
    assert holding == 64 and engine.pool.checkedout() == 0


async def test_a_bug_is_a_generic_500_without_details(api_app: FastAPI) -> None:
    async def buggy() -> AsyncIterator[AsyncSession]:
        raise ZeroDivisionError(f"SELECT * FROM hero WHERE password = '{SECRET}'")
        yield  # pragma: no cover

    api_app.dependency_overrides[get_session] = buggy
    try:
        # raise_app_exceptions=False: see the response a server would send (the exception also reaches its log).
        transport = httpx.ASGITransport(app=api_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as lenient:
            response = await lenient.get("/heroes/")
    finally:
        api_app.dependency_overrides.clear()
    assert response.status_code == 500 and response.json() == {"detail": "Internal server error"}
    assert SECRET not in response.text and "SELECT" not in response.text and "Traceback" not in response.text


async def test_openapi_docs_are_served_with_the_read_models(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]) == {"/heroes/", "/heroes/{hero_id}", "/teams/", "/teams/{team_id}"}
    hero_response = schema["paths"]["/heroes/{hero_id}"]["get"]["responses"]["200"]
    assert json.dumps(hero_response).endswith('"#/components/schemas/HeroPublicWithTeam"}}}}')
    assert {"HeroPublic", "HeroPublicWithTeam", "TeamPublic", "TeamPublicWithHeroes"} <= set(
        schema["components"]["schemas"]
    )
    assert not {"Hero", "Team"} & set(schema["components"]["schemas"])  # no table model in a response


async def test_openapi_describes_every_model_the_api_reads_or_writes(client: httpx.AsyncClient) -> None:
    components = (await client.get("/openapi.json")).json()["components"]["schemas"]
    api_models = {
        "HeroCreate", "HeroPublic", "HeroUpdate", "HeroPublicWithTeam",
        "TeamCreate", "TeamPublic", "TeamUpdate", "TeamPublicWithHeroes",
    }  # fmt: skip
    assert api_models <= set(components)
    descriptions = {name: components[name].get("description", "") for name in api_models}
    assert all(descriptions.values()), descriptions
    assert len(set(descriptions.values())) == len(api_models)  # each its own, none inherited
