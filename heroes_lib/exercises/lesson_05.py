"""Lesson 05's exercises: a PATCH endpoint, an endpoint whose response needs a relationship, an app started in a test.

Each check resets the tables to the tutorial's 2 teams and 7 heroes, mounts the learner's router on an app of its
own (heroes_lib's lifespan, no error handlers: an error in the endpoint reaches the check, which names it) and
calls it in-process with httpx's ``ASGITransport`` inside ``asgi_lifespan.LifespanManager``, as the lesson does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import ResponseValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from heroes_lib.api.lifespan import make_lifespan
from heroes_lib.db import make_sessionmaker
from heroes_lib.exercises import Exercise, Mistake, NotSolved, fresh_tables, returned_nothing
from heroes_lib.models import Team

NULLS_WRITTEN_HINT = "the fields the client did not send were written too"
RESPONSE_WITHOUT_TEAM_HINT = "has no `team`"
LAZY_RESPONSE_HINT = "which the endpoint did not load"
NO_LIFESPAN_HINT = "lifespan did not run"


@asynccontextmanager
async def _client_for(router: object, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app made of ``router`` alone, on ``engine``, its lifespan running."""
    if router is None:
        raise NotSolved("The router is None: define it with `APIRouter()` and add your endpoint to it.")
    if not isinstance(router, APIRouter):
        raise NotSolved(f"Expected an `APIRouter`, got {type(router).__name__}.")
    app = FastAPI(lifespan=make_lifespan(engine=engine))
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)  # an error in the app reaches the check, which names it
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://exercise") as client:
        yield client


@contextmanager
def _app_log_muted() -> Iterator[None]:
    """The API's own log lines (a 500 it answered) stay out of the check's verdict."""
    logger = logging.getLogger("heroes_lib.api")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def _no_route(response: httpx.Response, route: str) -> NotSolved | None:
    if response.status_code in (404, 405) and response.json()["detail"] in ("Not Found", "Method Not Allowed"):
        return NotSolved(f"The router has no `{route}` route yet: add it with the router's decorator.")
    return None


async def _verify_patch_router(patch_router: object) -> str:
    async with fresh_tables(sample_data=True) as engine:
        async with _client_for(patch_router, engine) as client:
            try:
                moved = await client.patch("/teams/2", json={"headquarters": "Sister Margaret's Cellar"})
            except IntegrityError:
                raise NotSolved(
                    f"PATCH /teams/2 with only `headquarters` failed: {NULLS_WRITTEN_HINT} (as null, refused by the"
                    " database).\nApply only the fields the client set: `model_dump(exclude_unset=True)`."
                ) from None
            except ResponseValidationError:
                raise NotSolved(
                    "PATCH /teams/2 had no team to answer with: write the endpoint's body in place of the `...`, "
                    "returning the team."
                ) from None
            missing = await client.patch("/teams/999", json={"headquarters": "Nowhere"})
        async with make_sessionmaker(engine)() as session:
            z_force = await session.get(Team, 2)
            stored = (z_force.name, z_force.headquarters) if z_force else None
    no_route = _no_route(moved, "PATCH /teams/{team_id}")
    if no_route:
        raise no_route
    if stored != ("Z-Force", "Sister Margaret's Cellar"):
        raise NotSolved(f"After PATCH /teams/2 with only `headquarters`, team 2 is stored as {stored}.")
    if moved.status_code != 200 or moved.json() != {"name": "Z-Force", "headquarters": stored[1], "id": 2}:
        raise NotSolved(f"PATCH /teams/2 answered {moved.status_code} {moved.text}; expected 200 and the TeamPublic.")
    if missing.status_code != 404 or missing.json() != {"detail": "Team not found"}:
        raise NotSolved(f'PATCH /teams/999 answered {missing.status_code} {missing.text}, not 404 "Team not found".')
    return "Only the headquarters changed; a missing team is 404."


async def _verify_hero_router(hero_router: object) -> str:
    async with fresh_tables(sample_data=True) as engine, _client_for(hero_router, engine) as client:
        try:
            deadpond = await client.get("/heroes/1")
        except ResponseValidationError as error:
            if "MissingGreenlet" not in str(error.errors()):
                raise
            raise NotSolved(
                f"GET /heroes/1 failed: building HeroPublicWithTeam read `hero.team`, {LAZY_RESPONSE_HINT} "
                "(lesson 04).\nLoad the team in the endpoint's query."
            ) from None
        spider_boy = await client.get("/heroes/3")
        missing = await client.get("/heroes/999")
    no_route = _no_route(deadpond, "GET /heroes/{hero_id}")
    if no_route:
        raise no_route
    body = deadpond.json()
    if deadpond.status_code != 200 or "team" not in body:
        raise NotSolved(
            f"GET /heroes/1 answered {deadpond.status_code}, and the response {RESPONSE_WITHOUT_TEAM_HINT}: "
            "keep `response_model=HeroPublicWithTeam`\nand load the team instead."
        )
    if (body["team"] or {}).get("name") != "Z-Force" or spider_boy.json().get("team", "missing") is not None:
        raise NotSolved(f"Deadpond's team is Z-Force, Spider-Boy has none; got {body['team']} and {spider_boy.text}.")
    if missing.status_code != 404 or missing.json() != {"detail": "Hero not found"}:
        raise NotSolved(f'GET /heroes/999 answered {missing.status_code} {missing.text}, not 404 "Hero not found".')
    return "Each hero comes with its team, loaded by the endpoint; a missing hero is 404."


async def _verify_count_heroes_over_http(count_heroes_over_http: Callable[[], Awaitable[Any]]) -> str:
    async with fresh_tables(sample_data=True):
        try:
            with _app_log_muted():
                count = await count_heroes_over_http()
        except (AttributeError, RuntimeError) as error:
            if "sessionmaker" not in str(error):
                raise
            raise NotSolved(
                f"The {NO_LIFESPAN_HINT} for the app the transport calls, so it has no session factory:\n"
                "`ASGITransport` only sends requests. Run the same app's lifespan with `LifespanManager(app)`."
            ) from None
    if count is None:
        raise returned_nothing("count_heroes_over_http")
    if count != 7:
        raise NotSolved(f"`count_heroes_over_http()` returned {count!r}; the tutorial's data has 7 heroes.")
    return "7 heroes, read from an app whose lifespan ran."


exercise_1 = Exercise(
    number=1,
    names=("patch_router",),
    verify=_verify_patch_router,
    mistakes=(
        Mistake(
            code="""patch_router = APIRouter()


@patch_router.patch("/teams/{team_id}", response_model=TeamPublic)
async def update_team(team_id: int, changes: TeamUpdate, session: SessionDep) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise HTTPException(status_code=404, detail="Team not found")
    team.sqlmodel_update(changes.model_dump())
    session.add(team)
    await session.commit()
    return team""",
            hint=NULLS_WRITTEN_HINT,
        ),
    ),
)

exercise_2 = Exercise(
    number=2,
    names=("hero_router",),
    verify=_verify_hero_router,
    mistakes=(
        Mistake(
            code="""from heroes_lib.models import HeroPublic

hero_router = APIRouter()


@hero_router.get("/heroes/{hero_id}", response_model=HeroPublic)
async def read_hero_with_team(hero_id: int, session: SessionDep) -> Hero:
    hero = await session.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status_code=404, detail="Hero not found")
    return hero""",
            hint=RESPONSE_WITHOUT_TEAM_HINT,
        ),
    ),
)

exercise_3 = Exercise(
    number=3,
    names=("count_heroes_over_http",),
    verify=_verify_count_heroes_over_http,
    mistakes=(
        Mistake(
            code="""async def count_heroes_over_http() -> int:
    \"\"\"How many heroes GET /heroes/ returns, from a new app called in this process.\"\"\"
    app = create_app()
    async with (
        LifespanManager(create_app()),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://heroes") as client,
    ):
        return len((await client.get("/heroes/")).json())""",
            hint=NO_LIFESPAN_HINT,
        ),
    ),
)

EXERCISES = (exercise_1, exercise_2, exercise_3)
