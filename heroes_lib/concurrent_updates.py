"""Concurrent updates: writing a hero safely when two requests change it at once (lesson 06).

Two requests that read a hero, compute a new value and write it back can overwrite each other's change
(a lost update). These two functions write safely: one computes the new value inside the database, the
other writes only if the row still holds what the caller read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from heroes_lib.crud import ConflictError, unknown_team_conflict, unstorable_team_id
from heroes_lib.db_errors import is_stale_sqlite_snapshot
from heroes_lib.models import Hero, HeroPublic, HeroUpdate


async def increment_hero_age(session: AsyncSession, hero_id: int, by: int = 1) -> Hero | None:
    """Add ``by`` to the hero's age in one atomic ``UPDATE hero SET age = age + :by`` and commit.

    Returns the hero as stored right after the change, or ``None`` if there is no such hero. Concurrent
    calls never lose an increment: the database applies them one after another. A hero without an age
    keeps none (``NULL + 1`` is ``NULL``). Raises ``ConflictError`` if the age would become negative.
    Call it in a transaction that has not read the hero yet (a new session, or after a commit): on SQLite a
    transaction that read before another writer committed cannot write ("database is locked").
    """
    statement = (
        update(Hero)
        .where(col(Hero.id) == hero_id)
        .values(age=col(Hero.age) + by)
        .execution_options(synchronize_session=False)  # the hero is read back below
    )
    try:
        result = await session.exec(statement)
        if result.rowcount == 0:
            await session.commit()  # nothing changed; end the transaction as the other paths do
            return None
        # Still inside the transaction that changed the row, so this reads our own write.
        hero = await session.get(Hero, hero_id, populate_existing=True)
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ConflictError(f"the age of hero {hero_id} cannot become negative") from None
    return hero


async def update_hero_if_unchanged(
    session: AsyncSession, hero_id: int, expected: Mapping[str, Any], changes: HeroUpdate
) -> bool:
    """Apply ``changes`` only if the hero's fields still hold the ``expected`` values (compare-and-set); commit.

    ``UPDATE hero SET ... WHERE id = :id AND age = :expected_age ...``: ``True`` if the row was updated,
    ``False`` if another writer changed one of those fields first (or the hero does not exist). On
    ``False`` the session forgets its copy of the hero, so the next ``session.get`` reads the row again;
    re-read, recompute and retry (optimistic concurrency). On SQLite, a transaction that read the hero
    before another writer committed cannot write at all; that is the same conflict and also gives ``False``.
    Raises ``ConflictError`` for an unknown team.
    """
    unknown = sorted(set(expected) - set(HeroPublic.model_fields))
    if unknown:
        raise ValueError(f"not fields of a hero: {', '.join(unknown)}")
    values = changes.model_dump(exclude_unset=True)
    if not values:
        raise ValueError("no changes to apply")
    unknown_team = unstorable_team_id([values.get("team_id")])
    if unknown_team is not None:
        raise ConflictError(unknown_team_conflict(unknown_team).message)
    # `column == None` renders as `IS NULL`, so an expected value of None compares correctly.
    conditions = [getattr(Hero, name) == value for name, value in expected.items()]
    # synchronize_session=False: SQLAlchemy would otherwise apply the new values to the session's copy
    # whether or not the row matched in the database; below, the copy is updated only on success.
    statement = (
        update(Hero)
        .where(col(Hero.id) == hero_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    try:
        result = await session.exec(statement)
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError(unknown_team_conflict(changes.team_id).explain(error)) from None
    except OperationalError as error:
        if not is_stale_sqlite_snapshot(error):
            raise
        _forget_hero(session, hero_id)  # before the rollback, which would expire the caller's copy
        await session.rollback()
        return False
    cached = session.identity_map.get(session.identity_key(Hero, hero_id))
    if result.rowcount == 1:
        if cached is not None:
            for name, value in values.items():
                set_committed_value(cached, name, value)  # as stored, without marking it changed
        return True
    _forget_hero(session, hero_id)
    return False


def _forget_hero(session: AsyncSession, hero_id: int) -> None:
    """Remove the session's copy of the hero (its values are stale); the caller's reference stays readable."""
    cached = session.identity_map.get(session.identity_key(Hero, hero_id))
    if cached is not None:
        session.expunge(cached)
