"""``/heroes/``: create, list, read (with the team), update and delete heroes.

Paths, fields and answers are those of SQLModel's FastAPI tutorial; the work is done by ``heroes_lib.crud``.
Handlers return table models; ``response_model`` turns them into the non-table ``*Public`` read models,
which is why relationships they include must be loaded before the handler returns (lesson 04).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from heroes_lib import crud
from heroes_lib.api.dependencies import HeroId, Limit, Offset, ReadSessionDep, SessionDep
from heroes_lib.api.errors import CONFLICT, NOT_FOUND, not_found
from heroes_lib.models import Hero, HeroCreate, HeroPublic, HeroPublicWithTeam, HeroUpdate

router = APIRouter(prefix="/heroes", tags=["heroes"])


@router.post("/", response_model=HeroPublic, responses=CONFLICT)
async def create_hero(hero: HeroCreate, session: SessionDep) -> Hero:
    """Create a hero; 409 if its ``team_id`` names no team."""
    return await crud.create_hero(session, hero)


@router.get("/", response_model=list[HeroPublic])
async def read_heroes(session: ReadSessionDep, offset: Offset = 0, limit: Limit = crud.DEFAULT_LIMIT) -> Sequence[Hero]:
    """Heroes in id order: ``limit`` (at most 100) from ``offset``."""
    return await crud.list_heroes(session, offset=offset, limit=limit)


@router.get("/{hero_id}", response_model=HeroPublicWithTeam, responses=NOT_FOUND)
async def read_hero(hero_id: HeroId, session: ReadSessionDep) -> Hero:
    """One hero with its team (loaded in the same query, so the response can include it)."""
    hero = await crud.get_hero_with_team(session, hero_id)
    if hero is None:
        raise not_found("Hero")
    return hero


@router.patch("/{hero_id}", response_model=HeroPublic, responses={**NOT_FOUND, **CONFLICT})
async def update_hero(hero_id: HeroId, hero: HeroUpdate, session: SessionDep) -> Hero:
    """Change only the fields sent; 409 if the new ``team_id`` names no team."""
    updated = await crud.update_hero(session, hero_id, hero)
    if updated is None:
        raise not_found("Hero")
    return updated


@router.delete("/{hero_id}", responses=NOT_FOUND)
async def delete_hero(hero_id: HeroId, session: SessionDep) -> dict[str, bool]:
    """Delete a hero: ``{"ok": true}``."""
    if not await crud.delete_hero(session, hero_id):
        raise not_found("Hero")
    return {"ok": True}
