"""``/teams/``: create, list, read (with its heroes), update and delete teams."""

from __future__ import annotations

from fastapi import APIRouter

from heroes_lib import crud
from heroes_lib.api.dependencies import CONFLICT, NOT_FOUND, SessionDep, not_found, storable_id
from heroes_lib.api.heroes import Limit, Offset
from heroes_lib.models import TeamCreate, TeamPublic, TeamPublicWithHeroes, TeamUpdate

router = APIRouter(prefix="/teams", tags=["teams"])


@router.post("/", response_model=TeamPublic, responses=CONFLICT)
async def create_team(team: TeamCreate, session: SessionDep):
    return await crud.create_team(session, team)


@router.get("/", response_model=list[TeamPublic])
async def read_teams(session: SessionDep, offset: Offset = 0, limit: Limit = 100):
    return await crud.list_teams(session, offset=offset, limit=limit)


@router.get("/{team_id}", response_model=TeamPublicWithHeroes, responses=NOT_FOUND)
async def read_team(team_id: int, session: SessionDep):
    team = await crud.get_team_with_heroes(session, storable_id(team_id, "Team"))
    if team is None:
        raise not_found("Team")
    return team


@router.patch("/{team_id}", response_model=TeamPublic, responses={**NOT_FOUND, **CONFLICT})
async def update_team(team_id: int, team: TeamUpdate, session: SessionDep):
    updated = await crud.update_team(session, storable_id(team_id, "Team"), team)
    if updated is None:
        raise not_found("Team")
    return updated


@router.delete("/{team_id}", responses=NOT_FOUND)
async def delete_team(team_id: int, session: SessionDep) -> dict[str, bool]:
    if not await crud.delete_team(session, storable_id(team_id, "Team")):
        raise not_found("Team")
    return {"ok": True}
