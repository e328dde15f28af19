"""Powers: the many-to-many relationship between heroes and powers (lesson 09).

A hero's powers are rows of the link table ``hero_power``. Adding or removing one writes that row directly,
without loading the hero's ``powers`` collection first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.crud import DEFAULT_LIMIT, ConflictError, ExpectedConflict, commit_or_conflict
from heroes_lib.models import Hero, HeroPowerLink, Power, PowerCreate


async def create_power(session: AsyncSession, power: PowerCreate) -> Power:
    """Insert a power and return it with its new ``id``. Raises ``ConflictError`` for a duplicate name."""
    row = Power.model_validate(power)
    session.add(row)
    await commit_or_conflict(session, ExpectedConflict("unique", f"a power named {power.name!r} already exists"))
    return row


async def list_powers(session: AsyncSession, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Sequence[Power]:
    """Powers ordered by id, ``limit`` from ``offset``."""
    statement = select(Power).order_by(col(Power.id)).offset(offset).limit(limit)
    return (await session.exec(statement)).all()


async def get_hero_with_powers(session: AsyncSession, hero_id: int) -> Hero | None:
    """The hero with its ``powers`` (ordered by id) loaded by one extra ``SELECT ... IN``, or ``None``.

    The collection is read from the database even if this session loaded it before, so it shows the
    changes made by ``add_power_to_hero`` and ``remove_power_from_hero``.
    """
    statement = (
        select(Hero)
        .where(col(Hero.id) == hero_id)
        .options(selectinload(Hero.powers))  # type: ignore[arg-type]  # SQLModel types a relationship as its value
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).first()


async def add_power_to_hero(session: AsyncSession, hero_id: int, power_id: int) -> bool:
    """Give the hero the power (one link row) and commit: ``True`` if added, ``False`` if it had it already.

    Raises ``ConflictError`` if the hero or the power does not exist. A ``hero.powers`` collection loaded
    earlier is not updated; load it again with ``get_hero_with_powers``.
    """
    if await session.get(HeroPowerLink, (hero_id, power_id)) is not None:
        return False
    session.add(HeroPowerLink(hero_id=hero_id, power_id=power_id))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if await session.get(HeroPowerLink, (hero_id, power_id)) is not None:
            return False  # another request added the same link first
        raise ConflictError(f"hero {hero_id} or power {power_id} does not exist") from None
    return True


async def remove_power_from_hero(session: AsyncSession, hero_id: int, power_id: int) -> bool:
    """Take the power from the hero (delete its link row) and commit; ``True`` if the hero had it."""
    statement = delete(HeroPowerLink).where(
        col(HeroPowerLink.hero_id) == hero_id, col(HeroPowerLink.power_id) == power_id
    )
    result = await session.exec(statement)
    await session.commit()
    return result.rowcount == 1
