"""Async create, read, list, update and delete for heroes and teams.

Every function takes an ``AsyncSession`` and commits its own change, as the SQLModel tutorial does.
A change the database refuses (a duplicate team name, a ``team_id`` with no team) is rolled back and
raised as ``ConflictError`` with a message of our own, the same on every backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.models import Hero, HeroCreate, HeroUpdate, Team, TeamCreate, TeamUpdate

DEFAULT_LIMIT = 100


class ConflictError(Exception):
    """The database refused a change because it conflicts with existing data; nothing was written."""


async def _commit(session: AsyncSession, conflict_message: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ConflictError(conflict_message) from None


def _hero_conflict(team_id: int | None) -> str:
    return f"team_id {team_id} does not name an existing team"


def _team_conflict(name: str | None) -> str:
    return f"a team named {name!r} already exists"


async def _apply_update(session: AsyncSession, row: SQLModel, changes: SQLModel, conflict_message: str) -> None:
    # exclude_unset: only the fields the caller sent change; the others keep their stored values.
    row.sqlmodel_update(changes.model_dump(exclude_unset=True))
    session.add(row)
    await _commit(session, conflict_message)


# Heroes


async def create_hero(session: AsyncSession, hero: HeroCreate) -> Hero:
    """Insert a hero and return it with its new ``id``. Raises ``ConflictError`` for an unknown team."""
    row = Hero.model_validate(hero)
    session.add(row)
    await _commit(session, _hero_conflict(hero.team_id))
    return row


async def get_hero(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with this id, or ``None``."""
    return await session.get(Hero, hero_id)


async def list_heroes(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Hero]:
    """Heroes ordered by id (a stable order, so pages never overlap or skip), ``limit`` from ``offset``."""
    statement = select(Hero).order_by(Hero.id).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def update_hero(session: AsyncSession, hero_id: int, changes: HeroUpdate) -> Hero | None:
    """Apply the fields set in ``changes``; ``None`` if there is no such hero."""
    row = await session.get(Hero, hero_id)
    if row is None:
        return None
    await _apply_update(session, row, changes, _hero_conflict(changes.team_id))
    return row


async def delete_hero(session: AsyncSession, hero_id: int) -> bool:
    """Delete the hero; ``True`` if it existed."""
    row = await session.get(Hero, hero_id)
    if row is None:
        return False
    await session.delete(row)
    await session.commit()
    return True


async def get_hero_with_team(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with its ``team`` loaded in the same statement (a JOIN), or ``None``."""
    statement = select(Hero).where(Hero.id == hero_id).options(joinedload(Hero.team))
    return (await session.exec(statement)).first()


async def list_heroes_with_team(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Hero]:
    """Like ``list_heroes``, with each hero's ``team`` loaded: one statement whatever the page size."""
    statement = select(Hero).options(joinedload(Hero.team)).order_by(Hero.id).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def create_heroes_bulk(session: AsyncSession, heroes: Iterable[HeroCreate]) -> int:
    """Insert many heroes in one transaction and return how many were inserted.

    One Core ``INSERT`` with every row as a parameter set: the driver batches it. Every row carries
    every column (``None`` included), so the rows are not split into one statement per set of keys, as
    the ORM's bulk insert does for optional fields left out. All rows land or none do.
    """
    rows = [hero.model_dump() for hero in heroes]
    if not rows:
        return 0
    try:
        await session.exec(insert(Hero.__table__), params=rows)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ConflictError("a hero names a team_id that does not exist; no hero was inserted") from None
    return len(rows)


# Teams


async def create_team(session: AsyncSession, team: TeamCreate) -> Team:
    """Insert a team and return it with its new ``id``. Raises ``ConflictError`` for a duplicate name."""
    row = Team.model_validate(team)
    session.add(row)
    await _commit(session, _team_conflict(team.name))
    return row


async def get_team(session: AsyncSession, team_id: int) -> Team | None:
    """The team with this id, or ``None``."""
    return await session.get(Team, team_id)


async def list_teams(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Team]:
    """Teams ordered by id, ``limit`` from ``offset``."""
    statement = select(Team).order_by(Team.id).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def update_team(session: AsyncSession, team_id: int, changes: TeamUpdate) -> Team | None:
    """Apply the fields set in ``changes``; ``None`` if there is no such team."""
    row = await session.get(Team, team_id)
    if row is None:
        return None
    await _apply_update(session, row, changes, _team_conflict(changes.name))
    return row


async def delete_team(session: AsyncSession, team_id: int) -> bool:
    """Delete the team (its heroes stay, without a team); ``True`` if it existed."""
    row = await session.get(Team, team_id)
    if row is None:
        return False
    await session.delete(row)
    await session.commit()
    return True


async def get_team_with_heroes(session: AsyncSession, team_id: int) -> Team | None:
    """The team with its ``heroes`` (ordered by id) loaded by one extra ``SELECT ... IN``, or ``None``."""
    statement = select(Team).where(Team.id == team_id).options(selectinload(Team.heroes))
    return (await session.exec(statement)).first()
