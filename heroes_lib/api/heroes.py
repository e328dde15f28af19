"""``/heroes/``: create, list, read (with the team), update and delete heroes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from heroes_lib import crud
from heroes_lib.api.dependencies import CONFLICT, NOT_FOUND, SessionDep, not_found, storable_id
from heroes_lib.models import MAX_INTEGER, HeroCreate, HeroPublic, HeroPublicWithTeam, HeroUpdate

router = APIRouter(prefix="/heroes", tags=["heroes"])

Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER)]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("/", response_model=HeroPublic, responses=CONFLICT)
async def create_hero(hero: HeroCreate, session: SessionDep):
    return await crud.create_hero(session, hero)


@router.get("/", response_model=list[HeroPublic])
async def read_heroes(session: SessionDep, offset: Offset = 0, limit: Limit = 100):
    return await crud.list_heroes(session, offset=offset, limit=limit)


@router.get("/{hero_id}", response_model=HeroPublicWithTeam, responses=NOT_FOUND)
async def read_hero(hero_id: int, session: SessionDep):
    hero = await crud.get_hero_with_team(session, storable_id(hero_id, "Hero"))
    if hero is None:
        raise not_found("Hero")
    return hero


@router.patch("/{hero_id}", response_model=HeroPublic, responses={**NOT_FOUND, **CONFLICT})
async def update_hero(hero_id: int, hero: HeroUpdate, session: SessionDep):
    updated = await crud.update_hero(session, storable_id(hero_id, "Hero"), hero)
    if updated is None:
        raise not_found("Hero")
    return updated


@router.delete("/{hero_id}", responses=NOT_FOUND)
async def delete_hero(hero_id: int, session: SessionDep) -> dict[str, bool]:
    if not await crud.delete_hero(session, storable_id(hero_id, "Hero")):
        raise not_found("Hero")
    return {"ok": True}
