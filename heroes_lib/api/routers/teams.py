"""``/teams/``: create, list, read (with its heroes), update and delete teams."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from heroes_lib import crud
from heroes_lib.api.dependencies import Limit, Offset, SessionDep, TeamId
from heroes_lib.api.errors import CONFLICT, NOT_FOUND, not_found
from heroes_lib.models import Team, TeamCreate, TeamPublic, TeamPublicWithHeroes, TeamUpdate

router = APIRouter(prefix="/teams", tags=["teams"])


@router.post("/", response_model=TeamPublic, responses=CONFLICT)
async def create_team(team: TeamCreate, session: SessionDep) -> Team:
    """Create a team; 409 if the name is taken."""
    return await crud.create_team(session, team)


@router.get("/", response_model=list[TeamPublic])
async def read_teams(session: SessionDep, offset: Offset = 0, limit: Limit = crud.DEFAULT_LIMIT) -> Sequence[Team]:
    """Teams in id order: ``limit`` (at most 100) from ``offset``."""
    return await crud.list_teams(session, offset=offset, limit=limit)


@router.get("/{team_id}", response_model=TeamPublicWithHeroes, responses=NOT_FOUND)
async def read_team(team_id: TeamId, session: SessionDep) -> Team:
    """One team with its heroes in id order (loaded eagerly, so the response can include them)."""
    team = await crud.get_team_with_heroes(session, team_id)
    if team is None:
        raise not_found("Team")
    return team


@router.patch("/{team_id}", response_model=TeamPublic, responses={**NOT_FOUND, **CONFLICT})
async def update_team(team_id: TeamId, team: TeamUpdate, session: SessionDep) -> Team:
    """Change only the fields sent; 409 if the new name is taken."""
    updated = await crud.update_team(session, team_id, team)
    if updated is None:
        raise not_found("Team")
    return updated


@router.delete("/{team_id}", responses=NOT_FOUND)
async def delete_team(team_id: TeamId, session: SessionDep) -> dict[str, bool]:
    """Delete a team; its heroes stay, without a team. Answers ``{"ok": true}``."""
    if not await crud.delete_team(session, team_id):
        raise not_found("Team")
    return {"ok": True}
